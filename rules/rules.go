package rules

import (
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// Action is what a list asks for when one of its entries matches.
type Action uint8

const (
	ActionLog    Action = iota // record a block event only
	ActionAlert                // record and flag for operators
	ActionInject               // also answer with a spoofed response (when inject.enabled)
)

func (a Action) String() string {
	switch a {
	case ActionLog:
		return "log"
	case ActionAlert:
		return "alert"
	case ActionInject:
		return "inject"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// ParseAction reads "log", "alert" or "inject".
func ParseAction(s string) (Action, bool) {
	switch s {
	case "log":
		return ActionLog, true
	case "alert":
		return ActionAlert, true
	case "inject":
		return ActionInject, true
	}
	return 0, false
}

// Surface is where a name or address was seen; it is stamped on block events.
type Surface uint8

const (
	SurfaceHTTPHost Surface = iota
	SurfaceHTTPURL
	SurfaceTLSSNI
	SurfaceQUICSNI
	SurfaceDNSQuery
	SurfaceDNSAnswer
	SurfaceIP
)

var surfaceNames = [...]string{"http_host", "http_url", "tls_sni", "quic_sni", "dns_query", "dns_answer", "ip"}

func (s Surface) String() string {
	if int(s) < len(surfaceNames) {
		return surfaceNames[s]
	}
	return "surface(" + strconv.Itoa(int(s)) + ")"
}

// Match is the provenance of one matching entry: enough for an operator to
// prove which list and which line blocked a name. All strings are shared
// with the Set (no allocation per lookup) and stay valid after a reload.
type Match struct {
	RuleID      string // "<list id>:<file base name>:<line>"; inline YAML entries name the rules file
	List        string // list id
	ListVersion string
	Category    string
	Pattern     string // the entry as written, normalised: ".casino.example", "news.example/forbidden/", "203.0.113.0/28"
	Action      Action
	Source      string // the file the entry is in, as given to LoadFiles (or joined with the rules file's directory)
	Line        int    // 1-based line of the entry in Source
}

// listInfo is one list: a YAML `lists:` item or a plain file given directly.
type listInfo struct {
	id, version, category string
	action                Action
	stats                 ListStats
	hits                  *atomic.Uint64 // see metrics.go; shared by the Sets of one Holder
}

// source is one (list, file) pair; entries refer to it by index so the
// per-entry cost stays at a uint16.
type source struct {
	list   *listInfo
	path   string // as named in errors
	prefix string // "<list id>:<file base>:" — RuleID without the line
}

// Set is a compiled, immutable rule set. All methods are safe for
// concurrent use; a nil *Set matches nothing.
type Set struct {
	names   nameTable // block entries: exact and suffix names
	allow   nameTable // allowlist entries
	urls    map[string][]urlEntry
	cidrs   cidrTable
	lists   []*listInfo
	sources []source
	files   []fileStamp
	warns   []string
	stats   SetStats
	ids     ruleIDCache
}

// ListStats counts the entries of one list by kind.
type ListStats struct {
	ID       string
	Version  string
	Category string
	Action   Action
	Exact    int // names matched exactly
	Suffix   int // names matched with their subdomains
	URLs     int // host + path prefixes
	CIDRs    int // IPv4 and IPv6 prefixes (single addresses included)
	Ignored  int // lines skipped with a warning (cosmetic adblock rules, hosts-file localhost…)
}

// SetStats describes a Set, for `nunchi rules check` and metrics.
type SetStats struct {
	Lists       []ListStats
	Names       int           // exact + suffix entries over all lists
	URLs        int           // URL prefix entries
	CIDRs       int           // CIDR entries
	Allow       int           // allowlist entries
	Ignored     int           // lines skipped with a warning
	Files       int           // files read
	LoadTime    time.Duration // wall time LoadFiles took
	MemoryBytes int64         // approximate bytes held by the compiled Set
}

// Stats returns the counts of s. The Lists slice is a copy.
func (s *Set) Stats() SetStats {
	if s == nil {
		return SetStats{}
	}
	st := s.stats
	st.Lists = append([]ListStats(nil), s.stats.Lists...)
	return st
}

// Warnings returns the lines skipped while loading (at most 100, then a
// count), each as "file:line: reason".
func (s *Set) Warnings() []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s.warns...)
}

// ruleIDCache memoises RuleID strings: a direct-mapped, lock-free cache
// with a power-of-two number of slots (the number of entries rounded up,
// at most maxRuleIDSlots: 8 MiB). The first hit of an entry formats its
// RuleID (one allocation); repeated hits of recently seen entries allocate
// nothing. Storing 10 M formatted IDs up front would cost more than the
// whole matcher.
//
// A slot holds the string itself (its data pointer and length) under a
// sequence counter, not a pointer to a boxed entry: a cold hit reads the
// slot in the same memory round trip as the entry's record (both are
// addressed by the entry's ref) instead of a third, dependent one.
type ruleIDCache struct {
	slots []ruleIDSlot
	shift uint8 // 64 - log2(len(slots))
}

// ruleIDSlot is a seqlock: a writer makes seq odd, stores key, p and n,
// then makes seq even again; a reader trusts the fields only when seq is
// the same even number before and after reading them. Every field is an
// atomic, so concurrent shards are race-free. 32 bytes: two per cache line.
type ruleIDSlot struct {
	seq atomic.Uint32
	n   atomic.Uint32
	key atomic.Uint64 // see match and matchRef; 0 = empty
	p   atomic.Pointer[byte]
	_   [8]byte
}

const maxRuleIDSlots = 1 << 18

func newRuleIDCache(entries int) ruleIDCache {
	n := 64
	for n < entries && n < maxRuleIDSlots {
		n <<= 1
	}
	return ruleIDCache{slots: make([]ruleIDSlot, n), shift: uint8(64 - bits.TrailingZeros(uint(n)))}
}

// ruleID returns the RuleID for src and line, cached under key.
func (s *Set) ruleID(key uint64, src uint16, line uint32) string {
	slot := &s.ids.slots[(key*0x9E3779B97F4A7C15)>>s.ids.shift]
	seq := slot.seq.Load()
	if seq&1 == 0 && slot.key.Load() == key {
		p, n := slot.p.Load(), slot.n.Load()
		if p != nil && slot.seq.Load() == seq {
			return unsafe.String(p, n)
		}
	}
	id := s.sources[src].prefix + strconv.FormatUint(uint64(line), 10)
	// A slot another shard is writing keeps its value: this hit allocates
	// once more, no one waits.
	if seq&1 == 0 && slot.seq.CompareAndSwap(seq, seq+1) {
		slot.key.Store(key)
		slot.p.Store(unsafe.StringData(id))
		slot.n.Store(uint32(len(id)))
		slot.seq.Store(seq + 2)
	}
	return id
}

// match builds the Match of a CIDR, URL or allow entry.
func (s *Set) match(src uint16, line uint32, pattern string) Match {
	return s.matchKeyed(1<<63|uint64(src)<<32|uint64(line), src, line, pattern)
}

// hit is match for a lookup that found the entry: it counts the hit.
func (s *Set) hit(src uint16, line uint32, pattern string) Match {
	m := s.match(src, line, pattern)
	s.sources[src].list.hits.Add(1)
	return m
}

// matchRef builds the Match of a name entry (a hit: counted). The RuleID cache is keyed by
// the entry's ref, known before its record is read, so the CPU fetches the
// cache slot and the record at the same time.
func (s *Set) matchRef(ref uint32) Match {
	return s.matchEntry(ref, s.names.entry(ref))
}

// matchEntry is matchRef for an entry already decoded. The hit is counted
// last: a locked add orders the loads before it, and the RuleID slot is
// better read in the same round trip as the record.
func (s *Set) matchEntry(ref uint32, e entry) Match {
	so := &s.sources[e.src]
	l := so.list
	m := Match{
		RuleID:      s.ruleID(uint64(ref), e.src, e.line),
		List:        l.id,
		ListVersion: l.version,
		Category:    l.category,
		Pattern:     e.pattern(),
		Action:      l.action,
		Source:      so.path,
		Line:        int(e.line),
	}
	l.hits.Add(1)
	return m
}

func (s *Set) matchKeyed(key uint64, src uint16, line uint32, pattern string) Match {
	so := &s.sources[src]
	l := so.list
	return Match{
		RuleID:      s.ruleID(key, src, line),
		List:        l.id,
		ListVersion: l.version,
		Category:    l.category,
		Pattern:     pattern,
		Action:      l.action,
		Source:      so.path,
		Line:        int(line),
	}
}

// MatchName reports the entry that blocks name, a DNS name, TLS/QUIC SNI or
// HTTP Host value. name is normalised first: ASCII case folded, one trailing
// dot removed, a ":port" suffix or IPv6 brackets removed, U-labels turned into
// A-labels (punycode). An IP literal is matched against the CIDR entries.
//
// The most specific entry wins: an exact or suffix entry for name itself,
// then suffix entries of its parents, label by label; among entries for the
// same name, the one loaded first. Any allowlist entry that matches name
// overrides. Lookups of ASCII names do not allocate.
//
// MatchName is LookupName and Hit.Resolve in one call.
func (s *Set) MatchName(name string) (Match, bool) {
	if s == nil {
		return Match{}, false
	}
	var buf [maxQuery]byte
	key, ip, kind := normalizeQuery(&buf, name)
	switch kind {
	case queryIP:
		return s.MatchIP(ip)
	case queryName:
		ref := s.names.candidate(key)
		if ref == 0 || s.allow.count > 0 && s.allow.lookup(key) != 0 {
			return Match{}, false
		}
		return s.resolveName(key, ref)
	}
	return Match{}, false
}

// resolveName checks a candidate name entry against the query key (the
// record is read for the provenance anyway) and builds its Match; a
// candidate that is a tag collision gives way to the exact walk.
func (s *Set) resolveName(key []byte, ref uint32) (Match, bool) {
	e := s.names.entry(ref)
	if !e.matches(key) {
		if ref = s.names.lookup(key); ref == 0 {
			return Match{}, false
		}
		e = s.names.entry(ref)
	}
	return s.matchEntry(ref, e), true
}

// Hit is the answer of a Lookup: the entry that blocks a query, before its
// provenance (list, rule id, pattern…) is read. A Lookup costs one memory
// round trip on a large set (the table slot; the Bloom filter word is
// loaded beside it), where MatchName costs two (then the entry's record
// and its cached RuleID); a sensor can decide on the Lookup and resolve the
// Hit where it builds the block event.
//
// A name Hit is decided on 31 bits of the name's hash: a miss is certain,
// a hit is wrong with a probability of about 2^-31 per table slot compared
// (one to three), and Resolve, which reads the entry, says so. The Hit
// keeps its Set: it resolves against the rules it was looked up in, reload
// or not.
type Hit struct {
	set  *Set
	name string     // the query, for a name entry
	ref  uint32     // the candidate name entry
	cidr *cidrEntry // or the CIDR entry
	url  *urlEntry  // or the URL entry
}

// Resolve returns the Match of h. ok is false for the zero Hit and for the
// rare name Hit whose entry turns out not to be the query's (a tag
// collision; see Hit), in which case the query is matched exactly, and ok
// says whether some other entry blocks it.
func (h Hit) Resolve() (m Match, ok bool) {
	s := h.set
	switch {
	case s == nil:
		return Match{}, false
	case h.cidr != nil:
		return s.hit(h.cidr.src, h.cidr.line, h.cidr.pattern), true
	case h.url != nil:
		return s.hit(h.url.src, h.url.line, h.url.pattern), true
	}
	var buf [maxQuery]byte
	key, _, kind := normalizeQuery(&buf, h.name)
	if kind != queryName {
		return Match{}, false
	}
	return s.resolveName(key, h.ref)
}

// LookupName is the decision half of MatchName: whether name is blocked,
// with the same normalisation and precedence, without reading the
// provenance (see Hit). It does not allocate for ASCII names.
func (s *Set) LookupName(name string) (Hit, bool) {
	if s == nil {
		return Hit{}, false
	}
	var buf [maxQuery]byte
	key, ip, kind := normalizeQuery(&buf, name)
	switch kind {
	case queryIP:
		return s.LookupIP(ip)
	case queryName:
		ref := s.names.candidate(key)
		if ref == 0 || s.allow.count > 0 && s.allow.lookup(key) != 0 {
			return Hit{}, false
		}
		return Hit{set: s, name: name, ref: ref}, true
	}
	return Hit{}, false
}

// LookupIP is the decision half of MatchIP (see Hit).
func (s *Set) LookupIP(a netip.Addr) (Hit, bool) {
	if s == nil {
		return Hit{}, false
	}
	if e := s.cidrs.lookup(a); e != nil {
		return Hit{set: s, cidr: e}, true
	}
	return Hit{}, false
}

// LookupURL is the decision half of MatchURL (see Hit).
func (s *Set) LookupURL(host, path string) (Hit, bool) {
	if s == nil {
		return Hit{}, false
	}
	var buf [maxQuery]byte
	key, ip, kind := normalizeQuery(&buf, host)
	switch kind {
	case queryIP:
		if e := s.urlEntry(ipKey(&buf, ip), path); e != nil {
			return Hit{set: s, url: e}, true
		}
		return s.LookupIP(ip)
	case queryName:
		if e := s.urlEntry(key, path); e != nil {
			if s.allow.lookup(key) != 0 {
				return Hit{}, false
			}
			return Hit{set: s, url: e}, true
		}
		ref := s.names.candidate(key)
		if ref == 0 || s.allow.count > 0 && s.allow.lookup(key) != 0 {
			return Hit{}, false
		}
		return Hit{set: s, name: host, ref: ref}, true
	}
	return Hit{}, false
}

func (s *Set) matchKey(key []byte) (Match, bool) {
	ref := s.names.lookup(key)
	if ref == 0 {
		return Match{}, false
	}
	if s.allow.lookup(key) != 0 {
		return Match{}, false
	}
	return s.matchRef(ref), true
}

// MatchURL reports the entry that blocks the HTTP request for host and path:
// URL prefix entries first (host as for MatchName, the path compared
// byte-wise as a prefix; the longest prefix of the most specific host wins),
// then MatchName(host). path may be absolute-form ("http://h/p"); its scheme
// and authority are dropped. An allowlisted host matches nothing.
func (s *Set) MatchURL(host, path string) (Match, bool) {
	if s == nil {
		return Match{}, false
	}
	var buf [maxQuery]byte
	key, ip, kind := normalizeQuery(&buf, host)
	switch kind {
	case queryIP:
		if m, ok := s.matchURLKey(ipKey(&buf, ip), path); ok {
			return m, true
		}
		return s.MatchIP(ip)
	case queryName:
		if m, ok := s.matchURLKey(key, path); ok {
			if s.allow.lookup(key) != 0 {
				return Match{}, false
			}
			return m, true
		}
		return s.matchKey(key)
	}
	return Match{}, false
}

func (s *Set) matchURLKey(key []byte, path string) (Match, bool) {
	if e := s.urlEntry(key, path); e != nil {
		return s.hit(e.src, e.line, e.pattern), true
	}
	return Match{}, false
}

// urlEntry returns the URL entry for host key and path, or nil.
func (s *Set) urlEntry(key []byte, path string) *urlEntry {
	if len(s.urls) == 0 {
		return nil
	}
	path = requestPath(path)
	for i := 0; ; {
		if es, ok := s.urls[string(key[i:])]; ok {
			for j := range es {
				e := &es[j]
				if (i == 0 || e.suffix) && strings.HasPrefix(path, e.path) {
					return e
				}
			}
		}
		d := indexByte(key[i:], '.')
		if d < 0 {
			return nil
		}
		i += d + 1
	}
}

// ipKey writes the text form of an IP literal host into buf, for URL entries
// whose host is an address.
func ipKey(buf *[maxQuery]byte, ip netip.Addr) []byte {
	return ip.AppendTo(buf[:0])
}

// requestPath returns the path of an origin-form or absolute-form request
// target; an empty target is "/".
func requestPath(p string) string {
	if len(p) > 0 && p[0] != '/' {
		if i := strings.Index(p, "://"); i >= 0 {
			rest := p[i+3:]
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				return rest[j:]
			}
			return "/"
		}
	}
	if p == "" {
		return "/"
	}
	return p
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// MatchIP reports the longest CIDR entry containing a (IPv4-mapped IPv6
// addresses are matched as IPv4). It does not allocate.
func (s *Set) MatchIP(a netip.Addr) (Match, bool) {
	if s == nil {
		return Match{}, false
	}
	e := s.cidrs.lookup(a)
	if e == nil {
		return Match{}, false
	}
	return s.hit(e.src, e.line, e.pattern), true
}

// bytesString views b as a string; b must never change afterwards (the
// arena is written once, before the Set is published).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// URLHost reports whether some URL prefix entry names host (normalised as
// for MatchURL) or, for entries written ".host/…", one of its parents:
// the hosts whose request paths MatchURL needs to see. A retro-match over
// stored HTTP events (`nunchi rules retro`) reads the paths of those hosts
// only, and of the hosts MatchName blocks.
func (s *Set) URLHost(host string) bool {
	if s == nil || len(s.urls) == 0 {
		return false
	}
	var buf [maxQuery]byte
	key, ip, kind := normalizeQuery(&buf, host)
	switch kind {
	case queryIP:
		key = ipKey(&buf, ip)
	case queryBad:
		return false
	}
	for i := 0; ; {
		if es, ok := s.urls[string(key[i:])]; ok {
			for j := range es {
				if i == 0 || es[j].suffix {
					return true
				}
			}
		}
		d := indexByte(key[i:], '.')
		if d < 0 {
			return false
		}
		i += d + 1
	}
}

package rules

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nunchi-sensor/nunchi/internal/config"
)

// Error is one problem found by LoadFiles: "file:line: reason" (or
// "file:line: key.path: reason" inside a YAML rules file). LoadFiles joins
// them with errors.Join.
type Error = config.Error

// maxErrors caps the errors LoadFiles reports; maxWarnings the warnings a
// Set keeps as text (all are counted).
const (
	maxErrors   = 100
	maxWarnings = 100
	maxSources  = 1<<16 - 1
	maxLine     = 1 << 20 // longest line read, in bytes
)

// ErrNoRules is returned by LoadFiles when given no path.
var ErrNoRules = errors.New("rules: no rules files")

// fileStamp identifies the version of a file that was read, for Watch.
type fileStamp struct {
	path string
	size int64
	mod  int64 // UnixNano
}

type urlEntry struct {
	path    string // "/forbidden/"
	suffix  bool   // host and its subdomains
	src     uint16
	line    uint32
	pattern string // "news.example/forbidden/"
}

type loader struct {
	lists    []*listInfo
	byID     map[string]string // list id → where it was defined
	sources  []source
	names    tableBuilder
	allow    tableBuilder
	urls     map[string][]urlEntry
	cidrs    cidrBuilder
	errs     []error
	nerrs    int
	warns    []string
	nwarns   int
	ignored  int
	allowN   int
	files    []fileStamp
	allowLst *listInfo
	scratch  []byte
}

// LoadFiles reads and compiles rules files. Each path is a YAML rules file
// (DESIGN.md §4c) or a plain list in any supported format, detected by
// content; see the package documentation. A plain list given directly
// becomes a list whose id is the file's base name without extension, with
// action alert and the file's modification date (UTC) as version.
//
// Every problem is reported, as *Error values ("file:line: reason") joined
// with errors.Join (at most 100); any error fails the whole load.
func LoadFiles(paths ...string) (*Set, error) {
	start := time.Now()
	if len(paths) == 0 {
		return nil, ErrNoRules
	}
	l := &loader{byID: make(map[string]string), urls: make(map[string][]urlEntry)}
	l.allowLst = &listInfo{id: "allow", action: ActionLog, hits: new(atomic.Uint64)}
	for _, p := range paths {
		l.loadTop(p)
	}
	if l.nerrs > 0 {
		if l.nerrs > len(l.errs) {
			l.errs = append(l.errs, fmt.Errorf("%d more errors not shown", l.nerrs-len(l.errs)))
		}
		return nil, errors.Join(l.errs...)
	}
	s := l.build()
	s.stats.LoadTime = time.Since(start)
	return s, nil
}

func (l *loader) errorf(file string, line int, format string, args ...any) {
	l.nerrs++
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, &Error{Source: file, Line: line, Err: fmt.Errorf(format, args...)})
	}
}

func (l *loader) errAt(file string, line int, path string, err error) {
	l.nerrs++
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, &Error{Source: file, Line: line, Path: path, Err: err})
	}
}

func (l *loader) warnf(list *listInfo, file string, line int, format string, args ...any) {
	l.nwarns++
	l.ignored++
	if list != nil {
		list.stats.Ignored++
	}
	if len(l.warns) < maxWarnings {
		l.warns = append(l.warns, fmt.Sprintf("%s:%d: ", file, line)+fmt.Sprintf(format, args...))
	}
}

func (l *loader) addSource(list *listInfo, path string) (uint16, bool) {
	if len(l.sources) >= maxSources {
		l.errorf(path, 0, "too many list files (more than %d)", maxSources)
		return 0, false
	}
	l.sources = append(l.sources, source{list: list, path: path,
		prefix: list.id + ":" + filepath.Base(path) + ":"})
	return uint16(len(l.sources) - 1), true
}

func (l *loader) addList(id, where string) (*listInfo, bool) {
	if _, dup := l.byID[id]; dup {
		return nil, false
	}
	l.byID[id] = where
	li := &listInfo{id: id, action: ActionAlert, hits: new(atomic.Uint64)}
	l.lists = append(l.lists, li)
	return li, true
}

// validID reports whether id can be stamped into RuleIDs ("id:file:line").
func validID(id string) error {
	if id == "" {
		return errors.New("empty list id")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("list id %q: only letters, digits, '-', '_' and '.' are allowed", id)
		}
	}
	return nil
}

func (l *loader) stat(path string) (os.FileInfo, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		l.errorf(path, 0, "%v", errors.Unwrap(err))
		return nil, false
	}
	if fi.IsDir() {
		l.errorf(path, 0, "is a directory")
		return nil, false
	}
	l.files = append(l.files, fileStamp{path: path, size: fi.Size(), mod: fi.ModTime().UnixNano()})
	return fi, true
}

func (l *loader) loadTop(path string) {
	fi, ok := l.stat(path)
	if !ok {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		l.errorf(path, 0, "%v", errors.Unwrap(err))
		return
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(64 << 10)
	if isYAML(head) {
		data, err := io.ReadAll(br)
		if err != nil {
			l.errorf(path, 0, "%v", err)
			return
		}
		l.loadYAML(path, data)
		return
	}
	id := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if err := validID(id); err != nil {
		l.errorf(path, 0, "%v (the list id is the file name without extension)", err)
		return
	}
	li, ok := l.addList(id, path)
	if !ok {
		l.errorf(path, 0, "duplicate list id %q (first in %s)", id, l.byID[id])
		return
	}
	li.version = fi.ModTime().UTC().Format("2006-01-02")
	src, ok := l.addSource(li, path)
	if !ok {
		return
	}
	l.parseList(path, br, head, li, src)
}

var yamlKeyLine = func(line []byte) bool {
	// "key:" followed by a space or the end of the line, key an identifier.
	i := 0
	for i < len(line) && (line[i] >= 'a' && line[i] <= 'z' || line[i] >= 'A' && line[i] <= 'Z' || line[i] == '_' ||
		i > 0 && line[i] >= '0' && line[i] <= '9') {
		i++
	}
	if i == 0 || i >= len(line) || line[i] != ':' {
		return false
	}
	return i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t'
}

// isYAML reports whether the first significant line of head is a YAML
// mapping key ("lists:", "allow:"…) or a document start. No other supported
// format has a line like that.
func isYAML(head []byte) bool {
	for len(head) > 0 {
		var line []byte
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			line, head = head, nil
		}
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		if bytes.Equal(t, []byte("---")) {
			return true
		}
		return yamlKeyLine(bytes.TrimRight(line, " \t\r"))
	}
	return false
}

// isAdblock reports whether head looks like an adblock-style list: a
// "[Adblock…]" header, "!" comments or "||name^" rules among the first
// lines. In such a file, rules other than "||name^" are skipped with a
// warning instead of failing the load.
func isAdblock(head []byte) bool {
	for n := 0; len(head) > 0 && n < 200; {
		var line []byte
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			line, head = head, nil
		}
		t := bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")))
		if len(t) == 0 {
			continue
		}
		n++
		if t[0] == '!' || bytes.HasPrefix(t, []byte("[Adblock")) || bytes.HasPrefix(t, []byte("||")) ||
			bytes.HasPrefix(t, []byte("@@||")) {
			return true
		}
	}
	return false
}

// lineCtx is what parseLine needs to know about the file being read.
type lineCtx struct {
	path    string
	list    *listInfo
	src     uint16
	adblock bool
}

// parseList reads a plain list: one entry per line in any of the line
// formats. head is what the reader has buffered (for format detection).
func (l *loader) parseList(path string, br *bufio.Reader, head []byte, li *listInfo, src uint16) {
	ctx := lineCtx{path: path, list: li, src: src, adblock: isAdblock(head)}
	lineNo := 0
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lineNo++
			l.errorf(path, lineNo, "line longer than %d bytes", br.Size())
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				l.errorf(path, lineNo, "%v", err)
			}
			if err != nil {
				return
			}
			continue
		}
		if len(raw) > 0 {
			lineNo++
			if lineNo == 1 {
				raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
			}
			l.parseLine(&ctx, bytesString(raw), lineNo)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				l.errorf(path, lineNo, "%v", err)
			}
			return
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// nextField splits off the first whitespace-separated field of s.
func nextField(s string) (field, rest string) {
	s = trimSpace(s)
	i := 0
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	return s[:i], trimSpace(s[i:])
}

// hostsSkip are the names every hosts file carries for the machine itself;
// they are not entries.
var hostsSkip = map[string]bool{
	"localhost": true, "localhost.localdomain": true, "local": true, "broadcasthost": true,
	"ip6-localhost": true, "ip6-loopback": true, "ip6-localnet": true, "ip6-mcastprefix": true,
	"ip6-allnodes": true, "ip6-allrouters": true, "ip6-allhosts": true, "0.0.0.0": true,
}

// parseLine handles one line of a plain list. s aliases the read buffer:
// whatever is kept must be copied.
func (l *loader) parseLine(ctx *lineCtx, s string, n int) {
	s = trimSpace(s)
	if ctx.adblock && (strings.HasPrefix(s, "##") || strings.HasPrefix(s, "#@#") || strings.HasPrefix(s, "#?#")) {
		l.warnf(ctx.list, ctx.path, n, "ignored cosmetic adblock rule %q", s40(s))
		return
	}
	if s == "" || s[0] == '#' || ctx.adblock && (s[0] == '!' || s[0] == '[') {
		return
	}
	if labels, ok := plainName(s); ok {
		// The common case, a lower-case name alone on its line.
		if err := l.names.addLabels(s, false, ctx.src, uint32(n), labels); err != nil {
			l.errorf(ctx.path, n, "%v", err)
			return
		}
		ctx.list.stats.Exact++
		return
	}
	if strings.HasPrefix(s, "||") {
		l.adblockRule(ctx, s, n)
		return
	}
	if ctx.adblock && strings.ContainsAny(s, "#$^|*@!") {
		l.warnf(ctx.list, ctx.path, n, "ignored adblock rule %q (only ||name^ is supported)", s)
		return
	}
	// A comment after whitespace ends the line.
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && isSpace(s[i-1]) {
			s = trimSpace(s[:i])
			break
		}
	}
	for _, p := range [...]string{"address=", "server=", "local="} {
		if strings.HasPrefix(s, p) {
			l.dnsmasqLine(ctx, s[len(p):], n)
			return
		}
	}
	f, rest := nextField(s)
	if rest != "" {
		l.hostsLine(ctx, f, rest, n)
		return
	}
	l.entry(ctx, f, n, false)
}

// entry adds one single-field entry: a name, URL prefix, CIDR or address.
// forceSuffix is set for formats where a name always covers its subdomains.
func (l *loader) entry(ctx *lineCtx, f string, n int, forceSuffix bool) {
	if strings.Contains(f, "://") {
		l.urlEntry(ctx.path, n, "", ctx.list, ctx.src, f)
		return
	}
	if i := strings.IndexByte(f, '/'); i >= 0 {
		if strings.ContainsRune(f[:i], ':') || looksNumeric(f[:i]) {
			if _, err := netip.ParseAddr(f[:i]); err == nil || looksNumeric(f[:i]) && looksNumeric(f[i+1:]) {
				l.cidrEntry(ctx.path, n, "", ctx.list, ctx.src, f)
				return
			}
		}
		l.urlEntry(ctx.path, n, "", ctx.list, ctx.src, f)
		return
	}
	if maybeIP(f) {
		if _, err := netip.ParseAddr(f); err == nil {
			l.cidrEntry(ctx.path, n, "", ctx.list, ctx.src, f)
			return
		}
	}
	l.nameEntry(ctx.path, n, "", ctx.list, ctx.src, f, forceSuffix)
}

// plainName reports whether s is a valid, already normalised name (lower
// case ASCII letters, digits, '-' and '_' in labels of 1–63 bytes, at
// least one letter so it is no IPv4 address, at most 253 bytes) and counts
// its labels. Anything else takes the general path.
func plainName(s string) (labels int, ok bool) {
	if len(s) > maxName {
		return 0, false
	}
	// One table lookup per byte and a branch that is rarely taken (dots):
	// this runs for every line of a blocklist of millions of names.
	var seen uint8
	start := 0
	labels = 1
	for i := 0; i < len(s); i++ {
		c := nameByteClass[s[i]]
		if c == 0 {
			return 0, false
		}
		seen |= c
		if c == classDot {
			if n := i - start; n == 0 || n > 63 {
				return 0, false
			}
			labels++
			start = i + 1
		}
	}
	n := len(s) - start
	return labels, n > 0 && n <= 63 && seen&classLetter != 0
}

// Byte classes of plainName.
const (
	classLetter = 1 << iota // a-z
	classOther              // 0-9 - _
	classDot
)

var nameByteClass = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = classLetter
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = classOther
	}
	t['-'], t['_'], t['.'] = classOther, classOther, classDot
	return t
}()

// maybeIP is a cheap test that s could be an IP literal (an IPv4 address is
// digits and dots; an IPv6 one has a colon), so names skip netip's
// allocating error path.
func maybeIP(s string) bool {
	if looksNumeric(s) {
		return true
	}
	return strings.IndexByte(s, ':') >= 0
}

func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			return false
		}
	}
	return true
}

func (l *loader) nameEntry(path string, n int, key string, li *listInfo, src uint16, s string, forceSuffix bool) {
	name, suffix, err := normalizeEntry(l.scratch[:0], s)
	l.scratch = name[:0]
	if err != nil {
		l.errAt(path, n, key, fmt.Errorf("invalid name %q: %w", s, err))
		return
	}
	suffix = suffix || forceSuffix
	if err := l.names.add(name, suffix, src, uint32(n)); err != nil {
		l.errAt(path, n, key, err)
		return
	}
	if suffix {
		li.stats.Suffix++
	} else {
		li.stats.Exact++
	}
}

func (l *loader) hostsLine(ctx *lineCtx, first, rest string, n int) {
	if _, err := netip.ParseAddr(first); err != nil {
		l.errorf(ctx.path, n, "invalid line %q: want one entry per line, or a hosts line \"IP name…\"", s40(first+" "+rest))
		return
	}
	for rest != "" {
		var name string
		name, rest = nextField(rest)
		if hostsSkip[strings.ToLower(name)] {
			continue
		}
		if maybeIP(name) {
			if _, err := netip.ParseAddr(name); err == nil {
				continue
			}
		}
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "*") {
			l.errorf(ctx.path, n, "invalid name %q: hosts files hold exact names", name)
			continue
		}
		l.nameEntry(ctx.path, n, "", ctx.list, ctx.src, name, false)
	}
}

// s40 shortens s for an error message.
func s40(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// adblockRule accepts "||name^", "||name", "||name^|" and "||name^$important";
// other adblock rules are skipped with a warning.
func (l *loader) adblockRule(ctx *lineCtx, s string, n int) {
	body := s[2:]
	opts := ""
	if i := strings.IndexByte(body, '$'); i >= 0 {
		body, opts = body[:i], body[i+1:]
	}
	body = strings.TrimSuffix(body, "|")
	body = strings.TrimSuffix(body, "^")
	if opts != "" && opts != "important" || body == "" || strings.ContainsAny(body, "/*^|:?=&") {
		l.warnf(ctx.list, ctx.path, n, "ignored adblock rule %q (only ||name^ is supported)", s40(s))
		return
	}
	if _, err := netip.ParseAddr(body); maybeIP(body) && err == nil {
		l.cidrEntry(ctx.path, n, "", ctx.list, ctx.src, body)
		return
	}
	l.nameEntry(ctx.path, n, "", ctx.list, ctx.src, body, true)
}

// dnsmasqLine reads the domains of "address=/a/b/…/target" (or server=,
// local=): each domain and its subdomains.
func (l *loader) dnsmasqLine(ctx *lineCtx, s string, n int) {
	if len(s) < 2 || s[0] != '/' || strings.LastIndexByte(s, '/') == 0 {
		l.errorf(ctx.path, n, "invalid dnsmasq line: want /name/…/ after %q", "=")
		return
	}
	doms := s[1:strings.LastIndexByte(s, '/')]
	for _, d := range strings.Split(doms, "/") {
		switch d {
		case "":
			continue
		case "#":
			l.errorf(ctx.path, n, "dnsmasq domain %q matches every name; not supported", d)
			continue
		}
		l.nameEntry(ctx.path, n, "", ctx.list, ctx.src, d, true)
	}
}

func (l *loader) cidrEntry(path string, n int, key string, li *listInfo, src uint16, s string) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			l.errAt(path, n, key, fmt.Errorf("invalid CIDR %q", s))
			return
		}
		if a.Zone() != "" {
			l.errAt(path, n, key, fmt.Errorf("invalid CIDR %q: zones are not allowed", s))
			return
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Zone() != "" {
		l.errAt(path, n, key, fmt.Errorf("invalid CIDR %q: zones are not allowed", s))
		return
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	m := p.Masked()
	pat := m.String()
	if m.Bits() == m.Addr().BitLen() {
		pat = m.Addr().String()
	}
	l.addCIDR(m, pat, li, src, n)
}

func (l *loader) addCIDR(p netip.Prefix, pattern string, li *listInfo, src uint16, n int) {
	l.cidrs.add(p, strings.Clone(pattern), src, uint32(n))
	li.stats.CIDRs++
}

// urlEntry adds "host/path…" (an optional "scheme://" is dropped, and a
// port). The host is a name (leading "." or "*." for subdomains too) or an
// address; the path is kept as written, "/" when absent.
func (l *loader) urlEntry(path string, n int, key string, li *listInfo, src uint16, s string) {
	u := s
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	host, p := u, "/"
	if i := strings.IndexByte(u, '/'); i >= 0 {
		host, p = u[:i], u[i:]
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] == 0x7f {
			l.errAt(path, n, key, fmt.Errorf("invalid URL %q: control character or space in the path", s40(s)))
			return
		}
	}
	var hostKey string
	suffix := false
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		a, err := netip.ParseAddr(host[1:max(end, 1)])
		if end < 0 || err != nil {
			l.errAt(path, n, key, fmt.Errorf("invalid URL %q: bad IPv6 host", s40(s)))
			return
		}
		hostKey = a.Unmap().String()
	} else {
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			if _, err := strconv.ParseUint(host[i+1:], 10, 16); err != nil {
				l.errAt(path, n, key, fmt.Errorf("invalid URL %q: bad port", s40(s)))
				return
			}
			host = host[:i]
		}
		if a, err := netip.ParseAddr(host); err == nil {
			hostKey = a.Unmap().String()
		} else {
			name, suf, err := normalizeEntry(nil, host)
			if err != nil {
				l.errAt(path, n, key, fmt.Errorf("invalid URL %q: host: %w", s40(s), err))
				return
			}
			hostKey, suffix = string(name), suf
		}
	}
	pat := hostKey + p
	if suffix {
		pat = "." + pat
	}
	p = strings.Clone(p)
	l.urls[hostKey] = append(l.urls[hostKey], urlEntry{path: p, suffix: suffix, src: src, line: uint32(n), pattern: pat})
	li.stats.URLs++
}

// scalar is a YAML scalar with its line, for errors and RuleIDs.
type scalar struct {
	Value string
	Line  int
}

func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a string, not a %s", nodeKind(n))
	}
	s.Value, s.Line = n.Value, n.Line
	return nil
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// rulesFile is the YAML rules file of DESIGN.md §4c.
type rulesFile struct {
	Lists []listSpec `yaml:"lists"`
	Allow struct {
		Domains []scalar `yaml:"domains"`
	} `yaml:"allow"`
}

type listSpec struct {
	ID       scalar   `yaml:"id"`
	Version  scalar   `yaml:"version"`
	Category scalar   `yaml:"category"`
	Action   scalar   `yaml:"action"`
	Domains  []scalar `yaml:"domains"`
	URLs     []scalar `yaml:"urls"`
	CIDRs    []scalar `yaml:"cidrs"`
	Files    []scalar `yaml:"files"`
}

func (l *loader) loadYAML(path string, data []byte) {
	var rf rulesFile
	if err := config.Decode(data, path, &rf); err != nil {
		var ce *config.Error
		for _, e := range unjoin(err) {
			if errors.As(e, &ce) {
				l.errAt(ce.Source, ce.Line, ce.Path, ce.Err)
			} else {
				l.errorf(path, 0, "%v", e)
			}
		}
		return
	}
	itemLines := listItemLines(data)
	dir := filepath.Dir(path)
	for i := range rf.Lists {
		ls := &rf.Lists[i]
		at := fmt.Sprintf("lists[%d]", i)
		line := ls.ID.Line
		if line == 0 && i < len(itemLines) {
			line = itemLines[i]
		}
		if err := validID(ls.ID.Value); err != nil {
			l.errAt(path, line, at+".id", err)
			continue
		}
		li, ok := l.addList(ls.ID.Value, fmt.Sprintf("%s:%d", path, line))
		if !ok {
			l.errAt(path, line, at+".id", fmt.Errorf("duplicate list id %q (first at %s)", ls.ID.Value, l.byID[ls.ID.Value]))
			continue
		}
		li.version, li.category = ls.Version.Value, ls.Category.Value
		if ls.Action.Value != "" {
			a, ok := ParseAction(ls.Action.Value)
			if !ok {
				l.errAt(path, ls.Action.Line, at+".action", fmt.Errorf("unknown action %q (want log, alert or inject)", ls.Action.Value))
			}
			li.action = a
		}
		if len(ls.Domains)+len(ls.URLs)+len(ls.CIDRs) > 0 {
			src, ok := l.addSource(li, path)
			if !ok {
				continue
			}
			for j, d := range ls.Domains {
				if _, err := netip.ParseAddr(d.Value); err == nil {
					l.cidrEntry(path, d.Line, fmt.Sprintf("%s.domains[%d]", at, j), li, src, d.Value)
					continue
				}
				l.nameEntry(path, d.Line, fmt.Sprintf("%s.domains[%d]", at, j), li, src, d.Value, false)
			}
			for j, u := range ls.URLs {
				l.urlEntry(path, u.Line, fmt.Sprintf("%s.urls[%d]", at, j), li, src, u.Value)
			}
			for j, c := range ls.CIDRs {
				l.cidrEntry(path, c.Line, fmt.Sprintf("%s.cidrs[%d]", at, j), li, src, c.Value)
			}
		}
		for j, f := range ls.Files {
			key := fmt.Sprintf("%s.files[%d]", at, j)
			if f.Value == "" {
				l.errAt(path, f.Line, key, errors.New("empty file name"))
				continue
			}
			p := f.Value
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			l.loadListFile(path, f.Line, key, p, li)
		}
	}
	if len(rf.Allow.Domains) > 0 {
		src, ok := l.addSource(l.allowLst, path)
		if !ok {
			return
		}
		for j, d := range rf.Allow.Domains {
			name, suffix, err := normalizeEntry(nil, d.Value)
			if err != nil {
				l.errAt(path, d.Line, fmt.Sprintf("allow.domains[%d]", j), fmt.Errorf("invalid name %q: %w", d.Value, err))
				continue
			}
			if err := l.allow.add(name, suffix, src, uint32(d.Line)); err != nil {
				l.errAt(path, d.Line, "", err)
			}
			l.allowN++
		}
	}
}

// loadListFile reads a list file named by a YAML rules file (at
// from:line, key) into list li.
func (l *loader) loadListFile(from string, line int, key, path string, li *listInfo) {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() {
		reason := "is a directory"
		if err != nil {
			reason = errors.Unwrap(err).Error()
		}
		l.errAt(from, line, key, fmt.Errorf("%s: %s", path, reason))
		return
	}
	l.files = append(l.files, fileStamp{path: path, size: fi.Size(), mod: fi.ModTime().UnixNano()})
	f, err := os.Open(path)
	if err != nil {
		l.errAt(from, line, key, err)
		return
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(64 << 10)
	if isYAML(head) {
		l.errAt(from, line, key, fmt.Errorf("%s is a YAML rules file; list files hold entries only", path))
		return
	}
	src, ok := l.addSource(li, path)
	if !ok {
		return
	}
	l.parseList(path, br, head, li, src)
}

// listItemLines returns the line of each item of the top-level "lists".
func listItemLines(data []byte) []int {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "lists" && m.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, it := range m.Content[i+1].Content {
				out = append(out, it.Line)
			}
			return out
		}
	}
	return nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (l *loader) build() *Set {
	s := &Set{
		names:   l.names.build(),
		allow:   l.allow.build(),
		cidrs:   l.cidrs.build(),
		lists:   l.lists,
		sources: l.sources,
		files:   l.files,
		warns:   l.warns,
	}
	s.ids = newRuleIDCache(l.names.count + l.cidrs.t.count + len(l.urls))
	if len(l.urls) > 0 {
		for k, es := range l.urls {
			slices.SortStableFunc(es, func(a, b urlEntry) int { return len(b.path) - len(a.path) })
			l.urls[k] = es
		}
		s.urls = l.urls
	}
	if l.nwarns > len(l.warns) {
		s.warns = append(s.warns, fmt.Sprintf("%d more warnings not shown", l.nwarns-len(l.warns)))
	}
	st := &s.stats
	for _, li := range l.lists {
		ls := li.stats
		ls.ID, ls.Version, ls.Category, ls.Action = li.id, li.version, li.category, li.action
		li.stats = ls
		st.Lists = append(st.Lists, ls)
		st.Names += ls.Exact + ls.Suffix
		st.URLs += ls.URLs
		st.CIDRs += ls.CIDRs
	}
	st.Allow = l.allowN
	st.Ignored = l.ignored
	st.Files = len(l.files)
	mem := s.names.memory() + s.allow.memory() + s.cidrs.memory()
	for k, es := range s.urls {
		mem += int64(len(k)) + 48
		for _, e := range es {
			mem += int64(len(e.path)+len(e.pattern)) + 64
		}
	}
	st.MemoryBytes = mem
	return s
}

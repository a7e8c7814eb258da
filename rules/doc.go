// Package rules is nunchi's blocked-site rule engine: it reads the rule
// and block-list formats operators already have, compiles them into an
// immutable matcher, and answers, for a name, URL or address seen on any
// surface (HTTP Host and URL, TLS and QUIC SNI, DNS query and answers, the
// server IP), whether it is blocked and by which entry of which list.
//
// # Contract
//
//	s, err := rules.LoadFiles("rules.yaml", "lists/extra.txt")  // all errors, file:line: reason
//	h := rules.NewHolder(s)                                      // shared by every shard
//	m, ok := h.Load().MatchName(sni)                              // per flow, per surface
//	m, ok = h.Load().MatchURL(host, path)
//	m, ok = h.Load().MatchIP(serverIP)
//	go h.Watch(ctx, paths, 5*time.Second, log)                    // and h.Reload(paths...) on SIGHUP
//
//	hit, ok := h.Load().LookupName(sni)  // the decision alone: one memory round trip
//	m, ok = hit.Resolve()                // the provenance, where the block event is built
//	h.ListHits()                         // hits per list id, for metrics (metrics.go)
//
// A [Match] carries the provenance a block event needs (DESIGN.md §4):
// RuleID "<list id>:<file base name>:<line>" (for an entry written inline
// in the YAML file, the YAML file's name and line), the list id and
// version, category, the entry as written once normalised (Pattern:
// ".casino.example", "news.example/forbidden/", "203.0.113.0/28") and the
// list's action (log, alert, inject). [Set.Explain] lists every entry that
// matches a query and why, for `nunchi rules test`; [Set.Stats] the counts
// per list and kind, load time and memory, for `nunchi rules check`.
//
// # Formats
//
// Each file given to [LoadFiles] is detected by content:
//
//   - The YAML rules file (DESIGN.md §4c), recognised by a first line such
//     as "lists:" or "allow:". Keys are strict (unknown and duplicate keys
//     are errors with their key path). Each list has id (letters, digits,
//     '-', '_', '.'; unique over all files), version, category, action
//     (log, alert or inject; alert when absent), domains, urls, cidrs and
//     files (list files in any of the formats below, relative to the YAML
//     file). allow.domains are allowlist entries.
//   - Plain lists, one entry per line, "#" comments (whole-line, or after
//     whitespace), blank lines, CRLF and a UTF-8 BOM tolerated. Each line is
//     one of: a name ("blocked.example"; ".x" or "*.x" for x and all its
//     subdomains); a hosts-file line ("0.0.0.0 a.example b.example", any
//     address first; localhost-style names and addresses among the names
//     are skipped; hosts names are exact); a dnsmasq line
//     ("address=/a.example/b.example/0.0.0.0", "server=/x/…", "local=/x/":
//     each domain with its subdomains); a CIDR or single address
//     ("203.0.113.0/28", "2001:db8::/32", "192.0.2.1"); a URL prefix
//     ("news.example/forbidden/", an optional "scheme://" and port dropped);
//     or an adblock rule "||name^" (also "||name", "||name^|",
//     "||name^$important": the name and its subdomains).
//   - Adblock-style lists: a "[Adblock…]" header, "!" comments or "||"
//     rules in the first lines. There, the rules that are not about a whole
//     name (cosmetic "##", exceptions "@@", options, paths, wildcards) are
//     skipped with a warning ([Set.Warnings], counted in ListStats.Ignored),
//     not errors.
//
// A plain list given directly to LoadFiles (not through a YAML file) is a
// list of its own: id = base name without extension, action alert,
// version = the file's modification date (UTC, "2006-01-02").
//
// Errors are [*Error] values (the config package's: "file:line: reason",
// with the key path inside YAML files) joined with errors.Join, at most 100
// and a count. Any error fails the whole load: a Set is all the files or
// nothing.
//
// # Matching and normalisation
//
// Names (entries and queries) are lower-cased (ASCII), lose one trailing
// dot, and U-labels become A-labels (Punycode, RFC 3492, after lower-casing
// and mapping fullwidth forms and ideographic full stops: the common case
// of UTS #46 lookup processing; input is expected in NFC). Queries also
// lose a ":port" suffix and IPv6 brackets, so a Host header or
// "[2001:db8::1]:443" can be passed as is; an IP literal given to
// MatchName or MatchURL is matched against the CIDR entries.
//
// A plain name entry matches that name only; ".x" and "*.x" match x and
// every name under it (DESIGN.md: leading dot = the name and all
// subdomains). The most specific entry wins: the query name itself, then
// its parents label by label; for the same name, the entry loaded first
// (file order, then line order). Any allowlist entry that matches the name
// (same exact/suffix rules) overrides every list. URL entries match the
// host (exact, or with subdomains when written ".host/…") and a byte-wise
// prefix of the path (paths are case-sensitive; query strings are part of
// the path); the longest prefix on the most specific host wins, then
// MatchURL falls back to MatchName(host). CIDR lookups return the longest
// prefix; IPv4-mapped IPv6 addresses match IPv4 entries.
//
// The name matcher is a hashed suffix walk-up (the measured choice over a
// label-reversed trie: one probe per label level and no pointer chasing,
// where a trie costs a dependent cache miss per label and far more memory
// per node). Names live in one arena of 16 MiB chunks (a record is a line,
// a source index, a length, a kind byte and the name: 8 bytes plus the
// name); an open-addressing table of 8-byte slots (32-bit arena offset,
// 31-bit hash tag and a suffix-entry bit; load factor 0.7, linear probing)
// indexes them. A lookup decides on the slots alone (LookupName: a tag
// that agrees, with the right kind, is a candidate; a miss is certain);
// the record is read when the Match is built (Hit.Resolve, and MatchName,
// which is both), and checked then: a candidate that is a tag collision
// (about 2^-31 per slot compared) gives way to the exact walk. Bit masks
// of the label counts present skip the levels no entry can match, and the
// home slots of all levels are loaded before any is examined, so their
// cache misses overlap. Blocked Bloom filters over all keys (4–8 bits per
// key) and over suffix keys (8–16 bits per key) spare most misses the
// table probe. CIDRs use one hash map per prefix length, longest first.
//
// # Concurrency and ownership
//
// A [Set] is immutable once LoadFiles returns it, and every method is safe
// for concurrent use by any number of shards with no lock. Lookups of ASCII
// names, URLs and addresses do not allocate, except the first hit of an
// entry, which formats its RuleID once into a lock-free cache (sized to the
// set, at most 256 Ki slots of 32 bytes, each holding the string under a
// sequence lock, so a hit reads its RuleID in the same memory round trip
// as its record) that later hits reuse. A hit (a Match built) adds one to
// its list's counter, an atomic add; misses write nothing shared. The strings in a
// Match belong to the Set (Pattern points into its arena) and stay valid
// as long as the caller keeps them, reload or not.
//
// A [Holder] is an atomic pointer to the current Set. Reload compiles the
// new files off to the side and swaps the pointer only if they load
// without error; otherwise the old Set stays and the file:line errors are
// returned. A reader that called Load keeps a consistent Set for as long as
// it holds it: nothing is blocked, lost or mixed during a reload. Reloads
// are serialised and counted (ok/failed); the hit counter of a list id
// carries over from Set to Set (Holder.ListHits). Watch polls the size and
// modification time of every file the current Set was read from (the YAML
// files and the list files they name) and reloads on a change; a failed
// reload is not retried until the files change again.
//
// # Measured
//
// docs/rules.md ("Scale") has the table: load time, resident memory and
// ns per lookup (hit cold, hit hot, miss) for 1 M and 10 M generated names,
// before and after the current layout. In short, on the project VM (2
// vCPUs, shared): 10 M names load in 2.1–3.1 s into about 360 MB resident;
// a miss costs one Bloom filter word (120–240 ns cold); LookupName decides
// a cold hit in one memory round trip (247–266 ns for 10 M names), and
// MatchName, which also reads the entry's record and its RuleID, in two
// (about 560 ns); hot hits take 70–170 ns. MatchIP takes 55–70 ns and
// MatchURL 80–105 ns on the test set (a hit's counter adds an atomic add). No lookup allocates in steady state
// (a cold hit formats its RuleID once, about 12 B/op on average in the
// cold-hit benchmark, whose 64 Ki distinct hits collide in the cache).
// For context, nDPI publishes 892 MB and 7.8 s for 7.85 M names.
package rules

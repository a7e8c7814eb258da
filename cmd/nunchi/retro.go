package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/spf13/cobra"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/rules"
	"github.com/nunchi-sensor/nunchi/sinks/clickhouse"
)

// `nunchi rules retro` re-runs rules files over the events the ClickHouse
// sink stored. It works in two steps per surface, so that the matcher, not
// the server, does the matching, and only what matches travels twice:
//
//  1. the distinct names (or addresses) of the surface in the time range,
//     in pages ordered by name (keyset paging: `n > last ORDER BY n LIMIT
//     page`), each looked up in the compiled rules;
//  2. for the names that match, at most retroBatch per query, the distinct
//     (name, sensor, src_ip, dest_ip, dest_port, proto) with first and
//     last time seen and the
//     number of distinct events (event_id: the sink delivers at least once).
//
// Each group that matches is one JSON line shaped like a block event.

// retroSource is one surface's column in one table.
type retroSource struct {
	surface rules.Surface // SurfaceHTTPHost stands for http_host and http_url
	table   string
	expr    string // the name (or address text) of a row
	join    string // ARRAY JOIN clause, for DNS answers
	cond    string // extra condition
	ip      bool   // expr is an address: MatchIP
	at      string // the column of the original event time, when not timestamp
}

var retroSources = []retroSource{
	{surface: rules.SurfaceHTTPHost, table: "http", expr: "http_hostname"},
	{surface: rules.SurfaceTLSSNI, table: "tls", expr: "tls_sni"},
	{surface: rules.SurfaceQUICSNI, table: "quic", expr: "quic_sni"},
	{surface: rules.SurfaceDNSQuery, table: "dns", expr: "dns_rrname"},
	{surface: rules.SurfaceDNSAnswer, table: "dns", expr: "retro_rdata",
		join: "ARRAY JOIN dns_answers_rdata AS retro_rdata, dns_answers_rrtype AS retro_rrtype",
		cond: "retro_rrtype IN ('A', 'AAAA')", ip: true},
	// A flow event is written when the flow ends; the sensor reports the
	// server address when the flow starts.
	{surface: rules.SurfaceIP, table: "flow", expr: ipExpr("dest_ip"), ip: true, at: "flow_start"},
}

// retroBatch bounds the names of one detail query (its IN list).
const retroBatch = 1000

type retroOptions struct {
	configFile string
	output     string
	since      string
	until      string
	sensor     string
	page       int
	now        time.Time
	from, to   time.Time
}

func newRetroCmd(stdout io.Writer) *cobra.Command {
	var o retroOptions
	cmd := &cobra.Command{
		Use:   "retro --since DURATION|TIME [--until DURATION|TIME] -c CONFIG [RULES...]",
		Short: "Re-run rules files over the history stored in ClickHouse; print block findings as JSON lines",
		Long: `Re-run rules files over the events stored in ClickHouse (sinks.clickhouse in the config):
HTTP host and URL, TLS and QUIC SNI, DNS query names and answer addresses, and flow server
addresses in the time range. Each distinct (surface, name, sensor, src_ip, dest_ip, dest_port,
proto) that the rules block is one JSON line shaped like a block event, with "retro": true, the first and last
time it was seen ("timestamp" is the first) and the number of events; a summary goes to stderr.

RULES default to rules.files of the config. --since and --until take a duration back from now
(90m, 24h, 7d) or a time (2026-11-21, 2026-11-21T10:00:00Z); --until defaults to now.`,
		RunE: func(cmd *cobra.Command, files []string) error {
			return runRetro(cmd.Context(), o, files, stdout, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&o.configFile, "config", "c", "", "YAML config file (sinks.clickhouse, rules.files)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "-", "write findings to this file (- = stdout)")
	cmd.Flags().StringVar(&o.since, "since", "", "start of the time range: DURATION back from now, or a TIME (required)")
	cmd.Flags().StringVar(&o.until, "until", "", "end of the time range (exclusive): DURATION back from now, or a TIME; default now")
	cmd.Flags().StringVar(&o.sensor, "sensor", "", "only events from this sensor")
	cmd.Flags().IntVar(&o.page, "page", 100000, "distinct names read per query (each query scans the time range once)")
	return cmd
}

// parseRetroTime reads a duration back from now ("90m", "24h", "7d") or a
// time (RFC 3339, "2006-01-02T15:04:05" or "2006-01-02", UTC unless a zone
// is given).
func parseRetroTime(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(d, 64); err == nil && n >= 0 {
			return now.Add(-time.Duration(n * 24 * float64(time.Hour))), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration back from now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: not a duration (24h, 7d) or a time (2026-11-21, 2026-11-21T10:00:00Z)", s)
}

// retroFinding is one block line: a (surface, name, sensor, src_ip,
// dest_ip, dest_port, proto) group that a rule matches.
type retroFinding struct {
	surface         rules.Surface
	name, sensor    string
	src, dst        string
	first, last     time.Time
	count           uint64
	port            uint16
	proto, appProto string
	match           rules.Match
}

type retroSurfaceStats struct {
	names, matched, findings int
	missing                  bool // the table does not exist
}

func runRetro(ctx context.Context, o retroOptions, files []string, stdout, stderr io.Writer) error {
	start := time.Now()
	if o.now.IsZero() {
		o.now = time.Now()
	}
	if o.since == "" {
		return errors.New("rules retro: --since is required (a duration such as 24h, or a time)")
	}
	if o.page < 1 {
		return errors.New("rules retro: --page must be >= 1")
	}
	var err error
	if o.from, err = parseRetroTime(o.since, o.now); err != nil {
		return fmt.Errorf("rules retro: --since %w", err)
	}
	o.to = o.now
	if o.until != "" {
		if o.to, err = parseRetroTime(o.until, o.now); err != nil {
			return fmt.Errorf("rules retro: --until %w", err)
		}
	}
	if !o.to.After(o.from) {
		return fmt.Errorf("rules retro: empty time range %s .. %s", o.from.UTC().Format(time.RFC3339), o.to.UTC().Format(time.RFC3339))
	}
	cfg, err := app.LoadConfig(o.configFile, os.Environ())
	if err != nil {
		return err
	}
	if len(files) == 0 {
		files = cfg.Rules.Files
	}
	if len(files) == 0 {
		return errors.New("rules retro: no rules files (give them as arguments or in rules.files)")
	}
	set, err := rules.LoadFiles(files...)
	if err != nil {
		return err
	}
	sc, tc, err := clickHouseOptions(cfg, "rules retro")
	if err != nil {
		return err
	}
	conn, _, err := clickhouse.Open(ctx, sc, tc)
	if err != nil {
		return fmt.Errorf("rules retro: %s: %w", sc.Addr, err)
	}
	defer conn.Close()
	tables, err := retroTables(ctx, conn, sc.Database)
	if err != nil {
		return fmt.Errorf("rules retro: %w", err)
	}

	out := stdout
	var f *os.File
	if o.output != "" && o.output != "-" {
		if f, err = os.Create(o.output); err != nil {
			return fmt.Errorf("rules retro: %w", err)
		}
		defer f.Close()
		out = f
	}
	w := bufio.NewWriterSize(out, 64<<10)
	r := &retro{ctx: ctx, conn: conn, db: sc.Database, set: set, o: o, w: w, lists: map[string]int{}}
	stats := make([]retroSurfaceStats, len(retroSources))
	for i, src := range retroSources {
		if !tables[src.table] {
			stats[i].missing = true
			continue
		}
		if err := r.surface(src, &stats[i]); err != nil {
			return fmt.Errorf("rules retro: %s (%s): %w", src.table, src.expr, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("rules retro: %w", err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("rules retro: %w", err)
		}
	}
	r.summary(stderr, stats, set, time.Since(start))
	return nil
}

// retroTables returns the tables of db.
func retroTables(ctx context.Context, conn driver.Conn, db string) (map[string]bool, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ?", db)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("database %q has no tables (is it the sink's database?)", db)
	}
	return out, nil
}

type retro struct {
	ctx   context.Context
	conn  driver.Conn
	db    string
	set   *rules.Set
	o     retroOptions
	w     *bufio.Writer
	lists map[string]int // findings per list
	total int
	buf   []byte
}

// where is the time range and sensor condition of a table.
func (r *retro) where(src retroSource) (string, []any) {
	c := fmt.Sprintf("timestamp >= toDateTime(%d) AND timestamp < toDateTime(%d)", r.o.from.Unix(), ceilUnix(r.o.to))
	var args []any
	if src.cond != "" {
		c += " AND " + src.cond
	}
	if r.o.sensor != "" {
		c += " AND sensor = ?"
		args = append(args, r.o.sensor)
	}
	return c, args
}

func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func (r *retro) from(src retroSource) string {
	s := quoteIdentifier(r.db) + "." + quoteIdentifier(src.table)
	if src.join != "" {
		s += " " + src.join
	}
	return s
}

// surface runs both steps for one source.
func (r *retro) surface(src retroSource, st *retroSurfaceStats) error {
	where, args := r.where(src)
	q := fmt.Sprintf("SELECT %s AS retro_n FROM %s WHERE %s AND retro_n != '' AND retro_n > ? GROUP BY retro_n ORDER BY retro_n LIMIT %d",
		src.expr, r.from(src), where, r.o.page)
	last := ""
	for {
		rows, err := r.conn.Query(r.ctx, q, append(args, last)...)
		if err != nil {
			return err
		}
		var page, matched []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			page = append(page, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, n := range page {
			if r.candidate(src, n) {
				matched = append(matched, n)
			}
		}
		st.names += len(page)
		st.matched += len(matched)
		for len(matched) > 0 {
			b := matched[:min(len(matched), retroBatch)]
			matched = matched[len(b):]
			k, err := r.details(src, b)
			if err != nil {
				return err
			}
			st.findings += k
		}
		if len(page) < r.o.page {
			return nil
		}
		last = page[len(page)-1]
	}
}

// candidate reports whether a stored name (or address) may match.
func (r *retro) candidate(src retroSource, n string) bool {
	if src.ip {
		a, err := netip.ParseAddr(n)
		if err != nil {
			return false
		}
		_, ok := r.set.MatchIP(a.Unmap())
		return ok
	}
	if _, ok := r.set.MatchName(n); ok {
		return true
	}
	return src.surface == rules.SurfaceHTTPHost && r.set.URLHost(n)
}

// details reads the groups of the matched names and writes their findings.
func (r *retro) details(src retroSource, names []string) (int, error) {
	where, args := r.where(src)
	url, group, at := "", "", "timestamp"
	if src.at != "" {
		at = src.at
	}
	if src.surface == rules.SurfaceHTTPHost {
		url, group = "http_url, ", "http_url, "
	}
	q := fmt.Sprintf(`SELECT %s AS retro_n, %s%s AS retro_src, %s AS retro_dst, sensor,
       min(%s), max(%s), uniqExact(event_id), dest_port, proto, any(app_proto)
FROM %s WHERE %s AND retro_n IN (%s)
GROUP BY retro_n, %ssensor, retro_src, retro_dst, dest_port, proto`,
		src.expr, url, ipExpr("src_ip"), ipExpr("dest_ip"), at, at, r.from(src), where, quoteStrings(names), group)
	rows, err := r.conn.Query(r.ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	type key struct {
		surface                       rules.Surface
		name, sensor, src, dst, proto string
		port                          uint16
	}
	found := map[key]*retroFinding{}
	for rows.Next() {
		var (
			f   retroFinding
			url string
		)
		dest := []any{&f.name}
		if src.surface == rules.SurfaceHTTPHost {
			dest = append(dest, &url)
		}
		dest = append(dest, &f.src, &f.dst, &f.sensor, &f.first, &f.last, &f.count, &f.port, &f.proto, &f.appProto)
		if err := rows.Scan(dest...); err != nil {
			return 0, err
		}
		f.surface = src.surface
		var ok bool
		switch {
		case src.ip:
			a, err := netip.ParseAddr(f.name)
			if err != nil {
				continue
			}
			f.match, ok = r.set.MatchIP(a.Unmap())
		case src.surface == rules.SurfaceHTTPHost:
			// As the sensor does (pipeline/block.go): a URL entry is reported
			// on the URL, anything else on the host.
			f.match, ok = r.set.MatchURL(f.name, url)
			if ok && strings.Contains(f.match.Pattern, "/") {
				f.surface, f.name = rules.SurfaceHTTPURL, f.name+rules.URLPath(url)
			}
		default:
			f.match, ok = r.set.MatchName(f.name)
		}
		if !ok {
			continue
		}
		k := key{f.surface, f.name, f.sensor, f.src, f.dst, f.proto, f.port}
		if g := found[k]; g != nil {
			// One host over several URLs: one finding.
			if f.first.Before(g.first) {
				g.first = f.first
			}
			if f.last.After(g.last) {
				g.last = f.last
			}
			g.count += f.count
			continue
		}
		found[k] = &f
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	list := make([]*retroFinding, 0, len(found))
	for _, f := range found {
		list = append(list, f)
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.surface != b.surface {
			return a.surface < b.surface
		}
		if a.name != b.name {
			return a.name < b.name
		}
		if a.sensor != b.sensor {
			return a.sensor < b.sensor
		}
		if a.src != b.src {
			return a.src < b.src
		}
		if a.dst != b.dst {
			return a.dst < b.dst
		}
		if a.port != b.port {
			return a.port < b.port
		}
		return a.proto < b.proto
	})
	for _, f := range list {
		r.buf = appendRetroJSON(r.buf[:0], f)
		r.buf = append(r.buf, '\n')
		if _, err := r.w.Write(r.buf); err != nil {
			return 0, err
		}
		r.lists[f.match.List]++
		r.total++
	}
	return len(list), nil
}

// appendRetroJSON writes a finding as a block event (DESIGN.md §4) with
// "retro": true, first_seen (= timestamp, the original event time),
// last_seen and count. event_id hashes everything before it, as for the
// sensor's own events.
func appendRetroJSON(b []byte, f *retroFinding) []byte {
	start := len(b)
	b = append(b, `{"timestamp":"`...)
	b = detect.AppendTimestamp(b, f.first.UnixNano())
	b = append(b, `","event_type":"block","sensor":`...)
	b = detect.AppendString(b, f.sensor)
	b = append(b, `,"src_ip":`...)
	b = detect.AppendString(b, f.src)
	b = append(b, `,"dest_ip":`...)
	b = detect.AppendString(b, f.dst)
	if f.port != 0 {
		b = append(b, `,"dest_port":`...)
		b = strconv.AppendUint(b, uint64(f.port), 10)
	}
	if f.proto != "" {
		b = append(b, `,"proto":`...)
		b = detect.AppendString(b, f.proto)
	}
	if f.appProto != "" {
		b = append(b, `,"app_proto":`...)
		b = detect.AppendString(b, f.appProto)
	}
	m := f.match
	b = append(b, `,"block":{"surface":`...)
	b = detect.AppendString(b, f.surface.String())
	b = append(b, `,"name":`...)
	b = detect.AppendString(b, f.name)
	b = append(b, `,"rule_id":`...)
	b = detect.AppendString(b, m.RuleID)
	b = append(b, `,"list":`...)
	b = detect.AppendString(b, m.List)
	b = append(b, `,"list_version":`...)
	b = detect.AppendString(b, m.ListVersion)
	b = append(b, `,"matched":`...)
	b = detect.AppendString(b, m.Pattern)
	b = append(b, `,"action":`...)
	b = detect.AppendString(b, m.Action.String())
	b = append(b, `},"retro":true,"first_seen":"`...)
	b = detect.AppendTimestamp(b, f.first.UnixNano())
	b = append(b, `","last_seen":"`...)
	b = detect.AppendTimestamp(b, f.last.UnixNano())
	b = append(b, `","count":`...)
	b = strconv.AppendUint(b, f.count, 10)
	id := detect.EventID(b[start:])
	b = append(b, `,"event_id":"`...)
	b = fmt.Appendf(b, "%016x", id)
	return append(b, '"', '}')
}

func (r *retro) summary(w io.Writer, stats []retroSurfaceStats, set *rules.Set, took time.Duration) {
	st := set.Stats()
	fmt.Fprintf(w, "retro: %s .. %s, database %s; rules: %d names, %d URL prefixes, %d CIDRs\n",
		r.o.from.UTC().Format(time.RFC3339), r.o.to.UTC().Format(time.RFC3339), r.db, st.Names, st.URLs, st.CIDRs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "surface\ttable\tdistinct\tmatched\tfindings")
	for i, src := range retroSources {
		s := stats[i]
		name := src.surface.String()
		if src.surface == rules.SurfaceHTTPHost {
			name = "http_host/url"
		}
		if s.missing {
			fmt.Fprintf(tw, "%s\t%s\t(no table)\t\t\n", name, src.table)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", name, src.table, s.names, s.matched, s.findings)
	}
	tw.Flush()
	ids := make([]string, 0, len(r.lists))
	for id := range r.lists {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s %d", id, r.lists[id])
	}
	per := ""
	if len(parts) > 0 {
		per = " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintf(w, "%d findings%s in %v\n", r.total, per, took.Round(time.Millisecond))
}

// quoteStrings writes names as a list of ClickHouse string literals.
func quoteStrings(names []string) string {
	var b strings.Builder
	esc := strings.NewReplacer("\\", "\\\\", "'", "\\'")
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('\'')
		esc.WriteString(&b, n)
		b.WriteByte('\'')
	}
	return b.String()
}

// quoteIdentifier quotes a ClickHouse identifier with back quotes.
func quoteIdentifier(s string) string {
	return "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(s) + "`"
}

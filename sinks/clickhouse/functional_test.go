package clickhouse_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/sinks/clickhouse"
)

// serverAddr returns the test server's native address from
// NUNCHI_TEST_CLICKHOUSE (deploy/dev/clickhouse.sh up prints it). Unset:
// skip, or fail when NUNCHI_TEST_REQUIRE_SERVICES=1.
func serverAddr(t testing.TB) string {
	t.Helper()
	if testing.Short() && os.Getenv("NUNCHI_TEST_REQUIRE_SERVICES") != "1" {
		t.Skip("ClickHouse integration test skipped under -short")
	}
	addr := os.Getenv("NUNCHI_TEST_CLICKHOUSE")
	if addr == "" {
		if os.Getenv("NUNCHI_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("NUNCHI_TEST_CLICKHOUSE is not set (eval \"$(deploy/dev/clickhouse.sh up)\"; export NUNCHI_TEST_CLICKHOUSE=$CLICKHOUSE)")
		}
		t.Skip("NUNCHI_TEST_CLICKHOUSE is not set")
	}
	return addr
}

// testDB returns a fresh database name, dropped at the end of the test.
func testDB(t testing.TB, addr string) (string, driver.Conn) {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	db := "nunchi_test_" + hex.EncodeToString(b[:])
	conn := openConn(t, addr)
	t.Cleanup(func() {
		if os.Getenv("NUNCHI_TEST_KEEP_DB") == "" {
			conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		}
		conn.Close()
	})
	return db, conn
}

func openConn(t testing.TB, addr string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Connect(context.Background(), &ch.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	return conn
}

func corpusFiles(t testing.TB) []string {
	t.Helper()
	dir := testutil.CorpusDir(t)
	var files []string
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	return append(files, filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap"))
}

// replayConfig returns a config writing JSONL to jsonlPath and rows to db.
func replayConfig(addr, db, sensor, jsonlPath string) app.Config {
	cfg := app.DefaultConfig()
	cfg.Sensor = sensor
	cfg.Log.Level = "error"
	cfg.Capture.Shards = 2
	cfg.Sinks.JSONL.Path = jsonlPath
	c := &cfg.Sinks.ClickHouse
	c.Addr, c.Database = addr, db
	c.BatchSize = 700 // several batches per replay
	c.RetryMin, c.RetryMax = 50*time.Millisecond, 500*time.Millisecond
	c.CloseTimeout = 90 * time.Second
	return cfg
}

func replay(t *testing.T, cfg app.Config, files []string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := app.Replay(context.Background(), cfg, app.ReplayOptions{Files: files, Stdout: io.Discard}, log); err != nil {
		t.Fatalf("replay: %v", err)
	}
}

// readJSONL returns the events of a JSONL file by type, each as its decoded object.
func readJSONL(t testing.TB, path string) map[string][]map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]map[string]any{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		typ := m["event_type"].(string)
		out[typ] = append(out[typ], m)
	}
	return out
}

// flatten turns a decoded event into column name → value, the way the
// schema names columns: members joined with "_", arrays of objects into
// one array per member.
func flatten(prefix string, v any, out map[string]any, types map[string]string) {
	if t := types[prefix]; t == "String" || t == "LowCardinality(String)" {
		out[prefix] = v // a column for the whole member (stats)
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			name := k
			if prefix != "" {
				name = prefix + "_" + k
			}
			flatten(name, val, out, types)
		}
	case []any:
		if len(x) > 0 {
			if _, isObj := x[0].(map[string]any); isObj {
				for i, el := range x {
					sub := map[string]any{}
					flatten(prefix, el, sub, types)
					for k, val := range sub {
						arr, _ := out[k].([]any)
						for len(arr) < i {
							arr = append(arr, nil)
						}
						out[k] = append(arr, val)
					}
				}
				return
			}
		}
		out[prefix] = x
	default:
		out[prefix] = x
	}
}

// tableRows reads every row of a table as column name → normalised value.
func tableRows(t testing.TB, conn driver.Conn, db, table string) (rows []map[string]any, types map[string]string) {
	t.Helper()
	ctx := context.Background()
	cr, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, table)
	if err != nil {
		t.Fatal(err)
	}
	types = map[string]string{}
	var names, exprs []string
	for cr.Next() {
		var n, ty string
		cr.Scan(&n, &ty)
		types[n] = ty
		names = append(names, n)
		if ty == "FixedString(16)" || ty == "IPv6" {
			exprs = append(exprs, "IPv6NumToString("+n+")")
		} else {
			exprs = append(exprs, n)
		}
	}
	cr.Close()
	r, err := conn.Query(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+db+"."+table)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cts := r.ColumnTypes()
	for r.Next() {
		vals := make([]any, len(cts))
		for i, c := range cts {
			vals[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := r.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		row := map[string]any{}
		for i, n := range names {
			row[n] = reflect.ValueOf(vals[i]).Elem().Interface()
		}
		rows = append(rows, row)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return rows, types
}

// sameValue compares a JSON value (nil = absent) with a column value.
func sameValue(typ string, want, got any) bool {
	if inner, ok := strings.CutPrefix(typ, "LowCardinality("); ok {
		typ = strings.TrimSuffix(inner, ")")
	}
	switch {
	case typ == "FixedString(16)" || typ == "IPv6":
		g := got.(string)
		if want == nil {
			return g == "::"
		}
		a, err := netip.ParseAddr(want.(string))
		if err != nil {
			return false
		}
		b, err := netip.ParseAddr(g)
		return err == nil && a.Unmap() == b.Unmap()
	case strings.HasPrefix(typ, "DateTime"):
		g := got.(time.Time)
		if want == nil {
			return g.Unix() == 0
		}
		w, err := time.Parse(time.RFC3339Nano, want.(string))
		if err != nil {
			return false
		}
		if typ == "DateTime" { // whole seconds on servers without DateTime64
			w = w.Truncate(time.Second)
		}
		return w.Equal(g)
	case strings.HasPrefix(typ, "Array("):
		gv := reflect.ValueOf(got)
		var w []any
		if want != nil {
			w = want.([]any)
		}
		if gv.Len() != len(w) {
			return false
		}
		for i := range w {
			if !sameValue(typ[6:len(typ)-1], w[i], gv.Index(i).Interface()) {
				return false
			}
		}
		return true
	case typ == "String":
		g := got.(string)
		switch w := want.(type) {
		case nil:
			return g == ""
		case string:
			return g == w
		default: // an object kept as JSON (stats)
			var gm any
			d := json.NewDecoder(strings.NewReader(g))
			d.UseNumber()
			return d.Decode(&gm) == nil && reflect.DeepEqual(gm, w)
		}
	default: // numbers
		gf := reflect.ValueOf(got)
		var g float64
		switch gf.Kind() {
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			g = float64(gf.Uint())
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			g = float64(gf.Int())
		case reflect.Float32, reflect.Float64:
			g = gf.Float()
		}
		switch w := want.(type) {
		case nil:
			return g == 0
		case bool:
			return (g == 1) == w
		case json.Number:
			f, _ := w.Float64()
			return math.Abs(f-g) < 1e-9*math.Max(1, math.Abs(f))
		}
		return false
	}
}

// checkExactlyOnce compares every table with the JSONL of the same
// replay: each event_id once (or, with allowDup, at least once with every
// copy equal) and every column equal to the JSON field it is named after.
func checkExactlyOnce(t *testing.T, conn driver.Conn, db string, want map[string][]map[string]any, allowDup bool) {
	t.Helper()
	checkTables(t, conn, db, want, allowDup, nil)
}

// checkTables is checkExactlyOnce with columns skip(col) leaves unchecked.
func checkTables(t *testing.T, conn driver.Conn, db string, want map[string][]map[string]any, allowDup bool, skip func(col string) bool) {
	t.Helper()
	total := 0
	for _, table := range clickhouse.EventTables {
		events := want[table]
		rows, types := tableRows(t, conn, db, table)
		byID := map[string][]map[string]any{}
		for _, r := range rows {
			id := r["event_id"].(string)
			byID[id] = append(byID[id], r)
		}
		wantIDs := map[string]int{}
		for _, e := range events {
			wantIDs[e["event_id"].(string)]++
		}
		dups := 0
		for id, rs := range byID {
			if wantIDs[id] == 0 {
				t.Errorf("%s: row with event_id %s not in the JSONL", table, id)
				continue
			}
			if len(rs) != wantIDs[id] {
				if !allowDup || len(rs) < wantIDs[id] {
					t.Errorf("%s: event_id %s: %d rows, want %d", table, id, len(rs), wantIDs[id])
				}
				dups += len(rs) - wantIDs[id]
			}
		}
		if len(byID) != len(wantIDs) {
			t.Errorf("%s: %d distinct event_ids in ClickHouse, %d in the JSONL", table, len(byID), len(wantIDs))
		}
		mismatches := 0
		missing := map[string]bool{}
		for _, e := range events {
			flat := map[string]any{}
			flatten("", e, flat, types)
			for _, r := range byID[e["event_id"].(string)] {
				for col, typ := range types {
					if skip != nil && skip(col) {
						continue
					}
					if !sameValue(typ, flat[col], r[col]) {
						if mismatches < 10 {
							t.Errorf("%s event %s: column %s = %#v, JSON has %#v", table, e["event_id"], col, r[col], flat[col])
						}
						mismatches++
					}
				}
			}
			for k := range flat {
				if _, ok := types[k]; !ok && k != "event_type" && (skip == nil || !skip(k)) {
					missing[k] = true
				}
			}
		}
		for k := range missing {
			t.Errorf("%s: JSON field %s has no column", table, k)
		}
		if len(events) > 0 || len(rows) > 0 {
			t.Logf("%s: %d events, %d rows (%d duplicates by event_id)", table, len(events), len(rows), dups)
		}
		total += len(events)
	}
	if total == 0 {
		t.Fatal("the replay produced no events")
	}
}

// TestReplayIntoClickHouse replays the corpus and demo.pcap with the JSONL
// and ClickHouse sinks: every event is in its table exactly once, with the
// content of its JSON line; the rollups add up to the raw tables.
func TestReplayIntoClickHouse(t *testing.T) {
	addr := serverAddr(t)
	db, conn := testDB(t, addr)
	jsonl := filepath.Join(t.TempDir(), "events.jsonl")
	files := corpusFiles(t)
	cfg := replayConfig(addr, db, "test-exactly-once", jsonl)
	cfg.Rules.Files = []string{writeRules(t)}
	replay(t, cfg, files)
	want := readJSONL(t, jsonl)
	for _, typ := range []string{"flow", "http", "tls", "quic", "dns", "block", "stats"} {
		if len(want[typ]) == 0 {
			t.Errorf("the replay has no %s events; the test proves less than it claims", typ)
		}
	}
	checkExactlyOnce(t, conn, db, want, false)

	// The stats event carries the sink's delivery counters (sinks.StatsReporter).
	found := false
	for _, sk := range want["stats"][0]["stats"].(map[string]any)["sinks"].([]any) {
		m := sk.(map[string]any)
		if m["name"] == "clickhouse" {
			d, ok := m["delivery"].(map[string]any)
			found = ok && d["enqueued"] != nil
		}
	}
	if !found {
		t.Errorf("stats event lacks the clickhouse sink's delivery counters: %v", want["stats"][0]["stats"].(map[string]any)["sinks"])
	}

	// Rollups: the materialized views saw every row.
	ctx := context.Background()
	var flows, rolled, rolledH, bytesRaw, bytesRolled uint64
	conn.QueryRow(ctx, "SELECT count(), sum(flow_bytes_toserver + flow_bytes_toclient) FROM "+db+".flow").Scan(&flows, &bytesRaw)
	conn.QueryRow(ctx, "SELECT sum(flows), sum(bytes_toserver + bytes_toclient) FROM "+db+".flow_1m").Scan(&rolled, &bytesRolled)
	conn.QueryRow(ctx, "SELECT sum(flows) FROM "+db+".flow_1h").Scan(&rolledH)
	if flows == 0 || rolled != flows || rolledH != flows || bytesRolled != bytesRaw {
		t.Errorf("flow rollups: raw %d flows %d bytes; 1m %d flows %d bytes; 1h %d flows", flows, bytesRaw, rolled, bytesRolled, rolledH)
	}
	var blocks, hits uint64
	conn.QueryRow(ctx, "SELECT count() FROM "+db+".block").Scan(&blocks)
	conn.QueryRow(ctx, "SELECT sum(hits) FROM "+db+".block_1h").Scan(&hits)
	if blocks == 0 || hits != blocks {
		t.Errorf("block rollup: %d raw, %d hits", blocks, hits)
	}
	var version uint32
	conn.QueryRow(ctx, "SELECT max(version) FROM "+db+".schema_migrations").Scan(&version)
	if int(version) != clickhouse.Migrations()[len(clickhouse.Migrations())-1].Version {
		t.Errorf("schema_migrations at %d", version)
	}
}

// writeRules writes a rules file that blocks names the corpus contains, so
// the replay has block events.
func writeRules(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	rules := `lists:
  - id: test
    version: "1"
    action: alert
    domains: [.com, .org, .net, .example]
`
	if err := os.WriteFile(p, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// privateServer starts a ClickHouse server of the test's own with
// deploy/dev/clickhouse.sh (so killing it disturbs no other test) and
// returns its address and a function that kills it (-9) and one that
// starts it again on the same ports and data.
func privateServer(t *testing.T) (addr string, kill, restart func()) {
	t.Helper()
	serverAddr(t) // the same skip rule as the shared server
	if _, err := exec.LookPath("clickhouse-server"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and clickhouse-server to run a private server")
	}
	script := filepath.Join(testutil.RepoRoot(t), "deploy", "dev", "clickhouse.sh")
	dir := t.TempDir()
	run := func(arg string) string {
		cmd := exec.Command(script, arg)
		cmd.Env = append(os.Environ(), "NUNCHI_SERVICES_DIR="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("clickhouse.sh %s: %v\n%s", arg, err, out)
		}
		return string(out)
	}
	for _, l := range strings.Split(run("up"), "\n") {
		if v, ok := strings.CutPrefix(l, "CLICKHOUSE="); ok {
			addr = v
		}
	}
	t.Cleanup(func() { run("down") })
	kill = func() {
		pid, err := os.ReadFile(filepath.Join(dir, "clickhouse", "server.pid"))
		if err != nil {
			t.Fatal(err)
		}
		exec.Command("kill", "-9", strings.TrimSpace(string(pid))).Run()
		for i := 0; i < 100 && exec.Command("kill", "-0", strings.TrimSpace(string(pid))).Run() == nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
	restart = func() { run("up") }
	return addr, kill, restart
}

// TestServerKilledDuringReplay: the server is killed (-9) before a replay
// and comes back while the sink holds the replay's events in its queue and
// spool; then it is killed while a replay's sink is inserting, and comes
// back. Nothing is lost; a retried batch may leave a duplicate, always with
// the same event_id (the tables collapse them on merge).
func TestServerKilledDuringReplay(t *testing.T) {
	addr, kill, restart := privateServer(t)
	db, _ := testDB(t, addr)
	files := corpusFiles(t)

	// Phase 1: a replay that fills the schema, then the server dies.
	jsonl1 := filepath.Join(t.TempDir(), "one.jsonl")
	replay(t, replayConfig(addr, db, "phase-1", jsonl1), files)
	kill()

	// Phase 2: the replay runs against a dead server; it returns 2 s later.
	jsonl2 := filepath.Join(t.TempDir(), "two.jsonl")
	cfg := replayConfig(addr, db, "phase-2", jsonl2)
	cfg.Sinks.ClickHouse.BatchSize = 100
	cfg.Sinks.ClickHouse.QueueBatches = 2 // most batches go through the spool
	back := make(chan struct{})
	go func() {
		time.Sleep(2 * time.Second)
		restart()
		close(back)
	}()
	replay(t, cfg, files)
	<-back

	// Phase 3: killed while the replay's sink is inserting (small batches,
	// so the inserts take a while), back 2 s later.
	jsonl3 := filepath.Join(t.TempDir(), "three.jsonl")
	cfg3 := replayConfig(addr, db, "phase-3", jsonl3)
	cfg3.Sinks.ClickHouse.BatchSize = 40
	conn := openConn(t, addr)
	// Closed once, whichever conn it is then: clickhouse-go v2.25.0's Close blocks forever when called twice.
	defer func() { conn.Close() }()
	var before uint64
	conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".flow").Scan(&before)
	done := make(chan struct{})
	go func() { defer close(done); replay(t, cfg3, files) }()
	killedMid := false
	for i := 0; i < 400; i++ {
		var n uint64
		conn.QueryRow(context.Background(), "SELECT count() FROM "+db+".flow").Scan(&n)
		if n > before {
			kill()
			killedMid = true
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if killedMid {
		time.Sleep(2 * time.Second)
		restart()
	}
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("phase 3 replay did not finish")
	}
	if !killedMid {
		t.Fatal("phase 3: no row arrived to kill the server on")
	}
	select {
	case <-done:
	default:
	}
	conn.Close()
	conn = openConn(t, addr)

	want := readJSONL(t, jsonl1)
	for _, p := range []string{jsonl2, jsonl3} {
		for typ, evs := range readJSONL(t, p) {
			want[typ] = append(want[typ], evs...)
		}
	}
	checkExactlyOnce(t, conn, db, want, true)
}

// TestSinkKilledMidStream writes a stream of events straight to the sink,
// kills the server after the first inserts are acknowledged, writes on,
// and restarts it: every event is there, in = out + dropped holds.
func TestSinkKilledMidStream(t *testing.T) {
	addr, kill, restart := privateServer(t)
	db, _ := testDB(t, addr)
	cfg := clickhouse.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	cfg.BatchSize, cfg.QueueBatches = 500, 2
	cfg.RetryMin, cfg.RetryMax, cfg.CloseTimeout = 50*time.Millisecond, 300*time.Millisecond, 60*time.Second
	s, err := clickhouse.New(cfg, clickhouse.Deps{Spool: clickhouse.NewMemSpool(64 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	const total = 40000
	gen := newEventGen("midstream")
	gen.mixed = true // flow and dns: batches span two tables
	write := func(n int) {
		start := time.Now()
		if err := s.Write(gen.batch(n)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Write blocked %v", d)
		}
	}
	write(5000)
	for i := 0; s.Stats().Sent == 0; i++ {
		if i > 200 {
			t.Fatalf("nothing sent in 10 s: %+v", s.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	kill()
	restarted := make(chan struct{})
	go func() { time.Sleep(2 * time.Second); restart(); close(restarted) }()
	for i := 5000; i < total; i += 1000 {
		write(1000)
		time.Sleep(60 * time.Millisecond) // the stream goes on while the server is away and after it returns
	}
	<-restarted
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	t.Logf("stats %+v", st)
	if !s.DeliveryStats().Balanced() {
		t.Errorf("delivery %+v not balanced", s.DeliveryStats())
	}
	if st.Enqueued != total || st.Enqueued != st.Sent+st.DroppedTotal()+st.Pending || st.DroppedTotal() != 0 || st.Spooled == 0 || st.Retried == 0 {
		t.Errorf("stats %+v: want %d enqueued = sent, none dropped, some spooled and retried", st, total)
	}
	conn := openConn(t, addr)
	defer conn.Close()
	var rows, distinct uint64
	if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(event_id) FROM (SELECT event_id FROM "+db+".flow UNION ALL SELECT event_id FROM "+db+".dns)").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if distinct != total || rows < total {
		t.Errorf("%d rows, %d distinct event_ids; want %d distinct", rows, distinct, total)
	}
	t.Logf("%d rows for %d events (%d duplicates from retried batches)", rows, total, rows-distinct)
}

// TestSpoolLimitDrops: with the server unreachable, the spool (memory or
// disk) fills and further batches are dropped and counted; Write never waits.
func TestSpoolLimitDrops(t *testing.T) {
	for _, disk := range []bool{false, true} {
		t.Run(fmt.Sprint("disk=", disk), func(t *testing.T) {
			cfg := clickhouse.DefaultConfig()
			cfg.Addr = "127.0.0.1:1" // nothing listens
			cfg.BatchSize, cfg.QueueBatches = 100, 1
			cfg.RetryMin, cfg.RetryMax, cfg.CloseTimeout = 10*time.Millisecond, 50*time.Millisecond, 100*time.Millisecond
			cfg.DialTimeout = 200 * time.Millisecond
			var sp clickhouse.Spool = clickhouse.NewMemSpool(1 << 20)
			if disk {
				d, err := clickhouse.OpenDiskSpool(t.TempDir(), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				sp = d
			}
			s, err := clickhouse.New(cfg, clickhouse.Deps{Spool: sp})
			if err != nil {
				t.Fatal(err)
			}
			s.SetBackpressure(disk) // a failing server is never waited for, backpressure or not
			s.Start()
			gen := newEventGen("spool-limit")
			const total = 20000
			start := time.Now()
			for i := 0; i < total; i += 100 {
				s.Write(gen.batch(100))
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("writing %d events took %v with the server down", total, d)
			}
			if mid := s.Stats(); mid.Dropped[clickhouse.DropSpoolFull] == 0 {
				t.Errorf("no spool_full drops with a 1 MiB spool: %+v", mid)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			st := s.Stats()
			t.Logf("stats %+v", st)
			if st.Enqueued != total || st.Sent != 0 || st.Enqueued != st.Sent+st.DroppedTotal()+st.Pending {
				t.Errorf("stats %+v: want in = out + dropped + pending", st)
			}
			if disk && (st.Pending == 0 || st.Dropped[clickhouse.DropShutdown] != 0) {
				t.Errorf("disk spool: %+v, want the spooled events pending for the next run", st)
			}
			if !disk && (st.Pending != 0 || st.Dropped[clickhouse.DropShutdown] == 0) {
				t.Errorf("memory spool: %+v, want what it held dropped(shutdown)", st)
			}
		})
	}
}

// TestSchemaIdempotent: migrating twice (two sensors) gives one schema and
// one record per migration.
func TestSchemaIdempotent(t *testing.T) {
	addr := serverAddr(t)
	db, conn := testDB(t, addr)
	for i := 0; i < 2; i++ {
		cfg := clickhouse.DefaultConfig()
		cfg.Addr, cfg.Database = addr, db
		s, err := clickhouse.New(cfg, clickhouse.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		s.Write(newEventGen(fmt.Sprint("idem", i)).batch(10))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Sent != 10 {
			t.Fatalf("run %d: %+v", i, st)
		}
	}
	// A migration interrupted half-way (its record missing) runs again cleanly:
	// CREATE … IF NOT EXISTS, and ADD COLUMN skipped for columns that exist.
	if err := conn.Exec(context.Background(), "DROP TABLE "+db+".schema_migrations"); err != nil {
		t.Fatal(err)
	}
	cfg := clickhouse.DefaultConfig()
	cfg.Addr = addr
	c2, d, err := clickhouse.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := clickhouse.Migrate(context.Background(), c2, db, d); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
	var n, v uint64
	conn.QueryRow(context.Background(), "SELECT count(), uniqExact(version) FROM "+db+".schema_migrations").Scan(&n, &v)
	if n != v || n != uint64(len(clickhouse.Migrations())) {
		t.Errorf("schema_migrations: %d rows, %d versions", n, v)
	}
	var tables uint64
	conn.QueryRow(context.Background(), "SELECT count() FROM system.tables WHERE database = ?", db).Scan(&tables)
	want := len(clickhouse.EventTables) + 2*len(clickhouse.RollupTables) + 1
	if int(tables) != want {
		t.Errorf("%d tables, want %d", tables, want)
	}
}

// TestDiskSpoolSurvivesRestart: a sensor that stops while the server is
// unreachable leaves its batches in the disk spool (sinks/spool); the next
// run delivers them first, counted as recovered.
func TestDiskSpoolSurvivesRestart(t *testing.T) {
	addr := serverAddr(t)
	db, conn := testDB(t, addr)
	dir := t.TempDir()
	run := func(addr string, events int, gen *eventGen) clickhouse.Stats {
		cfg := clickhouse.DefaultConfig()
		cfg.Addr, cfg.Database = addr, db
		cfg.BatchSize = 400
		cfg.RetryMin, cfg.RetryMax, cfg.CloseTimeout, cfg.DialTimeout = 10*time.Millisecond, 50*time.Millisecond, 300*time.Millisecond, 200*time.Millisecond
		sp, err := clickhouse.OpenDiskSpool(dir, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		s, err := clickhouse.New(cfg, clickhouse.Deps{Spool: sp})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		for i := 0; i < events; i += 100 {
			s.Write(gen.batch(100))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		st := s.Stats()
		if st.Enqueued+st.Recovered != st.Sent+st.DroppedTotal()+st.Pending {
			t.Errorf("stats %+v: in != out + dropped + pending", st)
		}
		return st
	}
	gen := newEventGen("disk-spool")
	down := run("127.0.0.1:1", 3000, gen)
	if down.Pending != 3000 || down.Sent != 0 || down.DroppedTotal() != 0 {
		t.Fatalf("server down: %+v, want 3000 pending in the spool", down)
	}
	up := run(addr, 500, gen)
	if up.Recovered != 3000 || up.Sent != 3500 || up.Pending != 0 || up.DroppedTotal() != 0 {
		t.Errorf("server up: %+v, want 3000 recovered and 3500 sent", up)
	}
	var rows, distinct uint64
	conn.QueryRow(context.Background(), "SELECT count(), uniqExact(event_id) FROM "+db+".flow").Scan(&rows, &distinct)
	if rows != 3500 || distinct != 3500 {
		t.Errorf("%d rows, %d distinct, want 3500", rows, distinct)
	}
}

// BenchmarkSinkRows measures rows/s from Write to acknowledged inserts
// (flow events, one per row) against the test server: b.N events are
// written in batches of 1000, then Close waits for the last insert.
func BenchmarkSinkRows(b *testing.B) {
	addr := serverAddr(b)
	db, _ := testDB(b, addr)
	cfg := clickhouse.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	gen := newEventGen("bench")
	batches := make([][]*detect.Event, 0, b.N/1000+1)
	for n := 0; n < b.N; n += 1000 {
		batches = append(batches, gen.batch(min(1000, b.N-n)))
	}
	s, err := clickhouse.New(cfg, clickhouse.Deps{Spool: clickhouse.NewMemSpool(4 << 30)})
	if err != nil {
		b.Fatal(err)
	}
	s.Start()
	b.ResetTimer()
	start := time.Now()
	for _, evs := range batches {
		s.Write(evs)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	st := s.Stats()
	if st.Sent != uint64(b.N) {
		b.Fatalf("stats %+v", st)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "rows/s")
}

// TestSensorKilledSpoolRecovered: a sensor replaying into an unreachable
// server is killed (-9) while it waits at shutdown; its disk spool holds
// every event (a batch that fails its first attempt goes to the spool with
// the queue behind it), and the next run delivers them all.
func TestSensorKilledSpoolRecovered(t *testing.T) {
	addr := serverAddr(t)
	db, conn := testDB(t, addr)
	dir := t.TempDir()
	bin := filepath.Join(dir, "nunchi")
	build := exec.Command("go", "build", "-o", bin, "./cmd/nunchi")
	build.Dir = testutil.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	spoolDir := filepath.Join(dir, "spool")
	cfgPath := filepath.Join(dir, "nunchi.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`sensor: killed
log: {level: error}
sinks:
  clickhouse: {addr: "127.0.0.1:1", database: %s, spool_dir: %s, batch_size: 300, close_timeout: 10m, retry_max: 1s, dial_timeout: 200ms}
`, db, spoolDir)), 0o644)
	jsonl := filepath.Join(dir, "events.jsonl")
	cmd := exec.Command(bin, append([]string{"replay", "-c", cfgPath, "-o", jsonl, "--progress", "never"}, corpusFiles(t)...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The JSONL sink is closed before the ClickHouse sink starts waiting
	// for its server: once the stats line is in the file, every event has
	// been handed to the ClickHouse sink.
	for i := 0; ; i++ {
		b, _ := os.ReadFile(jsonl)
		if bytes.Contains(b, []byte(`"event_type":"stats"`)) && bytes.HasSuffix(b, []byte("\n")) {
			break
		}
		if i > 600 {
			t.Fatal("the replay did not finish in 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The ClickHouse sink's worker may still be writing (it lags the JSONL
	// one on a loaded machine): wait until the spool stops growing.
	last, stable := int64(-1), 0
	for i := 0; i < 300 && stable < 10; i++ {
		time.Sleep(100 * time.Millisecond)
		size := dirSize(spoolDir)
		if size == last && size > 0 {
			stable++
		} else {
			stable = 0
		}
		last = size
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	want := readJSONL(t, jsonl)
	total := 0
	for _, evs := range want {
		total += len(evs)
	}
	cfg := clickhouse.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	sp, err := clickhouse.OpenDiskSpool(spoolDir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	s, err := clickhouse.New(cfg, clickhouse.Deps{Spool: sp})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	t.Logf("after restart: %+v", st)
	if st.Recovered != uint64(total) || st.Sent != uint64(total) || st.Pending != 0 {
		t.Errorf("stats %+v: want all %d events recovered from the spool and sent", st, total)
	}
	checkExactlyOnce(t, conn, db, want, false)
}

func dirSize(dir string) int64 {
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".seg") {
			n += info.Size()
		}
	}
	return n
}

// TestBackpressure: with backpressure (replays), a server that answers but
// is slower than the writer makes Write wait instead of spooling; nothing
// goes through the spool, everything arrives.
func TestBackpressure(t *testing.T) {
	addr := serverAddr(t)
	db, _ := testDB(t, addr)
	cfg := clickhouse.DefaultConfig()
	cfg.Addr, cfg.Database = addr, db
	cfg.BatchSize, cfg.QueueBatches = 200, 1
	s, err := clickhouse.New(cfg, clickhouse.Deps{Spool: clickhouse.NewMemSpool(1 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	s.SetBackpressure(true)
	s.Start()
	gen := newEventGen("backpressure")
	const total = 30000
	for i := 0; i < total; i += 500 {
		s.Write(gen.batch(500))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	t.Logf("stats %+v", st)
	if st.Sent != total || st.Spooled != 0 || st.DroppedTotal() != 0 {
		t.Errorf("stats %+v: want all %d sent, none through the 1 MiB spool", st, total)
	}
}

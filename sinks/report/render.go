package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
)

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Parse(pageTemplate))

// cell is one table cell: its text, the sort key (data-v, numbers only),
// a tooltip, and for the main count column the width of its bar (0–100).
type cell struct {
	Text  string
	Sort  string
	Title string
	Bar   string
	Mono  bool
}

type column struct {
	Name string
	Num  bool
}

type table struct {
	ID      string
	Title   string
	Note    string
	Empty   string
	Cols    []column
	Rows    [][]cell
	Caption string // "20 of 134 shown" …
}

type tick struct {
	Pos   float64
	Label string
}

type bar struct {
	X, Y, W, H float64
	Tip        string
}

type chart struct {
	ID     string
	Title  string
	W, H   int
	Left   int
	Bottom int // y of the x axis
	Right  int // x of the plot's right edge
	Bars   []bar
	YTicks []tick
	XTicks []tick
	Empty  string
}

type card struct {
	Label, Value, Title string
}

type section struct {
	ID, Title string
	Intro     string
	Charts    []chart
	Tables    []table
}

type statRow struct {
	Key, Value string
	Num        bool
}

type statGroup struct {
	Name string
	Rows []statRow
}

type view struct {
	Sensor    string
	Generated string
	Span      string
	Cards     []card
	Sections  []section
	Stats     []statGroup
	NoStats   string
}

// noneYet is the empty state of a section.
const noneYet = "None in this capture."

// Render writes the report of everything a has aggregated as one
// self-contained HTML page.
func Render(w io.Writer, a *Aggregator, now time.Time) error {
	v := buildView(a, now)
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func buildView(a *Aggregator, now time.Time) view {
	stats := flattenStats(a.stats)
	statVal := map[string]uint64{}
	for _, g := range stats {
		for _, r := range g.Rows {
			if n, err := strconv.ParseUint(r.Value, 10, 64); err == nil {
				statVal[g.Name+"."+r.Key] = n
			}
		}
	}
	// Counters shown as numbers in the stats table are formatted afterwards.
	for gi := range stats {
		for ri, r := range stats[gi].Rows {
			if n, err := strconv.ParseUint(r.Value, 10, 64); err == nil {
				stats[gi].Rows[ri].Value = fmtInt(n)
				stats[gi].Rows[ri].Num = true
			}
		}
	}
	v := view{
		Sensor:    a.sensor,
		Generated: now.UTC().Format("2006-01-02 15:04:05 UTC"),
		Stats:     stats,
	}
	if len(stats) == 0 {
		v.NoStats = "No stats event in this run."
	}
	if v.Sensor == "" {
		v.Sensor = "nunchi"
	}
	if a.first > 0 {
		f, l := time.Unix(0, a.first).UTC(), time.Unix(0, a.last).UTC()
		v.Span = fmt.Sprintf("%s — %s (%s)", f.Format("2006-01-02 15:04:05"), l.Format("2006-01-02 15:04:05 UTC"),
			fmtDuration(l.Sub(f)))
	} else {
		v.Span = "no packets"
	}

	var totalEvents uint64
	for _, n := range a.events {
		totalEvents += n
	}
	frames, ok := statVal["capture.frames"]
	if !ok {
		frames = a.flowPkts
	}
	wire, ok := statVal["capture.bytes"]
	if !ok {
		wire = a.flowBytes
	}
	flows, ok := statVal["flows.created"]
	if !ok {
		flows = a.flows
	}
	v.Cards = []card{
		{"Packets", fmtInt(frames), "frames read (stats: capture.frames)"},
		{"Bytes", fmtBytes(wire), fmtInt(wire) + " bytes on the wire (stats: capture.bytes)"},
		{"Flows", fmtInt(flows), "flows created (stats: flows.created)"},
		{"Events", fmtInt(totalEvents), "events emitted, stats events not counted"},
		{"Blocked hits", fmtInt(a.events[detect.TypeBlock]), "block events"},
		{"Hosts", approxCount(a.hosts.Len(), a.hosts.Evicted()), "distinct addresses seen in flows"},
	}

	top := a.cfg.Top
	v.Sections = []section{
		{ID: "traffic", Title: "Traffic over time", Intro: a.bucketIntro(),
			Charts: a.charts()},
		{ID: "events", Title: "Events by type", Tables: []table{a.eventTable()}},
		{ID: "talkers", Title: "Top talkers and services", Tables: []table{a.hostTable(top), a.serviceTable(top)}},
		{ID: "blocked", Title: "Blocked sites", Tables: []table{a.listTable(), a.blockNameTable(top)}},
		{ID: "names", Title: "TLS and QUIC server names", Tables: []table{
			nameTable("tls-sni", "TLS SNI", "SNI", "connections", "TLS versions", a.tlsSNI, top),
			nameTable("quic-sni", "QUIC SNI", "SNI", "connections", "QUIC versions", a.quicSNI, top),
		}},
		{ID: "http", Title: "HTTP hosts", Tables: []table{nameTable("http-hosts", "HTTP hosts", "host", "requests", "statuses", a.httpHosts, top)}},
		{ID: "dns", Title: "DNS names", Tables: []table{a.dnsTable(top)}},
		{ID: "nat", Title: "NAT gateways", Tables: []table{
			nameTable("nat-gateways", "NAT gateways", "address", "nat events", "", a.nat, top)}},
		{ID: "anomalies", Title: "Anomalies", Tables: []table{
			nameTable("anomaly-list", "Anomalies", "source → destination", "anomaly events", "", a.anomalies, top)}},
		{ID: "injections", Title: "Injections", Intro: "Spoofed replies to blocked requests (inject lists): won = the client took the forged reply, lost = the server's reply arrived first.",
			Tables: []table{a.injectTable(top)}},
	}
	return v
}

func approxCount(n int, evicted uint64) string {
	if evicted > 0 {
		return "≥ " + fmtInt(uint64(n))
	}
	return fmtInt(uint64(n))
}

// caption says how many rows are shown and whether counts are estimates.
func caption[K comparable](t *TopK[K], shown int) string {
	s := fmt.Sprintf("%d of %d shown", shown, t.Len())
	if t.Evicted() > 0 {
		s = fmt.Sprintf("%d shown; more than %d distinct keys were seen, so counts marked ≈ are estimates (Space-Saving, upper bounds)", shown, t.Len())
	}
	return s
}

func countCell(e uint64, errBound uint64, max uint64) cell {
	c := cell{Text: fmtInt(e), Sort: strconv.FormatUint(e, 10), Bar: pct(e, max)}
	if errBound > 0 {
		c.Text = "≈ " + c.Text
		c.Title = fmt.Sprintf("at most %s over the true count", fmtInt(errBound))
	}
	return c
}

func numCell(n uint64) cell {
	return cell{Text: fmtInt(n), Sort: strconv.FormatUint(n, 10)}
}

func bytesCell(n uint64) cell {
	return cell{Text: fmtBytes(n), Sort: strconv.FormatUint(n, 10), Title: fmtInt(n) + " bytes"}
}

func pct(n, max uint64) string {
	if max == 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(n)*100/float64(max), 'f', 1, 64)
}

func tags(e []string, more bool) string {
	s := strings.Join(e, ", ")
	if more {
		s += ", …"
	}
	return s
}

func (a *Aggregator) eventTable() table {
	t := table{ID: "event-types", Title: "Events by type", Empty: noneYet,
		Cols: []column{{"event type", false}, {"events", true}}}
	types := make([]string, 0, len(a.events))
	var max uint64
	for k, n := range a.events {
		types = append(types, k)
		max = maxU(max, n)
	}
	sort.Slice(types, func(i, j int) bool {
		if a.events[types[i]] != a.events[types[j]] {
			return a.events[types[i]] > a.events[types[j]]
		}
		return types[i] < types[j]
	})
	for _, k := range types {
		t.Rows = append(t.Rows, []cell{{Text: k}, countCell(a.events[k], 0, max)})
	}
	return t
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func (a *Aggregator) hostTable(n int) table {
	t := table{ID: "top-talkers", Title: "Top talkers (bytes sent and received)", Empty: noneYet,
		Cols: []column{{"host", false}, {"bytes", true}, {"packets", true}, {"flows", true}, {"as server", true}}}
	top := a.hosts.Top(n)
	for _, e := range top {
		c := countCell(e.Count, e.Err, top[0].Count)
		c.Text, c.Title = fmtBytes(e.Count), fmtInt(e.Count)+" bytes"
		if e.Err > 0 {
			c.Text = "≈ " + c.Text
			c.Title += fmt.Sprintf(" (at most %s over)", fmtInt(e.Err))
		}
		t.Rows = append(t.Rows, []cell{{Text: e.Key.String(), Mono: true}, c,
			numCell(e.Aux[auxPkts]), numCell(e.Aux[auxFlows]), numCell(e.Aux[auxServer])})
	}
	t.Caption = caption(a.hosts, len(top))
	return t
}

func (a *Aggregator) serviceTable(n int) table {
	t := table{ID: "services", Title: "Top services (destination port and protocol found)", Empty: noneYet,
		Cols: []column{{"service", false}, {"app_proto", false}, {"flows", true}, {"bytes", true}, {"packets", true}}}
	top := a.services.Top(n)
	for _, e := range top {
		svc := detect.ProtoName(e.Key.Proto)
		switch e.Key.Proto {
		case 6, 17, 132:
			svc += "/" + strconv.Itoa(int(e.Key.Port))
		case 1, 58:
			svc += " type " + strconv.Itoa(int(e.Key.Port))
		}
		app := e.Key.AppProto
		if app == "" {
			app = "—"
		}
		t.Rows = append(t.Rows, []cell{{Text: svc, Mono: true}, {Text: app}, countCell(e.Count, e.Err, top[0].Count),
			bytesCell(e.Aux[auxBytes]), numCell(e.Aux[auxPkts])})
	}
	t.Caption = caption(a.services, len(top))
	return t
}

func (a *Aggregator) listTable() table {
	t := table{ID: "block-lists", Title: "Blocked hits by list", Empty: noneYet,
		Cols: []column{{"list", false}, {"version", false}, {"action", false}, {"hits", true}}}
	names := make([]string, 0, len(a.lists))
	var max uint64
	for k, li := range a.lists {
		names = append(names, k)
		max = maxU(max, li.Hits)
	}
	sort.Slice(names, func(i, j int) bool {
		if a.lists[names[i]].Hits != a.lists[names[j]].Hits {
			return a.lists[names[i]].Hits > a.lists[names[j]].Hits
		}
		return names[i] < names[j]
	})
	for _, k := range names {
		li := a.lists[k]
		t.Rows = append(t.Rows, []cell{{Text: k}, {Text: li.Version}, {Text: strings.Join(li.Actions, ", ")}, countCell(li.Hits, 0, max)})
	}
	if a.listsOver > 0 {
		t.Caption = fmt.Sprintf("%s hits on further lists not shown", fmtInt(a.listsOver))
	}
	return t
}

func (a *Aggregator) blockNameTable(n int) table {
	t := table{ID: "block-names", Title: "Blocked hits by name", Empty: noneYet,
		Cols: []column{{"name", false}, {"list", false}, {"surfaces", false}, {"hits", true}}}
	top := a.blockNames.Top(n)
	for _, e := range top {
		t.Rows = append(t.Rows, []cell{{Text: e.Key.Name, Mono: true}, {Text: e.Key.List}, {Text: tags(e.Tags, e.MoreTags)},
			countCell(e.Count, e.Err, top[0].Count)})
	}
	t.Caption = caption(a.blockNames, len(top))
	return t
}

func nameTable(id, title, keyCol, countCol, tagCol string, tk *TopK[string], n int) table {
	t := table{ID: id, Title: title, Empty: noneYet, Cols: []column{{keyCol, false}, {countCol, true}}}
	if tagCol != "" {
		t.Cols = append(t.Cols, column{tagCol, false})
	}
	top := tk.Top(n)
	for _, e := range top {
		row := []cell{{Text: e.Key, Mono: true}, countCell(e.Count, e.Err, top[0].Count)}
		if tagCol != "" {
			row = append(row, cell{Text: tags(e.Tags, e.MoreTags)})
		}
		t.Rows = append(t.Rows, row)
	}
	t.Caption = caption(tk, len(top))
	return t
}

func (a *Aggregator) injectTable(n int) table {
	t := table{ID: "injection-list", Title: "Injections", Empty: noneYet,
		Cols: []column{{"blocked name", false}, {"injections", true}, {"kinds", false}, {"won", true}, {"lost", true}, {"unknown", true}, {"dry run", true}}}
	top := a.injects.Top(n)
	for _, e := range top {
		t.Rows = append(t.Rows, []cell{{Text: e.Key, Mono: true}, countCell(e.Count, e.Err, top[0].Count), {Text: tags(e.Tags, e.MoreTags)},
			numCell(e.Aux[auxWon]), numCell(e.Aux[auxLost]), numCell(e.Aux[auxUnknown]), numCell(e.Aux[auxDryRun])})
	}
	t.Caption = caption(a.injects, len(top))
	if p50 := a.latencyQuantile(0.5); p50 >= 0 {
		t.Caption += fmt.Sprintf("; latency from the trigger packet to the last forged frame: median ≤ %s, 99th percentile ≤ %s",
			fmtMicros(p50), fmtMicros(a.latencyQuantile(0.99)))
	}
	return t
}

func fmtMicros(us int64) string {
	if us < 1000 {
		return strconv.FormatInt(us, 10) + " µs"
	}
	return strconv.FormatFloat(float64(us)/1000, 'f', 1, 64) + " ms"
}

func (a *Aggregator) dnsTable(n int) table {
	t := table{ID: "dns-names", Title: "DNS names", Empty: noneYet,
		Cols: []column{{"name", false}, {"messages", true}, {"queries", true}, {"answers", true}, {"NXDOMAIN", true}, {"types", false}}}
	top := a.dnsNames.Top(n)
	for _, e := range top {
		t.Rows = append(t.Rows, []cell{{Text: e.Key, Mono: true}, countCell(e.Count, e.Err, top[0].Count),
			numCell(e.Aux[auxQueries]), numCell(e.Aux[auxAnswers]), numCell(e.Aux[auxNX]), {Text: tags(e.Tags, e.MoreTags)}})
	}
	t.Caption = caption(a.dnsNames, len(top))
	return t
}

// series is the time series as charted.
type series struct {
	start, width int64
	buckets      []bucket
	// Left out: isolated buckets far from the rest (a stray timestamp).
	outFlows, outEvents uint64
	outFirst, outLast   int64
}

// bucketSeries returns the buckets from the first to the last as a dense
// slice, merged (on a copy) into wider buckets of the ladder until at most
// maxN remain. A light bucket at either end that lies further from the
// next than the whole rest spans (a packet stamped 1970 in a capture of
// today) is left out, and counted, so it does not flatten the chart.
func (a *Aggregator) bucketSeries(maxN int) series {
	sr := series{width: a.width}
	if len(a.buckets) == 0 {
		return sr
	}
	keys := make([]int64, 0, len(a.buckets))
	var total uint64
	for k, b := range a.buckets {
		keys = append(keys, k)
		total += b.Events + b.Flows
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	light := func(k int64) bool {
		b := a.buckets[k]
		return (b.Events+b.Flows)*100 <= total
	}
	drop := func(k int64) {
		b := a.buckets[k]
		sr.outFlows += b.Flows
		sr.outEvents += b.Events
		t := k * a.width
		if sr.outFirst == 0 || t < sr.outFirst {
			sr.outFirst = t
		}
		sr.outLast = max(sr.outLast, t)
	}
	for len(keys) > 2 {
		n := len(keys)
		if light(keys[0]) && keys[1]-keys[0] > keys[n-1]-keys[1] {
			drop(keys[0])
			keys = keys[1:]
		} else if light(keys[n-1]) && keys[n-1]-keys[n-2] > keys[n-2]-keys[0] {
			drop(keys[n-1])
			keys = keys[:n-1]
		} else {
			break
		}
	}
	m := make(map[int64]*bucket, len(keys))
	for _, k := range keys {
		m[k] = a.buckets[k]
	}
	width := a.width
	for {
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for k := range m {
			lo, hi = min(lo, k), max(hi, k)
		}
		if hi-lo+1 <= int64(maxN) {
			sr.buckets = make([]bucket, hi-lo+1)
			for k, b := range m {
				sr.buckets[k-lo] = *b
			}
			sr.start, sr.width = lo*width, width
			return sr
		}
		nw := nextWidth(width)
		m, width = mergeBuckets(m, width, nw), nw
	}
}

// displayBars is the most bars a chart draws.
const displayBars = 240

func (a *Aggregator) bucketIntro() string {
	sr := a.bucketSeries(displayBars)
	s := fmt.Sprintf("Per %s of packet time (UTC). Flows count where they start; a flow's bytes are spread over the time it lasted.", fmtWidth(time.Duration(sr.width)))
	if sr.outFlows+sr.outEvents > 0 {
		s += fmt.Sprintf(" Not charted: %s flows and %s events stamped far from the rest (%s",
			fmtInt(sr.outFlows), fmtInt(sr.outEvents), time.Unix(0, sr.outFirst).UTC().Format("2006-01-02 15:04"))
		if sr.outLast != sr.outFirst {
			s += " to " + time.Unix(0, sr.outLast).UTC().Format("2006-01-02 15:04")
		}
		s += ")."
	}
	return s
}

func (a *Aggregator) charts() []chart {
	sr := a.bucketSeries(displayBars)
	start, width, bs := sr.start, sr.width, sr.buckets
	flows := make([]float64, len(bs))
	byts := make([]float64, len(bs))
	blocks := make([]float64, len(bs))
	for i, b := range bs {
		flows[i], byts[i], blocks[i] = float64(b.Flows), b.Bytes, float64(b.Blocks)
	}
	out := []chart{
		barChart("chart-flows", "New flows", start, width, flows, func(v float64) string { return fmtInt(uint64(math.Round(v))) }, "flows", true),
		barChart("chart-bytes", "Bytes", start, width, byts, func(v float64) string { return fmtBytes(uint64(math.Round(v))) }, "", false),
		barChart("chart-blocks", "Blocked hits", start, width, blocks, func(v float64) string { return fmtInt(uint64(math.Round(v))) }, "hits", true),
	}
	return out
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten (at least 1
// when integral is set: counts have no fractional ticks).
func niceStep(v float64, integral bool) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	step := 10 * p
	for _, m := range []float64{1, 2, 5} {
		if m*p >= v {
			step = m * p
			break
		}
	}
	if integral && step < 1 {
		step = 1
	}
	return step
}

func barChart(id, title string, start, width int64, vals []float64, label func(float64) string, unit string, integral bool) chart {
	const w, h, left, right, top, bottom = 960, 200, 72, 950, 10, 172
	c := chart{ID: id, Title: title, W: w, H: h, Left: left, Bottom: bottom, Right: right}
	var maxV float64
	for _, v := range vals {
		maxV = math.Max(maxV, v)
	}
	if len(vals) == 0 || maxV == 0 {
		c.Empty = noneYet
		return c
	}
	step := niceStep(maxV/4, integral)
	nt := int(math.Ceil(maxV/step - 1e-9))
	ymax := step * float64(nt)
	for i := 0; i <= nt; i++ {
		c.YTicks = append(c.YTicks, tick{Pos: round2(bottom - (bottom-top)*float64(i)/float64(nt)), Label: label(step * float64(i))})
	}
	n := len(vals)
	slot := float64(right-left) / float64(n)
	gap := math.Min(slot*0.15, 2)
	span := time.Duration(width) * time.Duration(n)
	tf := "15:04"
	switch {
	case span > 366*24*time.Hour:
		tf = "2006-01-02"
	case span > 24*time.Hour:
		tf = "01-02 15:04"
	case time.Duration(width) < time.Minute:
		tf = "15:04:05"
	}
	for i, v := range vals {
		t0 := time.Unix(0, start+int64(i)*width).UTC()
		bh := (bottom - top) * v / ymax
		tip := fmt.Sprintf("%s: %s", t0.Format("2006-01-02 15:04:05"), label(v))
		if unit != "" {
			tip += " " + unit
		}
		c.Bars = append(c.Bars, bar{X: round2(left + float64(i)*slot + gap/2), Y: round2(bottom - bh),
			W: round2(math.Max(slot-gap, 0.5)), H: round2(bh), Tip: tip})
	}
	labels := min(n, 8)
	for j := 0; j < labels; j++ {
		i := j * n / labels
		c.XTicks = append(c.XTicks, tick{Pos: round2(left + (float64(i)+0.5)*slot),
			Label: time.Unix(0, start+int64(i)*width).UTC().Format(tf)})
	}
	return c
}

// fmtDuration: "10.586s", "3h2m5s", "12 days".
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Millisecond).String()
	case d < 48*time.Hour:
		return d.Round(time.Second).String()
	}
	return fmtInt(uint64(d/(24*time.Hour))) + " days"
}

// fmtWidth names a bucket width: "minute", "5 minutes", "second".
func fmtWidth(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d%u.d == 0 {
			if n := d / u.d; n != 1 {
				return fmt.Sprintf("%d %ss", n, u.name)
			}
			return u.name
		}
	}
	return d.String()
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// flattenStats turns the stats object into groups of key/value rows in
// document order: {"capture":{"frames":82}} → group capture, row frames.
// Arrays of objects with a "name" member (sinks) are keyed by the name.
func flattenStats(raw []byte) []statGroup {
	if len(raw) == 0 {
		return nil
	}
	var root orderedObject
	if err := json.Unmarshal(raw, &root); err != nil {
		return []statGroup{{Name: "stats", Rows: []statRow{{Key: "error", Value: err.Error()}}}}
	}
	var groups []statGroup
	for _, m := range root {
		g := statGroup{Name: m.Key}
		var rows []statRow
		flattenValue("", m.Value, &rows)
		if len(rows) == 1 && rows[0].Key == "" {
			rows[0].Key = m.Key
			g.Name = "pipeline"
		}
		g.Rows = rows
		if g.Name == "pipeline" && len(groups) > 0 && groups[len(groups)-1].Name == "pipeline" {
			groups[len(groups)-1].Rows = append(groups[len(groups)-1].Rows, rows...)
			continue
		}
		groups = append(groups, g)
	}
	return groups
}

func flattenValue(prefix string, v any, rows *[]statRow) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case orderedObject:
		for _, m := range x {
			flattenValue(join(m.Key), m.Value, rows)
		}
	case []any:
		for i, e := range x {
			key := strconv.Itoa(i)
			if o, ok := e.(orderedObject); ok {
				for _, m := range o {
					if m.Key == "name" {
						if s, ok := m.Value.(string); ok {
							key = s
						}
					}
				}
				var sub []statRow
				for _, m := range o {
					if m.Key != "name" {
						flattenValue(m.Key, m.Value, &sub)
					}
				}
				for _, r := range sub {
					r.Key = join(key + "." + r.Key)
					*rows = append(*rows, r)
				}
				continue
			}
			flattenValue(join(key), e, rows)
		}
	case json.Number:
		*rows = append(*rows, statRow{Key: prefix, Value: x.String()})
	case string:
		*rows = append(*rows, statRow{Key: prefix, Value: x})
	case bool:
		*rows = append(*rows, statRow{Key: prefix, Value: strconv.FormatBool(x)})
	case nil:
		*rows = append(*rows, statRow{Key: prefix, Value: "null"})
	}
}

// orderedObject is a JSON object that keeps its members' order.
type orderedObject []member

type member struct {
	Key   string
	Value any
}

func (o *orderedObject) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return err
	}
	obj, ok := v.(orderedObject)
	if !ok {
		return fmt.Errorf("not an object")
	}
	*o = obj
	return nil
}

// decodeValue reads one JSON value, objects as orderedObject.
func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var o orderedObject
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o = append(o, member{k, v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// fmtInt groups thousands with commas: 13776 → "13,776".
func fmtInt(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// fmtBytes uses SI units: 13776 → "13.8 kB".
func fmtBytes(n uint64) string {
	if n < 1000 {
		return strconv.FormatUint(n, 10) + " B"
	}
	v := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB", "PB"} {
		v /= 1000
		if v < 999.95 {
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + u
		}
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " EB"
}

package metrics

import (
	"github.com/nunchi-sensor/nunchi/detect/nat"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/pipeline"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// scrapeAll scrapes a handler whose stats have every optional part
// (sockets, a delivering sink, an injector).
func scrapeAll(t *testing.T) map[string]*ParsedFamily {
	t.Helper()
	st := pipeline.Stats{Events: map[string]uint64{}, Shards: 1, Inject: &inject.Stats{}, NAT: &nat.Stats{}, Rules: []pipeline.RuleListStats{{List: "l", Hits: 1}}}
	st.Capture.Sockets = []capture.SourceStats{{Interface: "eth1"}}
	st.Sinks = []sinks.SinkStats{{Name: "kafka", Delivery: &sinks.Delivery{Dropped: map[string]uint64{"spool_full": 1}}}}
	srv := httptest.NewServer(Handler(Source{Stats: func() pipeline.Stats { return st }, Ready: func() bool { return true }}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	fams, err := Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// TestMetricsDoc: docs/metrics.md lists exactly the series the endpoint
// writes, each with its type and labels.
func TestMetricsDoc(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (counter|gauge) \\|([a-z_, ]*)\\|")
	doc := map[string][2]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		if _, dup := doc[m[1]]; dup {
			t.Errorf("docs/metrics.md lists %s twice", m[1])
		}
		doc[m[1]] = [2]string{m[2], strings.TrimSpace(m[3])}
	}
	fams := scrapeAll(t)
	for name, f := range fams {
		d, ok := doc[name]
		if !ok {
			t.Errorf("%s is exposed but not in docs/metrics.md", name)
			continue
		}
		labels := map[string]bool{}
		for _, s := range f.Samples {
			for k := range s.Labels {
				labels[k] = true
			}
		}
		var ls []string
		for k := range labels {
			ls = append(ls, k)
		}
		sort.Strings(ls)
		if d[0] != f.Type || d[1] != strings.Join(ls, ", ") {
			t.Errorf("%s: documented as %s [%s], exposed as %s [%s]", name, d[0], d[1], f.Type, strings.Join(ls, ", "))
		}
	}
	for name := range doc {
		if fams[name] == nil {
			t.Errorf("docs/metrics.md lists %s, which is not exposed", name)
		}
	}
}

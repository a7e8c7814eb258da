package metrics

import (
	"bytes"
	"testing"
)

// FuzzParse reads arbitrary bytes as a Prometheus text exposition (what
// the tests and `nunchi` tooling read back from /metrics). Properties: no
// panic; an accepted exposition gives families with names and typed
// samples, each sample named after its family.
func FuzzParse(f *testing.F) {
	f.Add([]byte("# HELP nunchi_x_total X.\n# TYPE nunchi_x_total counter\nnunchi_x_total{reason=\"a\\\"b\"} 3\n"))
	f.Add([]byte("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n"))
	f.Add([]byte("# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_sum 0\ns_count 0\nuntyped_thing -Inf\n"))
	f.Add([]byte("a{b=\"\\n\",c=\"\\\\\"} 1e308 1700000000000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fams, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		for name, fam := range fams {
			if fam == nil || fam.Name != name || name == "" {
				t.Fatalf("family %q: %+v", name, fam)
			}
			switch fam.Type {
			case "counter", "gauge", "histogram", "summary", "untyped":
			default:
				t.Fatalf("family %q: type %q", name, fam.Type)
			}
			for _, s := range fam.Samples {
				if len(s.Name) < len(name) || s.Name[:len(name)] != name {
					t.Fatalf("family %q: sample %q", name, s.Name)
				}
			}
		}
	})
}

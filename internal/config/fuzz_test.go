package config

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type fuzzItem struct {
	ID    string   `yaml:"id"`
	Tags  []string `yaml:"tags"`
	Inner *fuzzItem
}

type fuzzCommon struct {
	Level int16 `yaml:"level"`
}

type fuzzConfig struct {
	fuzzCommon `yaml:",inline"`
	Name       string               `yaml:"name"`
	N          int8                 `yaml:"n"`
	U          uint32               `yaml:"u"`
	F          float32              `yaml:"f"`
	B          bool                 `yaml:"b"`
	D          Duration             `yaml:"d"`
	TD         time.Duration        `yaml:"td"`
	S          ByteSize             `yaml:"s"`
	Addr       netip.Addr           `yaml:"addr"`
	List       []string             `yaml:"list"`
	Arr        [2]uint8             `yaml:"arr"`
	Items      []fuzzItem           `yaml:"items"`
	Map        map[string]int       `yaml:"map"`
	IntMap     map[int]bool         `yaml:"int_map"`
	Sections   map[string]*fuzzItem `yaml:"sections"`
	Sub        *fuzzItem            `yaml:"sub"`
	Any        any                  `yaml:"any"` // decoded by yaml.v3; not compared
}

// FuzzDecode checks that no input makes Decode panic or run away, and that
// whatever Decode accepts, Marshal renders and Decode reads back the same.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		"",
		"name: x\nn: -5\nu: 0x10\nf: 1.5\nb: yes\nd: 1h30m\ntd: 5\ns: 1.5GiB\naddr: 192.0.2.1\nlevel: 3\n",
		"list: [a, b]\narr: [1, 2]\nitems:\n  - id: a\n    tags: [x]\n    inner: {id: b}\n",
		"map: {a: 1, b: 2}\nint_map: {1: true, 0x2: false}\nsections: {s: {id: q}, t: ~}\nsub: {tags: []}\n",
		"items: [&a {id: a}, *a, {<<: *a, id: b}]\n",
		"items: &x [{inner: *x}]\n",
		"name: a\nname: b\nbogus: 1\nn: 1000\nf: .nan\ns: 1M\n",
		"- a\n",
		"a: [1\n",
		"---\nname: a\n---\nname: b\n",
		"? [a]\n: 1\n",
		"sub: &s {inner: {<<: *s}}\n",
		"any: &a {x: [1, *a]}\n",
		"any: {<<: [{a: 1}], b: !!binary aGk=}\n",
		"name: \"\\u0085\\t x \"\nlist: [\"<<\", \"~\", \"\", \"- y\", \"a\\nb \"]\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	opts := cmp.Options{
		cmp.AllowUnexported(fuzzConfig{}),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmpopts.EquateNaNs(),
		cmpopts.EquateEmpty(),
		cmpopts.IgnoreFields(fuzzConfig{}, "Any"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c fuzzConfig
		if err := Decode(data, "fuzz.yaml", &c); err != nil {
			return
		}
		out, err := Marshal(&c)
		if err != nil {
			t.Fatalf("Marshal() error: %v", err)
		}
		var back fuzzConfig
		if err := Decode(out, "dump.yaml", &back); err != nil {
			t.Fatalf("Decode(Marshal()) error: %v\n%s", err, out)
		}
		if diff := cmp.Diff(back, c, opts); diff != "" {
			t.Fatalf("Decode(Marshal()) (-got, +want):\n%s\n%s", diff, out)
		}
		_ = Validate(&c)
		_ = Keys(&c)
	})
}

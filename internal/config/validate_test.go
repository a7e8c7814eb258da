package config

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *testConfig)
		want []string
	}{
		{name: "valid defaults"},
		{
			name: "value receiver, key joins the path",
			edit: func(c *testConfig) { c.Capture.Shards = -1 },
			want: []string{"capture.shards: must be >= 0"},
		},
		{
			name: "joined errors are split",
			edit: func(c *testConfig) { c.Capture.Shards = -1; c.Capture.Fanout = "rr" },
			want: []string{"capture.shards: must be >= 0", "capture.fanout: must be hash, cpu or lb"},
		},
		{
			name: "pointer receiver in list items",
			edit: func(c *testConfig) {
				c.Rules.Lists = []listConfig{{ID: "a", Action: "log"}, {ID: "b", Action: "block"}, {ID: "c"}}
			},
			want: []string{
				"rules.lists[1].action: must be log, alert or inject",
				"rules.lists[2].action: must be log, alert or inject",
			},
		},
		{
			name: "map entries, by key",
			edit: func(c *testConfig) {
				c.Sinks.Outputs["zeta"] = outputConfig{Level: 10}
				c.Sinks.Outputs["alpha"] = outputConfig{Level: 12}
			},
			want: []string{"sinks.outputs.alpha.level: must be <= 9", "sinks.outputs.zeta.level: must be <= 9"},
		},
		{
			name: "inline struct, promoted method reported once",
			edit: func(c *testConfig) { c.Sinks.Kafka.QueueSize = -1 },
			want: []string{"sinks.kafka.queue_size: must be >= 0"},
		},
		{
			name: "top level: own key, other text",
			edit: func(c *testConfig) {
				c.Sensor = ""
				c.Inject = &injectConfig{Enabled: true}
			},
			want: []string{"inject.interface: required when inject.enabled is true"},
		},
		{
			name: "message without a key",
			edit: func(c *testConfig) { c.Sensor = "" },
			want: []string{"a sensor name is required"},
		},
		{
			name: "parent first, then fields, all collected",
			edit: func(c *testConfig) {
				c.Sensor = ""
				c.Capture.Shards = -2
				c.Rules.Lists = []listConfig{{}}
				c.Sinks.Outputs["main"] = outputConfig{Level: 99}
			},
			want: []string{
				"a sensor name is required",
				"capture.shards: must be >= 0",
				"rules.lists[0].action: must be log, alert or inject",
				"sinks.outputs.main.level: must be <= 9",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig()
			if tt.edit != nil {
				tt.edit(&c)
			}
			err := Validate(&c)
			if diff := cmp.Diff(errorLines(err), tt.want); diff != "" {
				t.Errorf("Validate() errors (-got, +want):\n%s", diff)
			}
		})
	}
}

func TestValidateKeepsCauses(t *testing.T) {
	c := defaultConfig()
	c.Rules.Lists = []listConfig{{Action: "nope"}}
	err := Validate(c) // a value, not a pointer: pointer receivers are still found
	if !errors.Is(err, errBadAction) {
		t.Errorf("errors.Is(%v, errBadAction) = false", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Path != "rules.lists[0].action" || e.Err.Error() != "must be log, alert or inject" {
		t.Errorf("errors.As() = %+v", e)
	}
}

type selfList []int

func (l selfList) Validate() error {
	if len(l) > 1 && l[0] == l[1] {
		return errors.New("[1]: repeats [0]")
	}
	return nil
}

type cyclic struct {
	Next  *cyclic  `yaml:"next"`
	List  selfList `yaml:"list"`
	Value int      `yaml:"value"`
}

func (c *cyclic) Validate() error {
	if c.Value < 0 {
		return errors.New("value: negative")
	}
	return nil
}

func TestValidateOddShapes(t *testing.T) {
	c := &cyclic{Value: -1, List: selfList{1, 1}}
	c.Next = c
	err := Validate(c)
	want := []string{"value: negative", "list[1]: repeats [0]"}
	if diff := cmp.Diff(errorLines(err), want); diff != "" {
		t.Errorf("Validate() errors (-got, +want):\n%s", diff)
	}
	if err := Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
	if err := Validate((*testConfig)(nil)); err != nil {
		t.Errorf("Validate(nil pointer) = %v", err)
	}
}

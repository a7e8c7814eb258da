package config

import (
	"math"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string // YAML scalar
		want    Duration
		wantErr string
		str     string // String(); "" means same as in
	}{
		{in: "30s", want: Duration(30 * time.Second)},
		{in: "5m", want: Duration(5 * time.Minute)},
		{in: "1h30m", want: Duration(90 * time.Minute)},
		{in: "1h", want: Duration(time.Hour)},
		{in: "250ms", want: Duration(250 * time.Millisecond)},
		{in: "1.5s", want: Duration(1500 * time.Millisecond)},
		{in: "2h0m5s", want: Duration(2*time.Hour + 5*time.Second), str: "2h0m5s"},
		{in: "-1m", want: Duration(-time.Minute)},
		{in: "0", want: 0, str: "0s"},
		{in: "60", want: Duration(time.Minute), str: "1m"},
		{in: `"90"`, want: Duration(90 * time.Second), str: "1m30s"},
		{in: "0x10", want: Duration(16 * time.Second), str: "16s"},
		{in: "9223372037", wantErr: `cannot use "9223372037" as duration: out of range`},
		{in: "1.5", wantErr: `cannot use "1.5" as duration (a plain number is whole seconds; write fractions with a unit, like 1500ms)`},
		{in: "5 minutes", wantErr: `cannot use "5 minutes" as duration (want a number of seconds or a value like 30s, 5m, 1h30m)`},
		{in: "[1s]", wantErr: `cannot use list as duration`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got struct {
				D Duration `yaml:"d"`
			}
			err := Decode([]byte("d: "+tt.in), "", &got)
			if tt.wantErr != "" {
				if err == nil || err.Error() != "line 1: d: "+tt.wantErr {
					t.Fatalf("Decode() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode() error: %v", err)
			}
			if got.D != tt.want {
				t.Errorf("Decode() = %v, want %v", time.Duration(got.D), time.Duration(tt.want))
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if s := got.D.String(); s != str {
				t.Errorf("String() = %q, want %q", s, str)
			}
			back, err := ParseDuration(got.D.String())
			if err != nil || back != got.D {
				t.Errorf("ParseDuration(String()) = %v, %v; want %v", back, err, got.D)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string // YAML scalar
		want    ByteSize
		wantErr string
		str     string // String(); "" means same as in
	}{
		{in: "1GiB", want: GiB},
		{in: "512MiB", want: 512 * MiB},
		{in: "64KiB", want: 64 * KiB},
		{in: "1GB", want: GB},
		{in: "100MB", want: 100 * MB},
		{in: "1500", want: 1500},
		{in: "0", want: 0},
		{in: "1500b", want: 1500, str: "1500"},
		{in: "1gib", want: GiB, str: "1GiB"},
		{in: "2 mib", want: 2 * MiB, str: "2MiB"},
		{in: "1.5GiB", want: 3 * 512 * MiB, str: "1536MiB"},
		{in: "1.5kb", want: 1500, str: "1500"},
		{in: "1024KiB", want: MiB, str: "1MiB"},
		{in: "1000KB", want: MB, str: "1MB"},
		{in: "8EiB", wantErr: `cannot use "8EiB" as size: out of range (want bytes or a value like 512MiB, 1GiB, 100MB)`},
		{in: "7EiB", want: 7 * EiB},
		{in: "1M", wantErr: `cannot use "1M" as size: ambiguous unit "M": write MB (powers of 1000) or MiB (powers of 1024) (want bytes or a value like 512MiB, 1GiB, 100MB)`},
		{in: "1 parsec", wantErr: `cannot use "1 parsec" as size: unknown unit "parsec" (want bytes or a value like 512MiB, 1GiB, 100MB)`},
		{in: "-1", wantErr: `cannot use "-1" as size: negative`},
		{in: "-1KiB", wantErr: `cannot use "-1KiB" as size: negative (want bytes or a value like 512MiB, 1GiB, 100MB)`},
		{in: "1.5", wantErr: `cannot use "1.5" as size (want bytes or a value like 512MiB, 1GiB, 100MB)`},
		{in: `"1.5"`, wantErr: `cannot use "1.5" as size: fractions of a byte (want bytes or a value like 512MiB, 1GiB, 100MB)`},
		{in: "1..5MB", wantErr: `cannot use "1..5MB" as size (want bytes or a value like 512MiB, 1GiB, 100MB)`},
		{in: "GiB", wantErr: `cannot use "GiB" as size (want bytes or a value like 512MiB, 1GiB, 100MB)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got struct {
				S ByteSize `yaml:"s"`
			}
			err := Decode([]byte("s: "+tt.in), "", &got)
			if tt.wantErr != "" {
				if err == nil || err.Error() != "line 1: s: "+tt.wantErr {
					t.Fatalf("Decode() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode() error: %v", err)
			}
			if got.S != tt.want {
				t.Errorf("Decode() = %d, want %d", got.S, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if s := got.S.String(); s != str {
				t.Errorf("String() = %q, want %q", s, str)
			}
			back, err := ParseByteSize(got.S.String())
			if err != nil || back != got.S {
				t.Errorf("ParseByteSize(String()) = %v, %v; want %v", back, err, got.S)
			}
		})
	}
}

func TestByteSizeString(t *testing.T) {
	for _, s := range []ByteSize{1, 999, 1000, 1024, 1000 * KiB, 1024 * KB, 3 * TiB, math.MaxInt64} {
		back, err := ParseByteSize(s.String())
		if err != nil || back != s {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", s.String(), back, err, s)
		}
	}
}

// The value types also work with plain yaml.v3 and as flags.
func TestValueTypesInterfaces(t *testing.T) {
	var v struct {
		D Duration `yaml:"d"`
		S ByteSize `yaml:"s"`
	}
	if err := yaml.Unmarshal([]byte("d: 1m\ns: 1KiB"), &v); err != nil {
		t.Fatalf("yaml.Unmarshal() error: %v", err)
	}
	if v.D != Duration(time.Minute) || v.S != KiB {
		t.Errorf("yaml.Unmarshal() = %+v", v)
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) != "d: 1m\ns: 1KiB\n" {
		t.Errorf("yaml.Marshal() = %q, %v", out, err)
	}
	if err := v.D.Set("2s"); err != nil || v.D != Duration(2*time.Second) || v.D.Type() != "duration" {
		t.Errorf("Duration.Set() = %v, %v", v.D, err)
	}
	if err := v.S.Set("2MB"); err != nil || v.S != 2*MB || v.S.Type() != "size" {
		t.Errorf("ByteSize.Set() = %v, %v", v.S, err)
	}
	if err := v.S.Set("2M"); err == nil {
		t.Error("ByteSize.Set(2M) succeeded")
	}
}

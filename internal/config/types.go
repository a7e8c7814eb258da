package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written the human way in config files: "30s",
// "5m", "1h30m", "250ms" (time.ParseDuration syntax). A plain integer is a
// number of seconds. It renders back in the shortest such form ("1h30m", not
// "1h30m0s").
//
// Fields of type time.Duration are decoded and rendered the same way.
type Duration time.Duration

var (
	_ yaml.Unmarshaler = (*Duration)(nil)
	_ yaml.Marshaler   = Duration(0)
)

// ParseDuration parses s as a [Duration].
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if isDigits(strings.TrimPrefix(t, "-")) {
		secs, err := strconv.ParseInt(t, 10, 64)
		if err != nil || secs > math.MaxInt64/int64(time.Second) || secs < math.MinInt64/int64(time.Second) {
			return 0, fmt.Errorf("cannot use %s as duration: out of range", quote(s))
		}
		return Duration(time.Duration(secs) * time.Second), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("cannot use %s as duration (want a number of seconds or a value like 30s, 5m, 1h30m)", quote(s))
	}
	return Duration(d), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// String returns the shortest form of d that [ParseDuration] reads back:
// "1h30m", "5m", "1.5s", "0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalYAML implements yaml.Unmarshaler. A null leaves d unchanged.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("cannot use %s as duration", describe(n))
	}
	switch n.ShortTag() {
	case nullTag:
		return nil
	case intTag:
		s, _ := intText(n)
		secs, err := strconv.ParseInt(s, 0, 64)
		if err != nil || secs > math.MaxInt64/int64(time.Second) || secs < math.MinInt64/int64(time.Second) {
			return fmt.Errorf("cannot use %s as duration: out of range", describe(n))
		}
		*d = Duration(time.Duration(secs) * time.Second)
		return nil
	case floatTag:
		return fmt.Errorf("cannot use %s as duration (a plain number is whole seconds; write fractions with a unit, like 1500ms)", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler with d.String().
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseDuration].
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText implements encoding.TextMarshaler with d.String().
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Set implements pflag.Value, so that a command-line flag can fill a Duration.
func (d *Duration) Set(s string) error { return d.UnmarshalText([]byte(s)) }

// Type implements pflag.Value.
func (Duration) Type() string { return "duration" }

// ByteSize is a size in bytes written the human way in config files:
// "1GiB", "512MiB", "64KiB" (powers of 1024), "1GB", "100MB", "10kB" (powers
// of 1000), "1500" or "1500B" (bytes). Units are case-insensitive and may
// follow a space; fractions are allowed with a unit ("1.5GiB") and round down
// to whole bytes. Bare "K", "M", "G" are refused as ambiguous. Negative sizes
// are refused.
//
// It renders back in the largest unit that divides it exactly ("1GiB",
// "100MB"), or as plain bytes.
type ByteSize int64

var (
	_ yaml.Unmarshaler = (*ByteSize)(nil)
	_ yaml.Marshaler   = ByteSize(0)
)

// Size units.
const (
	KiB ByteSize = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
	PiB
	EiB
)

// Decimal size units.
const (
	KB ByteSize = 1000
	MB          = 1000 * KB
	GB          = 1000 * MB
	TB          = 1000 * GB
	PB          = 1000 * TB
	EB          = 1000 * PB
)

// sizeUnits is ordered from the largest unit down, binary before decimal, for
// String.
var sizeUnits = []struct {
	name string
	size ByteSize
}{
	{"EiB", EiB}, {"EB", EB}, {"PiB", PiB}, {"PB", PB}, {"TiB", TiB}, {"TB", TB},
	{"GiB", GiB}, {"GB", GB}, {"MiB", MiB}, {"MB", MB}, {"KiB", KiB}, {"KB", KB},
}

var errAmbiguousUnit = errors.New("ambiguous unit")

// sizeUnit returns the multiplier of a unit, matched case-insensitively.
func sizeUnit(u string) (ByteSize, error) {
	switch l := strings.ToLower(u); l {
	case "", "b":
		return 1, nil
	case "k", "m", "g", "t", "p", "e":
		up := strings.ToUpper(l)
		return 0, fmt.Errorf("%w %q: write %sB (powers of 1000) or %siB (powers of 1024)", errAmbiguousUnit, u, up, up)
	default:
		for _, su := range sizeUnits {
			if strings.EqualFold(su.name, u) {
				return su.size, nil
			}
		}
	}
	return 0, fmt.Errorf("unknown unit %q", u)
}

// ParseByteSize parses s as a [ByteSize].
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	end := 0
	for end < len(t) && (t[end] >= '0' && t[end] <= '9' || t[end] == '.') {
		end++
	}
	num, unit := t[:end], strings.TrimSpace(t[end:])
	bad := func(why string) error {
		return fmt.Errorf("cannot use %s as size%s (want bytes or a value like 512MiB, 1GiB, 100MB)", quote(s), why)
	}
	if num == "" || num == "." || strings.Count(num, ".") > 1 {
		if strings.HasPrefix(t, "-") {
			return 0, bad(": negative")
		}
		return 0, bad("")
	}
	mult, err := sizeUnit(unit)
	if err != nil {
		return 0, bad(": " + err.Error())
	}
	if strings.Contains(num, ".") && mult == 1 {
		return 0, bad(": fractions of a byte")
	}
	// num is digits and at most one dot, so SetString is exact and cheap.
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, bad("")
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(mult)))
	i := new(big.Int).Quo(r.Num(), r.Denom())
	if !i.IsInt64() {
		return 0, bad(": out of range")
	}
	return ByteSize(i.Int64()), nil
}

// String returns s in the largest unit that divides it exactly ("1GiB",
// "100MB"), or in bytes without a unit ("1500").
func (s ByteSize) String() string {
	if s > 0 {
		for _, su := range sizeUnits {
			if s%su.size == 0 {
				return strconv.FormatInt(int64(s/su.size), 10) + su.name
			}
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// UnmarshalYAML implements yaml.Unmarshaler. A null leaves s unchanged.
func (s *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("cannot use %s as size", describe(n))
	}
	switch n.ShortTag() {
	case nullTag:
		return nil
	case intTag:
		t, _ := intText(n)
		i, err := strconv.ParseInt(t, 0, 64)
		if err != nil {
			return fmt.Errorf("cannot use %s as size: out of range", describe(n))
		}
		if i < 0 {
			return fmt.Errorf("cannot use %s as size: negative", describe(n))
		}
		*s = ByteSize(i)
		return nil
	case floatTag:
		return fmt.Errorf("cannot use %s as size (want bytes or a value like 512MiB, 1GiB, 100MB)", describe(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalYAML implements yaml.Marshaler: a string with a unit, or an integer
// number of bytes.
func (s ByteSize) MarshalYAML() (any, error) {
	str := s.String()
	if isDigits(strings.TrimPrefix(str, "-")) {
		return int64(s), nil
	}
	return str, nil
}

// UnmarshalText implements encoding.TextUnmarshaler with [ParseByteSize].
func (s *ByteSize) UnmarshalText(b []byte) error {
	v, err := ParseByteSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText implements encoding.TextMarshaler with s.String().
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Set implements pflag.Value, so that a command-line flag can fill a ByteSize.
func (s *ByteSize) Set(v string) error { return s.UnmarshalText([]byte(v)) }

// Type implements pflag.Value.
func (ByteSize) Type() string { return "size" }

package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ContentType is the media type of the text exposition format 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Type is a metric family's type.
type Type string

// Metric types written by this package.
const (
	Counter Type = "counter"
	Gauge   Type = "gauge"
)

// Family is one metric family of an exposition: a name, its help and type,
// and its samples in the order they were added.
type Family struct {
	Name    string
	Help    string
	Type    Type
	samples []sample
	seen    map[string]bool // label sets, for duplicate detection
}

type sample struct {
	labels []string // name, value pairs
	value  string   // formatted
}

// Builder collects the families of one exposition. Samples may be added in
// any order; WriteTo writes each family once, with all its samples
// together, in the order the families were first used. The first misuse
// (an invalid name, a counter without _total, a label set given twice, a
// family redeclared with another type) is kept and returned by WriteTo and
// Err: an exposition is either valid or not written.
type Builder struct {
	fams   []*Family
	byName map[string]*Family
	err    error
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{byName: map[string]*Family{}} }

// Err returns the first misuse, if any.
func (b *Builder) Err() error { return b.err }

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Counter adds a counter sample. name must end with _total; labels are
// name, value pairs.
func (b *Builder) Counter(name, help string, v uint64, labels ...string) {
	if !strings.HasSuffix(name, "_total") {
		b.fail(fmt.Errorf("metrics: counter %s: name must end with _total", name))
		return
	}
	b.add(name, help, Counter, strconv.FormatUint(v, 10), labels)
}

// Gauge adds a gauge sample. A gauge's name must not end with _total.
func (b *Builder) Gauge(name, help string, v float64, labels ...string) {
	b.add(name, help, Gauge, formatFloat(v), labels)
}

// GaugeUint adds a gauge sample with an integer value (written exactly).
func (b *Builder) GaugeUint(name, help string, v uint64, labels ...string) {
	b.add(name, help, Gauge, strconv.FormatUint(v, 10), labels)
}

// CounterFloat adds a counter sample with a fractional value (seconds).
func (b *Builder) CounterFloat(name, help string, v float64, labels ...string) {
	if !strings.HasSuffix(name, "_total") {
		b.fail(fmt.Errorf("metrics: counter %s: name must end with _total", name))
		return
	}
	b.add(name, help, Counter, formatFloat(v), labels)
}

func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (b *Builder) add(name, help string, typ Type, value string, labels []string) {
	if b.err != nil {
		return
	}
	if !validMetricName(name) {
		b.fail(fmt.Errorf("metrics: invalid metric name %q", name))
		return
	}
	if typ == Gauge && strings.HasSuffix(name, "_total") {
		b.fail(fmt.Errorf("metrics: gauge %s: _total is for counters", name))
		return
	}
	if len(labels)%2 != 0 {
		b.fail(fmt.Errorf("metrics: %s: labels must be name, value pairs", name))
		return
	}
	names := map[string]bool{}
	for i := 0; i < len(labels); i += 2 {
		ln := labels[i]
		if !validLabelName(ln) || strings.HasPrefix(ln, "__") {
			b.fail(fmt.Errorf("metrics: %s: invalid label name %q", name, ln))
			return
		}
		if names[ln] {
			b.fail(fmt.Errorf("metrics: %s: label %q given twice", name, ln))
			return
		}
		names[ln] = true
	}
	f := b.byName[name]
	if f == nil {
		f = &Family{Name: name, Help: help, Type: typ, seen: map[string]bool{}}
		b.byName[name] = f
		b.fams = append(b.fams, f)
	} else if f.Type != typ || f.Help != help {
		b.fail(fmt.Errorf("metrics: %s: declared again with another type or help", name))
		return
	}
	key := strings.Join(labels, "\xff")
	if f.seen[key] {
		b.fail(fmt.Errorf("metrics: %s%s: series given twice", name, formatLabels(labels)))
		return
	}
	f.seen[key] = true
	f.samples = append(f.samples, sample{labels: append([]string(nil), labels...), value: value})
}

// Families returns the families collected so far, in exposition order.
func (b *Builder) Families() []*Family { return b.fams }

// WriteTo writes the exposition: for each family # HELP, # TYPE and its
// samples, each line ending with a line feed.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	if b.err != nil {
		return 0, b.err
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	cw := &countWriter{w: bw}
	for _, f := range b.fams {
		fmt.Fprintf(cw, "# HELP %s %s\n# TYPE %s %s\n", f.Name, escapeHelp(f.Help), f.Name, f.Type)
		for _, s := range f.samples {
			fmt.Fprintf(cw, "%s%s %s\n", f.Name, formatLabels(s.labels), s.value)
		}
	}
	if err := bw.Flush(); err != nil && cw.err == nil {
		cw.err = err
	}
	return cw.n, cw.err
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func formatLabels(labels []string) string {
	if len(labels) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteByte('{')
	for i := 0; i < len(labels); i += 2 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(labels[i])
		sb.WriteString(`="`)
		sb.WriteString(escapeLabelValue(labels[i+1]))
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string       { return helpEscaper.Replace(s) }
func escapeLabelValue(s string) string { return labelEscaper.Replace(s) }

func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ParsedFamily is a metric family as read back by Parse.
type ParsedFamily struct {
	Name    string
	Help    string
	Type    string // counter | gauge | histogram | summary | untyped
	Samples []ParsedSample
	hasHelp bool
}

// ParsedSample is one sample line.
type ParsedSample struct {
	Name   string // the family name, or name_bucket/_sum/_count for histograms and summaries
	Labels map[string]string
	Value  float64
}

// Value returns the value of the sample whose labels are exactly the given
// name, value pairs, and whether there is one.
func (f *ParsedFamily) Value(labels ...string) (float64, bool) {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, s := range f.Samples {
		if len(s.Labels) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if s.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return s.Value, true
		}
	}
	return 0, false
}

// Parse reads a text exposition (format 0.0.4) strictly: every line must
// end with a line feed; HELP and TYPE appear at most once per family and
// before its samples; a family's samples are contiguous; names, label
// names, escapes and values are valid; no series appears twice. The error
// names the line.
func Parse(r io.Reader) (map[string]*ParsedFamily, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("metrics: exposition does not end with a line feed")
	}
	p := parser{fams: map[string]*ParsedFamily{}, done: map[string]bool{}, series: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(sc.Text()); err != nil {
			return nil, fmt.Errorf("metrics: line %d: %w", p.line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return p.fams, nil
}

type parser struct {
	fams   map[string]*ParsedFamily
	cur    string          // family of the previous line
	done   map[string]bool // families left behind (must not come back)
	series map[string]bool
	line   int
}

// enter makes name the current family; coming back to a family that an
// earlier line left is an error.
func (p *parser) enter(name string) (*ParsedFamily, error) {
	if name != p.cur {
		if p.done[name] {
			return nil, fmt.Errorf("family %s continues after another family began", name)
		}
		if p.cur != "" {
			p.done[p.cur] = true
		}
		p.cur = name
	}
	f := p.fams[name]
	if f == nil {
		f = &ParsedFamily{Name: name, Type: "untyped"}
		p.fams[name] = f
	}
	return f, nil
}

func (p *parser) parseLine(line string) error {
	if strings.TrimSpace(line) == "" {
		return nil
	}
	if strings.HasPrefix(line, "#") {
		fields := strings.SplitN(strings.TrimLeft(line[1:], " \t"), " ", 3)
		if len(fields) < 2 || (fields[0] != "HELP" && fields[0] != "TYPE") {
			return nil // a plain comment
		}
		name := fields[1]
		if !validMetricName(name) {
			return fmt.Errorf("invalid metric name %q", name)
		}
		rest := ""
		if len(fields) == 3 {
			rest = fields[2]
		}
		f, err := p.enter(name)
		if err != nil {
			return err
		}
		if fields[0] == "HELP" {
			if f.hasHelp {
				return fmt.Errorf("second HELP for %s", name)
			}
			h, err := unescape(rest, false)
			if err != nil {
				return fmt.Errorf("HELP %s: %w", name, err)
			}
			f.Help, f.hasHelp = h, true
			return nil
		}
		if len(f.Samples) > 0 {
			return fmt.Errorf("TYPE for %s after its samples", name)
		}
		if f.Type != "untyped" {
			return fmt.Errorf("second TYPE for %s", name)
		}
		switch rest {
		case "counter", "gauge", "histogram", "summary":
			f.Type = rest
		case "untyped":
		default:
			return fmt.Errorf("unknown type %q for %s", rest, name)
		}
		return nil
	}
	return p.parseSample(line)
}

func (p *parser) parseSample(line string) error {
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	name := line[:i]
	if !validMetricName(name) {
		return fmt.Errorf("invalid metric name %q", name)
	}
	labels := map[string]string{}
	if i < len(line) && line[i] == '{' {
		i++
		for {
			for i < len(line) && line[i] == ' ' {
				i++
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			j := i
			for j < len(line) && line[j] != '=' {
				j++
			}
			ln := strings.TrimSpace(line[i:j])
			if j >= len(line) || !validLabelName(ln) {
				return fmt.Errorf("invalid label name %q", ln)
			}
			if _, dup := labels[ln]; dup {
				return fmt.Errorf("label %s given twice", ln)
			}
			j++
			if j >= len(line) || line[j] != '"' {
				return fmt.Errorf("label %s: value must be quoted", ln)
			}
			j++
			k := j
			for k < len(line) && line[k] != '"' {
				if line[k] == '\\' {
					k++
				}
				k++
			}
			if k >= len(line) {
				return fmt.Errorf("label %s: unterminated value", ln)
			}
			v, err := unescape(line[j:k], true)
			if err != nil {
				return fmt.Errorf("label %s: %w", ln, err)
			}
			labels[ln] = v
			i = k + 1
			if i < len(line) && line[i] == ',' {
				i++
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			return fmt.Errorf("label %s: expected , or } after the value", ln)
		}
	}
	rest := strings.Fields(line[i:])
	if len(rest) < 1 || len(rest) > 2 || (i < len(line) && line[i] != ' ' && line[i] != '\t') {
		return fmt.Errorf("expected a value (and an optional timestamp) after %s", name)
	}
	v, err := parseValue(rest[0])
	if err != nil {
		return err
	}
	if len(rest) == 2 {
		if _, err := strconv.ParseInt(rest[1], 10, 64); err != nil {
			return fmt.Errorf("invalid timestamp %q", rest[1])
		}
	}
	fam := name
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base := strings.TrimSuffix(name, suf)
		if base != name {
			if f := p.fams[base]; f != nil && (f.Type == "histogram" || f.Type == "summary") {
				fam = base
			}
		}
	}
	f, err := p.enter(fam)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	id := name
	for _, k := range keys {
		id += "\xff" + k + "\xfe" + labels[k]
	}
	if p.series[id] {
		return fmt.Errorf("series %s%v given twice", name, labels)
	}
	p.series[id] = true
	f.Samples = append(f.Samples, ParsedSample{Name: name, Labels: labels, Value: v})
	return nil
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q", s)
	}
	return v, nil
}

// unescape undoes the format's escapes: \\ and \n, and \" in label values.
func unescape(s string, label bool) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", fmt.Errorf("trailing backslash")
		}
		switch s[i] {
		case '\\':
			sb.WriteByte('\\')
		case 'n':
			sb.WriteByte('\n')
		case '"':
			if !label {
				return "", fmt.Errorf(`\" is not an escape in HELP`)
			}
			sb.WriteByte('"')
		default:
			return "", fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return sb.String(), nil
}

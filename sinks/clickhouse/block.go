package clickhouse

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the one insert path. A table's columns are read back from
// the server (name and type), and each event's JSON line — the same bytes
// the JSONL sink writes and the spool keeps — is flattened into them:
// nested members join their names with "_" ("flow"."pkts_toserver" →
// flow_pkts_toserver), arrays of objects become one array column per
// member (dns.answers[].rdata → dns_answers_rdata), members without a
// column are ignored (newer fields before their migration), and a column
// the event lacks gets its type's zero value. Values are converted by the
// column's type, so FixedString(16) and IPv6, DateTime and DateTime64,
// String and LowCardinality(String) take the same Go values.

type kind uint8

const (
	kString    kind = iota // String, LowCardinality(String); objects and arrays land as raw JSON
	kIP                    // FixedString(16), IPv6: 16-byte IPv4-mapped addresses
	kTime                  // DateTime, DateTime64
	kUint                  // UInt8…UInt64 (bits in colBuf.bits); JSON true/false → 1/0
	kInt                   // Int8…Int64
	kFloat                 // Float32, Float64
	kArrString             // Array(String), Array(LowCardinality(String))
	kArrUint               // Array(UInt8…UInt64)
)

// Column is one column of a table as the server describes it.
type Column struct {
	Name, Type string
}

type colBuf struct {
	name string
	kind kind
	bits int // kUint, kInt, kFloat, kArrUint: element size

	str  []string
	ip   [][]byte
	tm   []time.Time
	u    []uint64
	i    []int64
	f    []float64
	astr [][]string
	au   [][]uint64
}

// parseKind maps a ClickHouse type to a column kind; ok is false for types
// the insert path does not fill (the column is left to its default).
func parseKind(typ string) (k kind, bits int, ok bool) {
	t := typ
	if strings.HasPrefix(t, "LowCardinality(") {
		t = strings.TrimSuffix(strings.TrimPrefix(t, "LowCardinality("), ")")
	}
	switch {
	case t == "String":
		return kString, 0, true
	case t == "FixedString(16)" || t == "IPv6":
		return kIP, 0, true
	case t == "DateTime" || strings.HasPrefix(t, "DateTime(") || strings.HasPrefix(t, "DateTime64("):
		return kTime, 0, true
	case strings.HasPrefix(t, "UInt"):
		b, err := strconv.Atoi(t[4:])
		return kUint, b, err == nil
	case strings.HasPrefix(t, "Int"):
		b, err := strconv.Atoi(t[3:])
		return kInt, b, err == nil
	case t == "Float64" || t == "Float32":
		b, _ := strconv.Atoi(t[5:])
		return kFloat, b, true
	case strings.HasPrefix(t, "Array(") && strings.HasSuffix(t, ")"):
		ek, eb, ok := parseKind(t[6 : len(t)-1])
		switch {
		case ok && ek == kString:
			return kArrString, 0, true
		case ok && ek == kUint:
			return kArrUint, eb, true
		}
	}
	return 0, 0, false
}

// table is one event table: its fillable columns in insert order.
type table struct {
	name    string
	cols    []*colBuf
	byName  map[string]int
	arrays  map[string][]int // "dns_answers_" → array columns under that prefix
	rows    int
	skipped []string // columns of types the insert path leaves to their default
}

func newTable(name string, cols []Column) *table {
	t := &table{name: name, byName: map[string]int{}, arrays: map[string][]int{}}
	for _, c := range cols {
		k, bits, ok := parseKind(c.Type)
		if !ok {
			t.skipped = append(t.skipped, c.Name)
			continue
		}
		t.byName[c.Name] = len(t.cols)
		t.cols = append(t.cols, &colBuf{name: c.Name, kind: k, bits: bits})
	}
	return t
}

func (t *table) reset() {
	t.rows = 0
	for _, c := range t.cols {
		c.str, c.ip, c.tm, c.u, c.i, c.f, c.astr, c.au = c.str[:0], c.ip[:0], c.tm[:0], c.u[:0], c.i[:0], c.f[:0], c.astr[:0], c.au[:0]
	}
}

// columnNames returns the insert column list.
func (t *table) columnNames() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.name
	}
	return out
}

func (c *colBuf) length() int {
	switch c.kind {
	case kString:
		return len(c.str)
	case kIP:
		return len(c.ip)
	case kTime:
		return len(c.tm)
	case kUint:
		return len(c.u)
	case kInt:
		return len(c.i)
	case kFloat:
		return len(c.f)
	case kArrString:
		return len(c.astr)
	default:
		return len(c.au)
	}
}

var zeroIP = make([]byte, 16)

func (c *colBuf) appendZero() {
	switch c.kind {
	case kString:
		c.str = append(c.str, "")
	case kIP:
		c.ip = append(c.ip, zeroIP)
	case kTime:
		c.tm = append(c.tm, time.Unix(0, 0).UTC())
	case kUint:
		c.u = append(c.u, 0)
	case kInt:
		c.i = append(c.i, 0)
	case kFloat:
		c.f = append(c.f, 0)
	case kArrString:
		c.astr = append(c.astr, []string{})
	default:
		c.au = append(c.au, []uint64{})
	}
}

// values returns the column as the slice type clickhouse-go's columnar
// Append takes for it.
func (c *colBuf) values() any {
	switch c.kind {
	case kString:
		return c.str
	case kIP:
		return c.ip
	case kTime:
		return c.tm
	case kUint:
		switch c.bits {
		case 8:
			out := make([]uint8, len(c.u))
			for i, v := range c.u {
				out[i] = uint8(v)
			}
			return out
		case 16:
			out := make([]uint16, len(c.u))
			for i, v := range c.u {
				out[i] = uint16(v)
			}
			return out
		case 32:
			out := make([]uint32, len(c.u))
			for i, v := range c.u {
				out[i] = uint32(v)
			}
			return out
		}
		return c.u
	case kInt:
		switch c.bits {
		case 8:
			out := make([]int8, len(c.i))
			for i, v := range c.i {
				out[i] = int8(v)
			}
			return out
		case 16:
			out := make([]int16, len(c.i))
			for i, v := range c.i {
				out[i] = int16(v)
			}
			return out
		case 32:
			out := make([]int32, len(c.i))
			for i, v := range c.i {
				out[i] = int32(v)
			}
			return out
		}
		return c.i
	case kFloat:
		if c.bits == 32 {
			out := make([]float32, len(c.f))
			for i, v := range c.f {
				out[i] = float32(v)
			}
			return out
		}
		return c.f
	case kArrString:
		return c.astr
	default:
		switch c.bits {
		case 8:
			out := make([][]uint8, len(c.au))
			for i, row := range c.au {
				out[i] = make([]uint8, len(row))
				for j, v := range row {
					out[i][j] = uint8(v)
				}
			}
			return out
		case 16:
			out := make([][]uint16, len(c.au))
			for i, row := range c.au {
				out[i] = make([]uint16, len(row))
				for j, v := range row {
					out[i][j] = uint16(v)
				}
			}
			return out
		case 32:
			out := make([][]uint32, len(c.au))
			for i, row := range c.au {
				out[i] = make([]uint32, len(row))
				for j, v := range row {
					out[i][j] = uint32(v)
				}
			}
			return out
		}
		return c.au
	}
}

var errMalformed = errors.New("malformed event JSON")

// addRow flattens one JSON object into a new row. On error the row is
// rolled back and the table is unchanged.
func (t *table) addRow(line []byte) error {
	p := parser{b: line, t: t}
	p.ws()
	if err := p.object(""); err != nil {
		t.truncate(t.rows)
		return err
	}
	t.rows++
	for _, c := range t.cols {
		if c.length() < t.rows {
			c.appendZero()
		}
	}
	return nil
}

// truncate cuts every column back to n rows.
func (t *table) truncate(n int) {
	for _, c := range t.cols {
		if c.length() > n {
			c.str, c.ip, c.tm = c.str[:min(n, len(c.str))], c.ip[:min(n, len(c.ip))], c.tm[:min(n, len(c.tm))]
			c.u, c.i, c.f = c.u[:min(n, len(c.u))], c.i[:min(n, len(c.i))], c.f[:min(n, len(c.f))]
			c.astr, c.au = c.astr[:min(n, len(c.astr))], c.au[:min(n, len(c.au))]
		}
	}
}

// parser is a small JSON reader that writes scalars straight into the
// table's columns as it walks. Not a validator beyond what it needs.
type parser struct {
	b []byte
	i int
	t *table
}

func (p *parser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", errMalformed, what, p.i)
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "_" + key
}

// object reads an object whose members are named under prefix.
func (p *parser) object(prefix string) error {
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return p.fail("want {")
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.ws()
		key, err := p.str()
		if err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.fail("want :")
		}
		p.i++
		p.ws()
		if err := p.member(join(prefix, key)); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return p.fail("unterminated object")
		}
		if p.b[p.i] == ',' {
			p.i++
			continue
		}
		if p.b[p.i] == '}' {
			p.i++
			return nil
		}
		return p.fail("want , or }")
	}
}

// member reads the value of the member called name (already flattened).
func (p *parser) member(name string) error {
	if p.i >= len(p.b) {
		return p.fail("missing value")
	}
	ci, has := p.t.byName[name]
	var col *colBuf
	if has {
		col = p.t.cols[ci]
	}
	switch p.b[p.i] {
	case '{':
		if col != nil && col.kind == kString { // a column for the whole object: keep its JSON
			start := p.i
			if err := p.skip(); err != nil {
				return err
			}
			p.setString(col, string(p.b[start:p.i]))
			return nil
		}
		return p.object(name)
	case '[':
		if col != nil && col.kind == kString {
			start := p.i
			if err := p.skip(); err != nil {
				return err
			}
			p.setString(col, string(p.b[start:p.i]))
			return nil
		}
		return p.array(name, col)
	}
	tok, isStr, err := p.scalar()
	if err != nil {
		return err
	}
	if col == nil {
		return nil
	}
	return p.set(col, tok, isStr)
}

// array reads an array: scalars into the array column called name, objects
// member by member into the array columns under name_.
func (p *parser) array(name string, col *colBuf) error {
	p.i++ // [
	p.ws()
	row := p.t.rows
	if col != nil && col.length() == row {
		switch col.kind {
		case kArrString:
			col.astr = append(col.astr, []string{})
		case kArrUint:
			col.au = append(col.au, []uint64{})
		}
	}
	elem := 0
	for p.i < len(p.b) && p.b[p.i] != ']' {
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '{' {
			if err := p.object(name); err != nil {
				return err
			}
			p.padArrays(name+"_", elem+1)
		} else if p.i < len(p.b) && p.b[p.i] == '[' {
			if err := p.skip(); err != nil {
				return err
			}
		} else {
			tok, isStr, err := p.scalar()
			if err != nil {
				return err
			}
			if col != nil {
				p.appendElem(col, tok, isStr)
			}
		}
		elem++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ',' {
			p.i++
			p.ws()
		}
	}
	if p.i >= len(p.b) {
		return p.fail("unterminated array")
	}
	p.i++ // ]
	return nil
}

// padArrays gives every array column under prefix n elements in the
// current row, so members missing from one object keep the arrays aligned.
func (p *parser) padArrays(prefix string, n int) {
	idx, ok := p.t.arrays[prefix]
	if !ok {
		for i, c := range p.t.cols {
			if (c.kind == kArrString || c.kind == kArrUint) && strings.HasPrefix(c.name, prefix) {
				idx = append(idx, i)
			}
		}
		p.t.arrays[prefix] = idx
	}
	row := p.t.rows
	for _, i := range idx {
		c := p.t.cols[i]
		if c.length() == row {
			c.appendZero()
		}
		switch c.kind {
		case kArrString:
			for len(c.astr[row]) < n {
				c.astr[row] = append(c.astr[row], "")
			}
		case kArrUint:
			for len(c.au[row]) < n {
				c.au[row] = append(c.au[row], 0)
			}
		}
	}
}

// appendElem appends one scalar to the current row's array in col.
func (p *parser) appendElem(col *colBuf, tok string, isStr bool) {
	row := p.t.rows
	switch col.kind {
	case kArrString:
		if col.length() == row {
			col.astr = append(col.astr, []string{})
		}
		col.astr[row] = append(col.astr[row], tok)
	case kArrUint:
		if col.length() == row {
			col.au = append(col.au, []uint64{})
		}
		v, _ := parseUint(tok)
		col.au[row] = append(col.au[row], v)
	default:
		// A scalar column given an array: the first element wins.
		if col.length() == row {
			_ = p.set(col, tok, isStr)
		}
	}
}

func (p *parser) setString(col *colBuf, s string) {
	if col.length() == p.t.rows {
		col.str = append(col.str, s)
	}
}

func parseUint(tok string) (uint64, bool) {
	if tok == "true" {
		return 1, true
	}
	if tok == "false" || tok == "null" {
		return 0, true
	}
	v, err := strconv.ParseUint(tok, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(tok, 64)
		if ferr != nil || f < 0 || f > math.MaxUint64 {
			return 0, false
		}
		return uint64(f), true
	}
	return v, true
}

// set stores a scalar in col for the current row (the first value wins).
func (p *parser) set(col *colBuf, tok string, isStr bool) error {
	if col.kind == kArrString || col.kind == kArrUint {
		// A member of an object inside an array (dns.answers[].rdata): one
		// element more in this row's array.
		p.appendElem(col, tok, isStr)
		return nil
	}
	if col.length() != p.t.rows {
		return nil
	}
	switch col.kind {
	case kString:
		if !isStr && tok == "null" {
			tok = ""
		}
		col.str = append(col.str, tok)
	case kIP:
		a, err := netip.ParseAddr(tok)
		if err != nil {
			col.ip = append(col.ip, zeroIP)
			return nil
		}
		b16 := a.As16()
		col.ip = append(col.ip, b16[:])
	case kTime:
		col.tm = append(col.tm, parseTime(tok))
	case kUint:
		v, _ := parseUint(tok)
		col.u = append(col.u, v)
	case kInt:
		v, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			f, _ := strconv.ParseFloat(tok, 64)
			v = int64(f)
		}
		col.i = append(col.i, v)
	case kFloat:
		v, _ := strconv.ParseFloat(tok, 64)
		col.f = append(col.f, v)
	}
	return nil
}

// parseTime reads the event timestamps: RFC 3339 with a zone, or a bare
// "2006-01-02T15:04:05" (UTC), as the TLS certificate dates are written.
func parseTime(s string) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC()
	}
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return t
	}
	return time.Unix(0, 0).UTC()
}

// scalar reads a string, number, true, false or null; strings are returned
// unescaped with isStr set.
func (p *parser) scalar() (tok string, isStr bool, err error) {
	if p.b[p.i] == '"' {
		s, err := p.str()
		return s, true, err
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			break
		}
		p.i++
	}
	if p.i == start {
		return "", false, p.fail("empty value")
	}
	return string(p.b[start:p.i]), false, nil
}

// str reads a JSON string and unescapes it.
func (p *parser) str() (string, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", p.fail(`want "`)
	}
	p.i++
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		case '\\':
			return p.strSlow(start)
		}
		p.i++
	}
	return "", p.fail("unterminated string")
}

func (p *parser) strSlow(start int) (string, error) {
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			break
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					if lo, ok := p.hex4(); ok {
						r2 = lo
					} else {
						p.i = save
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", p.fail("bad escape")
		}
	}
	return "", p.fail("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// skip steps over one value of any kind.
func (p *parser) skip() error {
	if p.i >= len(p.b) {
		return p.fail("missing value")
	}
	switch p.b[p.i] {
	case '"':
		_, err := p.str()
		return err
	case '{', '[':
		depth := 0
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				if _, err := p.str(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return nil
				}
			}
			p.i++
		}
		return p.fail("unterminated value")
	}
	_, _, err := p.scalar()
	return err
}

// eventType returns the event_type of a line written by detect.Event.AppendJSON.
func eventType(line []byte) string {
	const key = `"event_type":"`
	i := strings.Index(string(line[:min(len(line), 96)]), key)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] != '"' && rest[j] != '\\' {
		j++
	}
	return string(rest[:j])
}

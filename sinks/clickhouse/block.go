package clickhouse

import (
	"bytes"
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

	lc   bool              // LowCardinality: values are interned
	seen map[string]string // intern table (bounded)
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
	nameBuf []byte   // the parser's name buffer, kept between rows
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
		lc := strings.Contains(c.Type, "LowCardinality(")
		t.cols = append(t.cols, &colBuf{name: c.Name, kind: k, bits: bits, lc: lc})
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
	p := parser{b: line, t: t, name: t.nameBuf[:0]}
	p.ws()
	err := p.object(0)
	t.nameBuf = p.name[:0] // keep the grown buffer
	if err != nil {
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
// table's columns as it walks. Member names are built in one buffer
// (prefix_key) and looked up without allocating; values are copied out of
// the line only when a column keeps them. Not a validator beyond what it needs.
type parser struct {
	b    []byte
	i    int
	t    *table
	name []byte // flattened name of the member being read
}

func (p *parser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", errMalformed, what, p.i)
}

// object reads an object whose members are named under p.name[:prefix].
func (p *parser) object(prefix int) error {
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
		p.name = p.name[:prefix]
		if prefix > 0 {
			p.name = append(p.name, '_')
		}
		p.name = append(p.name, key...)
		if err := p.member(len(p.name)); err != nil {
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

// member reads the value of the member called p.name[:n].
func (p *parser) member(n int) error {
	if p.i >= len(p.b) {
		return p.fail("missing value")
	}
	ci, has := p.t.byName[string(p.name[:n])]
	var col *colBuf
	if has {
		col = p.t.cols[ci]
	}
	switch p.b[p.i] {
	case '{', '[':
		if col != nil && col.kind == kString { // a column for the whole member: keep its JSON
			start := p.i
			if err := p.skip(); err != nil {
				return err
			}
			p.setString(col, p.b[start:p.i])
			return nil
		}
		if p.b[p.i] == '{' {
			return p.object(n)
		}
		return p.array(n, col)
	}
	if col == nil {
		return p.skip()
	}
	tok, isStr, err := p.scalar()
	if err != nil {
		return err
	}
	p.set(col, tok, isStr)
	return nil
}

// array reads an array: scalars into the array column col, objects member
// by member into the array columns under p.name[:n]_.
func (p *parser) array(n int, col *colBuf) error {
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
		switch {
		case p.i < len(p.b) && p.b[p.i] == '{':
			if err := p.object(n); err != nil {
				return err
			}
			p.name = append(p.name[:n], '_')
			p.padArrays(len(p.name), elem+1)
		case p.i < len(p.b) && p.b[p.i] == '[':
			if err := p.skip(); err != nil {
				return err
			}
		default:
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

// padArrays gives every array column under the prefix p.name[:n] n
// elements in the current row, so members missing from one object keep
// the arrays aligned.
func (p *parser) padArrays(n, elems int) {
	idx, ok := p.t.arrays[string(p.name[:n])]
	if !ok {
		prefix := string(p.name[:n])
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
			for len(c.astr[row]) < elems {
				c.astr[row] = append(c.astr[row], "")
			}
		case kArrUint:
			for len(c.au[row]) < elems {
				c.au[row] = append(c.au[row], 0)
			}
		}
	}
}

// appendElem appends one scalar to the current row's array in col.
func (p *parser) appendElem(col *colBuf, tok []byte, isStr bool) {
	row := p.t.rows
	switch col.kind {
	case kArrString:
		if col.length() == row {
			col.astr = append(col.astr, []string{})
		}
		col.astr[row] = append(col.astr[row], col.intern(tok))
	case kArrUint:
		if col.length() == row {
			col.au = append(col.au, []uint64{})
		}
		v, _ := parseUint(tok)
		col.au[row] = append(col.au[row], v)
	default:
		// A scalar column given an array: the first element wins.
		if col.length() == row {
			p.set(col, tok, isStr)
		}
	}
}

func (p *parser) setString(col *colBuf, b []byte) {
	if col.length() == p.t.rows {
		col.str = append(col.str, string(b))
	}
}

// intern returns b as a string, shared with earlier equal values of a
// low-cardinality column (sensor, proto, rrtype…) so they cost no allocation.
func (c *colBuf) intern(b []byte) string {
	if !c.lc {
		return string(b)
	}
	if s, ok := c.seen[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(c.seen) < 4096 {
		if c.seen == nil {
			c.seen = map[string]string{}
		}
		c.seen[s] = s
	}
	return s
}

func parseUint(tok []byte) (uint64, bool) {
	var v uint64
	if len(tok) > 0 && len(tok) <= 19 {
		ok := true
		for _, c := range tok {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			v = v*10 + uint64(c-'0')
		}
		if ok {
			return v, true
		}
	}
	switch string(tok) {
	case "true":
		return 1, true
	case "false", "null":
		return 0, true
	}
	u, err := strconv.ParseUint(string(tok), 10, 64)
	if err == nil {
		return u, true
	}
	f, ferr := strconv.ParseFloat(string(tok), 64)
	if ferr != nil || f < 0 || f > math.MaxUint64 {
		return 0, false
	}
	return uint64(f), true
}

// set stores a scalar in col for the current row (the first value wins).
func (p *parser) set(col *colBuf, tok []byte, isStr bool) {
	if col.kind == kArrString || col.kind == kArrUint {
		// A member of an object inside an array (dns.answers[].rdata): one
		// element more in this row's array.
		p.appendElem(col, tok, isStr)
		return
	}
	if col.length() != p.t.rows {
		return
	}
	switch col.kind {
	case kString:
		if !isStr && string(tok) == "null" {
			tok = nil
		}
		col.str = append(col.str, col.intern(tok))
	case kIP:
		a, err := netip.ParseAddr(string(tok))
		if err != nil {
			col.ip = append(col.ip, zeroIP)
			return
		}
		b16 := a.As16()
		col.ip = append(col.ip, b16[:])
	case kTime:
		col.tm = append(col.tm, parseTime(tok))
	case kUint:
		v, _ := parseUint(tok)
		col.u = append(col.u, v)
	case kInt:
		v, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil {
			f, _ := strconv.ParseFloat(string(tok), 64)
			v = int64(f)
		}
		col.i = append(col.i, v)
	case kFloat:
		v, _ := strconv.ParseFloat(string(tok), 64)
		col.f = append(col.f, v)
	}
}

// parseTime reads the event timestamps: "2006-01-02T15:04:05.000000Z" (the
// events' form, read without time.Parse), any other RFC 3339 time, or a
// bare "2006-01-02T15:04:05" (UTC), as TLS certificate dates are written.
func parseTime(b []byte) time.Time {
	if len(b) == 27 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[19] == '.' && b[26] == 'Z' {
		num := func(s []byte) (int, bool) {
			v := 0
			for _, c := range s {
				if c < '0' || c > '9' {
					return 0, false
				}
				v = v*10 + int(c-'0')
			}
			return v, true
		}
		y, ok1 := num(b[0:4])
		mo, ok2 := num(b[5:7])
		d, ok3 := num(b[8:10])
		h, ok4 := num(b[11:13])
		mi, ok5 := num(b[14:16])
		se, ok6 := num(b[17:19])
		us, ok7 := num(b[20:26])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 {
			return time.Date(y, time.Month(mo), d, h, mi, se, us*1000, time.UTC)
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, string(b)); err == nil {
		return t.UTC()
	}
	if t, err := time.Parse("2006-01-02T15:04:05", string(b)); err == nil {
		return t
	}
	return time.Unix(0, 0).UTC()
}

// scalar reads a string, number, true, false or null; strings come back
// unescaped with isStr set. The slice is only valid until the next read.
func (p *parser) scalar() (tok []byte, isStr bool, err error) {
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
		return nil, false, p.fail("empty value")
	}
	return p.b[start:p.i], false, nil
}

// str reads a JSON string and unescapes it: a slice of the line when it
// has no escapes, else a new buffer.
func (p *parser) str() ([]byte, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, p.fail(`want "`)
	}
	p.i++
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '"':
			s := p.b[start:p.i]
			p.i++
			return s, nil
		case '\\':
			return p.strSlow(start)
		}
		p.i++
	}
	return nil, p.fail("unterminated string")
}

func (p *parser) strSlow(start int) ([]byte, error) {
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return out, nil
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
				return nil, p.fail("bad \\u escape")
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
			return nil, p.fail("bad escape")
		}
	}
	return nil, p.fail("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var v rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return v, true
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
	i := bytes.Index(line[:min(len(line), 96)], []byte(key))
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] != '"' && rest[j] != '\\' {
		j++
	}
	switch t := rest[:j]; string(t) { // the known types without allocating
	case "flow":
		return "flow"
	case "dns":
		return "dns"
	case "tls":
		return "tls"
	case "http":
		return "http"
	case "quic":
		return "quic"
	case "block":
		return "block"
	default:
		return string(t)
	}
}

package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the YAML file at path into out, strictly; see [Decode]. Error
// messages name the file as path.
func Load(path string, out any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return Decode(data, path, out)
}

// Decode decodes the YAML document data into out, a non-nil pointer, usually
// to a struct already holding defaults. Keys absent from data keep what out
// holds. name is used in error messages (the file name).
//
// Unknown and duplicate keys, values of the wrong type and documents that are
// not a mapping are errors. All errors are returned at once, sorted by line,
// as a join of [*Error] values. On error, out may have been partly updated.
func Decode(data []byte, name string, out any) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config: Decode needs a non-nil pointer, not %T", out)
	}
	root, err := parse(data, name)
	if err != nil {
		return errors.Join(err) // joined like all others, for callers that split them
	}
	if root == nil {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return errors.Join(&Error{Source: name, Line: root.Line, Column: root.Column,
			Err: fmt.Errorf("the document must be a mapping of keys, not a %s", kindName(root))})
	}
	d := newDecoder(name)
	d.budget = budgetBase + budgetRatio*countNodes(root)
	d.decode(root, rv.Elem(), "")
	return d.errs.join()
}

// parse returns the root node of the single document in data, or nil for a
// document without content (empty, only comments, or null).
func parse(data []byte, name string) (root *yaml.Node, err error) {
	// The parser is third-party code fed untrusted bytes; a panic there is
	// still a bad document, not a reason to crash.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &Error{Source: name, Err: fmt.Errorf("invalid YAML: parser failed: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(name, err)
	}
	// A config file holds one document. A trailing empty one ("---" at the
	// end) is tolerated.
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(name, err)
		}
		if n := content(&next); n != nil {
			return nil, &Error{Source: name, Line: n.Line, Column: n.Column,
				Err: errors.New("a second YAML document; a config file holds one")}
		}
	}
	return content(&doc), nil
}

// content returns a document's root node, or nil if the document is empty or
// null.
func content(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	n := doc.Content[0]
	if n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag {
		return nil
	}
	return n
}

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns yaml.v3's "yaml: line 3: did not find expected key" into
// an *Error with the line.
func syntaxError(name string, err error) error {
	msg := err.Error()
	line := 0
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{Source: name, Line: line, Err: fmt.Errorf("invalid YAML: %s", msg)}
}

const (
	nullTag  = "!!null"
	boolTag  = "!!bool"
	intTag   = "!!int"
	floatTag = "!!float"
	strTag   = "!!str"
	mergeTag = "!!merge"
)

// The decoder visits at most budgetBase + budgetRatio × (nodes in the
// document) nodes. Aliases can make a small document expand exponentially
// ("billion laughs"); a config that reuses anchors stays far below ten times
// its size.
const (
	budgetBase  = 10_000
	budgetRatio = 10
)

// countNodes counts the nodes of a tree without following aliases.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// decoder walks a node tree against Go values. It does not stop at the first
// error: every problem is recorded in errs with its path and position.
type decoder struct {
	errs      errorList
	budget    int // node visits left
	spent     int // node visits made
	exhausted bool
	active    map[*yaml.Node]bool // aliases being expanded, to catch an alias inside its own anchor
	onStack   map[*yaml.Node]bool // mappings and lists being decoded
}

func newDecoder(source string) *decoder {
	return &decoder{errs: errorList{source: source}, budget: budgetBase,
		active: make(map[*yaml.Node]bool), onStack: make(map[*yaml.Node]bool)}
}

// spend takes one unit of the budget and reports whether any was left.
func (d *decoder) spend(n *yaml.Node, path string) bool {
	if d.budget > 0 {
		d.budget--
		d.spent++
		return true
	}
	if !d.exhausted {
		d.exhausted = true
		d.errs.addf(n, path, "aliases expand the document too much (more than %d values)", d.spent)
	}
	return false
}

// decode stores node n into v, which must be settable. path names v in
// errors.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(n, path) {
		return
	}
	if n.Kind == yaml.AliasNode {
		d.alias(n, path, func(target *yaml.Node) { d.decode(target, v, path) })
		return
	}
	t := v.Type()
	if !v.CanSet() {
		d.errs.addf(n, path, "cannot set a value of type %s", t)
		return
	}
	if t == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag {
		// "key:" or "key: null" clears what can be nil and keeps what
		// cannot, like yaml.v3.
		switch v.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			v.Set(reflect.Zero(t))
		}
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if t == timeDurationType {
		var dur Duration
		if err := dur.UnmarshalYAML(n); err != nil {
			d.errs.add(n, path, err)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch p := v.Addr().Interface().(type) {
	case yaml.Unmarshaler:
		if err := p.UnmarshalYAML(n); err != nil {
			d.errs.add(n, path, err)
		}
		return
	case encoding.TextUnmarshaler:
		if n.Kind != yaml.ScalarNode {
			d.errs.addf(n, path, "cannot use %s as %s", describe(n), t)
			return
		}
		if err := p.UnmarshalText([]byte(n.Value)); err != nil {
			d.errs.addf(n, path, "cannot use %s as %s: %w", describe(n), t, err)
		}
		return
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		// Through aliases and merge keys a node can end up inside itself;
		// decoding it again would never end.
		if d.onStack[n] {
			d.errs.addf(n, path, "an alias or merge key makes this value contain itself")
			return
		}
		d.onStack[n] = true
		defer delete(d.onStack, n)
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Array:
		d.decodeArray(n, v, path)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			d.errs.addf(n, path, "cannot decode into interface type %s", t)
			return
		}
		var x any
		if err := n.Decode(&x); err != nil {
			d.errs.add(n, path, err)
			return
		}
		if x == nil {
			v.Set(reflect.Zero(t))
		} else {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errs.addf(n, path, "cannot use %s as string", describe(n))
			return
		}
		// Any scalar is text: "version: 2026-11-01" and "name: 123" are
		// the strings they look like.
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := parseBool(n)
		if err != nil {
			d.errs.add(n, path, err)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if err := setInt(n, v); err != nil {
			d.errs.add(n, path, err)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if err := setUint(n, v); err != nil {
			d.errs.add(n, path, err)
		}
	case reflect.Float32, reflect.Float64:
		if err := setFloat(n, v); err != nil {
			d.errs.add(n, path, err)
		}
	default:
		d.errs.addf(n, path, "cannot decode into Go type %s", t)
	}
}

// alias follows alias node n and calls f with its target, reporting an alias
// that refers to the node holding it.
func (d *decoder) alias(n *yaml.Node, path string, f func(*yaml.Node)) {
	if n.Alias == nil {
		d.errs.addf(n, path, "alias %q refers to no anchor", n.Value)
		return
	}
	if d.active[n] {
		d.errs.addf(n, path, "alias %q is inside its own anchor", n.Value)
		return
	}
	d.active[n] = true
	f(n.Alias)
	delete(d.active, n)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errs.addf(n, path, "cannot use %s as mapping", describe(n))
		return
	}
	info, err := structInfoOf(v.Type())
	if err != nil {
		d.errs.add(n, path, err)
		return
	}
	for _, p := range d.pairs(n, path) {
		key := p.key.Value
		kpath := joinKey(path, key)
		i, ok := info.byKey[key]
		if !ok {
			if info.inlineMap != nil {
				m, _ := fieldByIndex(v, info.inlineMap, true)
				d.mapEntry(p, m, kpath)
				continue
			}
			d.errs.addf(p.key, kpath, "unknown key (known keys: %s)", info.known)
			continue
		}
		fv, _ := fieldByIndex(v, info.fields[i].index, true)
		d.decode(p.value, fv, kpath)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errs.addf(n, path, "cannot use %s as mapping", describe(n))
		return
	}
	for _, p := range d.pairs(n, path) {
		d.mapEntry(p, v, joinKey(path, p.key.Value))
	}
}

// mapEntry stores one key/value pair into map m (allocated if nil). An entry
// already in the map is decoded into, so defaults inside it survive.
func (d *decoder) mapEntry(p pair, m reflect.Value, path string) {
	t := m.Type()
	before := len(d.errs.errs)
	k := reflect.New(t.Key()).Elem()
	d.decode(p.key, k, path)
	if len(d.errs.errs) > before {
		return
	}
	if m.IsNil() {
		m.Set(reflect.MakeMap(t))
	}
	e := reflect.New(t.Elem()).Elem()
	if old := m.MapIndex(k); old.IsValid() {
		e.Set(old)
	}
	d.decode(p.value, e, path)
	m.SetMapIndex(k, e)
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errs.addf(n, path, "cannot use %s as list", describe(n))
		return
	}
	// A list replaces the default list; items start from their zero value.
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), joinIndex(path, i))
	}
	v.Set(s)
}

func (d *decoder) decodeArray(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errs.addf(n, path, "cannot use %s as list", describe(n))
		return
	}
	if len(n.Content) != v.Len() {
		d.errs.addf(n, path, "want a list of %d items, got %d", v.Len(), len(n.Content))
		return
	}
	for i, item := range n.Content {
		d.decode(item, v.Index(i), joinIndex(path, i))
	}
}

// pair is one key/value entry of a mapping.
type pair struct{ key, value *yaml.Node }

// pairs lists the entries of mapping node n, with merge keys ("<<: *base")
// expanded: explicit keys win over merged ones, and earlier merged mappings
// over later ones. Duplicate keys and keys that are not scalars are reported
// and left out.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	seen := make(map[string]*yaml.Node)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil && k.Alias.Kind == yaml.ScalarNode {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			d.errs.addf(k, path, "a key must be a scalar, not a %s", kindName(k))
			continue
		}
		if k.ShortTag() == mergeTag {
			merges = append(merges, val)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errs.addf(k, joinKey(path, k.Value), "duplicate key (first at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, val})
	}
	if len(merges) == 0 {
		return out
	}
	d.active[n] = true // a merged mapping may merge this one again
	defer delete(d.active, n)
	for _, m := range merges {
		for _, src := range d.mergeSources(m, path) {
			for _, p := range d.pairs(src, path) {
				if !d.spend(p.key, path) {
					return out
				}
				if _, shadowed := seen[p.key.Value]; shadowed {
					continue
				}
				seen[p.key.Value] = p.key
				out = append(out, p)
			}
		}
	}
	return out
}

// mergeSources returns the mappings named by the value of a merge key: a
// mapping, or a list of mappings, usually given as aliases.
func (d *decoder) mergeSources(m *yaml.Node, path string) []*yaml.Node {
	var out []*yaml.Node
	var add func(n *yaml.Node, top bool)
	add = func(n *yaml.Node, top bool) {
		if !d.spend(n, path) {
			return
		}
		switch {
		case n.Kind == yaml.AliasNode:
			d.alias(n, path, func(t *yaml.Node) { add(t, top) })
		case n.Kind == yaml.MappingNode:
			if d.active[n] {
				d.errs.addf(n, path, "a mapping cannot merge itself")
				return
			}
			out = append(out, n)
		case n.Kind == yaml.SequenceNode && top:
			for _, item := range n.Content {
				add(item, false)
			}
		default:
			d.errs.addf(n, path, "cannot merge %s: want a mapping or a list of mappings", describe(n))
		}
	}
	add(m, true)
	return out
}

// kindName names a node kind in messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "node"
}

func parseBool(n *yaml.Node) (bool, error) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case boolTag:
			return strconv.ParseBool(strings.ToLower(n.Value))
		case strTag:
			// YAML 1.1 spellings, accepted unquoted like yaml.v3 does.
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				switch strings.ToLower(n.Value) {
				case "yes", "on", "y":
					return true, nil
				case "no", "off", "n":
					return false, nil
				}
			}
		}
	}
	return false, fmt.Errorf("cannot use %s as boolean", describe(n))
}

// intText returns the text of an integer scalar in a form strconv parses with
// base 0 (yaml.v3 allows "_" separators), or false if n is not an integer.
func intText(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != intTag {
		return "", false
	}
	return strings.ReplaceAll(n.Value, "_", ""), true
}

func setInt(n *yaml.Node, v reflect.Value) error {
	s, ok := intText(n)
	if !ok {
		return fmt.Errorf("cannot use %s as integer", describe(n))
	}
	i, err := strconv.ParseInt(s, 0, 64)
	if err != nil || v.OverflowInt(i) {
		bits := v.Type().Bits()
		return fmt.Errorf("cannot use %s as integer: out of range [%d, %d]", describe(n),
			int64(-1)<<(bits-1), int64(uint64(1)<<(bits-1)-1))
	}
	v.SetInt(i)
	return nil
}

func setUint(n *yaml.Node, v reflect.Value) error {
	s, ok := intText(n)
	if !ok {
		return fmt.Errorf("cannot use %s as non-negative integer", describe(n))
	}
	u, err := strconv.ParseUint(s, 0, 64)
	if err != nil || v.OverflowUint(u) {
		bits := v.Type().Bits()
		return fmt.Errorf("cannot use %s as non-negative integer: out of range [0, %d]", describe(n),
			uint64(math.MaxUint64)>>(64-bits))
	}
	v.SetUint(u)
	return nil
}

func setFloat(n *yaml.Node, v reflect.Value) error {
	bad := fmt.Errorf("cannot use %s as number", describe(n))
	if n.Kind != yaml.ScalarNode {
		return bad
	}
	var f float64
	switch n.ShortTag() {
	case intTag:
		s, _ := intText(n)
		i, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(s, 0, 64)
			if uerr != nil {
				return bad
			}
			f = float64(u)
		} else {
			f = float64(i)
		}
	case floatTag:
		s := strings.ToLower(strings.ReplaceAll(n.Value, "_", ""))
		switch s {
		case ".inf", "+.inf":
			f = math.Inf(1)
		case "-.inf":
			f = math.Inf(-1)
		case ".nan":
			f = math.NaN()
		default:
			var err error
			if f, err = strconv.ParseFloat(s, 64); err != nil {
				return bad
			}
		}
	default:
		return bad
	}
	if v.OverflowFloat(f) {
		return fmt.Errorf("cannot use %s as number: out of range for %s", describe(n), v.Type())
	}
	v.SetFloat(f)
	return nil
}

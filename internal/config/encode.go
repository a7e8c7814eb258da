package config

import (
	"bytes"
	"cmp"
	"encoding"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Marshal renders in (a struct or a pointer to one) as YAML, the way
// `nunchi config dump` shows the effective config: every key, in struct order
// (",inline" fields in place, map keys sorted), with durations and sizes in
// their human form, two-space indentation, and lists of scalars on one line.
// Unlike yaml.Marshal it ignores ",omitempty": a dump shows every setting.
// What Marshal writes, [Decode] reads back to the same value.
func Marshal(in any) ([]byte, error) {
	n, err := encodeAny(in)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeAny builds the node tree for in, from an addressable copy so that
// methods on pointer receivers are found.
func encodeAny(in any) (*yaml.Node, error) {
	rv := reflect.ValueOf(in)
	if !rv.IsValid() {
		return nullNode(), nil
	}
	if !rv.CanAddr() {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		rv = p.Elem()
	}
	return encode(rv, 0)
}

// maxEncodeDepth stops a pointer cycle or a MarshalYAML that returns its own
// type.
const maxEncodeDepth = 100

func nullNode() *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: nullTag, Value: "null"} }

func scalarNode(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}

// stringNode is a string scalar. yaml.v3 quotes a string when it would read
// back as another type, except for "<<", which would read back as a merge key.
// It writes every multi-line string as a literal block, which loses text in
// some cases ("\n" comes back as ""), so only plain text gets a block here
// and the rest is double-quoted with escapes.
func stringNode(s string) *yaml.Node {
	n := scalarNode(strTag, s)
	switch {
	case s == "<<":
		n.Style = yaml.DoubleQuotedStyle
	case strings.Contains(s, "\n"):
		if plainBlock(s) {
			n.Style = yaml.LiteralStyle
		} else {
			n.Style = yaml.DoubleQuotedStyle
		}
	}
	return n
}

// plainBlock reports whether s reads back unchanged from a literal block:
// printable text whose lines have no leading or trailing blanks except for
// indentation after the first line, and at most one final newline.
func plainBlock(s string) bool {
	body := strings.TrimSuffix(s, "\n")
	if body == "" || strings.HasSuffix(body, "\n") {
		return false
	}
	for i, line := range strings.Split(body, "\n") {
		if line == "" || strings.TrimRight(line, " \t") != line ||
			(i == 0 && strings.TrimLeft(line, " \t") != line) {
			return false
		}
		for _, r := range line {
			if !unicode.IsPrint(r) && r != '\t' || r == '\u00a0' || r == '\ufeff' {
				return false
			}
		}
	}
	return true
}

func encode(v reflect.Value, depth int) (*yaml.Node, error) {
	if depth > maxEncodeDepth {
		return nil, fmt.Errorf("config: marshal: nested more than %d levels (a pointer cycle?)", maxEncodeDepth)
	}
	if !v.IsValid() {
		return nullNode(), nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nullNode(), nil
		}
	}
	t := v.Type()
	if t == nodeType {
		n := v.Interface().(yaml.Node)
		return &n, nil
	}
	if t == timeDurationType {
		return stringNode(Duration(v.Int()).String()), nil
	}
	if m, ok := asInterface[yaml.Marshaler](v, marshalerType); ok {
		x, err := m.MarshalYAML()
		if err != nil {
			return nil, fmt.Errorf("config: marshal %s: %w", t, err)
		}
		switch x := x.(type) {
		case *yaml.Node:
			return x, nil
		case yaml.Node:
			return &x, nil
		}
		return encode(reflect.ValueOf(x), depth+1)
	}
	if m, ok := asInterface[encoding.TextMarshaler](v, textMarshalType); ok {
		b, err := m.MarshalText()
		if err != nil {
			return nil, fmt.Errorf("config: marshal %s: %w", t, err)
		}
		return stringNode(string(b)), nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return encode(v.Elem(), depth+1)
	case reflect.Struct:
		return encodeStruct(v, depth)
	case reflect.Map:
		return encodeMap(v, depth, &yaml.Node{Kind: yaml.MappingNode})
	case reflect.Slice, reflect.Array:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		flow := true
		for i := 0; i < v.Len(); i++ {
			item, err := encode(v.Index(i), depth+1)
			if err != nil {
				return nil, err
			}
			flow = flow && item.Kind == yaml.ScalarNode && !strings.Contains(item.Value, "\n")
			n.Content = append(n.Content, item)
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
		return n, nil
	case reflect.String:
		return stringNode(v.String()), nil
	case reflect.Bool:
		return scalarNode(boolTag, strconv.FormatBool(v.Bool())), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalarNode(intTag, strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return scalarNode(intTag, strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		return scalarNode(floatTag, formatFloat(v.Float(), t.Bits())), nil
	}
	return nil, fmt.Errorf("config: marshal: unsupported Go type %s", t)
}

// asInterface returns v (or its address) as an I if it implements it.
func asInterface[I any](v reflect.Value, it reflect.Type) (I, bool) {
	var zero I
	if v.Type().Implements(it) && v.CanInterface() {
		i, ok := v.Interface().(I)
		return i, ok
	}
	if v.CanAddr() && reflect.PointerTo(v.Type()).Implements(it) && v.Addr().CanInterface() {
		i, ok := v.Addr().Interface().(I)
		return i, ok
	}
	return zero, false
}

// formatFloat writes f so that YAML reads it back as a float: "1.0" rather
// than "1", ".inf" rather than "+Inf".
func formatFloat(f float64, bits int) string {
	switch {
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case math.IsNaN(f):
		return ".nan"
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func encodeStruct(v reflect.Value, depth int) (*yaml.Node, error) {
	info, err := structInfoOf(v.Type())
	if err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range info.fields {
		fv, ok := fieldByIndex(v, f.index, false)
		if !ok {
			// Under a nil ",inline" pointer: render the zero value, which
			// is what decoding these keys would start from.
			fv = reflect.New(fieldType(v.Type(), f.index)).Elem()
		}
		val, err := encode(fv, depth+1)
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content, stringNode(f.key), val)
	}
	if info.inlineMap != nil {
		if m, ok := fieldByIndex(v, info.inlineMap, false); ok {
			if _, err := encodeMap(m, depth, n); err != nil {
				return nil, err
			}
		}
	}
	if len(n.Content) == 0 {
		n.Style = yaml.FlowStyle
	}
	return n, nil
}

// fieldType is the type of the field at index, following pointers.
func fieldType(t reflect.Type, index []int) reflect.Type {
	for i, x := range index {
		if i > 0 {
			t = deref(t)
		}
		t = t.Field(x).Type
	}
	return t
}

// encodeMap appends the entries of map v to n, sorted by key.
func encodeMap(v reflect.Value, depth int, n *yaml.Node) (*yaml.Node, error) {
	type entry struct {
		k            reflect.Value
		knode, vnode *yaml.Node
	}
	var entries []entry
	iter := v.MapRange()
	for iter.Next() {
		kn, err := encode(iter.Key(), depth+1)
		if err != nil {
			return nil, err
		}
		if kn.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("config: marshal: map key of type %s is not a scalar", iter.Key().Type())
		}
		vn, err := encode(iter.Value(), depth+1)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{iter.Key(), kn, vn})
	}
	slices.SortFunc(entries, func(a, b entry) int { return compareKeys(a.k, b.k, a.knode.Value, b.knode.Value) })
	for _, e := range entries {
		n.Content = append(n.Content, e.knode, e.vnode)
	}
	if len(n.Content) == 0 {
		n.Style = yaml.FlowStyle
	}
	return n, nil
}

// compareKeys orders numeric map keys by value, others by their text.
func compareKeys(a, b reflect.Value, as, bs string) int {
	switch a.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cmp.Compare(a.Int(), b.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return cmp.Compare(a.Uint(), b.Uint())
	case reflect.Float32, reflect.Float64:
		return cmp.Compare(a.Float(), b.Float())
	}
	return strings.Compare(as, bs)
}

// renderInline renders v as one line of flow YAML, for KeyInfo.Default.
func renderInline(v reflect.Value) string {
	if !v.CanAddr() {
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		v = p.Elem()
	}
	n, err := encode(v, 0)
	if err != nil {
		return ""
	}
	setFlow(n)
	b, err := yaml.Marshal(n)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style |= yaml.FlowStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}

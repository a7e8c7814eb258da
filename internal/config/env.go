package config

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ApplyEnv sets keys of out (a non-nil pointer to a struct, usually after
// [Load]) from environment variables. environ holds "NAME=value" entries, as
// from os.Environ().
//
// A variable is PREFIX_ followed by the key path, its keys upper-cased and
// joined by "_" (a "-" or "." inside a key also becomes "_"): for prefix
// "NUNCHI", NUNCHI_CAPTURE_SHARDS=4 sets capture.shards and
// NUNCHI_SINKS_KAFKA_SPOOL_DIR sets sinks.kafka.spool_dir. Where "_" could
// split a name several ways, the struct is walked trying the longest key
// first. A number segment picks an existing list item
// (NUNCHI_RULES_LISTS_0_ACTION), and a segment under a map is a map key,
// lower-cased (NUNCHI_LABELS_SITE=x sets labels.site). Lists of structs and
// the keys of an ",inline" map cannot be set whole from the environment.
//
// Values are read as YAML scalars of the key's type, so NUNCHI_CAPTURE_SHARDS
// takes "4", a Duration "30s" and a ByteSize "1GiB"; a string key takes the
// value verbatim. A list takes comma-separated items ("eth1, eth2"); an empty
// value is an empty list.
//
// Every variable that starts with PREFIX_ must name a key: a misspelt variable
// is an error, like a misspelt key in the file. A caller that reserves other
// PREFIX_ names (NUNCHI_CONFIG) removes them from environ first. Variables
// are applied in name order; errors name the variable, the key path and the
// reason, and are all returned, joined (see [Error]).
func ApplyEnv(prefix string, environ []string, out any) error {
	if prefix == "" {
		return errors.New("config: ApplyEnv needs a prefix")
	}
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("config: ApplyEnv needs a non-nil pointer, not %T", out)
	}
	pfx := strings.ToUpper(prefix) + "_"
	type variable struct{ name, value string }
	var vars []variable
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(strings.ToUpper(name), pfx) {
			vars = append(vars, variable{name, value})
		}
	}
	slices.SortStableFunc(vars, func(a, b variable) int { return cmp.Compare(a.name, b.name) })

	var errs errorList
	for _, ev := range vars {
		rest := strings.ToUpper(ev.name)[len(pfx):]
		route, ok := matchEnv(rv.Type(), rest)
		if !ok {
			errs.append(&Error{Source: ev.name, Err: errors.New("names no config key")})
			continue
		}
		d := newDecoder(ev.name)
		applyEnv(d, rv, route, "", ev.value)
		for _, e := range d.errs.errs {
			errs.append(e)
		}
	}
	return errs.join()
}

type stepKind uint8

const (
	stepField stepKind = iota
	stepIndex
	stepMapKey
)

// envStep is one step from a value towards the key a variable names.
type envStep struct {
	kind  stepKind
	index []int  // stepField: the field index (through ",inline" structs)
	key   string // stepField: the YAML key; stepMapKey: the map key
	item  int    // stepIndex: the list index
}

// envName is how a key is spelt in a variable name.
var envName = strings.NewReplacer("-", "_", ".", "_")

// matchEnv finds the route from a value of type t to the key that the rest
// of a variable name (upper case, no prefix) names. It works on types only.
func matchEnv(t reflect.Type, rest string) ([]envStep, bool) {
	t = deref(t)
	if rest == "" {
		return nil, isEnvLeaf(t)
	}
	if isEnvLeaf(t) {
		return nil, false
	}
	switch t.Kind() {
	case reflect.Struct:
		info, err := structInfoOf(t)
		if err != nil {
			return nil, false
		}
		type candidate struct {
			f    field
			name string
		}
		var cands []candidate
		for _, f := range info.fields {
			name := strings.ToUpper(envName.Replace(f.key))
			if rest == name || strings.HasPrefix(rest, name+"_") {
				cands = append(cands, candidate{f, name})
			}
		}
		// Longest key first: with keys "spool" and "spool_dir",
		// SPOOL_DIR is spool_dir.
		slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(len(b.name), len(a.name)) })
		for _, c := range cands {
			sub := strings.TrimPrefix(rest[len(c.name):], "_")
			if steps, ok := matchEnv(fieldType(t, c.f.index), sub); ok {
				return append([]envStep{{kind: stepField, index: c.f.index, key: c.f.key}}, steps...), true
			}
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, false
		}
		// Longest key first: try all of rest as the key, then cut at each
		// "_" from the right.
		for i := len(rest); i > 0; i = strings.LastIndex(rest[:i], "_") {
			sub := strings.TrimPrefix(rest[i:], "_")
			if steps, ok := matchEnv(t.Elem(), sub); ok {
				return append([]envStep{{kind: stepMapKey, key: strings.ToLower(rest[:i])}}, steps...), true
			}
		}
	case reflect.Slice, reflect.Array:
		seg, sub, _ := strings.Cut(rest, "_")
		if !isDigits(seg) {
			return nil, false
		}
		i, err := strconv.Atoi(seg)
		if err != nil {
			return nil, false
		}
		if steps, ok := matchEnv(t.Elem(), sub); ok {
			return append([]envStep{{kind: stepIndex, item: i}}, steps...), true
		}
	}
	return nil, false
}

// isEnvLeaf reports whether a variable can set a value of type t (pointers
// stripped) directly: a scalar, a value type, or a list of those.
func isEnvLeaf(t reflect.Type) bool {
	if isScalarLeaf(t) {
		return true
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return isScalarLeaf(deref(t.Elem()))
	}
	return false
}

func isScalarLeaf(t reflect.Type) bool {
	if isValueType(t) {
		return true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Interface,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// applyEnv follows route from v, allocating nil pointers and maps on the way,
// and decodes value into the key at its end.
func applyEnv(d *decoder, v reflect.Value, route []envStep, path, value string) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if len(route) == 0 {
		d.decode(envNode(v.Type(), value), v, path)
		return
	}
	s := route[0]
	switch s.kind {
	case stepField:
		fv, _ := fieldByIndex(v, s.index, true)
		applyEnv(d, fv, route[1:], joinKey(path, s.key), value)
	case stepIndex:
		p := joinIndex(path, s.item)
		if s.item >= v.Len() {
			d.errs.addf(nil, p, "no such list item (the list has %d)", v.Len())
			return
		}
		applyEnv(d, v.Index(s.item), route[1:], p, value)
	case stepMapKey:
		t := v.Type()
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		k := reflect.ValueOf(s.key).Convert(t.Key())
		e := reflect.New(t.Elem()).Elem()
		if old := v.MapIndex(k); old.IsValid() {
			e.Set(old)
		}
		applyEnv(d, e, route[1:], joinKey(path, s.key), value)
		v.SetMapIndex(k, e)
	}
}

// envNode turns a variable's value into the node the decoder expects for
// type t: a scalar, or for a list a sequence of the comma-separated items.
func envNode(t reflect.Type, value string) *yaml.Node {
	dt := deref(t)
	if !isScalarLeaf(dt) && (dt.Kind() == reflect.Slice || dt.Kind() == reflect.Array) {
		n := &yaml.Node{Kind: yaml.SequenceNode}
		if strings.TrimSpace(value) != "" {
			for _, item := range strings.Split(value, ",") {
				n.Content = append(n.Content, envScalar(dt.Elem(), strings.TrimSpace(item)))
			}
		}
		return n
	}
	return envScalar(dt, value)
}

// envScalar makes a scalar node for value. Strings are taken verbatim; other
// values are resolved as YAML would resolve them, except that a variable never
// means null: "", "~" and "null" are text, and fail for a number.
func envScalar(t reflect.Type, value string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: value}
	dt := deref(t)
	if dt.Kind() == reflect.String && !isValueType(dt) {
		n.Tag = strTag
		return n
	}
	n.Tag = n.ShortTag()
	if n.Tag == nullTag {
		n.Tag = strTag
	}
	return n
}

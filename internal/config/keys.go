package config

import (
	"reflect"
)

// KeyInfo describes one settable key, for the config reference and for tests
// that keep the reference from drifting.
type KeyInfo struct {
	// Path is the key path. List items appear as "[]" and map entries as
	// "*": "capture.shards", "rules.lists[].id", "sinks.outputs.*.path".
	Path string
	// Type is the Go type: "int", "[]string", "config.Duration".
	Type string
	// Default is the value held by the struct given to Keys, as one line of
	// flow YAML: "0", "30s", "[eth1]", `""`. Under "[]" and "*" it is the
	// zero value, which is what a new item starts from.
	Default string
	// Doc is the field's `doc:"…"` struct tag. Go comments are not
	// available at run time; a tag is how a description travels with the
	// field.
	Doc string
}

// Keys lists every key that can be set in a config shaped like in (a struct or
// a pointer to one), depth first in struct order. Nested structs are not keys
// themselves, their fields are; lists and maps of structs are listed as a key
// (they can be replaced whole) and then their items' keys. A recursive type
// is listed once, not walked into again.
func Keys(in any) []KeyInfo {
	v := reflect.ValueOf(in)
	if !v.IsValid() {
		return nil
	}
	var out []KeyInfo
	keys(v.Type(), v, "", "", map[reflect.Type]bool{}, &out)
	return out
}

// keys appends the keys of a value of type t at path. v holds the value, or
// is invalid where only the type is known (the zero value is then used).
func keys(t reflect.Type, v reflect.Value, path, doc string, inStack map[reflect.Type]bool, out *[]KeyInfo) {
	for t.Kind() == reflect.Pointer && isSection(t) {
		t = t.Elem()
		if v.IsValid() {
			if v.IsNil() {
				v = reflect.Value{}
			} else {
				v = v.Elem()
			}
		}
	}
	if !v.IsValid() {
		v = reflect.New(t).Elem()
	}
	leaf := func() {
		if path != "" {
			*out = append(*out, KeyInfo{Path: path, Type: t.String(), Default: renderInline(v), Doc: doc})
		}
	}
	if inStack[t] {
		leaf() // a recursive type: list it, do not walk it again
		return
	}
	inStack[t] = true
	defer delete(inStack, t)

	switch {
	case isSection(t):
		info, err := structInfoOf(t)
		if err != nil {
			leaf()
			return
		}
		for _, f := range info.fields {
			ft := fieldType(t, f.index)
			fv, ok := fieldByIndex(v, f.index, false)
			if !ok {
				fv = reflect.Value{}
			}
			keys(ft, fv, joinKey(path, f.key), f.doc, inStack, out)
		}
		if info.inlineMap != nil {
			mt := fieldType(t, info.inlineMap)
			keys(mt.Elem(), reflect.Value{}, joinWildcard(path), "", inStack, out)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && !isValueType(t) && isSection(t.Elem()):
		leaf()
		if !inStack[deref(t.Elem())] { // a recursive type is listed once
			keys(t.Elem(), reflect.Value{}, path+"[]", "", inStack, out)
		}
	case t.Kind() == reflect.Map && !isValueType(t) && isSection(t.Elem()):
		leaf()
		if !inStack[deref(t.Elem())] {
			keys(t.Elem(), reflect.Value{}, joinWildcard(path), "", inStack, out)
		}
	default:
		leaf()
	}
}

// joinWildcard appends "any map key" to a key path.
func joinWildcard(path string) string {
	if path == "" {
		return "*"
	}
	return path + ".*"
}

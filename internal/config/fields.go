package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// field is one YAML key of a struct, after ",inline" fields were flattened into
// their parent.
type field struct {
	key   string // the YAML key
	index []int  // path from the outer struct; steps after the first may pass through pointers
	doc   string // the field's `doc:"…"` tag
}

// structInfo describes how a struct type maps to a YAML mapping.
type structInfo struct {
	fields    []field        // in struct order, inline fields in place
	byKey     map[string]int // key → position in fields
	inlineMap []int          // index of the ",inline" map that takes unknown keys; nil if none
	inlines   [][]int        // indexes of the ",inline" structs (or pointers to structs), outermost first
	known     string         // "a, b, c": the keys in struct order, for error messages
}

var structInfos sync.Map // reflect.Type → structInfoResult

type structInfoResult struct {
	info *structInfo
	err  error
}

// structInfoOf returns the cached key layout of struct type t. The error
// reports a struct that cannot be mapped (duplicate keys, a bad ",inline").
func structInfoOf(t reflect.Type) (*structInfo, error) {
	if r, ok := structInfos.Load(t); ok {
		r := r.(structInfoResult)
		return r.info, r.err
	}
	info := &structInfo{byKey: make(map[string]int)}
	err := info.collect(t, nil, map[reflect.Type]bool{})
	if err == nil {
		keys := make([]string, len(info.fields))
		for i, f := range info.fields {
			keys[i] = f.key
		}
		info.known = strings.Join(keys, ", ")
	} else {
		info = nil
		err = fmt.Errorf("type %s: %w", t, err)
	}
	structInfos.Store(t, structInfoResult{info, err})
	return info, err
}

func (info *structInfo) collect(t reflect.Type, prefix []int, inStack map[reflect.Type]bool) error {
	if inStack[t] {
		return fmt.Errorf("recursive ,inline through %s", t)
	}
	inStack[t] = true
	defer delete(inStack, t)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		inline := false
		for _, o := range strings.Split(opts, ",") {
			if o == "inline" {
				inline = true
			}
		}
		index := append(append([]int(nil), prefix...), i)
		if inline {
			ft := sf.Type
			switch {
			case ft.Kind() == reflect.Struct && (sf.IsExported() || sf.Anonymous):
				info.inlines = append(info.inlines, index)
				if err := info.collect(ft, index, inStack); err != nil {
					return err
				}
			case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct && sf.IsExported():
				info.inlines = append(info.inlines, index)
				if err := info.collect(ft.Elem(), index, inStack); err != nil {
					return err
				}
			case ft.Kind() == reflect.Map && sf.IsExported():
				if info.inlineMap != nil {
					return fmt.Errorf("field %s: more than one ,inline map", sf.Name)
				}
				info.inlineMap = index
			default:
				return fmt.Errorf("field %s: ,inline needs an exported struct, pointer to struct or map", sf.Name)
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name) // what yaml.v3 does
		}
		if _, dup := info.byKey[name]; dup {
			return fmt.Errorf("key %q is used by two fields", name)
		}
		info.byKey[name] = len(info.fields)
		info.fields = append(info.fields, field{key: name, index: index, doc: sf.Tag.Get("doc")})
	}
	return nil
}

// fieldByIndex is reflect.Value.FieldByIndex for an addressable struct v that
// allocates nil pointers on the way when alloc is set. ok is false when a nil
// pointer was found and alloc is not set.
func fieldByIndex(v reflect.Value, index []int, alloc bool) (_ reflect.Value, ok bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !alloc {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

var (
	nodeType         = reflect.TypeFor[yaml.Node]()
	timeDurationType = reflect.TypeFor[time.Duration]()
	unmarshalerType  = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshType  = reflect.TypeFor[encoding.TextUnmarshaler]()
	marshalerType    = reflect.TypeFor[yaml.Marshaler]()
	textMarshalType  = reflect.TypeFor[encoding.TextMarshaler]()
)

// isValueType reports whether t is decoded as a single value, not walked into:
// types with their own YAML or text unmarshaler, time.Duration and yaml.Node.
func isValueType(t reflect.Type) bool {
	if t == nodeType || t == timeDurationType {
		return true
	}
	pt := reflect.PointerTo(t)
	return pt.Implements(unmarshalerType) || pt.Implements(textUnmarshType)
}

// deref strips pointer types.
func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// isSection reports whether t (after pointers) is a struct whose keys are
// walked, as opposed to a value.
func isSection(t reflect.Type) bool {
	t = deref(t)
	return t.Kind() == reflect.Struct && !isValueType(t)
}

// joinKey appends a mapping key to a key path: "capture" + "shards" is
// "capture.shards". Keys that are not plain words are quoted in brackets,
// `labels["a b"]`, so that a path always reads back unambiguously.
func joinKey(path, key string) string {
	if !plainKey(key) {
		return path + "[" + fmt.Sprintf("%q", key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range key {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// joinIndex appends a list index to a key path: "lists" + 2 is "lists[2]".
func joinIndex(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

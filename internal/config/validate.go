package config

import (
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Validator is implemented by config types that check themselves.
type Validator interface {
	Validate() error
}

var validatorType = reflect.TypeFor[Validator]()

// Validate walks out (a struct or a pointer to one) and calls Validate on
// every value that implements [Validator], with a value or pointer receiver:
// out itself, then its fields depth first in struct order, list items in order
// and map entries by sorted key. Nil pointers are skipped. Values held in maps
// are validated on a copy.
//
// Every error is kept, prefixed with the key path of the value that returned
// it, and all are returned joined (see [Error]). An error from errors.Join is
// split into its parts. When an error starts with one of the value's own keys,
// "shards: must be >= 0", the key joins the path: "capture.shards: must be >=
// 0"; otherwise it reads "capture: …".
func Validate(out any) error {
	v := reflect.ValueOf(out)
	if !v.IsValid() {
		return nil
	}
	if !v.CanAddr() {
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		v = p.Elem()
	}
	w := &validator{seen: make(map[uintptr]bool)}
	w.walk(v, "")
	return w.errs.join()
}

type validator struct {
	errs errorList
	seen map[uintptr]bool // pointers already walked, against cycles
}

func (w *validator) walk(v reflect.Value, path string) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		if v.Kind() == reflect.Pointer {
			if w.seen[v.Pointer()] {
				return
			}
			w.seen[v.Pointer()] = true
		}
		v = v.Elem()
	}
	if !v.CanAddr() {
		// Reached through an interface or a map: validate a copy.
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		v = p.Elem()
	}
	w.call(v, path)
	t := v.Type()
	if isValueType(t) {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		info, err := structInfoOf(t)
		if err != nil {
			return
		}
		// Inline structs answer for their keys at this same path. A
		// Validate promoted from an embedded struct is called twice; the
		// repeated errors are dropped by errorList.append.
		for _, idx := range info.inlines {
			if iv, ok := fieldByIndex(v, idx, false); ok {
				if iv.Kind() == reflect.Pointer {
					if iv.IsNil() {
						continue
					}
					iv = iv.Elem()
				}
				w.call(iv, path)
			}
		}
		for _, f := range info.fields {
			if fv, ok := fieldByIndex(v, f.index, false); ok {
				w.walk(fv, joinKey(path, f.key))
			}
		}
		if info.inlineMap != nil {
			if m, ok := fieldByIndex(v, info.inlineMap, false); ok {
				w.walkMap(m, path)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			w.walk(v.Index(i), joinIndex(path, i))
		}
	case reflect.Map:
		w.walkMap(v, path)
	}
}

// call calls v's Validate method, if it has one.
func (w *validator) call(v reflect.Value, path string) {
	if val, ok := asInterface[Validator](v, validatorType); ok {
		if err := val.Validate(); err != nil {
			w.report(v, path, err)
		}
	}
}

func (w *validator) walkMap(m reflect.Value, path string) {
	keys := m.MapKeys()
	texts := make([]string, len(keys))
	for i, k := range keys {
		texts[i] = mapKeyText(k)
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareKeys(keys[a], keys[b], texts[a], texts[b]) })
	for _, i := range order {
		w.walk(m.MapIndex(keys[i]), joinKey(path, texts[i]))
	}
}

// mapKeyText renders a map key as it appears in YAML.
func mapKeyText(k reflect.Value) string {
	n, err := encode(k, 0)
	if err != nil || n.Kind != yaml.ScalarNode {
		return k.String()
	}
	return n.Value
}

// report records err from the Validate method of v, at path.
func (w *validator) report(v reflect.Value, path string, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if e != nil {
				w.report(v, path, e)
			}
		}
		return
	}
	p, msg, ok := w.ownKey(v, err.Error())
	if !ok {
		w.errs.append(&Error{Path: path, Err: err})
		return
	}
	full := p
	if path != "" {
		if strings.HasPrefix(p, "[") {
			full = path + p
		} else {
			full = path + "." + p
		}
	}
	w.errs.append(&Error{Path: full, Err: &keyedError{msg: msg, err: err}})
}

// ownKey splits "shards: must be >= 0" into "shards" and "must be >= 0" when
// the message starts with a key path whose first key belongs to v (or with a
// list index, for a list).
func (w *validator) ownKey(v reflect.Value, msg string) (path, rest string, ok bool) {
	head, rest, found := strings.Cut(msg, ": ")
	if !found || head == "" || strings.ContainsAny(head, " \t\n") {
		return "", "", false
	}
	switch v.Kind() {
	case reflect.Struct:
		info, err := structInfoOf(v.Type())
		if err != nil {
			return "", "", false
		}
		first := head
		if i := strings.IndexAny(head, ".["); i >= 0 {
			first = head[:i]
		}
		if _, known := info.byKey[first]; known {
			return head, rest, true
		}
	case reflect.Slice, reflect.Array:
		if strings.HasPrefix(head, "[") {
			return head, rest, true
		}
	}
	return "", "", false
}

// keyedError is a Validate error whose leading key moved into Error.Path.
type keyedError struct {
	msg string
	err error
}

func (e *keyedError) Error() string { return e.msg }
func (e *keyedError) Unwrap() error { return e.err }

package capture

import (
	"reflect"
	"testing"
)

// TestStatsAddCoversEveryField fills every counter with a distinct value
// and checks Add carries each one, so a new field cannot be forgotten.
func TestStatsAddCoversEveryField(t *testing.T) {
	for _, v := range []any{&DecodeStats{}, &DefragStats{}} {
		src := reflect.New(reflect.TypeOf(v).Elem())
		n := uint64(1)
		var fill func(reflect.Value)
		fill = func(f reflect.Value) {
			switch f.Kind() {
			case reflect.Uint64:
				f.SetUint(n)
				n++
			case reflect.Array:
				for i := 0; i < f.Len(); i++ {
					fill(f.Index(i))
				}
			case reflect.Struct:
				for i := 0; i < f.NumField(); i++ {
					fill(f.Field(i))
				}
			}
		}
		fill(src.Elem())
		dst := reflect.New(src.Elem().Type())
		dst.MethodByName("Add").Call([]reflect.Value{src.Elem()})
		dst.MethodByName("Add").Call([]reflect.Value{src.Elem()})
		want := reflect.New(src.Elem().Type())
		n = 1
		fill(want.Elem())
		var double func(reflect.Value)
		double = func(f reflect.Value) {
			switch f.Kind() {
			case reflect.Uint64:
				f.SetUint(f.Uint() * 2)
			case reflect.Array:
				for i := 0; i < f.Len(); i++ {
					double(f.Index(i))
				}
			case reflect.Struct:
				for i := 0; i < f.NumField(); i++ {
					double(f.Field(i))
				}
			}
		}
		double(want.Elem())
		if !reflect.DeepEqual(dst.Elem().Interface(), want.Elem().Interface()) {
			t.Errorf("%T.Add misses a field:\n got  %+v\n want %+v", v, dst.Elem().Interface(), want.Elem().Interface())
		}
	}
}

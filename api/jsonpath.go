package api

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// fieldPath names the value a type error is about with its array indexes,
// as in environments[2].name: encoding/json's Field leaves them out. It
// looks in doc, the body parsed generically, for the first value of the
// error's JSON kind at the error's field path, and falls back to Field.
func fieldPath(doc map[string]any, e *json.UnmarshalTypeError) string {
	if e.Field == "" {
		return ""
	}
	kind, _, _ := strings.Cut(e.Value, " ") // "number 1e999" is a number
	if p, ok := find(doc, strings.Split(e.Field, "."), kind); ok {
		return strings.TrimPrefix(p, ".")
	}
	return e.Field
}

// find returns the path below v to the first value of JSON kind kind that
// the field names in segs lead to, trying every element of each array on
// the way.
func find(v any, segs []string, kind string) (string, bool) {
	if arr, ok := v.([]any); ok {
		for i, e := range arr {
			if p, ok := find(e, segs, kind); ok {
				return "[" + strconv.Itoa(i) + "]" + p, true
			}
		}
		if len(segs) > 0 || kind != "array" {
			return "", false
		}
	}
	if len(segs) == 0 {
		return "", jsonKind(v) == kind
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	for k, child := range obj {
		// encoding/json matches keys to fields without regard to case.
		if k == segs[0] || strings.EqualFold(k, segs[0]) {
			if p, ok := find(child, segs[1:], kind); ok {
				return "." + segs[0] + p, true
			}
		}
	}
	return "", false
}

// emptyKey returns the path of the first object below v, v itself
// included, that has an empty key.
func emptyKey(v any, path string) (string, bool) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v[""]; ok {
			return path, true
		}
		for k, child := range v {
			if p, ok := emptyKey(child, strings.TrimPrefix(path+"."+k, ".")); ok {
				return p, true
			}
		}
	case []any:
		for i, child := range v {
			if p, ok := emptyKey(child, path+"["+strconv.Itoa(i)+"]"); ok {
				return p, true
			}
		}
	}
	return "", false
}

// orTop names the top-level object when path is empty.
func orTop(path string) string {
	if path == "" {
		return "the top-level object"
	}
	return path
}

// jsonKind names the JSON kind of a generically decoded value as
// encoding/json's type errors do.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "value"
}

// typeName says what JSON a Go type takes.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return t.String()
}

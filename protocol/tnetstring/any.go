package tnetstring

import (
	"fmt"
	"sort"
)

// Decode converts v and what it holds into Go values, as Python's
// tnetstring.loads does: []byte, int64, float64, bool, nil,
// map[string]any and []any. It is for tools and tests; the ZHTTP codec
// walks values in place instead.
func Decode(v Value) (any, error) { return decode(v, 0) }

func decode(v Value, depth int) (any, error) {
	switch v.Tag {
	case String:
		return v.Data, nil
	case Int:
		return v.Int()
	case Float:
		return v.Float()
	case Bool:
		return v.Bool()
	case Null:
		return nil, nil
	}
	if depth >= MaxDepth {
		return nil, ErrTooDeep
	}
	it := v.Items()
	if v.Tag == List {
		out := []any{}
		for e, ok := it.Next(); ok; e, ok = it.Next() {
			x, err := decode(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, it.Err()
	}
	out := map[string]any{}
	for k, e, ok := it.Pair(); ok; k, e, ok = it.Pair() {
		x, err := decode(e, depth+1)
		if err != nil {
			return nil, err
		}
		out[string(k)] = x
	}
	return out, it.Err()
}

// AppendAny appends x, one of the types Decode returns (and string, int,
// map[string]any with its keys in sorted order), as Python's
// tnetstring.dumps would.
func AppendAny(dst []byte, x any) ([]byte, error) {
	switch x := x.(type) {
	case nil:
		return AppendNull(dst), nil
	case []byte:
		return AppendString(dst, x), nil
	case string:
		return AppendStr(dst, x), nil
	case bool:
		return AppendBool(dst, x), nil
	case int:
		return AppendInt(dst, int64(x)), nil
	case int64:
		return AppendInt(dst, x), nil
	case float64:
		return AppendFloat(dst, x), nil
	case []any:
		dst, m := Open(dst)
		for _, e := range x {
			var err error
			if dst, err = AppendAny(dst, e); err != nil {
				return nil, err
			}
		}
		return Close(dst, m, List), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		dst, m := Open(dst)
		for _, k := range keys {
			dst = AppendStr(dst, k)
			var err error
			if dst, err = AppendAny(dst, x[k]); err != nil {
				return nil, err
			}
		}
		return Close(dst, m, Dict), nil
	}
	return nil, fmt.Errorf("tnetstring: cannot encode %T", x)
}

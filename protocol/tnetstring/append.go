package tnetstring

import "strconv"

// AppendString appends s as a string value.
func AppendString(dst, s []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	dst = append(dst, s...)
	return append(dst, String)
}

// AppendStr is AppendString for a Go string.
func AppendStr(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	dst = append(dst, s...)
	return append(dst, String)
}

// AppendInt appends n as an integer value.
func AppendInt(dst []byte, n int64) []byte {
	var b [20]byte
	d := strconv.AppendInt(b[:0], n, 10)
	dst = strconv.AppendInt(dst, int64(len(d)), 10)
	dst = append(dst, ':')
	dst = append(dst, d...)
	return append(dst, Int)
}

// AppendBool appends b as a boolean value.
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "4:true!"...)
	}
	return append(dst, "5:false!"...)
}

// AppendNull appends the null value.
func AppendNull(dst []byte) []byte { return append(dst, "0:~"...) }

// AppendFloat appends f as a float value, in the shortest form that reads
// back the same.
func AppendFloat(dst []byte, f float64) []byte {
	var b [32]byte
	d := strconv.AppendFloat(b[:0], f, 'g', -1, 64)
	dst = strconv.AppendInt(dst, int64(len(d)), 10)
	dst = append(dst, ':')
	dst = append(dst, d...)
	return append(dst, Float)
}

// Open starts a container in dst: append its elements (a dictionary's
// keys and values in turn), then Close it with the mark Open returned.
//
//	dst, m := tnetstring.Open(dst)
//	dst = tnetstring.AppendStr(dst, "id")
//	dst = tnetstring.AppendStr(dst, "1")
//	dst = tnetstring.Close(dst, m, tnetstring.Dict)
func Open(dst []byte) ([]byte, int) { return dst, len(dst) }

// Close ends the container opened at mark with tag (Dict or List): it
// writes the length prefix before the elements, moving them by its few
// bytes, and the tag after them.
func Close(dst []byte, mark int, tag byte) []byte {
	n := len(dst) - mark
	var b [10]byte
	p := strconv.AppendInt(b[:0], int64(n), 10)
	p = append(p, ':')
	dst = append(dst, p...) // room for the prefix
	copy(dst[mark+len(p):], dst[mark:mark+n])
	copy(dst[mark:], p)
	return append(dst, tag)
}

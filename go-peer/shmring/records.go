package shmring

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Typed records in place: the Go twin of src/records.ts. A Layout is parsed from the text form the
// TypeScript side prints as `layout.spec` ("id:u64,price:f64,qty:u32,symbol:utf8[20]"): fields
// packed in the order given, little-endian, no implicit padding. Each Field reads and writes its
// bytes directly in a record's payload (a slice of ring memory from Poll, TryRead or TryClaim):
// no allocation except String and Bytes copies the caller asks for.
//
// Check a record once with Layout.Check (its length is at least Layout.Size) before using the
// field accessors on it: they index the slice and panic, like any slice access, on a record that
// is too short. A record from another process is untrusted; Check is what makes it safe.

// FieldKind is the wire type of a field.
type FieldKind uint8

const (
	KindU8 FieldKind = iota + 1
	KindI8
	KindU16
	KindI16
	KindU32
	KindI32
	KindF32
	KindF64
	KindU64 // also the TypeScript kind u64n (a bigint there)
	KindI64 // also i64n
	KindBytes
	KindUTF8
)

var scalarKinds = map[string]struct {
	kind FieldKind
	size int
}{
	"u8": {KindU8, 1}, "i8": {KindI8, 1}, "u16": {KindU16, 2}, "i16": {KindI16, 2},
	"u32": {KindU32, 4}, "i32": {KindI32, 4}, "f32": {KindF32, 4}, "f64": {KindF64, 8},
	"u64": {KindU64, 8}, "i64": {KindI64, 8}, "u64n": {KindU64, 8}, "i64n": {KindI64, 8},
}

// Field is one field of a Layout: where it lies in a record and how to read it.
type Field struct {
	Name   string
	Kind   FieldKind
	Spec   string // the kind as written in the layout text ("u64", "utf8[20]")
	Offset int
	Size   int
}

// Layout is a fixed record layout.
type Layout struct {
	Fields []Field
	Size   int
	byName map[string]int
}

// ParseLayout parses the text form of a layout; an error wraps ErrUsage and names the part.
func ParseLayout(text string) (*Layout, error) {
	layout := &Layout{byName: map[string]int{}}
	for _, part := range strings.Split(text, ",") {
		name, kind, ok := strings.Cut(strings.TrimSpace(part), ":")
		name, kind = strings.TrimSpace(name), strings.TrimSpace(kind)
		if !ok || name == "" || strings.Contains(kind, ":") {
			return nil, fmt.Errorf("%w: record layout: %q is not name:kind", ErrUsage, part)
		}
		if _, dup := layout.byName[name]; dup {
			return nil, fmt.Errorf("%w: record layout: field %s appears twice", ErrUsage, name)
		}
		field := Field{Name: name, Spec: kind, Offset: layout.Size}
		if scalar, ok := scalarKinds[kind]; ok {
			field.Kind, field.Size = scalar.kind, scalar.size
		} else if size, ok := arrayKind(kind, "bytes["); ok {
			field.Kind, field.Size = KindBytes, size
		} else if size, ok := arrayKind(kind, "utf8["); ok {
			field.Kind, field.Size = KindUTF8, size
		} else {
			return nil, fmt.Errorf("%w: record layout: field %s has kind %q; expected u8 i8 u16 i16 u32 i32 f32 f64 u64 i64 u64n i64n, bytes[N] or utf8[N] (1 <= N <= 2^20)", ErrUsage, name, kind)
		}
		layout.byName[name] = len(layout.Fields)
		layout.Fields = append(layout.Fields, field)
		layout.Size += field.Size
	}
	return layout, nil
}

func arrayKind(kind, prefix string) (int, bool) {
	if !strings.HasPrefix(kind, prefix) || !strings.HasSuffix(kind, "]") {
		return 0, false
	}
	size, err := strconv.Atoi(kind[len(prefix) : len(kind)-1])
	return size, err == nil && size >= 1 && size <= 1<<20
}

// MustParseLayout is ParseLayout for layouts written in the program: it panics on an error.
func MustParseLayout(text string) *Layout {
	layout, err := ParseLayout(text)
	if err != nil {
		panic(err)
	}
	return layout
}

// Spec is the canonical text of the layout (what TypeScript's layout.spec prints).
func (l *Layout) Spec() string {
	parts := make([]string, len(l.Fields))
	for i, field := range l.Fields {
		parts[i] = field.Name + ":" + field.Spec
	}
	return strings.Join(parts, ",")
}

// Field returns the named field; ok is false when the layout has none.
func (l *Layout) Field(name string) (Field, bool) {
	index, ok := l.byName[name]
	if !ok {
		return Field{}, false
	}
	return l.Fields[index], true
}

// MustField is Field for names written in the program: it panics when the layout has none.
func (l *Layout) MustField(name string) Field {
	field, ok := l.Field(name)
	if !ok {
		panic(fmt.Sprintf("shmring: record layout %q has no field %s", l.Spec(), name))
	}
	return field
}

// Check reports whether record can hold the layout; the error wraps ErrCorrupt and names the length.
func (l *Layout) Check(record []byte) error {
	if len(record) < l.Size {
		return fmt.Errorf("%w: record.length %d is shorter than the record layout's %d bytes", ErrCorrupt, len(record), l.Size)
	}
	return nil
}

func (f Field) Uint8(record []byte) uint8       { return record[f.Offset] }
func (f Field) PutUint8(record []byte, v uint8) { record[f.Offset] = v }
func (f Field) Int8(record []byte) int8         { return int8(record[f.Offset]) }
func (f Field) PutInt8(record []byte, v int8)   { record[f.Offset] = byte(v) }
func (f Field) Uint16(record []byte) uint16     { return binary.LittleEndian.Uint16(record[f.Offset:]) }
func (f Field) PutUint16(record []byte, v uint16) {
	binary.LittleEndian.PutUint16(record[f.Offset:], v)
}
func (f Field) Int16(record []byte) int16       { return int16(f.Uint16(record)) }
func (f Field) PutInt16(record []byte, v int16) { f.PutUint16(record, uint16(v)) }
func (f Field) Uint32(record []byte) uint32     { return binary.LittleEndian.Uint32(record[f.Offset:]) }
func (f Field) PutUint32(record []byte, v uint32) {
	binary.LittleEndian.PutUint32(record[f.Offset:], v)
}
func (f Field) Int32(record []byte) int32       { return int32(f.Uint32(record)) }
func (f Field) PutInt32(record []byte, v int32) { f.PutUint32(record, uint32(v)) }
func (f Field) Uint64(record []byte) uint64     { return binary.LittleEndian.Uint64(record[f.Offset:]) }
func (f Field) PutUint64(record []byte, v uint64) {
	binary.LittleEndian.PutUint64(record[f.Offset:], v)
}
func (f Field) Int64(record []byte) int64           { return int64(f.Uint64(record)) }
func (f Field) PutInt64(record []byte, v int64)     { f.PutUint64(record, uint64(v)) }
func (f Field) Float32(record []byte) float32       { return math.Float32frombits(f.Uint32(record)) }
func (f Field) PutFloat32(record []byte, v float32) { f.PutUint32(record, math.Float32bits(v)) }
func (f Field) Float64(record []byte) float64       { return math.Float64frombits(f.Uint64(record)) }
func (f Field) PutFloat64(record []byte, v float64) { f.PutUint64(record, math.Float64bits(v)) }

// Bytes is the field's bytes in place (a view of ring memory: no copy).
func (f Field) Bytes(record []byte) []byte {
	return record[f.Offset : f.Offset+f.Size : f.Offset+f.Size]
}

// PutBytes copies v (at most Size bytes; more is an ErrUsage error) and zeroes the rest of the field.
func (f Field) PutBytes(record []byte, v []byte) error {
	if len(v) > f.Size {
		return fmt.Errorf("%w: field %s takes at most %d bytes, got %d", ErrUsage, f.Name, f.Size, len(v))
	}
	clear(record[f.Offset+copy(record[f.Offset:f.Offset+f.Size], v) : f.Offset+f.Size])
	return nil
}

// String reads a utf8[N] field: the bytes up to the first zero (a copy: Go strings are immutable).
func (f Field) String(record []byte) string {
	field := record[f.Offset : f.Offset+f.Size]
	for i, b := range field {
		if b == 0 {
			return string(field[:i])
		}
	}
	return string(field)
}

// PutString writes a utf8[N] field: s truncated at a character boundary to Size bytes, zero-padded.
// It returns how many bytes of s were written.
func (f Field) PutString(record []byte, s string) int {
	n := len(s)
	if n > f.Size {
		n = f.Size
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
	}
	field := record[f.Offset : f.Offset+f.Size]
	copy(field, s[:n])
	clear(field[n:])
	return n
}

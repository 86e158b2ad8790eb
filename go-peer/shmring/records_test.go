package shmring

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
)

func TestParseLayoutOffsetsAndSpec(t *testing.T) {
	layout, err := ParseLayout("id:u64, price:f64,qty:u32,symbol:utf8[20]")
	if err != nil {
		t.Fatal(err)
	}
	if layout.Size != 40 || layout.Spec() != "id:u64,price:f64,qty:u32,symbol:utf8[20]" {
		t.Fatalf("size %d spec %q", layout.Size, layout.Spec())
	}
	want := []struct {
		name         string
		offset, size int
	}{{"id", 0, 8}, {"price", 8, 8}, {"qty", 16, 4}, {"symbol", 20, 20}}
	for i, field := range layout.Fields {
		if field.Name != want[i].name || field.Offset != want[i].offset || field.Size != want[i].size {
			t.Errorf("field %d: %+v, want %+v", i, field, want[i])
		}
	}
	for _, bad := range []string{"", "a", "a:u128", "a:utf8[0]", "a:bytes[x]", "a:u8,a:u8", "a:u8:u8"} {
		if _, err := ParseLayout(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("ParseLayout(%q) = %v, want ErrUsage", bad, err)
		}
	}
}

func TestLayoutFieldsRoundTrip(t *testing.T) {
	layout := MustParseLayout("f:f64,u:u64,i:i64,s:f32,w:u32,x:i32,h:u16,g:i16,b:u8,c:i8,raw:bytes[3],name:utf8[7]")
	record := make([]byte, layout.Size)
	if err := layout.Check(record[:layout.Size-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Check of a short record = %v, want ErrCorrupt", err)
	}
	field := layout.MustField
	field("f").PutFloat64(record, -0.1)
	field("u").PutUint64(record, math.MaxUint64)
	field("i").PutInt64(record, math.MinInt64)
	field("s").PutFloat32(record, 1.25)
	field("w").PutUint32(record, math.MaxUint32)
	field("x").PutInt32(record, math.MinInt32)
	field("h").PutUint16(record, 65535)
	field("g").PutInt16(record, -32768)
	field("b").PutUint8(record, 255)
	field("c").PutInt8(record, -128)
	if err := field("raw").PutBytes(record, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := field("raw").PutBytes(record, []byte{1, 2, 3, 4}); !errors.Is(err, ErrUsage) {
		t.Fatalf("PutBytes of 4 bytes into bytes[3] = %v, want ErrUsage", err)
	}
	got := fmt.Sprint(field("f").Float64(record), field("u").Uint64(record), field("i").Int64(record), field("s").Float32(record),
		field("w").Uint32(record), field("x").Int32(record), field("h").Uint16(record), field("g").Int16(record),
		field("b").Uint8(record), field("c").Int8(record), field("raw").Bytes(record))
	want := "-0.1 18446744073709551615 -9223372036854775808 1.25 4294967295 -2147483648 65535 -32768 255 -128 [1 2 0]"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for _, c := range []struct{ in, out string }{{"", ""}, {"abc", "abc"}, {"eight888", "eight88"}, {"€€€", "€€"}, {"ab€€", "ab€"}, {"😀😀", "😀"}} {
		field("name").PutString(record, "zzzzzzz")
		field("name").PutString(record, c.in)
		if got := field("name").String(record); got != c.out {
			t.Errorf("utf8[7] %q: read %q, want %q", c.in, got, c.out)
		}
	}
}

// TestLayoutInterop is driven by test/records.test.ts: it reads records that TypeScript encoded
// with a layout from ring file $SHMRING_LAYOUT_IN, writes what it decodes to $SHMRING_LAYOUT_JSON
// (one JSON object per record: 64-bit integers as decimal strings, bytes as arrays of numbers)
// and re-encodes every record field by field into ring file $SHMRING_LAYOUT_OUT, which TypeScript
// then decodes and compares with what it wrote.
func TestLayoutInterop(t *testing.T) {
	spec := os.Getenv("SHMRING_LAYOUT_SPEC")
	if spec == "" {
		t.Skip("SHMRING_LAYOUT_SPEC is not set (test/records.test.ts sets it)")
	}
	layout, err := ParseLayout(spec)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Open(os.Getenv("SHMRING_LAYOUT_IN"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := Open(os.Getenv("SHMRING_LAYOUT_OUT"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	consumer, err := in.Consumer(ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	producer, err := out.Producer(ProducerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lines, err := os.Create(os.Getenv("SHMRING_LAYOUT_JSON"))
	if err != nil {
		t.Fatal(err)
	}
	defer lines.Close()
	encoder := json.NewEncoder(lines)
	records := 0
	for {
		handled, err := consumer.Poll(func(recordType uint16, data []byte) error {
			if err := layout.Check(data); err != nil {
				return err
			}
			decoded := map[string]any{}
			copyTo, err := producer.TryClaim(layout.Size, recordType)
			if err != nil || copyTo == nil {
				return fmt.Errorf("claim: %v (ring full: %v)", err, copyTo == nil)
			}
			for _, field := range layout.Fields {
				switch field.Kind {
				case KindU8:
					decoded[field.Name] = field.Uint8(data)
					field.PutUint8(copyTo, field.Uint8(data))
				case KindI8:
					decoded[field.Name] = field.Int8(data)
					field.PutInt8(copyTo, field.Int8(data))
				case KindU16:
					decoded[field.Name] = field.Uint16(data)
					field.PutUint16(copyTo, field.Uint16(data))
				case KindI16:
					decoded[field.Name] = field.Int16(data)
					field.PutInt16(copyTo, field.Int16(data))
				case KindU32:
					decoded[field.Name] = field.Uint32(data)
					field.PutUint32(copyTo, field.Uint32(data))
				case KindI32:
					decoded[field.Name] = field.Int32(data)
					field.PutInt32(copyTo, field.Int32(data))
				case KindF32:
					decoded[field.Name] = float64(field.Float32(data)) // exact: JSON prints float32 by its own shortest form
					field.PutFloat32(copyTo, field.Float32(data))
				case KindF64:
					decoded[field.Name] = field.Float64(data)
					field.PutFloat64(copyTo, field.Float64(data))
				case KindU64:
					decoded[field.Name] = strconv.FormatUint(field.Uint64(data), 10)
					field.PutUint64(copyTo, field.Uint64(data))
				case KindI64:
					decoded[field.Name] = strconv.FormatInt(field.Int64(data), 10)
					field.PutInt64(copyTo, field.Int64(data))
				case KindBytes:
					raw := make([]int, field.Size)
					for i, b := range field.Bytes(data) {
						raw[i] = int(b)
					}
					decoded[field.Name] = raw
					if err := field.PutBytes(copyTo, field.Bytes(data)); err != nil {
						return err
					}
				case KindUTF8:
					decoded[field.Name] = field.String(data)
					field.PutString(copyTo, field.String(data))
				}
			}
			records++
			if err := producer.Commit(); err != nil {
				return err
			}
			return encoder.Encode(decoded)
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if handled == 0 {
			break
		}
	}
	if err := producer.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records decoded and re-encoded", records)
	if records == 0 {
		t.Fatal("no records in the input ring")
	}
}

package units

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type splitResult struct {
	data     string
	offset   int64
	reject   bool
	oversize bool
}

func splitAll(t testing.TB, r io.Reader, maxUnit int) []splitResult {
	t.Helper()
	sp := NewSplitter(r, maxUnit)
	var out []splitResult
	for {
		p, err := sp.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		res := splitResult{data: string(p.Data), offset: p.Offset, reject: p.Reject != ""}
		if p.Oversize != nil {
			b, err := io.ReadAll(p.Oversize)
			if err != nil {
				t.Fatalf("read oversize: %v", err)
			}
			res.data, res.oversize = string(b), true
		}
		out = append(out, res)
		if len(out) > 100000 {
			t.Fatal("splitter does not terminate")
		}
	}
}

func TestSplitterFormats(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		max   int
		units []splitResult
	}{
		{"ndjson", "{\"a\":1}\n{\"b\":2}\n", 0, []splitResult{{data: `{"a":1}`}, {data: `{"b":2}`, offset: 8}}},
		{"ndjson crlf and blank lines", "{\"a\":1}\r\n\r\n{\"b\":2}", 0, []splitResult{{data: `{"a":1}`}, {data: `{"b":2}`, offset: 11}}},
		{"concatenated (firehose)", `{"a":1}{"b":{"c":[1,2]}}`, 0, []splitResult{{data: `{"a":1}`}, {data: `{"b":{"c":[1,2]}}`, offset: 7}}},
		{"pretty printed values", "{\n \"a\": 1\n}\n{\n \"b\": 2\n}\n", 0, []splitResult{{data: "{\n \"a\": 1\n}"}, {data: "{\n \"b\": 2\n}", offset: 12}}},
		{"array", `[{"a":1}, {"b":2}]`, 0, []splitResult{{data: `{"a":1}`, offset: 1}, {data: `{"b":2}`, offset: 10}}},
		{"array of scalars and nested", `[1, "x]", [2], {"d":"}"}]`, 0, []splitResult{{data: `1`, offset: 1}, {data: `"x]"`, offset: 4}, {data: `[2]`, offset: 10}, {data: `{"d":"}"}`, offset: 15}}},
		{"findings document", `{"Findings": [{"Id":"a"},{"Id":"b]}"}], "NextToken": "t{"}`, 0, []splitResult{{data: `{"Id":"a"}`, offset: 14}, {data: `{"Id":"b]}"}`, offset: 25}}},
		{"findings document then more", "{\"Findings\":[{\"Id\":1}]}\n{\"x\":2}", 0, []splitResult{{data: `{"Id":1}`, offset: 13}, {data: `{"x":2}`, offset: 24}}},
		{"findings key not first", `{"NextToken":"t","Findings":[{"Id":"a"}]}`, 0, []splitResult{{data: `{"Id":"a"}`, offset: 29}}},
		{"sdk response: metadata first, token last", `{"ResponseMetadata": {"RequestId": "r", "HTTPHeaders": {"x": "]}"}, "RetryAttempts": 0}, "Findings": [{"Id":"a"}, {"Id":"b"}], "NextToken": "n"}` + "\n" + `{"c":1}`, 0,
			[]splitResult{{data: `{"Id":"a"}`, offset: 102}, {data: `{"Id":"b"}`, offset: 114}, {data: `{"c":1}`, offset: 145}}},
		{"findings among scalars and arrays", `{"a": 1, "b": [1, {"Findings": [2]}], "c": "Findings", "Findings": [{"Id":1}], "UnprocessedFindings": []}`, 0, []splitResult{{data: `{"Id":1}`, offset: 68}}},
		{"a detail saved alone, lower-case findings", `{"actionName":"a","findings":[{"Id":1},{"Id":2}]}`, 0, []splitResult{{data: `{"Id":1}`, offset: 30}, {data: `{"Id":2}`, offset: 39}}},
		{"event with a Findings member is one unit", `{"detail-type": "x", "Findings": [{"Id":1}]}`, 0, []splitResult{{data: `{"detail-type": "x", "Findings": [{"Id":1}]}`}}},
		{"Findings not an array is one unit", `{"NextToken": "t", "Findings": null}`, 0, []splitResult{{data: `{"NextToken": "t", "Findings": null}`}}},
		{"object without Findings is one unit", `{"a": {"Findings": [1]}, "b": [] }{"c":1}`, 0, []splitResult{{data: `{"a": {"Findings": [1]}, "b": [] }`}, {data: `{"c":1}`, offset: 34}}},
		{"empty object", `{}{ }`, 0, []splitResult{{data: `{}`}, {data: `{ }`, offset: 2}}},
		{"invalid member is one unit", `{"a" 1}{"b":2}`, 0, []splitResult{{data: `{"a" 1}`}, {data: `{"b":2}`, offset: 7}}},
		{"truncated before Findings", `{"NextToken": "t", "Find`, 0, []splitResult{{data: `{"NextToken": "t", "Find`, reject: true}}},
		{"members before Findings over the limit", `{"NextToken": "` + strings.Repeat("t", 40) + `", "Findings": [{"Id":1}]}{"c":1}`, 32,
			[]splitResult{{data: `{"NextToken": "` + strings.Repeat("t", 40) + `", "Findings": [{"Id":1}]}`, oversize: true}, {data: `{"c":1}`, offset: 81}}},
		{"escapes in strings", `{"a":"\"}{\\"}{"b":"\\\""}`, 0, []splitResult{{data: `{"a":"\"}{\\"}`}, {data: `{"b":"\\\""}`, offset: 14}}},
		{"truncated", `{"a": [1, 2`, 0, []splitResult{{data: `{"a": [1, 2`, reject: true}}},
		{"truncated in string", `{"a": "abc`, 0, []splitResult{{data: `{"a": "abc`, reject: true}}},
		{"garbage run then json", "hello\nworld\n  {\"a\":1}\n", 0, []splitResult{{data: "hello\nworld", reject: true}, {data: `{"a":1}`, offset: 14}}},
		{"stray closers after a value", "{\n\"a\":1\n}\n]\n}\n", 0, []splitResult{{data: "{\n\"a\":1\n}"}, {data: "]\n}", offset: 10, reject: true}}},
		{"broken ndjson line stays alone", "{\"a\":1}\n{\"b\":\n{\"c\":3}\n", 0, []splitResult{{data: `{"a":1}`}, {data: `{"b":`, offset: 8}, {data: `{"c":3}`, offset: 14}}},
		{"empty", "", 0, nil},
		{"whitespace only", " \n\t ", 0, nil},
		{"oversize value", `{"big":"` + strings.Repeat("x", 100) + `"}{"a":1}`, 32, []splitResult{{data: `{"big":"` + strings.Repeat("x", 100) + `"}`, oversize: true}, {data: `{"a":1}`, offset: 110}}},
		{"oversize line", "{\"a\":1}\n{\"big\":\"" + strings.Repeat("y", 100) + "\"}\n{\"c\":3}\n", 32, []splitResult{{data: `{"a":1}`}, {data: `{"big":"` + strings.Repeat("y", 100) + `"}`, offset: 8, oversize: true}, {data: `{"c":3}`, offset: 119}}},
		{"oversize array element", `[{"a":1},{"big":"` + strings.Repeat("z", 100) + `"},{"b":2}]`, 32, []splitResult{{data: `{"a":1}`, offset: 1}, {data: `{"big":"` + strings.Repeat("z", 100) + `"}`, offset: 9, oversize: true}, {data: `{"b":2}`, offset: 120}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max == 0 {
				max = 1 << 20
			}
			// One byte at a time exercises every refill boundary.
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got := splitAll(t, r, max)
				if fmt.Sprint(got) != fmt.Sprint(tt.units) {
					t.Errorf("got  %+v\nwant %+v", got, tt.units)
				}
			}
		})
	}
}

// TestSplitterLargeStream checks offsets, contents and digests over a stream
// much larger than the read buffer, with units of very different sizes.
func TestSplitterLargeStream(t *testing.T) {
	for _, layout := range []string{"ndjson", "concat", "array", "pretty"} {
		t.Run(layout, func(t *testing.T) {
			var in bytes.Buffer
			var want []splitResult
			var ends []int
			if layout == "array" {
				in.WriteString("[\n")
			}
			for i := range 3000 {
				if layout == "array" && i > 0 {
					in.WriteString(",\n")
				}
				v := fmt.Sprintf(`{"i":%d,"pad":"%s","esc":"\"}"}`, i, strings.Repeat("p", (i*7919)%9000))
				if layout == "pretty" {
					v = strings.Replace(v, ",", ",\n  ", -1)
				}
				want = append(want, splitResult{data: v, offset: int64(in.Len())})
				in.WriteString(v)
				ends = append(ends, in.Len())
				if layout != "concat" {
					in.WriteString("\n")
				}
			}
			if layout == "array" {
				in.WriteString("]\n")
			}
			data := in.Bytes()
			sp := NewSplitter(bytes.NewReader(data), 1<<20)
			running := sha256.New()
			hashed := 0
			for i, w := range want {
				p, err := sp.Next()
				if err != nil {
					t.Fatalf("unit %d: %v", i, err)
				}
				if string(p.Data) != w.data || p.Offset != w.offset {
					t.Fatalf("unit %d: got offset %d %.40q, want offset %d %.40q", i, p.Offset, p.Data, w.offset, w.data)
				}
				running.Write(data[hashed:ends[i]])
				hashed = ends[i]
				if p.Digest != hex.EncodeToString(running.Sum(nil)) {
					t.Fatalf("unit %d: digest is not the digest of the input up to the unit's end", i)
				}
			}
			if _, err := sp.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("want EOF after the last unit, got %v", err)
			}
		})
	}
}

func TestSplitterReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("{\"a\":1}\n{\"b\""), iotest.ErrReader(errors.New("disk on fire")))
	sp := NewSplitter(r, 1<<20)
	if _, err := sp.Next(); err != nil {
		t.Fatalf("first unit: %v", err)
	}
	var err error
	for err == nil {
		_, err = sp.Next()
	}
	if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("a read error must surface, got %v", err)
	}
}

// TestSplitterBreak: when the input breaks (a read error, including
// io.ErrUnexpectedEOF from a compressed stream or a body cut short), the
// units before the break are handed out, the unit the break cuts is not
// (neither as a unit nor as a rejected one), and the error says why; in
// every layout.
func TestSplitterBreak(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"lines", "{\"a\":1}\n{\"b\":2}\n{\"c\":"},
		{"line without its newline", "{\"a\":1}\n{\"b\":2}\n{\"c\":3}"},
		{"concatenated", `{"a":1}{"b":2}{"c":[1,`},
		{"array", `[{"a":1},{"b":2},{"c":`},
		{"findings document", `{"NextToken":"x","Findings":[{"a":1},{"b":2},{"c":3`},
		{"findings document members after", `{"Findings":[{"a":1},{"b":2}],"Unproc`},
		{"garbage", "{\"a\":1}{\"b\":2}\nnot json\nat al"},
	} {
		// A network client's error may wrap io.EOF ("Get …: EOF"): it is a
		// break, not the end (only io.EOF itself ends a stream).
		for _, cause := range []error{io.ErrUnexpectedEOF, errors.New("connection reset"), fmt.Errorf("GET s3://b/k: %w", io.EOF)} {
			t.Run(tc.name+"/"+cause.Error(), func(t *testing.T) {
				r := io.MultiReader(strings.NewReader(tc.in), iotest.ErrReader(cause))
				sp := NewSplitter(iotest.HalfReader(r), 1<<20)
				var got []string
				var err error
				for {
					var p Piece
					p, err = sp.Next()
					if err != nil {
						break
					}
					got = append(got, string(p.Data))
				}
				if !errors.Is(err, cause) || !errors.Is(sp.ReadErr(), cause) {
					t.Fatalf("error %v (ReadErr %v), want %v", err, sp.ReadErr(), cause)
				}
				if len(got) < 2 || got[0] != `{"a":1}` || got[1] != `{"b":2}` {
					t.Errorf("units before the break: %q", got)
				}
				for _, u := range got[2:] {
					if strings.Contains(u, `"c"`) || strings.Contains(u, "al") {
						t.Errorf("the unit cut by the break was handed out: %q", u)
					}
				}
			})
		}
	}
}

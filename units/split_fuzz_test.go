package units

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"strings"
	"testing"

	"github.com/hublake/hublake/internal/repo"
)

// FuzzSplitter feeds any bytes to the splitter with a small unit limit.
// pad moves the first read-buffer boundary into the input: when its low two
// bits are 01, the input is preceded by enough blanks that the first read
// ends pad>>2 bytes (mod the input length) into it.
func FuzzSplitter(f *testing.F) {
	seeds := []string{
		"{\"a\":1}\n{\"b\":2}\n",
		"{\"a\":1}\r\n\r\n{\"b\":2}",
		`{"a":1}{"b":{"c":[1,2]}}`,
		"{\n \"a\": 1\n}\n{\n \"b\": 2\n}\n",
		`[{"a":1}, {"b":2}]`,
		`[1, "x]", [2], {"d":"}"}]`,
		`{"Findings": [{"Id":"a"},{"Id":"b]}"}], "NextToken": "t{"}`,
		"{\"Findings\":[{\"Id\":1}]}\n{\"x\":2}",
		`{"NextToken":"t","Findings":[{"Id":"a"}]}`,
		`{"ResponseMetadata": {"RequestId": "r"}, "Findings": [{"Id":"a"}, {"Id":"b"}], "NextToken": "n"}`,
		`{"detail-type": "x", "Findings": [{"Id":1}]}`,
		`{"a" 1}{"b":2}`,
		`{"a":"\"}{\\"}{"b":"\\\""}`,
		`{"a": [1, 2`,
		"hello\nworld\n  {\"a\":1}\n",
		"{\n\"a\":1\n}\n]\n}\n",
		"{\"a\":1}\n{\"b\":\n{\"c\":3}\n",
		`["a long string element", {"a":1}]`,
		`{"a\`,
		`{"big":"` + strings.Repeat("x", 100) + `"}{"a":1}`,
		"{\"a\":1}\n{\"big\":\"" + strings.Repeat("y", 100) + "\"}\n{\"c\":3}\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(31), uint32(0))
		f.Add([]byte(s), uint8(3), uint32(0))
		f.Add([]byte(s), uint8(3), uint32(1|(uint32(len(s)/2)<<2)))
	}
	// A backslash as the last byte of the first read, in a unit already over
	// the limit: the oversize reader used to wait for it forever.
	f.Add([]byte(`[{"ab\"cd"},{"e":1}]`), uint8(1), uint32(1|6<<2))
	for _, b := range repo.SampleSeeds(32 << 10) {
		f.Add(b, uint8(255), uint32(0))
		f.Add(b, uint8(200), uint32(1|(uint32(len(b)/3)<<2)))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxUnit uint8, pad uint32) {
		input := data
		if pad&3 == 1 {
			k := int(pad>>2) % (len(data) + 1)
			input = append(bytes.Repeat([]byte{' '}, readChunk-k), data...)
		}
		checkSplit(t, input, int(maxUnit)+1)
	})
}

// checkSplit runs the splitter over input and checks that its units tile the
// input: in order, without overlap, with only separators between them, each
// unit's bytes at its offset, each digest the digest of the input so far.
func checkSplit(t *testing.T, input []byte, maxUnit int) {
	t.Helper()
	sp := NewSplitter(bytes.NewReader(input), maxUnit)
	lenient := bytes.Contains(input, []byte(`"Findings"`)) || bytes.Contains(input, []byte(`"findings"`))
	// Input that is one valid JSON object or array must split into valid JSON
	// values (the elements, or the object itself).
	doc := bytes.TrimLeft(input, " \t\r\n")
	validDoc := len(doc) > 0 && (doc[0] == '{' || doc[0] == '[') && json.Valid(doc)
	digest := runningDigest{input: input, h: sha256.New()}
	end := 0 // end of the previous unit
	prevOffset := int64(-1)
	for n := 0; ; n++ {
		if n > len(input)+1 {
			t.Fatalf("more units than input bytes: the splitter does not terminate")
		}
		p, err := sp.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("unit %d: %v", n, err)
		}
		off := int(p.Offset)
		if p.Offset <= prevOffset || off < end || off > len(input) {
			t.Fatalf("unit %d at offset %d: previous unit at %d ended at %d (input %d bytes)", n, off, prevOffset, end, len(input))
		}
		prevOffset = p.Offset
		checkGap(t, input, end, off, lenient)

		var unit []byte
		if p.Oversize != nil {
			if p.Data != nil {
				t.Fatalf("unit %d: oversize unit with data", n)
			}
			if p.Digest != digest.upTo(off) {
				t.Errorf("unit %d (oversize at %d): digest is not the digest of the input before it", n, off)
			}
			unit = readOversize(t, p.Oversize, len(input)-off)
			if len(unit) <= maxUnit {
				t.Errorf("unit %d: %d bytes handed out as oversize with a limit of %d", n, len(unit), maxUnit)
			}
		} else {
			unit = p.Data
			if len(unit) > maxUnit {
				t.Errorf("unit %d: %d bytes over the limit of %d and not oversize: %.40q", n, len(unit), maxUnit, unit)
			}
		}
		if len(unit) == 0 {
			t.Fatalf("unit %d at %d is empty", n, off)
		}
		if off+len(unit) > len(input) || !bytes.Equal(unit, input[off:off+len(unit)]) {
			t.Fatalf("unit %d at %d: %.60q is not the input's bytes there", n, off, unit)
		}
		end = off + len(unit)
		if p.Oversize == nil {
			// Line mode trims trailing blanks off a line; the digest
			// covers them (the splitter has read up to the newline).
			e := end
			for e < len(input) && (input[e] == ' ' || input[e] == '\t' || input[e] == '\r') {
				e++
			}
			if p.Digest != digest.upTo(end) && p.Digest != digest.upTo(e) {
				t.Errorf("unit %d at %d: digest is not the digest of the input up to the unit's end", n, off)
			}
		}
		if validDoc && (p.Reject != "" || !json.Valid(unit)) {
			t.Errorf("unit %d at %d of a valid JSON document: %.60q is not one JSON value (reject %q)", n, off, unit, p.Reject)
		}
	}
	checkGap(t, input, end, len(input), lenient)
	if _, err := sp.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("next after EOF: %v", err)
	}
}

// checkGap checks that input[from:to], which no unit covers, holds only
// separators: blanks, commas and array brackets. A {"Findings": [...]}
// document also skips its own framing (the key and the members after the
// array), so gaps are not checked in input that has one.
func checkGap(t *testing.T, input []byte, from, to int, lenient bool) {
	t.Helper()
	if lenient {
		return
	}
	if rest := bytes.TrimLeft(input[from:to], " \t\r\n,[]"); len(rest) > 0 {
		i := to - len(rest)
		t.Fatalf("byte %d (%q) of the input is in no unit: %.40q", i, input[i], input[from:to])
	}
}

// readOversize reads a streamed unit to its end, failing instead of hanging
// when the reader makes no progress or gives more bytes than remain.
func readOversize(t *testing.T, r io.Reader, remain int) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 7) // small reads exercise the reader's bookkeeping
	idle := 0
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if len(out) > remain {
			t.Fatalf("oversize reader gave %d bytes, only %d remain in the input", len(out), remain)
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("oversize reader: %v", err)
		}
		if n == 0 {
			if idle++; idle > 100 {
				t.Fatalf("oversize reader returns no bytes and no error after %d bytes: it would never end", len(out))
			}
			continue
		}
		idle = 0
	}
}

// runningDigest hashes a prefix of input that only grows, so that checking
// every unit's digest costs one pass over the input.
type runningDigest struct {
	input  []byte
	h      hash.Hash
	hashed int
}

func (d *runningDigest) upTo(i int) string {
	if i < d.hashed {
		panic("runningDigest: positions must not decrease")
	}
	d.h.Write(d.input[d.hashed:i])
	d.hashed = i
	return hex.EncodeToString(d.h.Sum(nil))
}

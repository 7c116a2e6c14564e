package units

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// fixtureText is newline-delimited findings of our own; its bzip2 form was
// written once with `bzip2 -9` (the standard library reads bzip2 but does
// not write it).
func fixtureText(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/formats/units.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encodeAs compresses text into format f as the producers of that format
// write it.
func encodeAs(t testing.TB, f Format, text []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch f {
	case Text:
		return text
	case Gzip:
		w := gzip.NewWriter(&buf)
		w.Write(text)
		w.Close()
	case Zstd:
		w, _ := zstd.NewWriter(&buf)
		w.Write(text)
		w.Close()
	case Snappy:
		w := snappy.NewBufferedWriter(&buf)
		w.Write(text)
		w.Close()
	case HadoopSnappy:
		return hadoopSnappy(text, 4096, 1500)
	case Bzip2:
		b, err := os.ReadFile("testdata/formats/units.ndjson.bz2")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(text, fixtureText(t)) {
			t.Fatal("bzip2 is only available for the fixture text")
		}
		return b
	case Zip:
		w := zip.NewWriter(&buf)
		m, _ := w.Create("findings/units.ndjson")
		m.Write(text)
		w.Close()
	default:
		t.Fatalf("no encoder for %s", f)
	}
	return buf.Bytes()
}

// hadoopSnappy writes Hadoop's block format as its BlockCompressorStream
// does: per block of up to block bytes, the block's length, then its chunks
// of up to chunk bytes, each compressed and preceded by its length.
func hadoopSnappy(text []byte, block, chunk int) []byte {
	var out []byte
	for len(text) > 0 {
		b := text[:min(block, len(text))]
		text = text[len(b):]
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		for len(b) > 0 {
			c := b[:min(chunk, len(b))]
			b = b[len(c):]
			enc := snappy.Encode(nil, c)
			out = binary.BigEndian.AppendUint32(out, uint32(len(enc)))
			out = append(out, enc...)
		}
	}
	return out
}

func head(b []byte) []byte { return b[:min(len(b), DetectSize)] }

// TestDetectAndDecompress: every format hublake reads is told by its
// content and decompresses to the text it holds; a stream cut anywhere
// inside (not at the end of a Snappy chunk, which the format cannot tell
// from its end) fails with an error, never a clean end.
func TestDetectAndDecompress(t *testing.T) {
	text := fixtureText(t)
	for _, f := range []Format{Gzip, Zstd, Snappy, HadoopSnappy, Bzip2} {
		t.Run(f.String(), func(t *testing.T) {
			enc := encodeAs(t, f, text)
			if got, what := Detect(head(enc)); got != f {
				t.Fatalf("Detect = %s (%s), want %s", got, what, f)
			}
			r, err := Decompress(f, bytes.NewReader(enc))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, text) {
				t.Fatalf("decompressed %d bytes (err %v), want the %d bytes of the text", len(got), err, len(text))
			}
			for _, cut := range []int{len(enc) * 6 / 10, len(enc) - 1, len(enc) / 3, 11} {
				r, err := Decompress(f, bytes.NewReader(enc[:cut]))
				if err == nil {
					_, err = io.ReadAll(r)
				}
				if err == nil {
					t.Errorf("cut at %d of %d bytes: read to a clean end", cut, len(enc))
				}
			}
		})
	}
}

// TestHadoopSnappyChunkBoundary: a Hadoop Snappy stream cut between a
// block's chunks is an error (the block's length says more is due); cut
// between blocks it cannot be told from its end.
func TestHadoopSnappyChunkBoundary(t *testing.T) {
	text := []byte(strings.Repeat(`{"a":1}`+"\n", 2000))
	one := hadoopSnappy(text[:4096], 4096, 1500)
	// The block header, then the first chunk's header and body.
	first := 4 + 4 + int(binary.BigEndian.Uint32(one[4:8]))
	r, _ := Decompress(HadoopSnappy, bytes.NewReader(one[:first]))
	if _, err := io.ReadAll(r); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut after the first chunk of a block: %v, want io.ErrUnexpectedEOF", err)
	}
	r, _ = Decompress(HadoopSnappy, bytes.NewReader(one))
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, text[:4096]) {
		t.Errorf("one whole block: %d bytes, %v", len(got), err)
	}
}

func TestDetect(t *testing.T) {
	text := fixtureText(t)
	random := make([]byte, 3000)
	for i := range random {
		random[i] = byte(i*7919 + i*i*31 + 17)
	}
	zipped := encodeAs(t, Zip, text)
	elf := append([]byte("\x7fELF\x02\x01\x01"), random...)
	for _, tc := range []struct {
		name string
		in   []byte
		want Format
		what string
	}{
		{"ndjson", text, Text, ""},
		{"empty", nil, Text, ""},
		{"blanks", []byte(" \n\t"), Text, ""},
		{"pretty with BOM", []byte("\xef\xbb\xbf{\n  \"a\": 1\n}\n"), Text, ""},
		{"latin-1 line is still text", []byte("{\"a\":\"caf\xe9\"}\n"), Text, ""},
		{"not JSON but text", []byte("hello, world\nthis is a README\n"), Text, ""},
		{"zip", zipped, Zip, ""},
		{"empty zip", []byte("PK\x05\x06" + strings.Repeat("\x00", 18)), Zip, ""},
		{"elf", elf, Binary, "ELF"},
		{"parquet", append([]byte("PAR1"), random...), Binary, "Parquet"},
		{"xz", append([]byte("\xfd7zXZ\x00"), random...), Binary, "xz"},
		{"utf-16", []byte("\xff\xfe{\x00\"\x00a\x00\"\x00:\x001\x00}\x00"), Binary, "UTF-16"},
		{"windows executable", append([]byte("MZ\x90\x00"), random...), Binary, "Windows executable"},
		{"random bytes", random, Binary, "not a format"},
		{"nul in text", []byte("{\"a\":1}\n\x00\n"), Binary, "binary content"},
		{"tar", append(append(append([]byte("findings.json"), make([]byte, 244)...), "ustar\x0000"...), make([]byte, 300)...), Binary, "tar"},
		{"zstd skippable frame first", []byte("\x50\x2a\x4d\x18\x04\x00\x00\x00abcd"), Zstd, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, what := Detect(head(tc.in))
			if got != tc.want || !strings.Contains(what, tc.what) {
				t.Errorf("Detect = %s %q, want %s %q", got, what, tc.want, tc.what)
			}
		})
	}
}

// FuzzFormats: Detect and every decompressor take any bytes without
// panicking and end (with an error or not).
func FuzzFormats(f *testing.F) {
	text := fixtureText(f)
	for _, format := range []Format{Text, Gzip, Zstd, Snappy, HadoopSnappy, Bzip2, Zip} {
		enc := encodeAs(f, format, text)
		f.Add(enc)
		f.Add(enc[:len(enc)/2])
	}
	f.Add([]byte("\x00\x00\x10\x00\x00\x00\x00\x05\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		format, _ := Detect(head(data))
		for _, f := range []Format{format, HadoopSnappy, Snappy, Zstd, Gzip, Bzip2} {
			if !f.Compressed() {
				continue
			}
			r, err := Decompress(f, bytes.NewReader(data))
			if err != nil {
				continue
			}
			// Bounded: a decompression bomb is not what this looks for.
			_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<20))
			r.Close()
		}
	})
}

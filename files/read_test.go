package files

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
	"github.com/hublake/hublake/units"
)

// bareFindings is n newline-delimited ASFF findings, each padded so that a
// file of them compresses to a few dozen KiB.
func bareFindings(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"SchemaVersion":"2018-10-08","Id":"finding/%05d","ProductArn":"arn:aws:securityhub:us-east-1::product/aws/securityhub","AwsAccountId":"111122223333","UpdatedAt":"2025-06-01T10:%02d:00Z","Title":"finding %d","Description":"%s"}`+"\n",
			i, i%60, i, strings.Repeat(fmt.Sprintf("%x", i*2654435761), 8+i%17))
	}
	return b.Bytes()
}

// compress writes text in format f (Hadoop Snappy in blocks of 8 KiB, as
// chunks of 3 KiB).
func compress(t testing.TB, f units.Format, text []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch f {
	case units.Gzip:
		w := gzip.NewWriter(&buf)
		w.Write(text)
		w.Close()
	case units.Zstd:
		w, _ := zstd.NewWriter(&buf)
		w.Write(text)
		w.Close()
	case units.Snappy:
		w := snappy.NewBufferedWriter(&buf)
		w.Write(text)
		w.Close()
	case units.HadoopSnappy:
		for len(text) > 0 {
			blk := text[:min(8<<10, len(text))]
			text = text[len(blk):]
			buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
			for len(blk) > 0 {
				c := blk[:min(3<<10, len(blk))]
				blk = blk[len(c):]
				enc := snappy.Encode(nil, c)
				buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(enc))))
				buf.Write(enc)
			}
		}
	default:
		t.Fatalf("compress: %s", f)
	}
	return buf.Bytes()
}

// runBackfill backfills sources into a fresh directory lake and returns
// the lake, the stats and Backfill's error.
func runBackfill(t testing.TB, policy pipeline.Policy, ins ...Input) (string, *pipeline.Stats, error) {
	t.Helper()
	root := t.TempDir()
	store, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	stats := &pipeline.Stats{}
	err = Backfill(context.Background(), InputsOf(ins...), BackfillOptions{Store: store, Stats: stats, Policy: policy})
	return root, stats, err
}

func fileInput(t testing.TB, path string) Input {
	t.Helper()
	ins, err := collect(context.Background(), []string{path})
	if err != nil || len(ins) != 1 {
		t.Fatalf("list %s: %v", path, err)
	}
	return ins[0]
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// heldLines returns the offsets of the lines the decompressor hands out
// whole (newline included) from a stream cut short: the units the input
// held before its break.
func heldLines(t testing.TB, f units.Format, cut []byte) []int64 {
	t.Helper()
	r, err := units.Decompress(f, bytes.NewReader(cut))
	if err != nil {
		return nil
	}
	got, err := io.ReadAll(r)
	if err == nil {
		t.Fatalf("%s cut short decompresses without an error", f)
	}
	var offs []int64
	for off := 0; ; {
		i := bytes.IndexByte(got[off:], '\n')
		if i < 0 {
			return offs
		}
		offs = append(offs, int64(off))
		off += i + 1
	}
}

// failedOnly checks that err names exactly one failed input, name, whose
// error says want.
func failedOnly(t testing.TB, err error, stats *pipeline.Stats, name, want string) {
	t.Helper()
	failed := FailedInputs(err)
	if len(failed) != 1 || failed[0].Name != name || !strings.Contains(failed[0].Error(), want) || stats.InputsFailed.Load() != 1 {
		t.Fatalf("failed inputs %v (stats %d), want %s failing with %q; error %v", failed, stats.InputsFailed.Load(), name, want, err)
	}
}

// sourceOffsets returns the source offsets of every findings row, sorted.
func sourceOffsets(t testing.TB, root, name string) []int64 {
	t.Helper()
	var out []int64
	for src := range lakecheck.RowsBySource(t, lakecheck.Open(t), root, "findings") {
		var off int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(src, "file:"+name+"#"), "%d", &off); err != nil {
			t.Fatalf("source %q", src)
		}
		out = append(out, off)
	}
	slices.Sort(out)
	return out
}

// TestTruncatedCompressed: a compressed file cut at 60 % fails by name (a
// gzip, zstd, Snappy or Hadoop Snappy stream that ends early), and every
// unit it held before the break is a row, none after, in batches cut before
// the break and in the one the break cuts.
func TestTruncatedCompressed(t *testing.T) {
	text := bareFindings(3000)
	for _, f := range []units.Format{units.Gzip, units.Zstd, units.Snappy, units.HadoopSnappy} {
		t.Run(f.String(), func(t *testing.T) {
			whole := compress(t, f, text)
			cut := whole[:len(whole)*6/10]
			want := heldLines(t, f, cut)
			if len(want) < 1000 {
				t.Fatalf("only %d units before the cut", len(want))
			}
			path := writeFile(t, "findings.bin", cut)
			root, stats, err := runBackfill(t, pipeline.Policy{MaxUnits: 250}, fileInput(t, path))
			failedOnly(t, err, stats, path, "read input at byte")
			if got := sourceOffsets(t, root, path); !slices.Equal(got, want) {
				t.Fatalf("%d rows, want the %d units before the break (first missing or extra near %v)", len(got), len(want), firstDiff(got, want))
			}
			if d := lakecheck.DeadLetters(t, root); len(d) != 0 {
				t.Errorf("%d dead letters: the unit the break cuts is not one (%q)", len(d), d[0].Reason)
			}
			// The whole file is read to its end.
			_, stats, err = runBackfill(t, pipeline.Policy{MaxUnits: 250}, fileInput(t, writeFile(t, "whole.bin", whole)))
			if err != nil || stats.Rows(schema.Findings).Load() != 3000 {
				t.Fatalf("whole %s file: %d rows, %v", f, stats.Rows(schema.Findings).Load(), err)
			}
		})
	}
}

func firstDiff(a, b []int64) any {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("row %d: %d vs %d", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("the end (%d vs %d)", len(a), len(b))
}

// TestShrunkFile: a file that is shorter when read than when listed (it
// shrank meanwhile) fails, naming its sizes; its rows up to where it ends
// are kept.
func TestShrunkFile(t *testing.T) {
	text := bareFindings(500)
	path := writeFile(t, "findings.json", text)
	in := fileInput(t, path)
	keep := bytes.LastIndexByte(text[:len(text)/2], '\n') + 1
	if err := os.Truncate(path, int64(keep)); err != nil {
		t.Fatal(err)
	}
	root, stats, err := runBackfill(t, pipeline.Policy{}, in)
	failedOnly(t, err, stats, path, fmt.Sprintf("after %d of its %d bytes", keep, len(text)))
	if n := bytes.Count(text[:keep], []byte("\n")); stats.Rows(schema.Findings).Load() != int64(n) || len(sourceOffsets(t, root, path)) != n {
		t.Errorf("%d rows, want the %d units the file still held", stats.Rows(schema.Findings).Load(), n)
	}
}

// TestFormatsByContent: files are read by what they hold, whatever their
// names say: gzip, zstd, Snappy, Hadoop Snappy, bzip2, a ZIP archive (each
// member a stream of its own, named <archive>!<member>; a gzip member
// decompressed; directories, __MACOSX/ and hidden members skipped) and two
// layers of compression all give the rows of the text.
func TestFormatsByContent(t *testing.T) {
	text := bareFindings(200)
	half := 0
	for range 100 {
		half += bytes.IndexByte(text[half:], '\n') + 1
	}
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	for _, m := range []struct {
		name string
		data []byte
	}{
		{"a/findings.json", text[:half]},
		{"b/", nil},
		{"b/rest.json.gz", compress(t, units.Gzip, text[half:])},
		{"__MACOSX/b/._rest.json.gz", []byte("\x00\x05\x16\x07binary resource fork")},
		{"b/.DS_Store", []byte("\x00\x00\x00\x01Bud1")},
	} {
		w, _ := zw.Create(m.name)
		w.Write(m.data)
	}
	zw.Close()
	bz, err := os.ReadFile(filepath.Join("..", "units", "testdata", "formats", "units.ndjson.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		rows int64
	}{
		{"gzip.txt", compress(t, units.Gzip, text), 200},
		{"zstd.json", compress(t, units.Zstd, text), 200},
		{"snappy", compress(t, units.Snappy, text), 200},
		{"hadoop.snappy", compress(t, units.HadoopSnappy, text), 200},
		{"x.bz2", bz, 40},
		{"archive.zip", zipped.Bytes(), 200},
		{"gzip-of-zstd.gz", compress(t, units.Gzip, compress(t, units.Zstd, text)), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.name, tc.data)
			root, stats, err := runBackfill(t, pipeline.Policy{}, fileInput(t, path))
			if err != nil || stats.Rows(schema.Findings).Load() != tc.rows || stats.DeadLetters.Load() != 0 {
				t.Fatalf("%d rows, %d dead letters, %v; want %d rows", stats.Rows(schema.Findings).Load(), stats.DeadLetters.Load(), err, tc.rows)
			}
			if tc.name == "archive.zip" {
				sources := lakecheck.RowsBySource(t, lakecheck.Open(t), root, "findings")
				if sources["file:"+path+"!a/findings.json#0"] != 1 || sources["file:"+path+"!b/rest.json.gz#0"] != 1 {
					t.Errorf("a ZIP member's rows are not sourced <archive>!<member>#<offset>: %v", lakecheck.SortedKeys(sources)[:3])
				}
			}
		})
	}
}

// TestRefusedContent: content that is no format hublake reads fails the
// input with a clear error and writes nothing: no dead letters.
func TestRefusedContent(t *testing.T) {
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte((i * 2654435761) >> 13)
	}
	gzTail := compress(t, units.Gzip, bareFindings(10))
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"program", "ELF executable", append([]byte("\x7fELF\x02\x01\x01\x00"), random...)},
		{"data.bin", "binary content", random},
		{"lake.parquet", "Parquet file", append([]byte("PAR1"), random...)},
		{"utf16.json", "UTF-16", []byte("\xff\xfe{\x00}\x00\n\x00")},
		{"zeros.gz", "binary content", compress(t, units.Gzip, make([]byte, 64<<20))}, // a bomb: 64 MiB of NULs in 64 KiB
		{"zip-in-gzip.gz", "ZIP archive inside", compress(t, units.Gzip, []byte("PK\x03\x04"+string(random[:100])))},
		{"garbage-after.gz", "invalid header", append(slices.Clip(gzTail), "trailing text that is not gzip"...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.name, tc.data)
			root, stats, err := runBackfill(t, pipeline.Policy{}, fileInput(t, path))
			failedOnly(t, err, stats, path, tc.want)
			if tc.name != "garbage-after.gz" && (stats.DeadLetters.Load() != 0 || stats.Objects.Load() != 0 || len(lakecheck.DeadLetters(t, root)) != 0) {
				t.Errorf("refused content wrote %d objects, %d dead letters", stats.Objects.Load(), stats.DeadLetters.Load())
			}
		})
	}
}

// TestDestinationNotRead: a backfill whose destination lies inside its
// source does not read the lake's tables or _hublake/ back (a second run
// writes nothing new), nor any _hublake/ directory; a source inside the
// destination's tables is an error.
func TestDestinationNotRead(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "findings.json"), bareFindings(50), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"elsewhere/_hublake/locks", "lake/notes"} {
		os.MkdirAll(filepath.Join(src, dir), 0o755)
	}
	os.WriteFile(filepath.Join(src, "elsewhere/_hublake/locks/x"), []byte("not input"), 0o644)
	os.WriteFile(filepath.Join(src, "lake/notes/more.json"), bareFindings(5), 0o644)
	lk := filepath.Join(src, "lake")
	ctx := context.Background()
	run := func() *pipeline.Stats {
		store, err := dirlake.New(lk)
		if err != nil {
			t.Fatal(err)
		}
		stats := &pipeline.Stats{}
		if err := Backfill(ctx, Inputs(ctx, []string{src}, nil, nil, lk), BackfillOptions{Store: store, Stats: stats}); err != nil {
			t.Fatal(err)
		}
		return stats
	}
	for i := range 2 {
		if s := run(); s.Inputs.Load() != 2 || s.Rows(schema.Findings).Load() != 55 || s.DeadLetters.Load() != 0 {
			t.Fatalf("run %d: %d inputs, %d rows, %d dead letters; want 2 inputs (findings.json, lake/notes/more.json), 55 rows, none", i, s.Inputs.Load(), s.Rows(schema.Findings).Load(), s.DeadLetters.Load())
		}
	}
	for _, err := range Inputs(ctx, []string{filepath.Join(lk, "findings")}, nil, nil, lk) {
		if err == nil || !strings.Contains(err.Error(), "inside the destination lake") {
			t.Fatalf("a source inside the destination's tables: %v", err)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", &InputError{Name: "n", Err: io.ErrUnexpectedEOF}), io.ErrUnexpectedEOF) {
		t.Error("InputError does not unwrap")
	}
}

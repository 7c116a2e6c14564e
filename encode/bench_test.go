package encode

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/format"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/internal/pqconform"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/objstore/s3lake"
	"github.com/hublake/hublake/schema"
)

// discard is a objstore.Store that throws objects away, to measure encoding alone.
type discard struct{}

func (discard) Create(context.Context, string) (objstore.ObjectWriter, error) {
	return discardObject{}, nil
}
func (discard) Stat(context.Context, string) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, objstore.ErrNotExist
}
func (discard) Delete(context.Context, string) error { return nil }
func (discard) Ping(context.Context) error           { return nil }
func (discard) String() string                       { return "discard" }

type discardObject struct{}

func (discardObject) Write(p []byte) (int, error) { return len(p), nil }
func (discardObject) Commit() error               { return nil }
func (discardObject) Abort() error                { return nil }

var _ io.Writer = discardObject{}

// benchRows decodes n generated events into finding rows.
func benchRows(b testing.TB, n int64) ([]schema.Finding, int64) {
	b.Helper()
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events, cfg.DupRatio, cfg.InsightRatio, cfg.OCSFRatio = 0, n, 0, 0, 0
	g, err := gen.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var out schema.Output
	var raw int64
	for !g.Done() {
		u := append([]byte(nil), g.Next()...)
		schema.Decode(u, schema.Origin{Source: "bench", NotAfter: time.Now().Add(24 * time.Hour)}, &out)
	}
	for i := range out.Findings {
		raw += int64(len(out.Findings[i].RawFinding))
	}
	return out.Findings, raw
}

// BenchmarkParquetEncode writes finding rows into one object per size, as
// the batcher does per partition; SetBytes is the rows' raw_finding bytes.
func BenchmarkParquetEncode(b *testing.B) {
	rows, raw := benchRows(b, 4000)
	for _, tc := range []struct {
		name string
		per  int
	}{{"rows=1", 1}, {"rows=100", 100}, {"rows=4000", 4000}} {
		b.Run(tc.name, func(b *testing.B) {
			e := New(discard{}, Options{})
			b.SetBytes(raw)
			for i := 0; i < b.N; i++ {
				for j := 0; j < len(rows); j += tc.per {
					if tc.per == 1 && j >= 200 {
						b.SetBytes(raw * 200 / int64(len(rows)))
						break
					}
					if _, err := WriteTable(context.Background(), e, schema.Findings, "2026-01-01", "bench", rows[j:min(j+tc.per, len(rows))]); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkAbsorbedCheck measures what the absorbed-name check costs a
// writer per object: two Stats of a marker that does not exist (one before
// the write, one after the commit), against the write of a small object
// itself, on a directory and on versitygw (a local S3 server: a HEAD is a
// round trip, as on S3, if a much shorter one).
func BenchmarkAbsorbedCheck(b *testing.B) {
	d, err := dirlake.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	stack := localstack.Start(b, localstack.Options{S3: true, S3Metadata: true})
	stack.Bucket(b, "lake")
	stores := []struct {
		name  string
		store objstore.Store
	}{{"dir", d}, {"versitygw", laketest.NewS3(b, stack.S3, "s3://lake/bench", s3lake.Options{}, 0, time.Second)}}
	ctx := context.Background()
	body := make([]byte, 16<<10)
	for _, s := range stores {
		b.Run(s.name+"/check", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				key, _ := layout.ObjectKey("findings", "2024-01-02", fmt.Sprintf("batch-%d", i))
				for range 2 {
					if _, done, err := AbsorbedSince(ctx, s.store, key); err != nil || done {
						b.Fatal(done, err)
					}
				}
			}
		})
		b.Run(s.name+"/write-16KiB", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				key, _ := layout.ObjectKey("findings", "2024-01-02", fmt.Sprintf("batch-%d", i))
				if err := laketest.WriteObject(ctx, s.store, key, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParquetCodecs writes one object of 4,000 finding rows (1,000 per
// row group) with the table's settings and each codec: what compression
// costs against the rest of the encoding, and what it saves (out/raw: the
// object's bytes per byte of raw_finding).
func BenchmarkParquetCodecs(b *testing.B) {
	rows, raw := benchRows(b, 4000)
	base := WriterOptions(schema.Findings, Options{})
	for _, tc := range []struct {
		name  string
		codec compress.Codec
	}{{"zstd", nil}, {"snappy", snappyCodec{}}, {"uncompressed", &parquet.Uncompressed}} {
		opts := base
		if tc.codec != nil {
			opts = append(slices.Clone(base), parquet.Compression(tc.codec))
		}
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(raw)
			var n int64
			for i := 0; i < b.N; i++ {
				cw := &CountingWriter{W: io.Discard}
				writeBenchObject(b, cw, rows, opts)
				n = cw.N
			}
			b.ReportMetric(float64(n)/float64(raw), "out/raw")
		})
	}
}

// writeBenchObject writes rows as one findings object into out, in row
// groups of 1,000 rows.
func writeBenchObject(b testing.TB, out io.Writer, rows []schema.Finding, opts []parquet.WriterOption) {
	writeGroups(b, parquet.NewGenericWriter[schema.Finding](out, opts...), rows)
}

// findingWriter is parquet-go's writer or hublake's.
type findingWriter interface {
	Write([]schema.Finding) (int, error)
	Flush() error
	Close() error
}

// writeGroups writes rows into w in row groups of 1,000 rows and closes it.
func writeGroups(b testing.TB, w findingWriter, rows []schema.Finding) {
	for j := 0; j < len(rows); j += 1000 {
		if _, err := w.Write(rows[j:min(j+1000, len(rows))]); err != nil {
			b.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// pageRecorder is a codec that keeps a copy of every page it is given and
// compresses nothing. It calls itself ZSTD because parquet-go does not call
// an UNCOMPRESSED codec at all; its objects are thrown away.
type pageRecorder struct{ pages [][]byte }

func (*pageRecorder) String() string                            { return "ZSTD" }
func (*pageRecorder) CompressionCodec() format.CompressionCodec { return format.Zstd }
func (*pageRecorder) Decode(dst, src []byte) ([]byte, error)    { return append(dst[:0], src...), nil }
func (r *pageRecorder) Encode(dst, src []byte) ([]byte, error) {
	r.pages = append(r.pages, bytes.Clone(src))
	return append(dst[:0], src...), nil
}

// BenchmarkPageCodecs compresses the pages of 4,000 findings' object (as
// the writer hands them to its codec) with each candidate: the codec alone,
// apart from the rest of the encoding. SetBytes is the pages' bytes.
func BenchmarkPageCodecs(b *testing.B) {
	rows, _ := benchRows(b, 4000)
	rec := &pageRecorder{}
	writeBenchObject(b, io.Discard, rows, append(slices.Clone(WriterOptions(schema.Findings, Options{})), parquet.Compression(rec)))
	var in int64
	for _, p := range rec.pages {
		in += int64(len(p))
	}
	zstdNoEntropy, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false),
		zstd.WithNoEntropyCompression(true))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		codec compress.Codec
	}{
		{"zstd", newZstdCodec()},
		{"zstd-no-entropy", encodeFunc(func(dst, src []byte) []byte { return zstdNoEntropy.EncodeAll(src, dst[:0]) })},
		{"snappy", snappyCodec{}},
		{"parquet-go-snappy", &parquet.Snappy},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(in)
			dst := make([]byte, 0, 1<<20)
			var out int64
			for b.Loop() {
				out = 0
				for _, p := range rec.pages {
					c, err := tc.codec.Encode(dst, p)
					if err != nil {
						b.Fatal(err)
					}
					out += int64(len(c))
				}
			}
			b.ReportMetric(float64(out)/float64(in), "out/in")
		})
	}
}

// encodeFunc is a compress.Codec made of an encoding function (benchmarks
// only: it does not decode).
type encodeFunc func(dst, src []byte) []byte

func (encodeFunc) String() string                            { return "ZSTD" }
func (encodeFunc) CompressionCodec() format.CompressionCodec { return format.Zstd }
func (encodeFunc) Decode(dst, src []byte) ([]byte, error)    { return nil, errors.New("not implemented") }
func (f encodeFunc) Encode(dst, src []byte) ([]byte, error)  { return f(dst, src), nil }

// beforeOptions are the writer settings of e22620b, before issue 19: no
// bounds and no page statistics on the then BigText columns (ids, titles,
// sources among them), parquet-go's page index and footer as they come.
func beforeOptions(table string) []parquet.WriterOption {
	o := Options{}
	opts := []parquet.WriterOption{
		schema.ParquetSchema(table), parquet.Compression(o.codec()), parquet.MaxRowsPerRowGroup(o.RowGroupRowsOrDefault()),
		parquet.CreatedBy("hublake", "1", ""), parquet.DictionaryMaxBytes(4 << 20),
	}
	for _, p := range []string{"raw_finding", "description", "title", "remediation_text", "remediation_url", "source",
		"id", "event_id", "generator_id", "resource_id", "source_url", "note_text",
		"event_resources.list.element", "resource_ids.list.element", "resources.list.element.id", "resources.list.element.details_json",
		"product_fields.key_value.key", "product_fields.key_value.value", "user_defined_fields.key_value.key", "user_defined_fields.key_value.value",
		"resources.list.element.tags.key_value.key", "resources.list.element.tags.key_value.value"} {
		path := strings.Split(p, ".")
		opts = append(opts, parquet.SkipPageBounds(path...), parquet.SkipPageStatistics(path...))
	}
	return opts
}

// writeBefore writes rows as e22620b did: parquet-go's writer, 1,000 rows
// per Write and row group.
func writeBefore(b testing.TB, out io.Writer, rows []schema.Finding) {
	writeBenchObject(b, out, rows, beforeOptions(schema.TableFindings))
}

// writeAfter writes rows as hublake does now (ParquetWriter, the
// finisher), in row groups of 1,000 rows, with more writer options.
func writeAfter(b testing.TB, out io.Writer, rows []schema.Finding, more ...parquet.WriterOption) {
	opts := append(WriterOptions(schema.Findings, Options{}), more...)
	writeGroups(b, NewParquetWriter[schema.Finding](out, schema.Findings, opts), rows)
}

// BenchmarkParquetTruth: what a file that says only what is true costs:
// 4,000 findings (ZSTD, 1,000-row groups) written as before issue 19
// (writeBefore) and as now (writeAfter), alternately in each iteration, so
// that both see the same machine. It reports each one's CPU milliseconds
// per object (steadier than wall time on a shared machine), their ratio,
// and both objects' sizes.
func BenchmarkParquetTruth(b *testing.B) {
	rows, raw := benchRows(b, 4000)
	var cpuBefore, cpuAfter time.Duration
	var before, after int64
	b.SetBytes(2 * raw)
	for b.Loop() {
		c0 := cpuTime()
		cw := &CountingWriter{W: io.Discard}
		writeBefore(b, cw, rows)
		c1 := cpuTime()
		before = cw.N
		cw = &CountingWriter{W: io.Discard}
		writeAfter(b, cw, rows)
		after = cw.N
		cpuBefore += c1 - c0
		cpuAfter += cpuTime() - c1
	}
	n := float64(b.N)
	b.ReportMetric(float64(cpuBefore.Milliseconds())/n, "before-cpu-ms")
	b.ReportMetric(float64(cpuAfter.Milliseconds())/n, "after-cpu-ms")
	b.ReportMetric(float64(cpuAfter)/float64(cpuBefore), "cpu-ratio")
	b.ReportMetric(float64(before), "before-bytes")
	b.ReportMetric(float64(after), "after-bytes")
}

// BenchmarkIDLookups measures what equality lookups by id gain or lose
// from the bounds a file gives, with a page-index-aware reader (hyparquet,
// through pqconform.RunLookups: SELECT id, title, updated_at WHERE id =
// <present id>). 12,000 generated events' findings in one object, written as backfill and the
// stream write them (input order), as compaction does (sorted by its keys),
// and sorted by id, each as before issue 19 and with ColumnIndex bounds of
// 16 (parquet-go's default), 64 (hublake's) and 256 bytes. It reports, per
// file, the rows the page index keeps per lookup (of all), lookups that lost
// rows, and milliseconds per lookup with and without the page index.
func BenchmarkIDLookups(b *testing.B) {
	rows, _ := benchRows(b, 12000)
	dir := b.TempDir()
	sortedBy := func(less func(a, b *schema.Finding) int) []schema.Finding {
		out := slices.Clone(rows)
		slices.SortStableFunc(out, func(a, b schema.Finding) int { return less(&a, &b) })
		return out
	}
	orders := map[string][]schema.Finding{
		"input": rows,
		"compacted": sortedBy(func(a, b *schema.Finding) int {
			return cmp.Or(strings.Compare(a.SeverityLabel, b.SeverityLabel), strings.Compare(a.ProductName, b.ProductName), strings.Compare(a.ComplianceSecurityControlID, b.ComplianceSecurityControlID), strings.Compare(a.AwsAccountID, b.AwsAccountID), a.UpdatedAt.Compare(b.UpdatedAt))
		}),
		"by-id": sortedBy(func(a, b *schema.Finding) int { return strings.Compare(a.ID, b.ID) }),
	}
	var values []string
	for i := 0; i < len(rows); i += len(rows) / 20 {
		values = append(values, rows[i].ID)
	}
	var files []string
	for _, order := range []string{"input", "compacted", "by-id"} {
		for _, v := range []struct {
			name  string
			index int
		}{{"before", 0}, {"index16", 16}, {"index64", 64}, {"index256", 256}} {
			var buf bytes.Buffer
			if v.index == 0 {
				writeBefore(b, &buf, orders[order])
			} else {
				writeAfter(b, &buf, orders[order], parquet.ColumnIndexSizeLimit(func([]string) int { return v.index }))
			}
			path := filepath.Join(dir, order+"-"+v.name+".parquet")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				b.Fatal(err)
			}
			files = append(files, path)
		}
	}
	for b.Loop() {
		for _, r := range pqconform.RunLookups(b, pqconform.LookupSpec{Files: files, Column: "id", Select: []string{"title", "updated_at"}, Values: values, Rounds: 1}) {
			fi, _ := os.Stat(r.Path)
			// Printed, not logged: a benchmark's log keeps 10 lines.
			fmt.Printf("%-28s %8d bytes, %d id pages: keeps %6.0f of %d rows per lookup, %2d of %d lookups lost rows, %6.1f ms with the page index, %6.1f without\n",
				filepath.Base(r.Path), fi.Size(), r.Pages, r.KeptRows, r.Rows, r.Lost, r.Lookups, r.MsIndex, r.MsScan)
		}
	}
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

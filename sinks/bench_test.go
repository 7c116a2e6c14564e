package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/format"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/schema"
)

// discard is a Store that throws objects away, to measure encoding alone.
type discard struct{}

func (discard) Create(context.Context, string) (ObjectWriter, error) { return discardObject{}, nil }
func (discard) Stat(context.Context, string) (ObjectInfo, error)     { return ObjectInfo{}, ErrNotExist }
func (discard) Delete(context.Context, string) error                 { return nil }
func (discard) Ping(context.Context) error                           { return nil }
func (discard) String() string                                       { return "discard" }

type discardObject struct{}

func (discardObject) Write(p []byte) (int, error) { return len(p), nil }
func (discardObject) Commit() error               { return nil }
func (discardObject) Abort() error                { return nil }

var _ io.Writer = discardObject{}

// benchRows decodes n generated events into finding rows.
func benchRows(b *testing.B, n int64) ([]schema.Finding, int64) {
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
			e := NewEncoder(discard{}, EncodeOptions{})
			b.SetBytes(raw)
			for i := 0; i < b.N; i++ {
				for j := 0; j < len(rows); j += tc.per {
					if tc.per == 1 && j >= 200 {
						b.SetBytes(raw * 200 / int64(len(rows)))
						break
					}
					if _, err := e.WriteFindings(context.Background(), "2026-01-01", "bench", rows[j:min(j+tc.per, len(rows))]); err != nil {
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
	d, err := NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	stack := localstack.Start(b, localstack.Options{S3: true, S3Metadata: true})
	stack.Bucket(b, "lake")
	stores := []struct {
		name  string
		store Store
	}{{"dir", d}, {"versitygw", newTestS3(b, stack.S3, "s3://lake/bench", S3Options{})}}
	ctx := context.Background()
	body := make([]byte, 16<<10)
	for _, s := range stores {
		b.Run(s.name+"/check", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				key, _ := ObjectKey("findings", "2024-01-02", fmt.Sprintf("batch-%d", i))
				for range 2 {
					if _, done, err := AbsorbedSince(ctx, s.store, key); err != nil || done {
						b.Fatal(done, err)
					}
				}
			}
		})
		b.Run(s.name+"/write-16KiB", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				key, _ := ObjectKey("findings", "2024-01-02", fmt.Sprintf("batch-%d", i))
				if err := writeObject(ctx, s.store, key, body); err != nil {
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
	base := WriterOptions(schema.TableFindings, EncodeOptions{})
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
func writeBenchObject(b *testing.B, out io.Writer, rows []schema.Finding, opts []parquet.WriterOption) {
	w := parquet.NewGenericWriter[schema.Finding](out, opts...)
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
	writeBenchObject(b, io.Discard, rows, append(slices.Clone(WriterOptions(schema.TableFindings, EncodeOptions{})), parquet.Compression(rec)))
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

package files

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
	"github.com/hublake/hublake/units"
)

// BenchmarkBackfill is the whole file pipeline: split, decode, dedup,
// batch, Parquet, local store, with 1 and 2 workers.
func BenchmarkBackfill(b *testing.B) {
	in := benchCorpus(b, 48<<20, 0)
	inputs, err := collect(context.Background(), []string{in})
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, i := range inputs {
		size += i.Size
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				out := b.TempDir()
				store, _ := dirlake.New(out)
				stats := &pipeline.Stats{}
				if err := Backfill(context.Background(), InputsOf(inputs...), BackfillOptions{Store: store, Workers: workers, Stats: stats}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(stats.Rows(schema.Findings).Load())/b.Elapsed().Seconds()*float64(i+1), "findings/s")
				b.ReportMetric(float64(stats.BytesOut.Load())/float64(size), "out/in")
			}
		})
	}
}

// BenchmarkSplitter measures cutting NDJSON into units, and the same events
// concatenated without separator (how Firehose writes them: every object
// is scanned member by member, for a Findings document).
func BenchmarkSplitter(b *testing.B) {
	in := benchCorpus(b, 48<<20, 0)
	files, _ := filepath.Glob(filepath.Join(in, "*.json"))
	ndjson, err := os.ReadFile(files[0])
	if err != nil {
		b.Fatal(err)
	}
	for _, layout := range []struct {
		name string
		data []byte
	}{{"ndjson", ndjson}, {"concat", bytes.ReplaceAll(ndjson, []byte("\n"), nil)}} {
		b.Run(layout.name, func(b *testing.B) {
			b.SetBytes(int64(len(layout.data)))
			for i := 0; i < b.N; i++ {
				sp := units.NewSplitter(bytesReader(layout.data), pipeline.DefaultMaxUnitBytes)
				for {
					if _, err := sp.Next(); err != nil {
						break
					}
				}
			}
		})
	}
}

func bytesReader(b []byte) *bytesReaderT { return &bytesReaderT{b: b} }

type bytesReaderT struct{ b []byte }

func (r *bytesReaderT) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// benchCorpus returns a generated corpus of about n bytes in files of 8 MiB,
// with event times over days days (0: the default 130), written once per
// process.
func benchCorpus(b *testing.B, n int64, days int) string {
	b.Helper()
	dir, err := gen.BenchDir(n, days)
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

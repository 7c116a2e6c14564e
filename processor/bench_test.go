package processor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/lake/dirlake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
	"github.com/hublake/hublake/units"
)

// benchCorpus writes a generated corpus of about n bytes in files of 8 MiB,
// with event times over days days (0: the default 130), once per process,
// and returns its directory.
var benchCorpusOnce sync.Map

func benchCorpus(b *testing.B, n int64, days int) string {
	b.Helper()
	key := strconv.FormatInt(n, 10) + "/" + strconv.Itoa(days)
	if v, ok := benchCorpusOnce.Load(key); ok {
		return v.(string)
	}
	dir, err := os.MkdirTemp("", "hublake-bench-")
	if err != nil {
		b.Fatal(err)
	}
	cfg := gen.DefaultConfig()
	cfg.Bytes = n
	if days > 0 {
		cfg.Days = days
	}
	if _, err := gen.WriteDir(context.Background(), dir, cfg, gen.WriteOptions{FileBytes: 8 << 20}); err != nil {
		b.Fatal(err)
	}
	benchCorpusOnce.Store(key, dir)
	return dir
}

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
				b.ReportMetric(float64(stats.Findings.Load())/b.Elapsed().Seconds()*float64(i+1), "findings/s")
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

// BenchmarkConsumerPath feeds the KCL's input types to the record
// processors of 8 shards in parallel, as the KCL would (GetRecords pages of
// up to 500 records), through the pipeline into a local store: the
// consumer's processing path without an emulator. As on a live stream, the
// events' times are close to their arrival (one day of events), so a
// window's batch touches one or two dt partitions.
func BenchmarkConsumerPath(b *testing.B) {
	in := benchCorpus(b, 48<<20, 1)
	inputs, err := collect(context.Background(), []string{in})
	if err != nil {
		b.Fatal(err)
	}
	var records []types.Record
	var size int64
	// Records arrive on the generated day (its events' times are within it):
	// the consumer places an event only up to a day after its arrival.
	base := gen.DefaultConfig().End.Add(-24 * time.Hour)
	for _, input := range inputs {
		_, err := EachUnit(context.Background(), input, pipeline.DefaultMaxUnitBytes, func(_ int64, data []byte) error {
			n := len(records)
			records = append(records, types.Record{
				Data:                        data,
				SequenceNumber:              aws.String(fmt.Sprintf("4968%052d", n)),
				ApproximateArrivalTimestamp: aws.Time(base.Add(time.Duration(n) * time.Millisecond)),
				PartitionKey:                aws.String("k"),
			})
			size += int64(len(data))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// The consumer's default codec, and the one of backfill for comparison.
	// One unmeasured pass of each first: a process's first pass pays for
	// growing its heap and for sonic's and parquet-go's per-type set-up,
	// which a long-running consumer pays once (without it, whichever runs
	// first measured 15–25 % slower).
	codecs := []string{encode.StreamCodec, encode.DefaultCodec}
	for _, codec := range codecs {
		consumeRecords(b, b.TempDir(), records, codec)
	}
	for _, codec := range codecs {
		b.Run("codec="+codec, func(b *testing.B) {
			b.SetBytes(size)
			cpu0 := processCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				consumeRecords(b, b.TempDir(), records, codec)
			}
			// CPU seconds per GB of input and the cores kept busy:
			// throughput on more cores is about cores / (CPU s per GB) GB/s.
			cpu := (processCPU() - cpu0).Seconds()
			b.ReportMetric(cpu/(float64(size)*float64(b.N)/1e9), "cpu-s/GB")
			b.ReportMetric(cpu/b.Elapsed().Seconds(), "cores")
		})
	}
}

// consumeRecords puts records through the record processors of 8 shards,
// in parallel, into a lake at dir written with codec.
func consumeRecords(b *testing.B, dir string, records []types.Record, codec string) {
	const shards = 8
	store, _ := dirlake.New(dir)
	enc := encode.New(store, encode.Options{Codec: codec})
	c := newShards("bench", pipeline.Policy{Window: time.Minute}, enc, &pipeline.Stats{}, slog.New(slog.DiscardHandler), noObserver{}, newMemLeases())
	var wg sync.WaitGroup
	for s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := c.CreateProcessor()
			p.Initialize(&kcl.InitializationInput{ShardId: fmt.Sprintf("shardId-%012d", s)})
			var page []types.Record
			for j := s; j < len(records); j += shards {
				page = append(page, records[j])
				if len(page) == 500 {
					p.ProcessRecords(&kcl.ProcessRecordsInput{Records: page, MillisBehindLatest: 1000})
					page = page[:0]
				}
			}
			p.ProcessRecords(&kcl.ProcessRecordsInput{Records: page})
			p.Shutdown(&kcl.ShutdownInput{ShutdownReason: kcl.TERMINATE})
		}()
	}
	wg.Wait()
	// A benchmark of dead letters would measure the wrong path.
	if _, err := os.Stat(filepath.Join(dir, "dead_letters")); err == nil {
		b.Fatal("the benchmark's records became dead letters")
	}
	if _, err := os.Stat(filepath.Join(dir, schema.TableFindings)); err != nil {
		b.Fatalf("no findings written: %v", err)
	}
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

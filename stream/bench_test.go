package stream

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/lease"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// BenchmarkConsumerPath feeds the KCL's input types to the record
// processors of 8 shards in parallel, as the KCL would (GetRecords pages of
// up to 500 records), through the pipeline into a local store: the
// consumer's processing path without an emulator. As on a live stream, the
// events' times are close to their arrival (one day of events), so a
// window's batch touches one or two dt partitions.
func BenchmarkConsumerPath(b *testing.B) {
	in, err := gen.BenchDir(48<<20, 1)
	if err != nil {
		b.Fatal(err)
	}
	// Records arrive on the generated day (its events' times are within it):
	// the consumer places an event only up to a day after its arrival.
	base := gen.DefaultConfig().End.Add(-24 * time.Hour)
	records, size := recordsOf(b, in, func(n int) time.Time { return base.Add(time.Duration(n) * time.Millisecond) })
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
	c := memShards("bench", pipeline.Policy{Window: time.Minute}, enc, &pipeline.Stats{}, lease.NewMemory(nil))
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

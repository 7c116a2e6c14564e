package files

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hublake/hublake/internal/faults"
	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/s3lake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// The memory tests run a backfill inside the test process and sample the
// heap with runtime/metrics while it runs: the live heap measured at each
// garbage collection (/gc/heap/live:bytes) must stay within pipeline.MemoryBudget,
// the budget the batch limits imply. They are not parallel: other tests'
// heaps would count.

// heapSampler records the largest live heap, and the largest heap in use
// (live plus not yet swept), above the baseline at its start.
type heapSampler struct {
	base          uint64
	maxLive, maxH atomic.Uint64
	stop          chan struct{}
	done          sync.WaitGroup
}

func startHeapSampler() *heapSampler {
	runtime.GC()
	s := &heapSampler{stop: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(samples)
	s.base = samples[0].Value.Uint64()
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			if v := samples[0].Value.Uint64(); v > s.maxLive.Load() {
				s.maxLive.Store(v)
			}
			if v := samples[1].Value.Uint64(); v > s.maxH.Load() {
				s.maxH.Store(v)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// finish stops sampling after one more collection (so that the heap at the
// end of the run is measured too) and returns the peaks above the baseline.
func (s *heapSampler) finish() (live, inUse int64) {
	runtime.GC()
	time.Sleep(5 * time.Millisecond)
	close(s.stop)
	s.done.Wait()
	return int64(s.maxLive.Load()) - int64(s.base), int64(s.maxH.Load()) - int64(s.base)
}

// countingStore keeps nothing: it counts objects and their bytes.
type countingStore struct {
	mu      sync.Mutex
	objects int
	keys    map[string]bool
	biggest int64
}

func (c *countingStore) Create(_ context.Context, key string) (objstore.ObjectWriter, error) {
	if err := layout.CheckKey(key); err != nil {
		return nil, err
	}
	return &countingObject{s: c, key: key}, nil
}
func (c *countingStore) Stat(_ context.Context, key string) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, objstore.ErrNotExist
}
func (c *countingStore) Delete(context.Context, string) error { return nil }
func (c *countingStore) Ping(context.Context) error           { return nil }
func (c *countingStore) String() string                       { return "counting" }

type countingObject struct {
	s   *countingStore
	key string
	n   int64
}

func (o *countingObject) Write(p []byte) (int, error) { o.n += int64(len(p)); return len(p), nil }
func (o *countingObject) Abort() error                { return nil }
func (o *countingObject) Commit() error {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	o.s.objects++
	o.s.keys[o.key] = true
	o.s.biggest = max(o.s.biggest, o.n)
	return nil
}

// generatedInput is an input whose bytes are written by gen as they are read:
// the flood never sits in memory (or on disk) as a whole.
func generatedInput(name string, gen func(w io.Writer) error) Input {
	return Input{Name: name, Size: -1, open: func(context.Context) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			bw := bufio.NewWriterSize(pw, 64<<10)
			err := gen(bw)
			if err == nil {
				err = bw.Flush()
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}}
}

// randomText returns n bytes of base64 text from random bytes: it
// compresses poorly, like the secrets and hashes findings carry.
func randomText(n int) string {
	b := make([]byte, n*3/4+3)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)[:n]
}

// partitionFlood writes n events of about size bytes, each in a day of its
// own (thousands of dt values from 2015 on) and from an account of its own.
func partitionFlood(n, size int) func(io.Writer) error {
	start := time.Date(2015, 1, 2, 0, 0, 0, 0, time.UTC)
	return func(w io.Writer) error {
		for i := range n {
			day := start.AddDate(0, 0, i).Format(time.RFC3339)
			f := hostile.Finding(fmt.Sprintf("flood/%d", i), fmt.Sprintf(`"AwsAccountId":"%012d"`, 100000000000+i),
				`"UpdatedAt":"`+day+`"`, `"Description":"`+randomText(size)+`"`)
			if _, err := io.WriteString(w, hostile.Imported(fmt.Sprintf("flood-%d", i), day, f)+"\n"); err != nil {
				return err
			}
		}
		return nil
	}
}

// hugeFlood writes n events of one finding of size bytes each, all in one
// partition.
func hugeFlood(n, size int) func(io.Writer) error {
	return func(w io.Writer) error {
		for i := range n {
			f := hostile.Finding(fmt.Sprintf("huge/%d", i), `"Description":"`+randomText(size)+`"`)
			if _, err := io.WriteString(w, hostile.Imported(fmt.Sprintf("huge-%d", i), hostile.Time, f)+"\n"); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestBackfillMemoryBound: a flood of thousands of partitions and accounts,
// and a flood of findings of megabytes each, stay within the memory budget
// that the batch limits imply, with one worker and with two.
func TestBackfillMemoryBound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  pipeline.Policy
		workers int
		inputs  []Input
		check   func(t *testing.T, s *countingStore, stats *pipeline.Stats)
	}{
		{
			name:    "thousands of partitions",
			policy:  pipeline.Policy{MaxBytes: 2 << 20, MaxUnitBytes: 1 << 20},
			workers: 1,
			inputs:  []Input{generatedInput("partitions", partitionFlood(2000, 6<<10))},
			check: func(t *testing.T, s *countingStore, stats *pipeline.Stats) {
				dts := map[string]bool{}
				for k := range s.keys {
					dts[strings.Split(k, "/")[1]] = true
				}
				if len(dts) != 2000 || stats.Rows(schema.Findings).Load() != 2000 {
					t.Errorf("%d partitions, %d findings; want 2000 of each", len(dts), stats.Rows(schema.Findings).Load())
				}
			},
		},
		{
			name:    "findings of megabytes",
			policy:  pipeline.Policy{MaxBytes: 8 << 20, MaxUnitBytes: 6 << 20},
			workers: 2,
			inputs:  []Input{generatedInput("huge-a", hugeFlood(8, 3<<20)), generatedInput("huge-b", hugeFlood(8, 5<<20)), generatedInput("huge-c", hugeFlood(2, 7<<20))},
			check: func(t *testing.T, s *countingStore, stats *pipeline.Stats) {
				// 7 MiB findings are over the unit limit: dead letters.
				if stats.Rows(schema.Findings).Load() != 16 || stats.DeadLetters.Load() != 2 {
					t.Errorf("%d findings, %d dead letters; want 16 and 2", stats.Rows(schema.Findings).Load(), stats.DeadLetters.Load())
				}
				if s.biggest < 6<<20 {
					t.Errorf("the largest object is %d bytes; the test wants objects of several MiB", s.biggest)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &countingStore{keys: map[string]bool{}}
			stats := &pipeline.Stats{}
			budget := pipeline.MemoryBudget(tc.workers, tc.policy)
			sampler := startHeapSampler()
			err := Backfill(context.Background(), InputsOf(tc.inputs...), BackfillOptions{Policy: tc.policy, Store: store, Workers: tc.workers, Stats: stats})
			live, inUse := sampler.finish()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, store, stats)
			t.Logf("%d objects, %d MiB in; peak live heap %d MiB, peak heap in use %d MiB; budget %d MiB",
				store.objects, stats.BytesIn.Load()>>20, live>>20, inUse>>20, budget>>20)
			if live > budget {
				t.Errorf("peak live heap %d MiB exceeds the budget of %d MiB", live>>20, budget>>20)
			}
		})
	}
}

// TestBackfillLargeObjectToS3: a batch that makes one Parquet object of more
// than 15 MiB goes to S3 (versitygw, behind a proxy that counts requests) as
// a multipart upload of at least three 5 MiB parts, within the memory
// budget; then the same with every part after the first failing beyond the
// retryer's attempts: the backfill fails, the upload is aborted and no part
// and no object is left.
func TestBackfillLargeObjectToS3(t *testing.T) {
	stack := localstack.Start(t, localstack.Options{S3: true, S3Metadata: true})
	stack.SetEnv(t)
	stack.Bucket(t, "big")
	proxy, err := faults.NewReverse(stack.S3)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() { proxy.Close(); srv.Close() })
	policy := pipeline.Policy{MaxBytes: 24 << 20, MaxUnitBytes: 2 << 20}
	ctx := context.Background()

	for _, fail := range []bool{false, true} {
		name := "upload"
		if fail {
			name = "part failure"
		}
		t.Run(name, func(t *testing.T) {
			prefix := strings.ReplaceAll(name, " ", "-")
			store := laketest.NewS3(t, srv.URL, "s3://big/"+prefix, s3lake.Options{PartSize: 5 << 20}, 2, 0)
			before := map[string]int{}
			for _, op := range []string{"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload"} {
				before[op] = proxy.Count(op)
			}
			if fail {
				proxy.Add(faults.Rule{Ops: []string{"UploadPart"}, Faults: []faults.Fault{faults.None}, Limit: 1})
				proxy.Add(faults.Rule{Ops: []string{"UploadPart"}, Faults: []faults.Fault{faults.InternalError}})
				defer proxy.Heal()
			}
			stats := &pipeline.Stats{}
			budget := pipeline.MemoryBudget(1, policy)
			sampler := startHeapSampler()
			// 12 findings of 1.5 MiB of random text: one batch, one object
			// holding each text twice (description and raw_finding).
			err = Backfill(ctx, InputsOf(generatedInput("large", hugeFlood(12, 1536<<10))), BackfillOptions{Policy: policy, Store: store, Workers: 1, Stats: stats})
			live, inUse := sampler.finish()
			count := func(op string) int { return proxy.Count(op) - before[op] }
			t.Logf("backfill: %v; %d objects, %d MiB written; parts %d, peak live heap %d MiB, in use %d MiB; budget %d MiB",
				err, stats.Objects.Load(), stats.BytesOut.Load()>>20, count("UploadPart"), live>>20, inUse>>20, budget>>20)
			if live > budget {
				t.Errorf("peak live heap %d MiB exceeds the budget of %d MiB", live>>20, budget>>20)
			}
			key := ""
			if !fail {
				if err != nil {
					t.Fatal(err)
				}
				out, err := store.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("big"), Prefix: aws.String(prefix + "/")})
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range out.Contents {
					if aws.ToInt64(o.Size) >= 15<<20 {
						key = aws.ToString(o.Key)
					}
				}
				if key == "" || count("CreateMultipartUpload") != 1 || count("UploadPart") < 3 || count("CompleteMultipartUpload") != 1 {
					t.Errorf("object %q; %d CreateMultipartUpload, %d UploadPart, %d CompleteMultipartUpload: want an object of 15 MiB or more in 3 parts or more",
						key, count("CreateMultipartUpload"), count("UploadPart"), count("CompleteMultipartUpload"))
				}
				return
			}
			if err == nil {
				t.Fatal("the backfill succeeded although every part after the first failed")
			}
			if count("AbortMultipartUpload") < 1 || count("CompleteMultipartUpload") != 0 {
				t.Errorf("%d AbortMultipartUpload, %d CompleteMultipartUpload; want the upload aborted", count("AbortMultipartUpload"), count("CompleteMultipartUpload"))
			}
			if proxy.Retried("UploadPart") < 1 {
				t.Error("no UploadPart was retried before the upload gave up")
			}
			uploads, err := store.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("big")})
			if err != nil {
				t.Fatal(err)
			}
			if len(uploads.Uploads) != 0 {
				t.Errorf("%d multipart uploads left open (orphaned parts)", len(uploads.Uploads))
			}
			out, err := store.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("big"), Prefix: aws.String(prefix + "/findings/")})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Contents) != 0 {
				t.Errorf("%d findings objects visible after the failed upload", len(out.Contents))
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore/s3lake"
	"github.com/hublake/hublake/schema"
)

// The compaction tests run the real binary: `hublake compact` on lakes that
// `hublake consume` (a multi-shard stream on the local stack) or `hublake
// backfill` wrote, in a directory and on versitygw, and read the lakes back
// with DuckDB. A lake's rows are compared as multisets per table and
// partition (count and a hash of every row: lakecheck.LakeDigest).

// lakeTarget is a lake the binary reads and writes.
type lakeTarget struct {
	name string
	out  []string // --out and the store flags
	dir  string   // where DuckDB reads it
	// put writes an object bypassing every check (a zombie, a hand).
	put func(t *testing.T, key string, data []byte)
}

func needStack(t *testing.T) {
	t.Helper()
	if stack == nil {
		if os.Getenv("CI") != "" || os.Getenv("HUBLAKE_REQUIRE_STACK") != "" {
			t.Fatalf("local stack unavailable: %v", stackErr)
		}
		t.Skipf("local stack unavailable: %v", stackErr)
	}
}

// targets returns a fresh lake in a directory and one on versitygw.
func targets(t *testing.T) []lakeTarget {
	t.Helper()
	needStack(t)
	dir := filepath.Join(t.TempDir(), "lake")
	prefix := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if err := os.MkdirAll(filepath.Join(stack.S3Root, "lake"), 0o755); err != nil {
		t.Fatal(err)
	}
	return []lakeTarget{
		{name: "dir", out: []string{"--out", dir}, dir: dir, put: func(t *testing.T, key string, data []byte) {
			p := filepath.Join(dir, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "versitygw", out: []string{"--out", "s3://lake/" + prefix, "--s3-endpoint", stack.S3}, dir: filepath.Join(stack.S3Root, "lake", prefix),
			put: func(t *testing.T, key string, data []byte) {
				_, err := rawS3().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(prefix + "/" + key), Body: bytes.NewReader(data)})
				if err != nil {
					t.Fatal(err)
				}
			}},
	}
}

func rawS3() *s3.Client {
	return s3.New(s3.Options{
		Region: localstack.Region, BaseEndpoint: aws.String(stack.S3), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, ""),
	})
}

// hublake runs the binary to its end and returns its exit code (128+signal
// when killed) and output.
func hublake(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(hublakeBin, args...)
	cmd.Env = append(append(os.Environ(), stack.Env()...), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), string(out)
		}
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("run hublake %v: %v", args, err)
	return -1, ""
}

// compact runs `hublake compact` on the lake and returns its summary's
// figures ("compacted" → n); it fails the test unless it exits 0.
func (l lakeTarget) compact(t *testing.T, env []string, flags ...string) map[string]int {
	t.Helper()
	code, out := l.compactCode(t, env, flags...)
	if code != 0 {
		t.Fatalf("hublake compact exited %d:\n%s", code, tail(out, 40))
	}
	return summary(out)
}

func (l lakeTarget) compactCode(t *testing.T, env []string, flags ...string) (int, string) {
	t.Helper()
	args := append(append([]string{"compact", "--older-than", "0s", "--delete-grace", "0s", "--progress", "none", "--log-level", "warn"}, l.out...), flags...)
	return hublake(t, append([]string{"HUBLAKE_RECORD_AWS_OPS=" + compactOpsFile}, env...), args...)
}

var (
	summaryLine  = regexp.MustCompile(`(?m)^  ([a-z][a-z ]*[a-z]) *([0-9]+)`)
	summaryInOut = regexp.MustCompile(`(?m)^  objects in → out +([0-9]+) → ([0-9]+)`)
)

func summary(out string) map[string]int {
	m := map[string]int{}
	for _, s := range summaryLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(s[2])
		m[s[1]] = n
	}
	if s := summaryInOut.FindStringSubmatch(out); s != nil {
		m["objects in"], _ = strconv.Atoi(s[1])
		m["objects out"], _ = strconv.Atoi(s[2])
	}
	return m
}

// backfill writes corpus into the lake in batches of units records, as a
// stream cuts them (many objects per partition).
func (l lakeTarget) backfill(t *testing.T, corpus string, units int) string {
	t.Helper()
	args := append(append([]string{"backfill", "--progress", "none", "--log-level", "warn", "--flush-records", strconv.Itoa(units)}, l.out...), corpus)
	code, out := hublake(t, nil, args...)
	if code != 0 {
		t.Fatalf("backfill exited %d:\n%s", code, out)
	}
	return out
}

// prepare writes corpus into the lake in small batches and returns a DuckDB
// and the lake's rows.
func (l lakeTarget) prepare(t *testing.T, corpus string) (*sql.DB, map[string]lakecheck.Digest) {
	t.Helper()
	l.backfill(t, corpus, 10)
	db := lakecheck.Open(t)
	return db, lakecheck.LakeDigest(t, db, l.dir)
}

// genCorpus writes a generated corpus (n units over days days before
// 2026-11-01, a few broken, so that there are dead letters too).
func genCorpus(t *testing.T, n, days int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "corpus")
	code, out := hublake(t, nil, "gen", "--events", strconv.Itoa(n), "--days", strconv.Itoa(days), "--end", "2026-11-01", "--bad-ratio", "0.02", "--file-bytes", "1MiB", "--out", dir)
	if code != 0 {
		t.Fatalf("gen: %s", out)
	}
	return dir
}

// batchObjects counts the objects of the tables that are not compacted.
func batchObjects(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, table := range schema.AllTableNames() {
		files, _ := filepath.Glob(filepath.Join(dir, table, "dt=*", "*"))
		for _, f := range files {
			if !strings.HasPrefix(filepath.Base(f), "compacted-") {
				n++
			}
		}
	}
	return n
}

// TestCompactCrashPoints kills `hublake compact` (SIGKILL, by itself) at
// each step of a run, on a directory and on versitygw: right after the crash
// the lake still holds every row (a reader never misses one); the next run
// converges to the same rows, each once, in compacted objects only; the run
// after that has nothing to do.
func TestCompactCrashPoints(t *testing.T) {
	t.Parallel()
	needStack(t)
	corpus := genCorpus(t, 500, 2)
	for _, point := range []string{"after-manifest", "after-output", "after-commit", "between-markers", "before-done", "between-deletes"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			for _, l := range targets(t) {
				db, before := l.prepare(t, corpus)
				snapshot := lakecheck.CopyDir(t, l.dir)
				// A short lock: on S3 the killed run's lock is only free once
				// it has expired (a directory's flock goes with the process).
				code, out := l.compactCode(t, []string{"HUBLAKE_TEST_CRASH_AT=" + point}, "--target-size", "64KiB", "--lock-ttl", "2s")
				if code != 128+int(syscall.SIGKILL) {
					t.Fatalf("%s: compact exited %d, want to be killed at %s:\n%s", l.name, code, point, tail(out, 20))
				}
				if l.name != "dir" {
					time.Sleep(2100 * time.Millisecond)
				}
				for _, table := range schema.TableNames() {
					if n := lakecheck.Missing(t, db, snapshot, l.dir, table); n != 0 {
						t.Errorf("%s: after a kill at %s, %d %s rows are missing", l.name, point, n, table)
					}
				}
				s := l.compact(t, nil, "--target-size", "64KiB")
				if s["recovered runs"]+s["absorbed names removed"] == 0 {
					t.Errorf("%s: the run after the kill recovered nothing: %v", l.name, s)
				}
				if got := lakecheck.LakeDigest(t, db, l.dir); !reflect.DeepEqual(got, before) {
					t.Errorf("%s: after recovery the rows differ:\nbefore %v\nafter  %v", l.name, before, got)
				}
				if n := batchObjects(t, l.dir); n != 0 {
					t.Errorf("%s: %d batch objects left", l.name, n)
				}
				if s := l.compact(t, nil, "--target-size", "64KiB"); s["compacted"] != 0 {
					t.Errorf("%s: a third run compacted %d partitions, want none", l.name, s["compacted"])
				}
			}
		})
	}
}

// TestCompactZombies: after a compaction, the same batches come back. A
// backfill re-run over the same input writes nothing (its writers find the
// markers); an object written again behind the writers' backs (a zombie
// that bypassed the check) doubles its rows until the next compaction,
// which removes it. Objects compaction does not know are reported and kept.
func TestCompactZombies(t *testing.T) {
	t.Parallel()
	needStack(t)
	corpus := genCorpus(t, 400, 2)
	for _, l := range targets(t) {
		t.Run(l.name, func(t *testing.T) {
			db, before := l.prepare(t, corpus)
			batches, _ := filepath.Glob(filepath.Join(l.dir, "findings", "dt=*", "*.parquet"))
			zombieKey, _ := filepath.Rel(l.dir, batches[0])
			zombie, err := os.ReadFile(batches[0])
			if err != nil {
				t.Fatal(err)
			}
			l.put(t, "findings/dt=2026-10-30/notes.txt", []byte("kept"))
			s := l.compact(t, nil)
			if s["compacted"] == 0 || s["unrecognised objects"] != 1 {
				t.Fatalf("first compaction: %v", s)
			}

			out := l.backfill(t, corpus, 10)
			if !strings.Contains(out, "already compacted") {
				t.Errorf("the re-run's summary does not report the skipped objects:\n%s", out)
			}
			if got := lakecheck.LakeDigest(t, db, l.dir); !reflect.DeepEqual(got, before) {
				t.Fatalf("a backfill re-run changed the rows:\nbefore %v\nafter  %v", before, got)
			}
			if n := batchObjects(t, l.dir); n != 1 { // notes.txt
				t.Errorf("the re-run left %d objects beside the compacted ones, want only notes.txt", n)
			}

			l.put(t, filepath.ToSlash(zombieKey), zombie)
			if got := lakecheck.LakeDigest(t, db, l.dir); reflect.DeepEqual(got, before) {
				t.Fatal("the zombie's rows do not show")
			}
			s = l.compact(t, nil)
			if s["absorbed names removed"] != 1 {
				t.Errorf("the compaction after the zombie: %v, want one absorbed name removed", s)
			}
			if got := lakecheck.LakeDigest(t, db, l.dir); !reflect.DeepEqual(got, before) {
				t.Fatalf("after the zombie's removal the rows differ:\nbefore %v\nafter  %v", before, got)
			}
			if _, err := os.Stat(filepath.Join(l.dir, "findings", "dt=2026-10-30", "notes.txt")); err != nil {
				t.Errorf("the unrecognised object was not kept: %v", err)
			}
		})
	}
}

// TestCompactConcurrently: two compactions of the same lake at once (an
// overlapping schedule) both succeed and leave the rows as they were, each
// once; a partition whose lock another holder has is skipped.
func TestCompactConcurrently(t *testing.T) {
	t.Parallel()
	needStack(t)
	corpus := genCorpus(t, 800, 12)
	for _, l := range targets(t) {
		t.Run(l.name, func(t *testing.T) {
			db, before := l.prepare(t, corpus)

			// A lock held elsewhere: that partition is skipped.
			cfg, err := awsconf.Load(context.Background(), awsconf.Options{Region: localstack.Region})
			if err != nil {
				t.Fatal(err)
			}
			lk, err := openLake(cfg, l.out[1], s3lake.Options{Endpoint: stack.S3, PathStyle: true})
			if err != nil {
				t.Fatal(err)
			}
			parts, _ := filepath.Glob(filepath.Join(l.dir, "findings", "dt=*"))
			key, _ := layout.LockKey("findings", strings.TrimPrefix(filepath.Base(parts[0]), "dt="))
			lock, err := lk.TryLock(context.Background(), key, "the test", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var sums [2]map[string]int
			for i := range sums {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sums[i] = l.compact(t, nil)
				}()
			}
			wg.Wait()
			if sums[0]["locked"] == 0 || sums[1]["locked"] == 0 {
				t.Errorf("a run compacted the partition locked by the test: %v, %v", sums[0], sums[1])
			}
			if got := lakecheck.LakeDigest(t, db, l.dir); !reflect.DeepEqual(got, before) {
				t.Fatalf("after two concurrent runs the rows differ:\nbefore %v\nafter  %v", before, got)
			}
			lock.Release(context.Background())
			if s := l.compact(t, nil); s["compacted"] == 0 {
				t.Errorf("after the release: %v", s)
			}
			if got := lakecheck.LakeDigest(t, db, l.dir); !reflect.DeepEqual(got, before) {
				t.Fatalf("the rows differ:\nbefore %v\nafter  %v", before, got)
			}
			if n := batchObjects(t, l.dir); n != 0 {
				t.Errorf("%d batch objects left", n)
			}
		})
	}
}

// TestCompactConsumedLake: a lake that `hublake consume` wrote from a
// four-shard stream (in a directory and on versitygw) holds the same rows
// after compaction, in one object per partition. Then the lease table's
// checkpoints are rewound to the oldest there is (TRIM_HORIZON) and the
// consumer replays the whole stream: it writes the same names, which the
// compaction absorbed, so nothing comes back twice.
func TestCompactConsumedLake(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"dir", "versitygw"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 4)
			db := lakecheck.Open(t)
			events := syntheticEvents(400, "compact-"+store)
			e.publish(e.writeEvents(events))
			l := lakeTarget{name: "versitygw", out: []string{"--out", "s3://" + e.bucket + "/" + e.prefix, "--s3-endpoint", stack.S3}, dir: e.lakeDir()}
			var flags []string
			if store == "dir" {
				dir := filepath.Join(t.TempDir(), "lake")
				l = lakeTarget{name: "dir", out: []string{"--out", dir}, dir: dir}
				flags = l.out
			}
			count := func() int64 {
				if !lakecheck.HasTable(l.dir, "findings") {
					return 0
				}
				return lakecheck.Int(t, db, "SELECT count(*) FROM "+lakecheck.TableGlob(l.dir, "findings"))
			}
			consumeAll := func(worker string) {
				p := e.consume(worker, nil, flags...)
				waitMetric(t, p, "hublake_records_total", float64(len(events)), 90*time.Second)
				deadline := time.Now().Add(60 * time.Second)
				for p.metric("hublake_buffered_records") != 0 {
					if time.Now().After(deadline) {
						t.Fatal("records stay buffered")
					}
					time.Sleep(300 * time.Millisecond)
				}
				p.cmd.Process.Signal(syscall.SIGTERM)
				if code := p.wait(t, 30*time.Second); code != 0 {
					t.Fatalf("consume exited %d", code)
				}
			}
			consumeAll("first")
			if n := count(); n != int64(len(events)) {
				t.Fatalf("the consumer wrote %d rows, want %d", n, len(events))
			}
			// The consumer writes Snappy (encode.StreamCodec), compaction
			// rewrites its objects in ZSTD (encode.DefaultCodec).
			if got := lakecheck.Codecs(t, l.dir); len(got) != 1 || got["SNAPPY"] == 0 {
				t.Errorf("the consumer's objects by codec: %v, want all SNAPPY", got)
			}
			before := lakecheck.LakeDigest(t, db, l.dir)
			objects := batchObjects(t, l.dir)
			s := l.compact(t, nil)
			if s["objects in"] != objects {
				t.Errorf("compacted %d objects, want all %d: %v", s["objects in"], objects, s)
			}
			if got := lakecheck.LakeDigest(t, db, l.dir); !reflect.DeepEqual(got, before) {
				t.Fatalf("compaction changed the rows:\nbefore %v\nafter  %v", before, got)
			}
			if n := batchObjects(t, l.dir); n != 0 {
				t.Fatalf("%d batch objects left", n)
			}
			if got := lakecheck.Codecs(t, l.dir); len(got) != 1 || got["ZSTD"] == 0 {
				t.Errorf("the compacted objects by codec: %v, want all ZSTD", got)
			}

			rewindCheckpoints(t, e.name+"-app")
			consumeAll("replay")
			if got := lakecheck.LakeDigest(t, db, l.dir); !reflect.DeepEqual(got, before) {
				t.Fatalf("the replay changed the rows:\nbefore %v\nafter  %v", before, got)
			}
			if n := batchObjects(t, l.dir); n != 0 {
				t.Errorf("the replay left %d objects", n)
			}
		})
	}
}

// rewindCheckpoints deletes every lease of a KCL application's table: each
// shard starts again from the initial position, TRIM_HORIZON, the oldest
// checkpoint a shard can have.
func rewindCheckpoints(t *testing.T, table string) {
	t.Helper()
	db := dynamodb.New(dynamodb.Options{
		Region: localstack.Region, BaseEndpoint: aws.String(stack.DynamoDB),
		Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, ""),
	})
	ctx := context.Background()
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) == 0 {
		t.Fatal("no leases to rewind")
	}
	for _, it := range out.Items {
		if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"ShardID": it["ShardID"]}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompactWhileConsuming: compactions run again and again (objects of
// any age) while the consumer writes into the same partitions; a reader
// polling the lake never sees fewer rows than it saw before, and at the end
// every record is in the lake exactly once.
func TestCompactWhileConsuming(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	db := lakecheck.Open(t)
	l := lakeTarget{name: "versitygw", out: []string{"--out", "s3://" + e.bucket + "/" + e.prefix, "--s3-endpoint", stack.S3}, dir: e.lakeDir()}
	events := syntheticEvents(600, "busy")
	// The post-commit removal may or may not happen here: its operations are
	// not part of the golden list.
	scratch := []string{"HUBLAKE_RECORD_AWS_OPS=" + filepath.Join(t.TempDir(), "ops.txt")}
	p := e.consume("busy", scratch, "--flush-records", "20")
	stop := make(chan struct{})
	var seen, dropped int64
	var mu sync.Mutex
	done := make(chan struct{})
	go func() { // a reader
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Distinct records, not rows: a row may be seen twice for the
			// seconds between a compacted object's commit and its inputs'
			// removal, but a record once seen must stay.
			if _, n := e.count(db); n >= 0 {
				mu.Lock()
				if n < seen {
					dropped = max(dropped, seen-n)
				}
				seen = max(seen, n)
				mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for i := 0; i < 600; i += 100 {
		e.publish(e.writeEvents(events[i : i+100]))
		time.Sleep(time.Second)
		l.compact(t, scratch, "--delete-grace", "2s")
	}
	e.waitRows(db, int64(len(events)), 90*time.Second)
	l.compact(t, scratch)
	close(stop)
	<-done
	if rows, sources := e.count(db); rows != int64(len(events)) || sources != rows {
		t.Fatalf("%d rows from %d records, want %d each", rows, sources, len(events))
	}
	mu.Lock()
	if dropped != 0 {
		t.Errorf("a reader saw %d records disappear", dropped)
	}
	mu.Unlock()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("consume exited %d", code)
	}
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/internal/faults"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/layout"
)

// The chaos tests put versitygw behind the fault-injecting proxy
// (internal/faults) with a seeded schedule that fails 5 % of the requests —
// 500 InternalError, 503 SlowDown, a connection reset while the request is
// uploaded or while the response's body is downloaded, a 2–5 s delay — and
// run the real binary through it. HUBLAKE_CHAOS_SEEDS (comma-separated,
// default 1) and HUBLAKE_CHAOS_DURATION (default 25s) set the schedule and
// how long consumers and compactions run together; `make chaos` runs a
// longer soak over several seeds.

const chaosRate = 0.05

func chaosSeeds(t *testing.T) []uint64 {
	s := os.Getenv("HUBLAKE_CHAOS_SEEDS")
	if s == "" {
		return []uint64{1}
	}
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			t.Fatalf("HUBLAKE_CHAOS_SEEDS: %v", err)
		}
		out = append(out, n)
	}
	return out
}

func chaosDuration(t *testing.T) time.Duration {
	s := os.Getenv("HUBLAKE_CHAOS_DURATION")
	if s == "" {
		return 25 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("HUBLAKE_CHAOS_DURATION: %v", err)
	}
	return d
}

// chaosProxy returns a proxy in front of versitygw, seeded, and its URL.
func chaosProxy(t *testing.T, seed uint64) (*faults.Proxy, string) {
	t.Helper()
	p, err := faults.NewReverse(stack.S3)
	if err != nil {
		t.Fatal(err)
	}
	p.Seed(seed)
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })
	return p, srv.URL
}

// pagedReader lists the findings table of a lake the way an S3 reader that
// pages does at its worst: every partition's compacted-* keys first, then,
// a second later, the partition's batch objects (they sort after
// "compacted-"), each page's new objects read at once. It keeps every
// record (source) it ever saw and reports any that a later listing no
// longer holds.
type pagedReader struct {
	client  *s3.Client // versitygw itself: the reader is not the one under test
	bucket  string
	prefix  string // the lake's
	grace   time.Duration
	sources map[string][]string // key → the sources of its rows
	seen    map[string]bool

	rounds, inconclusive int
	lost                 []string
}

func newPagedReader(bucket, prefix string, grace time.Duration) *pagedReader {
	return &pagedReader{client: rawS3(), bucket: bucket, prefix: prefix, grace: grace, sources: map[string][]string{}, seen: map[string]bool{}}
}

// round is one listing of the table and its check.
func (r *pagedReader) round(ctx context.Context) error {
	table := r.prefix + "/findings/"
	out, err := r.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(r.bucket), Prefix: aws.String(table), Delimiter: aws.String("/")})
	if err != nil {
		return err
	}
	var parts []string
	for _, p := range out.CommonPrefixes {
		parts = append(parts, aws.ToString(p.Prefix))
	}
	if len(parts) == 0 {
		return nil
	}
	got := map[string]bool{}
	readable := true
	page := func(in *s3.ListObjectsV2Input) error {
		in.Bucket = aws.String(r.bucket)
		p := s3.NewListObjectsV2Paginator(r.client, in)
		for p.HasMorePages() {
			pg, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, o := range pg.Contents {
				srcs, err := r.read(ctx, aws.ToString(o.Key))
				if err != nil {
					readable = false // listed, then gone before it could be read
					continue
				}
				for _, s := range srcs {
					got[s] = true
				}
			}
		}
		return nil
	}
	start := time.Now()
	for _, p := range parts {
		if err := page(&s3.ListObjectsV2Input{Prefix: aws.String(p + "compacted-")}); err != nil {
			return err
		}
	}
	time.Sleep(time.Until(start.Add(time.Second)))
	for _, p := range parts {
		if err := page(&s3.ListObjectsV2Input{Prefix: aws.String(p), StartAfter: aws.String(p + "compacted-~")}); err != nil {
			return err
		}
	}
	r.rounds++
	if !readable || time.Since(start) >= r.grace {
		// An object went between its listing and its read (a reader
		// must read within the grace too), or the listing itself took
		// longer than the grace: nothing is promised.
		r.inconclusive++
		return nil
	}
	var lost []string
	for s := range r.seen {
		if !got[s] {
			lost = append(lost, s)
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		r.lost = append(r.lost, fmt.Sprintf("listing at +%s: %d records seen before are missing (%s ...)", start.Format("15:04:05.000"), len(lost), lost[0]))
	}
	for s := range got {
		r.seen[s] = true
	}
	return nil
}

type sourceRow struct {
	Source string `parquet:"source"`
}

// read returns the sources of an object's rows (an object's name is its
// rows: it is read once).
func (r *pagedReader) read(ctx context.Context, key string) ([]string, error) {
	if s, ok := r.sources[key]; ok {
		return s, nil
	}
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		return nil, err
	}
	rows, err := parquet.Read[sourceRow](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	var srcs []string
	for _, row := range rows {
		srcs = append(srcs, row.Source)
	}
	r.sources[key] = srcs
	return srcs, nil
}

// checkDeleteGrace reads the proxy's request log: every DeleteObject of a
// table object that reached the server came at least grace after the
// marker of its name was handed to the server (the marker is written after
// the outputs holding its rows are committed), and one without a marker is
// a compacted object (a rolled-back run's output, whose rows never left its
// inputs). It returns the number of deletes checked.
func checkDeleteGrace(t *testing.T, log []faults.Request, root string, grace time.Duration) int {
	t.Helper()
	markerPrefix := root + layout.MetaPrefix + "absorbed/"
	markers := map[string][]time.Time{} // table key → when each marker PUT was forwarded
	for _, r := range log {
		if r.Op == "PutObject" && !r.Forwarded.IsZero() && strings.HasPrefix(r.Path, markerPrefix) {
			key := strings.TrimPrefix(r.Path, markerPrefix)
			markers[key] = append(markers[key], r.Forwarded)
		}
	}
	checked, early := 0, 0
	for _, r := range log {
		key, ok := strings.CutPrefix(r.Path, root)
		if r.Op != "DeleteObject" || r.Forwarded.IsZero() || !ok || strings.HasPrefix(key, layout.MetaPrefix) {
			continue
		}
		checked++
		var last time.Time
		for _, m := range markers[key] {
			if m.Before(r.Start) && m.After(last) {
				last = m
			}
		}
		k, _ := layout.ParseKey(key)
		_, _, compacted := layout.ParseCompactedName(k.Name)
		switch {
		case last.IsZero() && !compacted:
			t.Errorf("%s deleted at %s without a marker", key, r.Start.Format("15:04:05.000"))
		case !last.IsZero() && r.Start.Sub(last) < grace:
			early++
			if early <= 10 {
				t.Errorf("%s deleted %s after its marker, within the grace of %s", key, r.Start.Sub(last).Round(time.Millisecond), grace)
			}
		}
	}
	if early > 10 {
		t.Errorf("... %d deletes within the grace in all", early)
	}
	return checked
}

// resumedReads counts the GetObject bodies the proxy cut after sending the
// headers (the SDK does not retry those), and those of them that a later
// GET of the same object with another Range took up (s3lake.GetObject
// resuming the read).
func resumedReads(log []faults.Request) (cut, resumed int) {
	for i, r := range log {
		if r.Op != "GetObject" || r.Fault != faults.ResetDownload || r.Status == 0 {
			continue
		}
		cut++
		for _, next := range log[i+1:] {
			if next.Op == "GetObject" && next.Path == r.Path && next.Range != r.Range && next.Range != "" && next.Status/100 == 2 {
				resumed++
				break
			}
		}
	}
	return cut, resumed
}

// TestCompactChaos: the production topology on versitygw behind a proxy
// failing 5 % of the requests (and the first two input bodies compaction
// reads cut for sure): consumers writing a four-shard stream (one of
// them killed with -9 halfway, another taking its shards over),
// compactions every one to two and a half seconds with --delete-grace 2s,
// overlapping — two started at once, others still going, some killed with
// -9 a moment after they start — and a reader listing the
// findings table every two seconds in pages a second apart (compacted
// objects first, batch objects on the next page, inside the grace). No
// record, once the reader saw it, disappears from a later listing; every
// delete of a table object comes at least the grace after its marker (the
// proxy's request log); at the end every record is in the lake exactly once,
// and a last compaction has nothing to do.
func TestCompactChaos(t *testing.T) {
	t.Parallel()
	for _, seed := range chaosSeeds(t) {
		// One seed after the other: each is a whole stack's worth of
		// processes.
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			compactChaos(t, seed, chaosDuration(t))
		})
	}
}

func compactChaos(t *testing.T, seed uint64, duration time.Duration) {
	const grace = 2 * time.Second
	e := newEnv(t, 4)
	db := lakecheck.Open(t)
	proxy, endpoint := chaosProxy(t, seed)
	// Besides the schedule, the first two input bodies compaction reads
	// are cut for sure.
	proxy.Add(faults.Rule{Ops: []string{"GetObject"}, Faults: []faults.Fault{faults.ResetDownload}, Limit: 2})
	proxy.Add(faults.ChaosRule(chaosRate))
	scratch := []string{"HUBLAKE_RECORD_AWS_OPS=" + filepath.Join(t.TempDir(), "ops.txt")}
	consumers := []*proc{
		e.consume("c1", scratch, "--s3-endpoint", endpoint, "--flush-records", "25"),
		e.consume("c2", scratch, "--s3-endpoint", endpoint, "--flush-records", "25"),
	}
	// 20 events a second, 500 at most (about two weeks of partitions, so
	// that a listing of the table stays well inside the grace).
	seconds := max(1, int(duration/time.Second))
	events := syntheticEvents(min(seconds*20, 500), fmt.Sprintf("chaos-%d", seed))
	rng := rand.New(rand.NewPCG(seed, 2))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup

	// The reader.
	reader := newPagedReader(e.bucket, e.prefix, grace)
	var readerErr error
	wg.Go(func() {
		for ctx.Err() == nil {
			next := time.Now().Add(2 * time.Second)
			if err := reader.round(ctx); err != nil && ctx.Err() == nil {
				readerErr = err
				return
			}
			select {
			case <-time.After(time.Until(next)):
			case <-ctx.Done():
			}
		}
	})

	// The compactions.
	// A killed run's lock must outlive the requests it had sent, as the
	// default 10 minutes do on S3: a request can be held 5 s, and one
	// sent up to a third of the lifetime plus a held renewal after the
	// last renewal that landed (TTL > TTL/3 + 2 × 5 s).
	const lockTTL = 20 * time.Second
	var mu sync.Mutex
	runs, killed := 0, 0
	var lastKill time.Time
	var compactFailures []string
	compactArgs := []string{"compact", "--out", "s3://" + e.bucket + "/" + e.prefix, "--s3-endpoint", endpoint,
		"--older-than", "0s", "--delete-grace", grace.String(), "--lock-ttl", lockTTL.String(), "--target-size", "64KiB",
		"--progress", "none", "--log-level", "warn"}
	startCompact := func(killAfter time.Duration) {
		cmd := exec.Command(hublakeBin, compactArgs...)
		cmd.Env = append(append(os.Environ(), stack.Env()...), scratch...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Error(err)
			return
		}
		if killAfter > 0 {
			time.AfterFunc(killAfter, func() { _ = cmd.Process.Kill() })
		}
		err := cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		runs++
		var ee *exec.ExitError
		switch {
		case err == nil:
		case killAfter > 0 && errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled():
			killed++
			lastKill = time.Now()
		default:
			compactFailures = append(compactFailures, fmt.Sprintf("%v:\n%s", err, tail(out.String(), 20)))
		}
	}
	// Every 1–2.5 s, one run, two at once, one killed a moment after it
	// starts, or two with one or both killed; runs overlap the earlier ones
	// still going (at most four at a time).
	chaosOver := make(chan struct{})
	wg.Go(func() {
		var running sync.WaitGroup
		defer running.Wait()
		slots := make(chan struct{}, 4)
		killedSoFar := func() int {
			mu.Lock()
			defer mu.Unlock()
			return killed
		}
		// launch starts a run (killed killAfter after it starts, if set)
		// if a slot is free within wait.
		launch := func(killAfter, wait time.Duration) {
			if wait <= 0 {
				select {
				case slots <- struct{}{}:
				default:
					return
				}
			} else {
				select {
				case slots <- struct{}{}:
				case <-time.After(wait):
					return
				}
			}
			running.Go(func() {
				defer func() { <-slots }()
				startCompact(killAfter)
			})
		}
		// Kills stop after the first 60 % of the time, so that the last
		// compaction does not wait long for a killed run's lock; but the
		// test must kill runs to prove anything, and a loaded machine keeps
		// the slots busy and the runs slow: from halfway through the kill
		// period until two runs have been killed (counted when the kill
		// landed, not when it was asked for), every turn launches a run to
		// kill, waiting for a slot, up to 90 % of the time.
		start := time.Now()
		killUntil := start.Add(duration * 6 / 10)
		forceFrom, forceUntil := start.Add(duration*3/10), start.Add(duration*9/10)
		for {
			kill := time.Duration(200+rng.IntN(1300)) * time.Millisecond
			now := time.Now()
			forced := now.After(forceFrom) && now.Before(forceUntil) && killedSoFar() < 2
			if now.After(killUntil) && !forced {
				kill = 0
			}
			choice := rng.IntN(5)
			if forced {
				launch(kill, time.Until(forceUntil))
				choice = -1
			}
			wait := time.Duration(0) // a run not killed starts only if a slot is free
			if kill > 0 {
				wait = 3 * time.Second
			}
			switch choice {
			case 0:
				launch(0, 0)
			case 1:
				launch(0, 0)
				launch(0, 0)
			case 2:
				launch(kill, wait)
			case 3:
				launch(0, 0)
				launch(kill, wait)
			case 4:
				launch(kill, wait)
				launch(kill/2, wait)
			}
			select {
			case <-chaosOver:
				return
			case <-time.After(time.Duration(1000+rng.IntN(1500)) * time.Millisecond):
			}
		}
	})

	// The stream: events throughout, a consumer killed halfway and another
	// one started.
	start := time.Now()
	chunk := max(1, (len(events)+seconds-1)/seconds)
	for i := 0; i < len(events); i += chunk {
		e.publish(e.writeEvents(events[i:min(i+chunk, len(events))]))
		if i < len(events)/2 && i+chunk >= len(events)/2 {
			_ = consumers[1].cmd.Process.Kill()
			consumers = append(consumers, e.consume("c3", scratch, "--s3-endpoint", endpoint, "--flush-records", "25"))
		}
		time.Sleep(time.Until(start.Add(time.Duration(i/chunk+1) * time.Second)))
	}
	// Every record written (some twice for now: compaction is not over).
	deadline := time.Now().Add(120 * time.Second)
	for {
		if _, sources := e.count(db); sources == int64(len(events)) {
			break
		}
		if time.Now().After(deadline) {
			_, sources := e.count(db)
			t.Fatalf("after 2 min the lake holds %d of %d records", sources, len(events))
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(chaosOver)
	time.Sleep(4 * time.Second) // a few more listings while the last runs end
	cancel()
	wg.Wait()
	if readerErr != nil {
		t.Fatalf("reader: %v", readerErr)
	}

	// The end: the network heals, the consumers stop, the locks of killed
	// runs expire, a last compaction leaves every record once, and the one
	// after it has nothing to do.
	proxy.Heal()
	for _, p := range []*proc{consumers[0], consumers[2]} {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Errorf("a consumer exited %d", code)
		}
	}
	final := func() map[string]int {
		cmd := exec.Command(hublakeBin, compactArgs...)
		cmd.Env = append(append(os.Environ(), stack.Env()...), scratch...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the last compaction: %v\n%s", err, tail(string(out), 30))
		}
		return summary(string(out))
	}
	mu.Lock()
	expired := lastKill.Add(lockTTL + time.Second)
	mu.Unlock()
	time.Sleep(time.Until(expired))
	s := final()
	if s["failed"] != 0 || s["locked"] != 0 {
		t.Errorf("the last compaction: %v", s)
	}
	if rows, sources := e.count(db); rows != int64(len(events)) || sources != rows {
		t.Errorf("after the last compaction: %d rows of %d records, want %d each", rows, sources, len(events))
		dumpDuplicates(t, db, e.lakeDir(), proxy.Requests(), "/"+e.bucket+"/"+e.prefix+"/")
	}
	if s := final(); s["compacted"] != 0 || s["absorbed names removed"] != 0 || s["recovered runs"] != 0 || s["locked"] != 0 {
		t.Errorf("a compaction after the last one did something: %v", s)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, f := range compactFailures {
		t.Errorf("a compaction failed: %s", f)
	}
	log := proxy.Requests()
	deletes := checkDeleteGrace(t, log, "/"+e.bucket+"/"+e.prefix+"/", grace)
	cut, resumed := resumedReads(log)
	for _, l := range reader.lost {
		t.Error(l)
	}
	t.Logf("seed %d: %d requests, %d faulted (%d GET bodies cut, %d reads resumed); %d compactions (%d killed); %d deletes checked; reader: %d listings (%d inconclusive), %d records seen",
		seed, len(log), proxy.Faulted(""), cut, resumed, runs, killed, deletes, reader.rounds, reader.inconclusive, len(reader.seen))
	switch {
	case proxy.Faulted("") == 0 || cut == 0:
		t.Errorf("the schedule injected %d faults, %d in GET bodies: the test proved nothing", proxy.Faulted(""), cut)
	case killed < 2 || runs < 10:
		t.Errorf("%d compactions, %d killed: too few to prove anything", runs, killed)
	case deletes == 0:
		t.Error("no delete to check")
	case reader.rounds-reader.inconclusive < reader.rounds/2 || len(reader.seen) == 0:
		t.Errorf("the reader checked %d of %d listings, saw %d records", reader.rounds-reader.inconclusive, reader.rounds, len(reader.seen))
	}
}

// TestCompactFaults: compaction at 5 % injected faults (and two input bodies
// cut for sure) completes every partition within two runs, in fact in the
// first (a body cut mid-stream is resumed, not a failed partition), with the
// rows unchanged; a third run has nothing to do.
func TestCompactFaults(t *testing.T) {
	t.Parallel()
	needStack(t)
	corpus := genCorpus(t, 400, 4)
	for _, seed := range chaosSeeds(t) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			t.Parallel()
			l := targets(t)[1]
			db, before := l.prepare(t, corpus)
			proxy, endpoint := chaosProxy(t, seed)
			proxy.Add(faults.Rule{Ops: []string{"GetObject"}, Faults: []faults.Fault{faults.ResetDownload}, Limit: 2})
			proxy.Add(faults.ChaosRule(chaosRate))
			l.out = append(slices.Clone(l.out), "--s3-endpoint", endpoint)
			scratch := []string{"HUBLAKE_RECORD_AWS_OPS=" + filepath.Join(t.TempDir(), "ops.txt")}
			var sums []map[string]int
			for range 2 {
				sums = append(sums, l.compact(t, scratch, "--target-size", "64KiB", "--delete-grace", "1s"))
			}
			if n := batchObjects(t, l.dir); n != 0 {
				t.Errorf("%d batch objects left after two runs: %v", n, sums)
			}
			if sums[0]["failed"] != 0 {
				t.Errorf("the first run failed %d partitions", sums[0]["failed"])
			}
			if got := lakecheck.LakeDigest(t, db, l.dir); !reflect.DeepEqual(got, before) {
				t.Fatalf("the rows differ:\nbefore %v\nafter  %v", before, got)
			}
			cut, resumed := resumedReads(proxy.Requests())
			t.Logf("seed %d: runs %v; %d requests, %d faulted, %d GET bodies cut, %d reads resumed", seed, sums, len(proxy.Requests()), proxy.Faulted(""), cut, resumed)
			if cut == 0 || resumed == 0 {
				t.Errorf("%d GET bodies cut, %d resumed: the test proved nothing", cut, resumed)
			}
			proxy.Heal()
			if s := l.compact(t, scratch); s["compacted"] != 0 {
				t.Errorf("a third run compacted %d partitions", s["compacted"])
			}
		})
	}
}

// TestBackfillS3Faults: a backfill from an S3 prefix into an S3 lake, both
// through the proxy at 5 % faults (one input's body is also cut for sure),
// writes the same lake, byte for byte, as the same backfill without faults.
func TestBackfillS3Faults(t *testing.T) {
	t.Parallel()
	needStack(t)
	corpus := genCorpus(t, 2000, 3)
	prefix := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if err := os.MkdirAll(filepath.Join(stack.S3Root, "lake"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rawS3().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(prefix + "/src/" + filepath.Base(f)), Body: bytes.NewReader(b)}); err != nil {
			t.Fatal(err)
		}
	}
	backfill := func(seed uint64, out string, rules ...faults.Rule) *faults.Proxy {
		proxy, endpoint := chaosProxy(t, seed)
		for _, r := range rules {
			proxy.Add(r)
		}
		code, output := hublake(t, []string{"HUBLAKE_RECORD_AWS_OPS=" + filepath.Join(t.TempDir(), "ops.txt")},
			"backfill", "--progress", "none", "--log-level", "warn", "--flush-records", "50",
			"--out", "s3://lake/"+prefix+"/"+out, "--s3-endpoint", endpoint, "s3://lake/"+prefix+"/src/")
		if code != 0 {
			t.Fatalf("backfill to %s exited %d:\n%s", out, code, tail(output, 30))
		}
		return proxy
	}
	backfill(0, "clean")
	want := lakecheck.Files(t, filepath.Join(stack.S3Root, "lake", prefix, "clean"))
	if len(want) == 0 {
		t.Fatal("the clean backfill wrote nothing")
	}
	for _, seed := range chaosSeeds(t) {
		out := fmt.Sprintf("faults-%d", seed)
		proxy := backfill(seed, out,
			faults.Rule{Ops: []string{"GetObject"}, Faults: []faults.Fault{faults.ResetDownload}, Limit: 1},
			faults.ChaosRule(chaosRate))
		cut, resumed := resumedReads(proxy.Requests())
		t.Logf("seed %d: %d requests, %d faulted, %d GET bodies cut, %d reads resumed", seed, len(proxy.Requests()), proxy.Faulted(""), cut, resumed)
		if resumed == 0 {
			t.Error("no read was resumed: the test proved nothing")
		}
		got := lakecheck.Files(t, filepath.Join(stack.S3Root, "lake", prefix, out))
		if len(got) != len(want) {
			t.Errorf("seed %d: %d objects, want %d", seed, len(got), len(want))
		}
		for k, b := range want {
			if !bytes.Equal(got[k], b) {
				t.Errorf("seed %d: %s differs from the backfill without faults (%d bytes, want %d)", seed, k, len(got[k]), len(b))
			}
		}
	}
}

// dumpDuplicates logs, for every record in the lake more than once, the
// objects holding it and what the proxy saw of them, to diagnose a failure.
func dumpDuplicates(t *testing.T, db *sql.DB, root string, log []faults.Request, pathRoot string) {
	t.Helper()
	rows := lakecheck.Rows(t, db, "SELECT source, list(filename) AS files FROM read_parquet('"+
		filepath.Join(root, "findings", "*", "*.parquet")+"', filename=true) GROUP BY source HAVING count(*) > 1 ORDER BY source LIMIT 5")
	for _, r := range rows {
		t.Logf("%v in %v", r["source"], r["files"])
		for _, f := range r["files"].([]any) {
			rel, _ := filepath.Rel(root, fmt.Sprint(f))
			for _, q := range log {
				if strings.HasSuffix(q.Path, rel) && q.Op != "HeadObject" && q.Op != "GetObject" {
					t.Logf("  %s %s %s fault=%s status=%d", q.Start.Format("15:04:05.000"), q.Op, strings.TrimPrefix(q.Path, pathRoot), q.Fault, q.Status)
				}
			}
		}
	}
}

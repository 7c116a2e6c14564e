package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/localstack"
)

// The zombie tests pause a worker (SIGSTOP: a long GC or VM pause, CPU
// starvation, a partition) for longer than its lease while other workers
// take its shard over, write and stop, then wake it (SIGCONT). The paused
// worker's lease renewal must not take the lease back for its stale
// processor: whatever it wakes to, every record is in the lake exactly once,
// the shard's checkpoint never moves back, and the shard makes progress
// again soon after it wakes.

const (
	zombieLease  = 6 * time.Second
	zombieWindow = "4s"
)

// zombieEnv is one zombie scenario: a one-shard stream fed by a steady
// publisher, and a watch over the shard's checkpoint.
type zombieEnv struct {
	*env
	db      *sql.DB
	pub     *publisher
	watch   *checkpointWatch
	workers map[string]*proc
}

func newZombieEnv(t *testing.T) *zombieEnv {
	e := newEnv(t, 1)
	z := &zombieEnv{env: e, db: lakecheck.Open(t), workers: map[string]*proc{}}
	z.pub = startPublisher(t, e)
	z.watch = startCheckpointWatch(t, e.name+"-app")
	return z
}

func (z *zombieEnv) start(worker string) *proc {
	p := z.consume(worker, nil, "--flush-window", zombieWindow, "--lease-duration", zombieLease.String())
	z.workers[worker] = p
	return p
}

// holding waits until p holds the shard and has records in an open batch
// after having stored at least one batch of its own.
func (z *zombieEnv) holding(p *proc, name string) {
	z.t.Helper()
	waitFor(z.t, 90*time.Second, name+" holds the shard with an open batch after a batch of its own", func() bool {
		return p.metric("hublake_leases_held") == 1 && p.metric("hublake_batches_total") >= 1 && p.metric("hublake_buffered_records") > 0
	})
}

// stop stops p with SIGTERM (in the middle of a window: it holds records)
// and waits for a clean exit.
func (z *zombieEnv) stop(p *proc, name string) {
	z.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(z.t, 30*time.Second); code != 0 {
		z.t.Fatalf("%s exited %d after SIGTERM, want 0", name, code)
	}
}

// finish stops publishing, waits until every published record is in the
// lake exactly once, and checks the checkpoint's history.
func (z *zombieEnv) finish() {
	z.t.Helper()
	sent := z.pub.stop()
	z.waitRows(z.db, sent, 120*time.Second)
	rows, sources := z.count(z.db)
	if rows != sent || sources != sent {
		z.t.Fatalf("%d rows from %d records, want %d of each", rows, sources, sent)
	}
	dups := lakecheck.Int(z.t, z.db, "SELECT count(*) FROM (SELECT source, finding_index FROM "+
		lakecheck.TableGlob(z.lakeDir(), "findings")+" GROUP BY ALL HAVING count(*) > 1)")
	if dups != 0 {
		z.dumpLake(z.db)
		z.t.Fatalf("%d findings are in the lake twice", dups)
	}
	if r := z.watch.regressions(); r != "" {
		z.t.Fatalf("the checkpoint moved back: %s", r)
	}
}

// TestZombieRenewal is the scenario a held-out test found: A pauses with an
// open batch; B takes the shard over, writes, and is stopped mid-window
// (its shutdown flush cuts the window early); C takes it, writes the rest,
// is stopped; A wakes while the lease is free. Twice.
func TestZombieRenewal(t *testing.T) {
	t.Parallel()
	z := newZombieEnv(t)
	for round := 1; round <= 2; round++ {
		a := z.start(fmt.Sprintf("a%d", round))
		z.holding(a, "A")
		_ = a.cmd.Process.Signal(syscall.SIGSTOP)
		b := z.start(fmt.Sprintf("b%d", round))
		z.holding(b, "B")
		z.stop(b, "B")
		c := z.start(fmt.Sprintf("c%d", round))
		z.holding(c, "C")
		z.stop(c, "C")
		before := z.watch.current()
		woke := time.Now()
		_ = a.cmd.Process.Signal(syscall.SIGCONT)
		// The shard makes progress again: A drops its stale processor and
		// takes the shard with a fresh one.
		waitFor(t, 3*zombieLease+30*time.Second, "the checkpoint to move after A wakes", func() bool {
			return z.watch.after(before)
		})
		t.Logf("round %d: the checkpoint moved %s after A woke", round, time.Since(woke).Round(100*time.Millisecond))
		if out := a.output(); !strings.Contains(out, "giving the shard's lease up") {
			t.Errorf("A did not report giving its stale lease up:\n%s", tail(out, 40))
		}
		z.stop(a, "A")
	}
	// A last worker reads what is left.
	z.start("d")
	z.finish()
}

// TestZombieWakesWhileHeld: A wakes while C holds the lease: it must drop
// its stale batch and write nothing; once C stops, A takes the shard over
// through a fresh processor.
func TestZombieWakesWhileHeld(t *testing.T) {
	t.Parallel()
	z := newZombieEnv(t)
	a := z.start("a")
	z.holding(a, "A")
	// Batches A stored and checkpointed before it paused: it must store no
	// more while C holds the shard (a flush in flight at the pause may still
	// finish its upload, under the name C writes too; its checkpoint fails).
	batches := a.metric("hublake_batches_total")
	_ = a.cmd.Process.Signal(syscall.SIGSTOP)
	c := z.start("c")
	z.holding(c, "C")
	_ = a.cmd.Process.Signal(syscall.SIGCONT)
	waitFor(t, 3*zombieLease, "A to give its stale lease up", func() bool { return a.metric("hublake_leases_held") == 0 })
	time.Sleep(zombieLease) // C keeps the shard; A must stay quiet meanwhile
	if got := a.metric("hublake_batches_total"); got != batches {
		t.Errorf("A checkpointed %v batches while C held the shard", got-batches)
	}
	if held := a.metric("hublake_leases_held"); held != 0 {
		t.Errorf("A holds %v leases while C holds the shard", held)
	}
	if c.metric("hublake_leases_held") != 1 {
		t.Errorf("C lost the shard to the zombie")
	}
	z.stop(c, "C")
	before := z.watch.current()
	waitFor(t, 3*zombieLease+30*time.Second, "A to take the shard over after C stopped", func() bool {
		return a.metric("hublake_leases_held") == 1 && z.watch.after(before)
	})
	z.finish()
}

// TestZombieExpiredNobodyTook: A pauses past its lease and nobody takes the
// shard; when A wakes it resumes only through a fresh processor (a new take
// with a new token), never with its stale one.
func TestZombieExpiredNobodyTook(t *testing.T) {
	t.Parallel()
	z := newZombieEnv(t)
	a := z.start("a")
	z.holding(a, "A")
	_ = a.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(zombieLease + 3*time.Second)
	before := z.watch.current()
	_ = a.cmd.Process.Signal(syscall.SIGCONT)
	waitFor(t, 3*zombieLease+30*time.Second, "the checkpoint to move after A wakes", func() bool {
		return z.watch.after(before)
	})
	waitFor(t, 10*time.Second, "A's second take of the shard", func() bool {
		return strings.Count(a.output(), `"msg":"shard lease taken"`) >= 2
	})
	if out := a.output(); !strings.Contains(out, "giving the shard's lease up") {
		t.Errorf("A resumed without giving its expired lease up:\n%s", tail(out, 40))
	}
	z.finish()
}

// publisher puts distinct events into the stream in small batches, a few
// times a second, until stopped.
type publisher struct {
	stopc chan struct{}
	done  chan struct{}
	sent  int64
	err   error
}

func startPublisher(t *testing.T, e *env) *publisher {
	p := &publisher{stopc: make(chan struct{}), done: make(chan struct{})}
	events := syntheticEvents(20000, e.name[:min(len(e.name), 20)])
	go func() {
		defer close(p.done)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		next := 0
		for {
			select {
			case <-p.stopc:
				return
			case <-tick.C:
			}
			var entries []ktypes.PutRecordsRequestEntry
			for range 4 {
				entries = append(entries, ktypes.PutRecordsRequestEntry{Data: events[next], PartitionKey: aws.String(fmt.Sprint(next))})
				next++
			}
			out, err := e.kc.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(e.name), Records: entries})
			if err == nil && aws.ToInt32(out.FailedRecordCount) > 0 {
				err = fmt.Errorf("%d records failed", aws.ToInt32(out.FailedRecordCount))
			}
			if err != nil {
				p.err = err
				return
			}
			p.sent += int64(len(entries))
		}
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// stop stops publishing and returns how many records were put.
func (p *publisher) stop() int64 {
	select {
	case <-p.stopc:
	default:
		close(p.stopc)
	}
	<-p.done
	return p.sent
}

// checkpointWatch polls a lease table and records every checkpoint of its
// shards, and any that moved back.
type checkpointWatch struct {
	mu    sync.Mutex
	last  map[string]string
	moved []string
	seen  int // changes seen
	stopc chan struct{}
}

func startCheckpointWatch(t *testing.T, table string) *checkpointWatch {
	db := dynamodb.New(dynamodb.Options{
		Region: localstack.Region, BaseEndpoint: aws.String(stack.DynamoDB),
		Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, ""),
	})
	w := &checkpointWatch{last: map[string]string{}, stopc: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-w.stopc:
				return
			case <-time.After(100 * time.Millisecond):
			}
			out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
			if err != nil {
				continue // the table does not exist yet
			}
			for _, item := range out.Items {
				id, _ := item["ShardID"].(*ddbtypes.AttributeValueMemberS)
				cp, _ := item["Checkpoint"].(*ddbtypes.AttributeValueMemberS)
				if id == nil || cp == nil {
					continue
				}
				w.observe(id.Value, cp.Value)
			}
		}
	}()
	t.Cleanup(func() { close(w.stopc); <-done })
	return w
}

func (w *checkpointWatch) observe(shard, cp string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	prev, ok := w.last[shard]
	if ok && prev == cp {
		return
	}
	if ok && checkpointLess(cp, prev) {
		w.moved = append(w.moved, fmt.Sprintf("%s: %s after %s", shard, cp, prev))
	}
	w.last[shard] = cp
	w.seen++
}

func checkpointLess(a, b string) bool {
	if b == "SHARD_END" {
		return a != "SHARD_END"
	}
	if a == "SHARD_END" {
		return false
	}
	x, ok1 := new(big.Int).SetString(a, 10)
	y, ok2 := new(big.Int).SetString(b, 10)
	return ok1 && ok2 && x.Cmp(y) < 0
}

// current returns a mark of the checkpoints seen so far, once the watch
// has caught up with writes made before the call.
func (w *checkpointWatch) current() int {
	time.Sleep(500 * time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

// after reports whether a checkpoint changed since mark.
func (w *checkpointWatch) after(mark int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen > mark
}

func (w *checkpointWatch) regressions() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.moved, "; ")
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

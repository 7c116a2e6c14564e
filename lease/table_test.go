package lease

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	"github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	par "github.com/vmware/vmware-go-kcl-v2/clientlibrary/partition"

	"github.com/hublake/hublake/internal/localstack"
)

// The lease table's fencing, against dynalite: takes and renewals, lease
// tokens on the pending extent and the checkpoint, and a checkpoint that
// never moves back. Each worker has its own clock, so that a "pause" is the
// worker's clock jumping ahead while the table (and the other workers) see
// real time.

// ended records the leases the table reported as ended.
type ended struct {
	mu  sync.Mutex
	got []string
}

func (e *ended) leaseEnded(shardID string, token int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, shardID+"#"+itoa(token))
}

func (e *ended) list() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.got, ",")
}

func itoa(n int64) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int64) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// testWorker is one worker's view of a lease table: its leases, its clock,
// and the KCL's shard status of the one shard the tests use.
type testWorker struct {
	l     *Table
	ended *ended
	shard *par.ShardStatus
	clock time.Time // offset from real time: pause() moves it
	mu    sync.Mutex
}

func (w *testWorker) pause(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock = w.clock.Add(d)
}

type leaseTable struct {
	t        *testing.T
	db       *dynamodb.Client
	table    string
	lease    time.Duration
	stealing bool
}

func newLeaseTable(t *testing.T, stack *localstack.Stack, lease time.Duration) *leaseTable {
	t.Helper()
	db := dynamodb.New(dynamodb.Options{
		Region:       localstack.Region,
		BaseEndpoint: aws.String(stack.DynamoDB),
		Credentials:  credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, ""),
	})
	lt := &leaseTable{t: t, db: db, table: strings.ReplaceAll(t.Name(), "/", "-"), lease: lease}
	if err := lt.worker("init").l.Init(); err != nil {
		t.Fatal(err)
	}
	return lt
}

func (lt *leaseTable) worker(id string) *testWorker {
	cfg := config.NewKinesisClientLibConfig(lt.table, "stream", localstack.Region, id).
		WithTableName(lt.table).
		WithFailoverTimeMillis(int(lt.lease.Milliseconds())).
		WithLeaseStealing(lt.stealing)
	cfg.LeaseStealingClaimTimeoutMillis = int(2 * lt.lease.Milliseconds())
	w := &testWorker{ended: &ended{}, shard: &par.ShardStatus{ID: "shardId-000000000000", Mux: &sync.RWMutex{}}}
	w.l = NewTable(lt.db, cfg, slog.New(slog.DiscardHandler), w.ended.leaseEnded)
	base := time.Now()
	w.clock = base
	w.l.now = func() time.Time {
		w.mu.Lock()
		defer w.mu.Unlock()
		// Real elapsed time plus the pauses, with a monotonic reading.
		return time.Now().Add(w.clock.Sub(base))
	}
	return w
}

// item reads the shard's row.
func (lt *leaseTable) item() (owner string, token int64, cp string) {
	lt.t.Helper()
	out, err := lt.db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(lt.table), Key: (&Table{}).key("shardId-000000000000"), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		lt.t.Fatal(err)
	}
	owner, _ = str(out.Item, chk.LeaseOwnerKey)
	token, _ = num(out.Item, attrLeaseToken)
	cp, _ = str(out.Item, chk.SequenceNumberKey)
	return owner, token, cp
}

// take runs what the KCL's event loop does to take the shard: fetch its
// checkpoint, take the lease; then what the shard consumer does: fetch the
// checkpoint again and initialise a processor.
func (w *testWorker) take(t *testing.T) (int64, error) {
	t.Helper()
	if err := w.l.FetchCheckpoint(w.shard); err != nil && !errors.Is(err, chk.ErrSequenceIDNotFound) {
		return 0, err
	}
	if err := w.l.GetLease(w.shard, w.l.workerID); err != nil {
		return 0, err
	}
	if err := w.l.FetchCheckpoint(w.shard); err != nil && !errors.Is(err, chk.ErrSequenceIDNotFound) {
		t.Fatalf("the consumer's fetch of the checkpoint after the take failed: %v", err)
	}
	token, ok := w.l.Started(w.shard.ID)
	if !ok {
		return 0, errors.New("no lease to start a processor on")
	}
	return token, nil
}

// renew is the KCL's renewal.
func (w *testWorker) renew() error { return w.l.GetLease(w.shard, w.l.workerID) }

// exit is the end of the KCL's shard consumer: it clears the owner, then
// releases.
func (w *testWorker) exit(t *testing.T) {
	t.Helper()
	w.shard.SetLeaseOwner("")
	if err := w.l.RemoveLeaseOwner(w.shard.ID); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseFencing(t *testing.T) {
	t.Parallel()
	stack := localstack.Start(t, localstack.Options{DynamoDB: true})
	ctx := context.Background()

	t.Run("take and renew", func(t *testing.T) {
		lt := newLeaseTable(t, stack, 5*time.Second)
		a, b := lt.worker("A"), lt.worker("B")
		tokA, err := a.take(t)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := a.renew(); err != nil {
				t.Fatalf("renewal: %v", err)
			}
		}
		if owner, token, _ := lt.item(); owner != "A" || token != tokA {
			t.Fatalf("row: owner %q token %d, want A %d (a renewal must not change the token)", owner, token, tokA)
		}
		if _, err := b.take(t); !errors.As(err, &chk.ErrLeaseNotAcquired{}) {
			t.Fatalf("B took a lease A holds: %v", err)
		}
		if err := a.l.FetchCheckpoint(a.shard); err == nil {
			t.Error("FetchCheckpoint of a shard this worker consumes succeeded; the KCL's event loop would take it again")
		}
		// The KCL's release window: the owner is cleared, the event loop
		// asks for the shard before RemoveLeaseOwner: not a renewal.
		a.shard.SetLeaseOwner("")
		if err := a.renew(); !errors.As(err, &chk.ErrLeaseNotAcquired{}) {
			t.Errorf("GetLease of a held shard with its owner cleared = %v, want not acquired", err)
		}
		if got := a.ended.list(); got != "" {
			t.Errorf("leases ended: %s, want none", got)
		}
		a.shard.SetLeaseOwner("A")
		a.exit(t)
		if owner, _, _ := lt.item(); owner != "" {
			t.Errorf("owner after release %q, want none", owner)
		}
		tokA2, err := a.take(t)
		if err != nil || tokA2 <= tokA {
			t.Fatalf("retake: token %d, %v; want a token above %d", tokA2, err, tokA)
		}
	})

	t.Run("a renewal after an interruption is refused", func(t *testing.T) {
		// The zombie: A pauses past its lease; B takes the shard,
		// writes, releases; A wakes with the lease free.
		lt := newLeaseTable(t, stack, 1500*time.Millisecond)
		a, b := lt.worker("A"), lt.worker("B")
		tokA, err := a.take(t)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.l.Checkpoint(ctx, a.shard.ID, tokA, "100"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1600 * time.Millisecond) // A's lease expires for everyone
		a.pause(time.Minute)
		tokB, err := b.take(t)
		if err != nil {
			t.Fatalf("B could not take an expired lease: %v", err)
		}
		if err := b.l.Checkpoint(ctx, b.shard.ID, tokB, "200"); err != nil {
			t.Fatal(err)
		}
		b.exit(t)
		// A wakes: its renewal must not take the free lease back.
		if err := a.renew(); err == nil {
			t.Fatal("A's renewal succeeded after B held the lease")
		}
		if owner, _, cp := lt.item(); owner != "" || cp != "200" {
			t.Fatalf("row after A's renewal: owner %q checkpoint %q, want none and 200", owner, cp)
		}
		if got := a.ended.list(); got != a.shard.ID+"#"+itoa(tokA) {
			t.Errorf("A's leases ended: %q, want its processor's", got)
		}
		// A's stale processor cannot write, whatever its clock says.
		for name, err := range map[string]error{
			"pending":    a.l.SetPending(ctx, a.shard.ID, tokA, Extent{First: "101", Last: "150", After: "100"}),
			"checkpoint": a.l.Checkpoint(ctx, a.shard.ID, tokA, "150"),
		} {
			if !errors.Is(err, ErrLost) {
				t.Errorf("A's %s write under its old token: %v, want ErrLost", name, err)
			}
		}
		// Only A's shard consumer ending (RemoveLeaseOwner) makes the shard
		// takeable for A again, with a fresh token and processor.
		if _, err := a.take(t); err == nil {
			t.Fatal("A took the shard again while its old shard consumer still runs")
		}
		a.exit(t)
		tokA2, err := a.take(t)
		if err != nil || tokA2 <= tokB {
			t.Fatalf("A's fresh take: token %d, %v; want above B's %d", tokA2, err, tokB)
		}
		if cp := a.shard.GetCheckpoint(); cp != "200" {
			t.Errorf("A's fresh processor starts at %q, want B's checkpoint 200", cp)
		}
	})

	t.Run("an expired lease nobody took is not renewed", func(t *testing.T) {
		lt := newLeaseTable(t, stack, 5*time.Second)
		a := lt.worker("A")
		tok, err := a.take(t)
		if err != nil {
			t.Fatal(err)
		}
		a.pause(6 * time.Second) // by A's clock, its lease has expired
		if err := a.renew(); !errors.Is(err, ErrLost) {
			t.Fatalf("renewal of an expired lease: %v, want ErrLost", err)
		}
		if err := a.l.Checkpoint(ctx, a.shard.ID, tok, "100"); !errors.Is(err, ErrLost) {
			t.Errorf("checkpoint under an expired lease: %v, want ErrLost", err)
		}
		if owner, _, _ := lt.item(); owner != "" {
			t.Errorf("a revoked lease is still assigned to %q", owner)
		}
		a.exit(t)
		tok2, err := a.take(t)
		if err != nil || tok2 == tok {
			t.Fatalf("fresh take: token %d, %v (old %d)", tok2, err, tok)
		}
	})

	t.Run("token mismatch on checkpoint and pending extent", func(t *testing.T) {
		// A's clock does not know it was paused (skew): only the table's
		// condition on the token stops it.
		lt := newLeaseTable(t, stack, 1500*time.Millisecond)
		a, b := lt.worker("A"), lt.worker("B")
		tokA, err := a.take(t)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1600 * time.Millisecond)
		a.l.mu.Lock()
		a.l.held[a.shard.ID].renewed = a.l.now() // A believes it renewed just now
		a.l.mu.Unlock()
		tokB, err := b.take(t)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.l.SetPending(ctx, a.shard.ID, tokA, Extent{First: "1", Last: "9"}); !errors.Is(err, ErrLost) {
			t.Errorf("pending extent under a stale token: %v, want ErrLost", err)
		}
		if err := a.l.Checkpoint(ctx, a.shard.ID, tokA, "9"); !errors.Is(err, ErrLost) {
			t.Errorf("checkpoint under a stale token: %v, want ErrLost", err)
		}
		if owner, _, cp := lt.item(); owner != "B" || cp != "" {
			t.Errorf("row: owner %q checkpoint %q; A's revocation must not release B's lease", owner, cp)
		}
		if err := b.l.SetPending(ctx, b.shard.ID, tokB, Extent{First: "1", Last: "9"}); err != nil {
			t.Errorf("B's pending extent: %v", err)
		}
		if err := b.l.Checkpoint(ctx, b.shard.ID, tokB, "9"); err != nil {
			t.Errorf("B's checkpoint: %v", err)
		}

		// The same worker id in two lives (a restart that reuses the id):
		// the owner matches, only the token tells the old take apart.
		b.exit(t)
		old, now := lt.worker("W"), lt.worker("W")
		tokOld, err := old.take(t)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1600 * time.Millisecond)
		old.l.mu.Lock()
		old.l.held[old.shard.ID].renewed = old.l.now()
		old.l.mu.Unlock()
		tokNow, err := now.take(t)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.l.Checkpoint(ctx, old.shard.ID, tokOld, "10"); !errors.Is(err, ErrLost) {
			t.Errorf("checkpoint of the old take of the same worker id: %v, want ErrLost", err)
		}
		if err := old.l.SetPending(ctx, old.shard.ID, tokOld, Extent{First: "10", Last: "19", After: "9"}); !errors.Is(err, ErrLost) {
			t.Errorf("pending extent of the old take of the same worker id: %v, want ErrLost", err)
		}
		if owner, token, _ := lt.item(); owner != "W" || token != tokNow {
			t.Errorf("row: owner %q token %d, want W %d (the old take's revocation must not release the new one)", owner, token, tokNow)
		}
	})

	t.Run("a claim by a worker that died does not hold the shard forever", func(t *testing.T) {
		lt := newLeaseTable(t, stack, 1500*time.Millisecond)
		lt.stealing = true
		a, b := lt.worker("A"), lt.worker("B")
		if _, err := a.take(t); err != nil {
			t.Fatal(err)
		}
		// B claims the shard (lease stealing) and dies before taking it.
		if err := b.l.ClaimShard(b.shard, "B"); err != nil {
			t.Fatal(err)
		}
		if err := a.renew(); err == nil {
			t.Fatal("A renewed a lease another worker claimed")
		}
		a.exit(t)
		if _, err := a.take(t); err == nil {
			t.Fatal("A took a shard B claimed a moment ago")
		}
		a.exit(t)
		deadline := time.Now().Add(4 * lt.lease)
		for {
			_, err := a.take(t)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the dead claimant still holds the shard after %s: %v", 4*lt.lease, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("the checkpoint never moves back", func(t *testing.T) {
		lt := newLeaseTable(t, stack, 30*time.Second)
		a := lt.worker("A")
		tok, err := a.take(t)
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range []string{"99", "100", "100", "1000"} {
			if err := a.l.Checkpoint(ctx, a.shard.ID, tok, cp); err != nil {
				t.Fatalf("checkpoint %s: %v", cp, err)
			}
		}
		if err := a.l.Checkpoint(ctx, a.shard.ID, tok, "999"); !errors.Is(err, ErrLost) {
			t.Fatalf("checkpoint 999 after 1000: %v, want refused", err)
		}
		if _, _, cp := lt.item(); cp != "1000" {
			t.Errorf("checkpoint %s, want 1000", cp)
		}
		a.exit(t)
		tok, err = a.take(t)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.l.SetPending(ctx, a.shard.ID, tok, Extent{First: "1", Last: "9", After: "100"}); !errors.Is(err, ErrLost) {
			t.Errorf("a pending extent after an old checkpoint: %v, want refused", err)
		}
		a.exit(t)
		tok, _ = a.take(t)
		if err := a.l.SetPending(ctx, a.shard.ID, tok, Extent{First: "1001", Last: "1009", After: "1000"}); err != nil {
			t.Errorf("pending extent after the current checkpoint: %v", err)
		}
		if err := a.l.Checkpoint(ctx, a.shard.ID, tok, chk.ShardEnd); err != nil {
			t.Fatalf("SHARD_END: %v", err)
		}
		a.exit(t)
		tok, _ = a.take(t)
		if err := a.l.Checkpoint(ctx, a.shard.ID, tok, "2000"); !errors.Is(err, ErrLost) {
			t.Errorf("a sequence number after SHARD_END: %v, want refused", err)
		}
		if _, err := checkpointKey("12a"); err == nil {
			t.Error("checkpointKey accepted a non-number")
		}
	})
}

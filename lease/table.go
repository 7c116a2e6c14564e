package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	"github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	par "github.com/vmware/vmware-go-kcl-v2/clientlibrary/partition"
)

// Table is hublake's implementation of the KCL's Checkpointer: the lease
// table in DynamoDB, in the KCL's own layout (ShardID, AssignedTo,
// LeaseTimeout, Checkpoint, ParentShardId, ClaimRequest, so existing tables
// and tools keep working) plus four attributes of its own. It is the fence
// that keeps a zombie worker from doing harm; the argument:
//
//  1. Lease tokens. Every take of a lease increments HublakeLeaseToken; a
//     renewal never does. The pending extent and the checkpoint are written
//     only on condition that AssignedTo is this worker and the token is the
//     one the shard's processor was initialised with. A worker paused past
//     its lease (GC, VM pause, SIGSTOP) whose lease was taken by another
//     worker, even if that worker released it again since, holds a stale
//     token: each of its writes fails, and a failed condition means the
//     lease is gone (see 4).
//  2. A renewal is not a take. The KCL renews through the same GetLease as
//     it takes, and cannot tell them apart; this type can: a shard this
//     worker took and whose shard consumer has not ended yet is held (see
//     held), and GetLease for a held shard is a renewal. A renewal succeeds
//     only if this worker held the lease without interruption: the table
//     still names it and its token, and the previous successful take or
//     renewal started less than a lease duration ago by this process's
//     monotonic clock (a lease that expired, even one nobody took, is not
//     renewed: the worker may only resume the shard through a fresh take,
//     hence a fresh processor that reads the checkpoint and the pending
//     extent again). A take happens only for a shard that is not held, so a
//     new processor never shares the shard with an old one.
//  3. The checkpoint only moves forward. HublakeCheckpointKey is the
//     checkpoint as a fixed-width key that orders like the sequence number
//     (SHARD_END above all); the checkpoint write is conditional on the new
//     key not being lower. The pending extent is conditional on the
//     checkpoint being the one the batch follows.
//  4. A lost lease stops its shard consumer. When a write's condition fails,
//     or a renewal is refused, the lease is revoked: the processor is
//     dropped (its buffer is read again by the next owner), the table's
//     AssignedTo is removed (token-conditional, so another worker can take
//     the shard at once), and every further renewal by the shard consumer
//     behind it fails, which ends that consumer (the KCL then calls
//     RemoveLeaseOwner, which ends the held state). No lease stays held
//     without a processor behind it, whatever the KCL does on its own.
//  5. Every write is an UpdateItem of named attributes, never a PutItem of
//     the whole item, so a renewal cannot erase what else the row holds.
//
// What a zombie can still do: finish an object upload it began before it
// was paused. That object has the name and the rows of the batch recorded
// as pending (the new owner rebuilds exactly that batch and writes the same
// names), so the lake stays right; its checkpoint write then fails.
type Table struct {
	db       *dynamodb.Client
	table    string
	workerID string
	cfg      *config.KinesisClientLibConfiguration
	log      *slog.Logger
	ended    Ended
	// now is the clock (tests replace it); its readings must carry Go's
	// monotonic reading, as time.Now's do.
	now func() time.Time

	mu       sync.Mutex
	held     map[string]*heldLease
	lastSync time.Time
}

// heldLease is a lease this worker took and whose shard consumer has not
// ended.
type heldLease struct {
	shard *par.ShardStatus
	token int64
	// renewed is when the last successful take or renewal was sent (a
	// monotonic reading): the lease is ours until renewed + lease duration.
	renewed time.Time
	// started: a processor took the lease over (Initialize).
	started bool
	// revoked: the lease is lost; nothing may be written and no renewal
	// succeeds. The shard consumer behind it is ending.
	revoked bool
}

// Ended is told when a lease of this worker ends (revoked, or its shard
// consumer ended): the stream drops the shard's processor, if it still runs
// under that token, and forgets the shard's metrics. A lease's end is told
// once.
type Ended func(shardID string, token int64)

// Lease row attributes beyond the KCL's.
const (
	attrPendingFirst  = "HublakePendingFirst"
	attrPendingLast   = "HublakePendingLast"
	attrPendingAfter  = "HublakePendingAfter"
	attrLeaseToken    = "HublakeLeaseToken"
	attrCheckpointKey = "HublakeCheckpointKey"
)

// errNotAcquired is what GetLease returns when a lease cannot be taken or
// renewed; the KCL treats it as "not ours".
var errNotAcquired = chk.ErrLeaseNotAcquired{}

// NewTable returns the lease table of the KCL worker configured by cfg
// (its table, worker id, lease duration, lease stealing), telling ended
// when a lease of this worker ends.
func NewTable(db *dynamodb.Client, cfg *config.KinesisClientLibConfiguration, log *slog.Logger, ended Ended) *Table {
	return &Table{
		db: db, table: cfg.TableName, workerID: cfg.WorkerID, cfg: cfg, log: log, ended: ended,
		now: time.Now, held: map[string]*heldLease{},
	}
}

func (l *Table) duration() time.Duration {
	return time.Duration(l.cfg.FailoverTimeMillis) * time.Millisecond
}

func (l *Table) key(shardID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{chk.LeaseKeyKey: &types.AttributeValueMemberS{Value: shardID}}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func str(item map[string]types.AttributeValue, k string) (string, bool) {
	v, ok := item[k].(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return v.Value, true
}

func num(item map[string]types.AttributeValue, k string) (int64, bool) {
	v, ok := item[k].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseInt(v.Value, 10, 64)
	return x, err == nil
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// checkpointKey maps a checkpoint onto a key that orders as the checkpoints
// do: sequence numbers (decimal, at most 128 digits) zero-padded to 128
// digits, and SHARD_END after all of them.
func checkpointKey(cp string) (string, error) {
	if cp == chk.ShardEnd {
		return "~", nil
	}
	if cp == "" || len(cp) > 128 || strings.Trim(cp, "0123456789") != "" {
		return "", fmt.Errorf("checkpoint %q is not a sequence number", cp)
	}
	return strings.Repeat("0", 128-len(cp)) + cp, nil
}

// callCtx bounds a DynamoDB call made for the KCL, whose interface has no
// context.
func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// Init checks that the lease table exists and creates it (on-demand
// billing) when it does not; in AWS the deployment creates it, so the task
// role needs no CreateTable.
func (l *Table) Init() error {
	ctx, cancel := callCtx()
	defer cancel()
	_, err := l.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(l.table)})
	if err == nil {
		return nil
	}
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return fmt.Errorf("describe lease table %s: %w", l.table, err)
	}
	l.log.Info("creating the lease table", "table", l.table)
	_, err = l.db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(l.table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(chk.LeaseKeyKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(chk.LeaseKeyKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		// ResourceInUse: another worker created it at the same moment.
		return fmt.Errorf("create lease table %s (create it beforehand, or allow dynamodb:CreateTable): %w", l.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(l.db)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(l.table)}, 25*time.Second); err != nil {
		return fmt.Errorf("wait for lease table %s: %w", l.table, err)
	}
	return nil
}

func (l *Table) getItem(ctx context.Context, shardID string) (map[string]types.AttributeValue, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: l.key(shardID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read lease of %s: %w", shardID, err)
	}
	return out.Item, nil
}

func (l *Table) update(ctx context.Context, in *dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) {
	in.TableName = aws.String(l.table)
	return l.db.UpdateItem(ctx, in)
}

// GetLease takes or renews the lease of shard for owner (always this
// worker: the KCL passes its own id). A held shard is renewed, any other
// taken, with the KCL's rules: a lease can be taken when it has no owner or
// has timed out and, with lease stealing, is held back for the worker that
// claimed it.
func (l *Table) GetLease(shard *par.ShardStatus, owner string) error {
	if owner != l.workerID {
		return fmt.Errorf("lease of %s asked for worker %q by worker %q", shard.ID, owner, l.workerID)
	}
	l.mu.Lock()
	h := l.held[shard.ID]
	l.mu.Unlock()
	if h != nil {
		return l.renew(shard, h)
	}
	return l.take(shard)
}

// take takes shard's lease with a fresh token.
func (l *Table) take(shard *par.ShardStatus) error {
	ctx, cancel := callCtx()
	defer cancel()
	start := l.now()
	item, err := l.getItem(ctx, shard.ID)
	if err != nil {
		return err
	}
	claim, _ := str(item, chk.ClaimRequestKey)
	claimExpired := shard.IsClaimRequestExpired(l.cfg)
	if l.cfg.EnableLeaseStealing && claim != "" && claim != l.workerID && !claimExpired {
		return errors.New(chk.ErrShardClaimed)
	}
	owner, hasOwner := str(item, chk.LeaseOwnerKey)
	timeout, hasTimeout := str(item, chk.LeaseTimeoutKey)
	newTimeout := time.Now().UTC().Add(l.duration())
	values := map[string]types.AttributeValue{
		":owner":   s(l.workerID),
		":timeout": s(newTimeout.Format(time.RFC3339Nano)),
		":one":     n(1),
	}
	set := []string{"AssignedTo = :owner", "LeaseTimeout = :timeout"}
	var cond []string
	if !hasOwner || !hasTimeout {
		cond = append(cond, "attribute_not_exists(AssignedTo)")
	} else {
		current, err := time.Parse(time.RFC3339Nano, timeout)
		if err != nil {
			return fmt.Errorf("lease of %s: bad LeaseTimeout %q: %w", shard.ID, timeout, err)
		}
		// A lease this worker's id still holds is ours only if this
		// process holds it (see held); otherwise it was a previous life of
		// this id, and the lease is taken over like anyone else's.
		if time.Now().UTC().Before(current) && owner != l.workerID {
			return errNotAcquired
		}
		cond = append(cond, "AssignedTo = :prev_owner", "LeaseTimeout = :prev_timeout")
		values[":prev_owner"] = s(owner)
		values[":prev_timeout"] = s(timeout)
	}
	if token, ok := num(item, attrLeaseToken); ok {
		cond = append(cond, attrLeaseToken+" = :prev_token")
		values[":prev_token"] = n(token)
	} else {
		cond = append(cond, "attribute_not_exists("+attrLeaseToken+")")
	}
	if shard.ParentShardId != "" {
		set = append(set, "ParentShardId = :parent")
		values[":parent"] = s(shard.ParentShardId)
	}
	if l.cfg.EnableLeaseStealing && claim != "" && claim == l.workerID && !claimExpired {
		cond = append(cond, "ClaimRequest = :claim")
		values[":claim"] = s(claim)
	}
	out, err := l.update(ctx, &dynamodb.UpdateItemInput{
		Key:                       l.key(shard.ID),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ") + " REMOVE ClaimRequest ADD " + attrLeaseToken + " :one"),
		ConditionExpression:       aws.String(strings.Join(cond, " AND ")),
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		if isConditionFailed(err) {
			return errNotAcquired
		}
		return fmt.Errorf("take lease of %s: %w", shard.ID, err)
	}
	token, ok := num(out.Attributes, attrLeaseToken)
	if !ok {
		return fmt.Errorf("take lease of %s: the table returned no %s", shard.ID, attrLeaseToken)
	}
	l.mu.Lock()
	l.held[shard.ID] = &heldLease{shard: shard, token: token, renewed: start}
	l.mu.Unlock()
	shard.Mux.Lock()
	shard.AssignedTo = l.workerID
	shard.LeaseTimeout = newTimeout
	shard.Mux.Unlock()
	l.log.Debug("lease taken", "shard", shard.ID, "token", token)
	return nil
}

// renew extends a held lease; any doubt revokes it.
func (l *Table) renew(shard *par.ShardStatus, h *heldLease) error {
	l.mu.Lock()
	revoked, renewed, token := h.revoked, h.renewed, h.token
	l.mu.Unlock()
	if revoked {
		return fmt.Errorf("renew lease of %s: %w", shard.ID, ErrLost)
	}
	if shard.GetLeaseOwner() != l.workerID {
		// Between the KCL's release of a lease (it clears the owner first)
		// and RemoveLeaseOwner, its event loop may ask for the shard: that
		// is a take, and the shard is still held.
		return errNotAcquired
	}
	start := l.now()
	if start.Sub(renewed) >= l.duration() {
		l.Revoke(shard.ID, token, "the lease expired before it was renewed (the worker was paused or starved) after "+start.Sub(renewed).Round(time.Millisecond).String())
		return fmt.Errorf("renew lease of %s: %w", shard.ID, ErrLost)
	}
	ctx, cancel := callCtx()
	defer cancel()
	item, err := l.getItem(ctx, shard.ID)
	if err != nil {
		l.Revoke(shard.ID, token, "the lease cannot be read to renew it")
		return err
	}
	owner, _ := str(item, chk.LeaseOwnerKey)
	current, _ := num(item, attrLeaseToken)
	if owner != l.workerID || current != token {
		l.Revoke(shard.ID, token, "the lease was taken by another worker ("+owner+") or another take of this one")
		return fmt.Errorf("renew lease of %s: %w", shard.ID, ErrLost)
	}
	if claim, _ := str(item, chk.ClaimRequestKey); l.cfg.EnableLeaseStealing && claim != "" && claim != l.workerID && !shard.IsClaimRequestExpired(l.cfg) {
		l.Revoke(shard.ID, token, "the shard is claimed by "+claim+" (lease stealing)")
		return errors.New(chk.ErrShardClaimed)
	}
	newTimeout := time.Now().UTC().Add(l.duration())
	_, err = l.update(ctx, &dynamodb.UpdateItemInput{
		Key:                 l.key(shard.ID),
		UpdateExpression:    aws.String("SET LeaseTimeout = :timeout"),
		ConditionExpression: aws.String("AssignedTo = :me AND " + attrLeaseToken + " = :token"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":timeout": s(newTimeout.Format(time.RFC3339Nano)), ":me": s(l.workerID), ":token": n(token),
		},
	})
	if err != nil {
		l.Revoke(shard.ID, token, "the renewal failed: "+err.Error())
		if isConditionFailed(err) {
			return fmt.Errorf("renew lease of %s: %w", shard.ID, ErrLost)
		}
		return fmt.Errorf("renew lease of %s: %w", shard.ID, err)
	}
	l.mu.Lock()
	if l.held[shard.ID] == h && !h.revoked {
		h.renewed = start
	}
	l.mu.Unlock()
	shard.SetLeaseTimeout(newTimeout)
	return nil
}

// Started hands the lease of shardID over to a new processor (the KCL's
// Initialize) and returns its token. It fails unless the shard was just
// taken and no processor has started on that take yet.
//
// A lease that expired between the take and now (the KCL does not renew
// while a child shard waits for its parent) is revoked instead: the shard is
// taken again, and then started afresh.
func (l *Table) Started(shardID string) (int64, bool) {
	l.mu.Lock()
	h := l.held[shardID]
	if h == nil || h.started || h.revoked {
		l.mu.Unlock()
		return 0, false
	}
	h.started = true
	token, expired := h.token, l.now().Sub(h.renewed) >= l.duration()
	l.mu.Unlock()
	if expired {
		l.Revoke(shardID, token, "the lease expired before its processor started; the shard is taken again")
		return 0, false
	}
	return token, true
}

// valid reports whether this worker may still write for shardID under
// token: the lease is held under that token, not revoked, and not expired by
// this process's clock.
func (l *Table) valid(shardID string, token int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.held[shardID]
	return h != nil && h.token == token && !h.revoked && l.now().Sub(h.renewed) < l.duration()
}

// Revoke gives up the lease of shardID taken under token, for reason: see
// the type's point 4. It is idempotent.
func (l *Table) Revoke(shardID string, token int64, reason string) {
	l.mu.Lock()
	h := l.held[shardID]
	first := h != nil && h.token == token && !h.revoked
	if first {
		h.revoked = true
	}
	l.mu.Unlock()
	if !first {
		return
	}
	l.log.Warn("giving the shard's lease up", "shard", shardID, "token", token, "reason", reason)
	l.ended(shardID, token)
	ctx, cancel := callCtx()
	defer cancel()
	if err := l.release(ctx, shardID, token); err != nil {
		l.log.Warn("cannot release the lease; it expires on its own", "shard", shardID, "err", err)
	}
}

// release removes this worker as the owner of shardID, if it still is under
// token.
func (l *Table) release(ctx context.Context, shardID string, token int64) error {
	_, err := l.update(ctx, &dynamodb.UpdateItemInput{
		Key:                 l.key(shardID),
		UpdateExpression:    aws.String("REMOVE AssignedTo"),
		ConditionExpression: aws.String("AssignedTo = :me AND " + attrLeaseToken + " = :token"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me": s(l.workerID), ":token": n(token),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("release lease of %s: %w", shardID, err)
	}
	return nil
}

// lost turns a failed write into ErrLost (revoking the lease) when its
// condition failed.
func (l *Table) lost(shardID string, token int64, what string, err error) error {
	if isConditionFailed(err) {
		l.Revoke(shardID, token, "the condition of the "+what+" failed: the lease is gone or the checkpoint moved")
		return fmt.Errorf("%s of %s: %w", what, shardID, ErrLost)
	}
	return fmt.Errorf("%s of %s: %w", what, shardID, err)
}

// Checkpoint records cp (a sequence number, or chk.ShardEnd) as shardID's
// checkpoint and clears the pending extent it completes, on condition that
// this worker holds the lease under token and the checkpoint does not move
// backwards.
func (l *Table) Checkpoint(ctx context.Context, shardID string, token int64, cp string) error {
	key, err := checkpointKey(cp)
	if err != nil {
		return err
	}
	if !l.valid(shardID, token) {
		l.Revoke(shardID, token, "the lease expired or was lost before the checkpoint")
		return fmt.Errorf("checkpoint of %s: %w", shardID, ErrLost)
	}
	_, err = l.update(ctx, &dynamodb.UpdateItemInput{
		Key: l.key(shardID),
		UpdateExpression: aws.String("SET Checkpoint = :cp, " + attrCheckpointKey + " = :key REMOVE " +
			attrPendingFirst + ", " + attrPendingLast + ", " + attrPendingAfter),
		ConditionExpression: aws.String("AssignedTo = :me AND " + attrLeaseToken + " = :token AND (attribute_not_exists(" +
			attrCheckpointKey + ") OR " + attrCheckpointKey + " <= :key)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":cp": s(cp), ":key": s(key), ":me": s(l.workerID), ":token": n(token),
		},
	})
	if err != nil {
		return l.lost(shardID, token, "checkpoint", err)
	}
	l.mu.Lock()
	if h := l.held[shardID]; h != nil && h.token == token {
		h.shard.SetCheckpoint(cp)
	}
	l.mu.Unlock()
	return nil
}

// Extent is a batch that was being written when its worker stopped.
type Extent struct {
	First, Last string
	// After is the checkpoint the batch follows; the extent only applies
	// while the shard's checkpoint is still this value.
	After string
}

// SetPending records the extent of the batch about to be uploaded, on
// condition that this worker holds the lease under token and the shard's
// checkpoint is the one the batch follows.
func (l *Table) SetPending(ctx context.Context, shardID string, token int64, p Extent) error {
	if !l.valid(shardID, token) {
		l.Revoke(shardID, token, "the lease expired or was lost before the batch began")
		return fmt.Errorf("record pending batch of %s: %w", shardID, ErrLost)
	}
	values := map[string]types.AttributeValue{
		":first": s(p.First), ":last": s(p.Last), ":me": s(l.workerID), ":token": n(token),
	}
	cond := "AssignedTo = :me AND " + attrLeaseToken + " = :token AND "
	if p.After == "" {
		values[":after"] = s("-") // no checkpoint yet
		cond += "attribute_not_exists(Checkpoint)"
	} else {
		values[":after"] = s(p.After)
		cond += "Checkpoint = :after"
	}
	_, err := l.update(ctx, &dynamodb.UpdateItemInput{
		Key:                       l.key(shardID),
		UpdateExpression:          aws.String("SET " + attrPendingFirst + " = :first, " + attrPendingLast + " = :last, " + attrPendingAfter + " = :after"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
	})
	if err != nil {
		return l.lost(shardID, token, "record pending batch", err)
	}
	return nil
}

// Pending returns the pending extent recorded for shardID, if it follows
// the shard's current checkpoint.
func (l *Table) Pending(ctx context.Context, shardID string) (Extent, bool, error) {
	item, err := l.getItem(ctx, shardID)
	if err != nil {
		return Extent{}, false, err
	}
	first, ok1 := str(item, attrPendingFirst)
	last, ok2 := str(item, attrPendingLast)
	after, ok3 := str(item, attrPendingAfter)
	if !ok1 || !ok2 || !ok3 {
		return Extent{}, false, nil
	}
	if after == "-" {
		after = ""
	}
	cp, _ := str(item, chk.SequenceNumberKey)
	if cp != after {
		return Extent{}, false, nil
	}
	return Extent{First: first, Last: last, After: after}, true, nil
}

// CheckpointSequence implements the KCL's checkpoint write (its record
// processor checkpointer; hublake's processors call Checkpoint instead) with
// the same conditions, under the token this worker holds the shard with.
func (l *Table) CheckpointSequence(shard *par.ShardStatus) error {
	l.mu.Lock()
	h := l.held[shard.ID]
	l.mu.Unlock()
	if h == nil {
		return fmt.Errorf("checkpoint of %s: %w", shard.ID, ErrLost)
	}
	ctx, cancel := callCtx()
	defer cancel()
	return l.Checkpoint(ctx, shard.ID, h.token, shard.GetCheckpoint())
}

// FetchCheckpoint reads shard's checkpoint, owner and lease timeout into
// shard. For a shard whose consumer runs in this worker it is the KCL's
// event loop looking for shards to take: it gets an error, so that it
// leaves the shard alone; the owner of a held shard is never overwritten.
func (l *Table) FetchCheckpoint(shard *par.ShardStatus) error {
	l.mu.Lock()
	h := l.held[shard.ID]
	busy := h != nil && (h.started || h.revoked)
	l.mu.Unlock()
	if busy {
		return fmt.Errorf("shard %s is being consumed by this worker", shard.ID)
	}
	ctx, cancel := callCtx()
	defer cancel()
	item, err := l.getItem(ctx, shard.ID)
	if err != nil {
		return err
	}
	if h == nil {
		owner, _ := str(item, chk.LeaseOwnerKey)
		shard.SetLeaseOwner(owner)
	}
	if timeout, ok := str(item, chk.LeaseTimeoutKey); ok && timeout != "" {
		t, err := time.Parse(time.RFC3339Nano, timeout)
		if err != nil {
			return fmt.Errorf("lease of %s: bad LeaseTimeout %q: %w", shard.ID, timeout, err)
		}
		shard.SetLeaseTimeout(t)
	}
	cp, ok := str(item, chk.SequenceNumberKey)
	if !ok {
		// The owner and timeout above are still what the table says: lease
		// stealing compares them, also for a shard not yet checkpointed.
		return chk.ErrSequenceIDNotFound
	}
	shard.SetCheckpoint(cp)
	return nil
}

// RemoveLeaseInfo deletes the row of a shard that no longer exists.
func (l *Table) RemoveLeaseInfo(shardID string) error {
	ctx, cancel := callCtx()
	defer cancel()
	_, err := l.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(l.table), Key: l.key(shardID)})
	if err != nil {
		return fmt.Errorf("remove lease of %s: %w", shardID, err)
	}
	return nil
}

// RemoveLeaseOwner releases this worker's lease on shardID. The KCL calls it
// once its shard consumer has ended, for whatever reason (including a lost
// lease it does not report otherwise): the shard is no longer held, its
// processor is dropped, and the lease is released if this worker still has
// it under the token it took it with.
func (l *Table) RemoveLeaseOwner(shardID string) error {
	l.mu.Lock()
	h := l.held[shardID]
	delete(l.held, shardID)
	l.mu.Unlock()
	if h == nil {
		return nil
	}
	l.ended(shardID, h.token)
	ctx, cancel := callCtx()
	defer cancel()
	return l.release(ctx, shardID, h.token)
}

// GetLeaseOwner returns the owner of shardID's lease.
func (l *Table) GetLeaseOwner(shardID string) (string, error) {
	ctx, cancel := callCtx()
	defer cancel()
	item, err := l.getItem(ctx, shardID)
	if err != nil {
		return "", err
	}
	owner, ok := str(item, chk.LeaseOwnerKey)
	if !ok {
		return "", chk.NoLeaseOwnerErr
	}
	return owner, nil
}

// ListActiveWorkers returns the shards (not ended) each worker owns, for
// lease stealing. Like the KCL's, it syncs from a table scan at most once per
// LeaseSyncingTimeIntervalMillis and fails while a shard has no owner.
func (l *Table) ListActiveWorkers(shards map[string]*par.ShardStatus) (map[string][]*par.ShardStatus, error) {
	if err := l.syncLeases(shards); err != nil {
		return nil, err
	}
	workers := map[string][]*par.ShardStatus{}
	for _, sh := range shards {
		if sh.GetCheckpoint() == chk.ShardEnd {
			continue
		}
		owner := sh.GetLeaseOwner()
		if owner == "" {
			return nil, chk.ErrShardNotAssigned
		}
		workers[owner] = append(workers[owner], sh)
	}
	return workers, nil
}

func (l *Table) syncLeases(shards map[string]*par.ShardStatus) error {
	l.mu.Lock()
	due := time.Since(l.lastSync) >= time.Duration(l.cfg.LeaseSyncingTimeIntervalMillis)*time.Millisecond
	if due {
		l.lastSync = time.Now()
	}
	l.mu.Unlock()
	if !due {
		return nil
	}
	ctx, cancel := callCtx()
	defer cancel()
	p := dynamodb.NewScanPaginator(l.db, &dynamodb.ScanInput{
		TableName:            aws.String(l.table),
		ProjectionExpression: aws.String("ShardID, AssignedTo, Checkpoint"),
		ConsistentRead:       aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan lease table: %w", err)
		}
		for _, item := range page.Items {
			id, ok1 := str(item, chk.LeaseKeyKey)
			owner, ok2 := str(item, chk.LeaseOwnerKey)
			cp, ok3 := str(item, chk.SequenceNumberKey)
			if !ok1 || !ok2 || !ok3 {
				continue
			}
			sh, ok := shards[id]
			if !ok {
				continue
			}
			l.mu.Lock()
			_, held := l.held[id]
			l.mu.Unlock()
			// The table naming this worker for a shard it does not hold is a
			// lease of a previous life of this id: the shard must look free
			// to the event loop, or it would never take it. A held shard's
			// owner is this worker's to set.
			if !held {
				if owner == l.workerID {
					owner = ""
				}
				sh.SetLeaseOwner(owner)
			}
			sh.SetCheckpoint(cp)
		}
	}
	return nil
}

// ClaimShard asks the owner of shard to give it up to claimID (lease
// stealing): the owner's next renewal fails and the claimer takes it over.
func (l *Table) ClaimShard(shard *par.ShardStatus, claimID string) error {
	if err := l.FetchCheckpoint(shard); err != nil && !errors.Is(err, chk.ErrSequenceIDNotFound) {
		return err
	}
	values := map[string]types.AttributeValue{
		":claim":   s(claimID),
		":timeout": s(shard.GetLeaseTimeout().Format(time.RFC3339Nano)),
	}
	cond := []string{"LeaseTimeout = :timeout", "attribute_not_exists(ClaimRequest)"}
	if owner := shard.GetLeaseOwner(); owner == "" {
		cond = append(cond, "attribute_not_exists(AssignedTo)")
	} else {
		cond = append(cond, "AssignedTo = :owner")
		values[":owner"] = s(owner)
	}
	switch cp := shard.GetCheckpoint(); cp {
	case "":
		cond = append(cond, "attribute_not_exists(Checkpoint)")
	case chk.ShardEnd:
		cond = append(cond, "Checkpoint <> :cp")
		values[":cp"] = s(chk.ShardEnd)
	default:
		cond = append(cond, "Checkpoint = :cp")
		values[":cp"] = s(cp)
	}
	ctx, cancel := callCtx()
	defer cancel()
	_, err := l.update(ctx, &dynamodb.UpdateItemInput{
		Key:                       l.key(shard.ID),
		UpdateExpression:          aws.String("SET ClaimRequest = :claim"),
		ConditionExpression:       aws.String(strings.Join(cond, " AND ")),
		ExpressionAttributeValues: values,
	})
	if err != nil {
		return fmt.Errorf("claim %s: %w", shard.ID, err)
	}
	return nil
}

var _ chk.Checkpointer = (*Table)(nil)

package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// Leases is hublake's implementation of the KCL's Checkpointer: the lease
// table in DynamoDB (the KCL's own layout: ShardID, AssignedTo, LeaseTimeout,
// Checkpoint, ParentShardId, ClaimRequest, so existing tables and tools keep
// working), with three differences that the exactly-once argument needs:
//
//  1. Every write is an UpdateItem of named attributes, never a PutItem of
//     the whole item, so a lease renewal cannot erase what else the row holds
//     (the library's renewal rewrites the row, checkpoint included).
//  2. The checkpoint is a conditional update on AssignedTo = this worker. The
//     library's write is unconditional: a zombie that lost its lease could
//     move the checkpoint of a shard someone else now owns. A failed
//     condition is ErrLeaseLost: the caller drops the shard's buffer.
//  3. Before a batch is uploaded, its extent (first and last sequence number,
//     and the checkpoint it follows) is recorded in the row, under the same
//     condition. A worker that takes the shard over and finds an extent that
//     follows the current checkpoint rebuilds exactly that batch, so even a
//     batch cut by shutdown or shard end is replayed into the same objects.
//
// Lease renewal never writes the checkpoint either: only CheckpointSequence
// does.
type Leases struct {
	db       *dynamodb.Client
	table    string
	workerID string
	cfg      *config.KinesisClientLibConfiguration
	log      *slog.Logger

	mu       sync.Mutex
	lastSync time.Time
	onLost   func(shardID string)
	onFail   func()
}

// Lease row attributes beyond the KCL's.
const (
	attrPendingFirst = "HublakePendingFirst"
	attrPendingLast  = "HublakePendingLast"
	attrPendingAfter = "HublakePendingAfter"
)

// ErrLeaseLost means a conditional write found the lease owned by another
// worker (or by nobody): this worker must stop processing the shard.
var ErrLeaseLost = errors.New("lease lost: the shard is owned by another worker")

// NewLeases returns the checkpointer for the KCL worker configured by cfg.
// onLost is called when this worker stops owning a shard (released after its
// consumer ended, or a conditional write failed); onCheckpointFailure when a
// checkpoint write fails for any reason.
func NewLeases(db *dynamodb.Client, cfg *config.KinesisClientLibConfiguration, log *slog.Logger, onLost func(string), onCheckpointFailure func()) *Leases {
	if onLost == nil {
		onLost = func(string) {}
	}
	if onCheckpointFailure == nil {
		onCheckpointFailure = func() {}
	}
	return &Leases{db: db, table: cfg.TableName, workerID: cfg.WorkerID, cfg: cfg, log: log, onLost: onLost, onFail: onCheckpointFailure}
}

func (l *Leases) key(shardID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{chk.LeaseKeyKey: &types.AttributeValueMemberS{Value: shardID}}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func str(item map[string]types.AttributeValue, k string) (string, bool) {
	v, ok := item[k].(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return v.Value, true
}

func isConditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// ctx bounds every DynamoDB call: the KCL's interface has no context.
func (l *Leases) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// Init checks that the lease table exists and creates it (on-demand
// billing) when it does not; in AWS the deployment creates it, so the task
// role needs no CreateTable.
func (l *Leases) Init() error {
	ctx, cancel := l.ctx()
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
	if err != nil {
		return fmt.Errorf("create lease table %s (create it beforehand, or allow dynamodb:CreateTable): %w", l.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(l.db)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(l.table)}, 25*time.Second); err != nil {
		return fmt.Errorf("wait for lease table %s: %w", l.table, err)
	}
	return nil
}

func (l *Leases) getItem(shardID string) (map[string]types.AttributeValue, error) {
	ctx, cancel := l.ctx()
	defer cancel()
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: l.key(shardID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read lease of %s: %w", shardID, err)
	}
	return out.Item, nil
}

func (l *Leases) update(in *dynamodb.UpdateItemInput) error {
	ctx, cancel := l.ctx()
	defer cancel()
	in.TableName = aws.String(l.table)
	_, err := l.db.UpdateItem(ctx, in)
	return err
}

// GetLease takes or renews the lease of shard for newOwner, with the same
// rules as the KCL's: a lease can be taken when it has no owner or has timed
// out, renewed by its owner, and, with lease stealing, is held back for the
// worker that claimed it.
func (l *Leases) GetLease(shard *par.ShardStatus, newOwner string) error {
	item, err := l.getItem(shard.ID)
	if err != nil {
		return err
	}
	claimExpired := shard.IsClaimRequestExpired(l.cfg)
	claim, _ := str(item, chk.ClaimRequestKey)
	if l.cfg.EnableLeaseStealing && claim != "" && claim != newOwner && !claimExpired {
		l.lostIfMine(shard.ID, newOwner)
		return errors.New(chk.ErrShardClaimed)
	}
	owner, hasOwner := str(item, chk.LeaseOwnerKey)
	timeout, hasTimeout := str(item, chk.LeaseTimeoutKey)
	newTimeout := time.Now().UTC().Add(time.Duration(l.cfg.FailoverTimeMillis) * time.Millisecond)

	values := map[string]types.AttributeValue{
		":owner":   s(newOwner),
		":timeout": s(newTimeout.Format(time.RFC3339Nano)),
	}
	set := []string{"AssignedTo = :owner", "LeaseTimeout = :timeout"}
	var cond string
	if !hasOwner || !hasTimeout {
		cond = "attribute_not_exists(AssignedTo)"
	} else {
		current, err := time.Parse(time.RFC3339Nano, timeout)
		if err != nil {
			return fmt.Errorf("lease of %s: bad LeaseTimeout %q: %w", shard.ID, timeout, err)
		}
		if time.Now().UTC().Before(current) && owner != newOwner {
			return chk.ErrLeaseNotAcquired{}
		}
		cond = "AssignedTo = :prev_owner AND LeaseTimeout = :prev_timeout"
		values[":prev_owner"] = s(owner)
		values[":prev_timeout"] = s(timeout)
	}
	if shard.ParentShardId != "" {
		set = append(set, "ParentShardId = :parent")
		values[":parent"] = s(shard.ParentShardId)
	}
	if l.cfg.EnableLeaseStealing && claim != "" && claim == newOwner && !claimExpired {
		cond += " AND ClaimRequest = :claim"
		values[":claim"] = s(claim)
	}
	err = l.update(&dynamodb.UpdateItemInput{
		Key:                       l.key(shard.ID),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ") + " REMOVE ClaimRequest"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeValues: values,
	})
	if err != nil {
		if isConditionFailed(err) {
			l.lostIfMine(shard.ID, newOwner)
			return chk.ErrLeaseNotAcquired{}
		}
		return fmt.Errorf("take lease of %s: %w", shard.ID, err)
	}
	shard.Mux.Lock()
	shard.AssignedTo = newOwner
	shard.LeaseTimeout = newTimeout
	shard.Mux.Unlock()
	return nil
}

// lostIfMine reports a lost lease when a renewal by this worker failed.
func (l *Leases) lostIfMine(shardID, owner string) {
	if owner == l.workerID {
		l.onLost(shardID)
	}
}

// CheckpointSequence records shard's checkpoint, on condition that this
// worker still owns the lease, and clears the pending extent it completes.
func (l *Leases) CheckpointSequence(shard *par.ShardStatus) error {
	err := l.update(&dynamodb.UpdateItemInput{
		Key:                 l.key(shard.ID),
		UpdateExpression:    aws.String("SET Checkpoint = :cp REMOVE " + attrPendingFirst + ", " + attrPendingLast + ", " + attrPendingAfter),
		ConditionExpression: aws.String("AssignedTo = :me"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":cp": s(shard.GetCheckpoint()),
			":me": s(l.workerID),
		},
	})
	if err != nil {
		l.onFail()
		if isConditionFailed(err) {
			l.onLost(shard.ID)
			return fmt.Errorf("checkpoint %s: %w", shard.ID, ErrLeaseLost)
		}
		return fmt.Errorf("checkpoint %s: %w", shard.ID, err)
	}
	return nil
}

// PendingExtent is a batch that was being written when its worker stopped.
type PendingExtent struct {
	First, Last string
	// After is the checkpoint the batch follows; the extent only applies
	// while the shard's checkpoint is still this value.
	After string
}

// SetPending records the extent of the batch about to be uploaded, on
// condition that this worker owns the lease.
func (l *Leases) SetPending(shardID string, p PendingExtent) error {
	after := p.After
	if after == "" {
		after = "-" // no checkpoint yet
	}
	err := l.update(&dynamodb.UpdateItemInput{
		Key:                 l.key(shardID),
		UpdateExpression:    aws.String("SET " + attrPendingFirst + " = :first, " + attrPendingLast + " = :last, " + attrPendingAfter + " = :after"),
		ConditionExpression: aws.String("AssignedTo = :me"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":first": s(p.First), ":last": s(p.Last), ":after": s(after), ":me": s(l.workerID),
		},
	})
	if err != nil {
		if isConditionFailed(err) {
			l.onLost(shardID)
			return fmt.Errorf("record pending batch of %s: %w", shardID, ErrLeaseLost)
		}
		return fmt.Errorf("record pending batch of %s: %w", shardID, err)
	}
	return nil
}

// Pending returns the pending extent recorded for shardID, if it follows
// the shard's current checkpoint.
func (l *Leases) Pending(shardID string) (PendingExtent, bool, error) {
	item, err := l.getItem(shardID)
	if err != nil {
		return PendingExtent{}, false, err
	}
	first, ok1 := str(item, attrPendingFirst)
	last, ok2 := str(item, attrPendingLast)
	after, ok3 := str(item, attrPendingAfter)
	if !ok1 || !ok2 || !ok3 {
		return PendingExtent{}, false, nil
	}
	if after == "-" {
		after = ""
	}
	cp, _ := str(item, chk.SequenceNumberKey)
	if cp != after {
		return PendingExtent{}, false, nil
	}
	return PendingExtent{First: first, Last: last, After: after}, true, nil
}

// FetchCheckpoint reads shard's checkpoint and owner into shard.
func (l *Leases) FetchCheckpoint(shard *par.ShardStatus) error {
	item, err := l.getItem(shard.ID)
	if err != nil {
		return err
	}
	cp, ok := str(item, chk.SequenceNumberKey)
	if !ok {
		return chk.ErrSequenceIDNotFound
	}
	shard.SetCheckpoint(cp)
	if owner, ok := str(item, chk.LeaseOwnerKey); ok {
		shard.SetLeaseOwner(owner)
	}
	if timeout, ok := str(item, chk.LeaseTimeoutKey); ok && timeout != "" {
		t, err := time.Parse(time.RFC3339Nano, timeout)
		if err != nil {
			return fmt.Errorf("lease of %s: bad LeaseTimeout %q: %w", shard.ID, timeout, err)
		}
		shard.SetLeaseTimeout(t)
	}
	return nil
}

// RemoveLeaseInfo deletes the row of a shard that no longer exists.
func (l *Leases) RemoveLeaseInfo(shardID string) error {
	ctx, cancel := l.ctx()
	defer cancel()
	_, err := l.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(l.table), Key: l.key(shardID)})
	if err != nil {
		return fmt.Errorf("remove lease of %s: %w", shardID, err)
	}
	return nil
}

// RemoveLeaseOwner releases this worker's lease on shardID. The KCL calls it
// when a shard's consumer ends for whatever reason, including a lost lease
// it does not report otherwise: the shard's processor is dropped here.
func (l *Leases) RemoveLeaseOwner(shardID string) error {
	l.onLost(shardID)
	err := l.update(&dynamodb.UpdateItemInput{
		Key:                       l.key(shardID),
		UpdateExpression:          aws.String("REMOVE AssignedTo"),
		ConditionExpression:       aws.String("AssignedTo = :me"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": s(l.workerID)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("release lease of %s: %w", shardID, err)
	}
	return nil
}

// GetLeaseOwner returns the owner of shardID's lease.
func (l *Leases) GetLeaseOwner(shardID string) (string, error) {
	item, err := l.getItem(shardID)
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
func (l *Leases) ListActiveWorkers(shards map[string]*par.ShardStatus) (map[string][]*par.ShardStatus, error) {
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

func (l *Leases) syncLeases(shards map[string]*par.ShardStatus) error {
	l.mu.Lock()
	due := time.Since(l.lastSync) >= time.Duration(l.cfg.LeaseSyncingTimeIntervalMillis)*time.Millisecond
	if due {
		l.lastSync = time.Now()
	}
	l.mu.Unlock()
	if !due {
		return nil
	}
	ctx, cancel := l.ctx()
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
			if sh, ok := shards[id]; ok {
				sh.SetLeaseOwner(owner)
				sh.SetCheckpoint(cp)
			}
		}
	}
	return nil
}

// ClaimShard asks the owner of shard to give it up to claimID (lease
// stealing): the owner's next renewal fails and the claimer takes it over.
func (l *Leases) ClaimShard(shard *par.ShardStatus, claimID string) error {
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
	err := l.update(&dynamodb.UpdateItemInput{
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

var _ chk.Checkpointer = (*Leases)(nil)

package processor

import (
	"context"
	"log/slog"
	"sync"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/lake"
	"github.com/hublake/hublake/pipeline"
)

// memLeases is an in-memory lease table for driving shard processors as the
// KCL does, without DynamoDB: every processor gets a fresh token, and every
// write under it succeeds until the lease is revoked.
type memLeases struct {
	mu      sync.Mutex
	token   int64
	tokens  map[string]int64
	pending map[string]pendingExtent
	cps     map[string][]string
}

func newMemLeases() *memLeases {
	return &memLeases{tokens: map[string]int64{}, pending: map[string]pendingExtent{}, cps: map[string][]string{}}
}

func (m *memLeases) started(shardID string) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.token++
	m.tokens[shardID] = m.token
	return m.token, true
}

func (m *memLeases) Pending(_ context.Context, shardID string) (pendingExtent, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pending[shardID]
	return p, ok, nil
}

func (m *memLeases) SetPending(_ context.Context, shardID string, token int64, p pendingExtent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens[shardID] != token {
		return errLeaseLost
	}
	m.pending[shardID] = p
	return nil
}

func (m *memLeases) Checkpoint(_ context.Context, shardID string, token int64, cp string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens[shardID] != token {
		return errLeaseLost
	}
	delete(m.pending, shardID)
	m.cps[shardID] = append(m.cps[shardID], cp)
	return nil
}

func (m *memLeases) revoke(shardID string, token int64, _ string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens[shardID] == token {
		delete(m.tokens, shardID)
	}
}

func (m *memLeases) checkpoints(shardID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.cps[shardID]...)
}

// newTestShards returns the record processors' factory of a stream over
// store, with leases for a lease table.
func newTestShards(stream string, store lake.Store, stats *pipeline.Stats, p pipeline.Policy, leases shardLeases) *shards {
	var enc *encode.Encoder
	if store != nil {
		enc = encode.New(store, encode.Options{})
	}
	return newShards(stream, p, enc, stats, slog.New(slog.DiscardHandler), noObserver{}, leases)
}

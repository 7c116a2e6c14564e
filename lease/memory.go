package lease

import (
	"context"
	"sync"
)

// Memory is an in-memory lease table for driving shard processors as the
// KCL does, without DynamoDB (the tests and benchmarks of the stream): every
// processor gets a fresh token, and every write under it succeeds until the
// lease is revoked, whose end is told to ended as the Table tells it.
type Memory struct {
	ended Ended

	mu      sync.Mutex
	token   int64
	tokens  map[string]int64
	lost    map[string]bool
	pending map[string]Extent
	cps     map[string][]string
}

// NewMemory returns an empty in-memory lease table (ended: nil, none).
func NewMemory(ended Ended) *Memory {
	if ended == nil {
		ended = func(string, int64) {}
	}
	return &Memory{ended: ended, tokens: map[string]int64{}, lost: map[string]bool{}, pending: map[string]Extent{}, cps: map[string][]string{}}
}

// SetEnded sets what is told when a lease ends.
func (m *Memory) SetEnded(ended Ended) { m.ended = ended }

// Started implements Leases: a fresh token for every processor. A shard
// taken again ends its previous take first, as the DynamoDB table's
// RemoveLeaseOwner does before a shard can be taken again.
func (m *Memory) Started(shardID string) (int64, bool) {
	m.mu.Lock()
	old, had := m.tokens[shardID]
	m.token++
	token := m.token
	m.tokens[shardID] = token
	delete(m.lost, shardID)
	m.mu.Unlock()
	if had {
		m.ended(shardID, old)
	}
	return token, true
}

// Lose makes the lease of shardID lost at the table's side (another worker
// took it): the next write under it fails its condition, which revokes the
// lease, as the DynamoDB table's writes do.
func (m *Memory) Lose(shardID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lost[shardID] = true
}

// holds reports whether a write under token may go on; a lost lease is
// revoked (the caller then tells its end, outside the lock). m.mu is held.
func (m *Memory) holds(shardID string, token int64) (ok, revoked bool) {
	if m.tokens[shardID] != token {
		return false, false
	}
	if m.lost[shardID] {
		delete(m.tokens, shardID)
		delete(m.lost, shardID)
		return false, true
	}
	return true, false
}

// Pending implements Leases.
func (m *Memory) Pending(_ context.Context, shardID string) (Extent, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pending[shardID]
	return p, ok, nil
}

// SetPending implements Leases.
func (m *Memory) SetPending(_ context.Context, shardID string, token int64, p Extent) error {
	m.mu.Lock()
	ok, revoked := m.holds(shardID, token)
	if ok {
		m.pending[shardID] = p
	}
	m.mu.Unlock()
	return m.written(shardID, token, ok, revoked)
}

// Checkpoint implements Leases.
func (m *Memory) Checkpoint(_ context.Context, shardID string, token int64, cp string) error {
	m.mu.Lock()
	ok, revoked := m.holds(shardID, token)
	if ok {
		delete(m.pending, shardID)
		m.cps[shardID] = append(m.cps[shardID], cp)
	}
	m.mu.Unlock()
	return m.written(shardID, token, ok, revoked)
}

// written ends a conditional write: nil, or ErrLost after telling the end
// of a lease the write revoked.
func (m *Memory) written(shardID string, token int64, ok, revoked bool) error {
	if revoked {
		m.ended(shardID, token)
	}
	if !ok {
		return ErrLost
	}
	return nil
}

// Revoke implements Leases: the first revocation of a lease ends it.
func (m *Memory) Revoke(shardID string, token int64, _ string) {
	m.mu.Lock()
	first := m.tokens[shardID] == token
	if first {
		delete(m.tokens, shardID)
		delete(m.lost, shardID)
	}
	m.mu.Unlock()
	if first {
		m.ended(shardID, token)
	}
}

// Checkpoints returns the checkpoints written for shardID, in order.
func (m *Memory) Checkpoints(shardID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.cps[shardID]...)
}

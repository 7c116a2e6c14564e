package pipeline

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"unsafe"
)

// dedupKey identifies a finding delivery: the event kind, the custom action
// and the finding's bytes (docs/tables.md, "Deduplication"). It is not (Id, UpdatedAt):
// BatchUpdateFindings changes workflow and notes without changing UpdatedAt,
// and those changes must reach the table. SHA-256, truncated to 128 bits,
// because a producer that can write a finding must not be able to make
// hublake drop someone else's finding as a "duplicate" by colliding with it.
type dedupKey [16]byte

// keyer computes dedup keys with a hasher it reuses; each goroutine that
// decodes units has its own.
type keyer struct{ h hash.Hash }

func newKeyer() *keyer { return &keyer{h: sha256.New()} }

func (k *keyer) finding(kind, action, raw string) dedupKey {
	h := k.h
	h.Reset()
	h.Write(stringBytes(kind))
	h.Write([]byte{0})
	h.Write(stringBytes(action))
	h.Write([]byte{0})
	h.Write(stringBytes(raw))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return dedupKey(sum[:16])
}

// stringBytes views s as bytes without copying; the hash only reads them.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// insightKey identifies an insight result: its event's detail and its
// position in it.
func insightKey(detailSum [sha256.Size]byte, index int32) dedupKey {
	var b [sha256.Size + 4]byte
	copy(b[:], detailSum[:])
	binary.BigEndian.PutUint32(b[sha256.Size:], uint32(index))
	sum := sha256.Sum256(b[:])
	return dedupKey(sum[:16])
}

// dedupWindow remembers the last n keys of one source partition (one file,
// one shard), first in first out. Scoping it to a source partition makes
// the output independent of how work is spread over cores and tasks;
// EventBridge and producer retries land on the same shard because the rule's
// partition key is the event id, and arrive close together.
type dedupWindow struct {
	seen map[dedupKey]struct{}
	ring []dedupKey
	next int
	full bool
}

func newDedupWindow(n int) *dedupWindow {
	return &dedupWindow{seen: make(map[dedupKey]struct{}, min(n, 1<<12)), ring: make([]dedupKey, n)}
}

// add records k and reports whether it was new.
func (w *dedupWindow) add(k dedupKey) bool {
	if _, dup := w.seen[k]; dup {
		return false
	}
	if w.full {
		delete(w.seen, w.ring[w.next])
	}
	w.ring[w.next] = k
	w.seen[k] = struct{}{}
	w.next++
	if w.next == len(w.ring) {
		w.next, w.full = 0, true
	}
	return true
}

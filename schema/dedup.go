package schema

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"unsafe"
)

// DedupKey identifies a delivery of a row: what makes two rows one
// delivered twice (docs/tables.md, "Deduplication"). Each table declares its
// rows' (Table's keys): for a finding, the event kind, the custom action and
// the finding's bytes. It is not (Id, UpdatedAt): BatchUpdateFindings changes
// workflow and notes without changing UpdatedAt, and those changes must
// reach the table. SHA-256, truncated to 128 bits, because a producer that
// can write a finding must not be able to make hublake drop someone else's
// finding as a "duplicate" by colliding with it.
type DedupKey [16]byte

// Keyer computes dedup keys with a hasher it reuses; each goroutine that
// decodes units has its own.
type Keyer struct{ h hash.Hash }

// NewKeyer returns a Keyer.
func NewKeyer() *Keyer { return &Keyer{h: sha256.New()} }

// Finding is the key of a finding delivered by an event of kind, for the
// custom action action ("" for none), with the bytes raw.
func (k *Keyer) Finding(kind, action, raw string) DedupKey {
	h := k.h
	h.Reset()
	h.Write(stringBytes(kind))
	h.Write([]byte{0})
	h.Write(stringBytes(action))
	h.Write([]byte{0})
	h.Write(stringBytes(raw))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return DedupKey(sum[:16])
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
func insightKey(detailSum [sha256.Size]byte, index int32) DedupKey {
	var b [sha256.Size + 4]byte
	copy(b[:], detailSum[:])
	binary.BigEndian.PutUint32(b[sha256.Size:], uint32(index))
	sum := sha256.Sum256(b[:])
	return DedupKey(sum[:16])
}

// insightKeys appends the keys of one unit's insight results to dst: each
// is its event's detail and its position in it, the detail hashed once for
// the results that share it (they point at the same bytes; a unit's
// results, not across units, whose bytes may be other bytes at the same
// address).
func insightKeys(_ *Keyer, rows []InsightResult, dst []DedupKey) []DedupKey {
	var detailSum [sha256.Size]byte
	var detailPtr *byte
	for i := range rows {
		r := &rows[i]
		if p := unsafe.StringData(r.RawDetail); p != detailPtr || i == 0 {
			detailPtr, detailSum = p, sha256.Sum256(unsafe.Slice(p, len(r.RawDetail)))
		}
		dst = append(dst, insightKey(detailSum, r.ResultIndex))
	}
	return dst
}

// eachRow makes a table's keys function of one row's key.
func eachRow[T any](key func(k *Keyer, row *T) DedupKey) func(*Keyer, []T, []DedupKey) []DedupKey {
	return func(k *Keyer, rows []T, dst []DedupKey) []DedupKey {
		for i := range rows {
			dst = append(dst, key(k, &rows[i]))
		}
		return dst
	}
}

package pipeline

import "github.com/hublake/hublake/schema"

// dedupWindow remembers the last n keys of one source partition (one file,
// one shard), first in first out. Scoping it to a source partition makes
// the output independent of how work is spread over cores and tasks;
// EventBridge and producer retries land on the same shard because the rule's
// partition key is the event id, and arrive close together.
type dedupWindow struct {
	seen map[schema.DedupKey]struct{}
	ring []schema.DedupKey
	next int
	full bool
}

func newDedupWindow(n int) *dedupWindow {
	return &dedupWindow{seen: make(map[schema.DedupKey]struct{}, min(n, 1<<12)), ring: make([]schema.DedupKey, n)}
}

// add records k and reports whether it was new.
func (w *dedupWindow) add(k schema.DedupKey) bool {
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

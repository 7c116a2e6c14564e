package pipeline

import (
	"strconv"
	"testing"
)

// BenchmarkDedup measures the dedup key and window.
func BenchmarkDedup(b *testing.B) {
	raw := string(make([]byte, 4000))
	w, k := newDedupWindow(DefaultDedupWindow), newKeyer()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		w.add(k.finding("Security Hub Findings - Imported", strconv.Itoa(i), raw))
	}
}

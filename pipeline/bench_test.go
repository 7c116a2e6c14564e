package pipeline

import (
	"strconv"
	"testing"

	"github.com/hublake/hublake/schema"
)

// BenchmarkDedup measures the dedup key and window.
func BenchmarkDedup(b *testing.B) {
	raw := string(make([]byte, 4000))
	w, k := newDedupWindow(DefaultDedupWindow), schema.NewKeyer()
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		w.add(k.Finding("Security Hub Findings - Imported", strconv.Itoa(i), raw))
	}
}

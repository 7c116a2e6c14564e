package schema_test

import (
	"testing"
	"time"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/schema"
)

// benchUnits generates n events (no duplicates) as separate units.
func benchUnits(b *testing.B, n int64, insight float64) ([][]byte, int64) {
	b.Helper()
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events, cfg.DupRatio, cfg.InsightRatio = 0, n, 0, insight
	g, err := gen.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var units [][]byte
	var size int64
	for !g.Done() {
		u := append([]byte(nil), g.Next()...)
		units = append(units, u)
		size += int64(len(u))
	}
	return units, size
}

// BenchmarkDecode decodes EventBridge events into rows (envelope, findings,
// flattening, insight results), as the pipeline does for every unit.
func BenchmarkDecode(b *testing.B) {
	units, size := benchUnits(b, 2000, 0.02)
	origin := schema.Origin{Source: "bench", NotAfter: time.Now().Add(24 * time.Hour)}
	var out schema.Output
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, u := range units {
			out.Reset()
			schema.Decode(u, origin, &out)
		}
	}
}

// BenchmarkFlatten decodes bare findings (no envelope): the ASFF decode and
// the flattening into a row, without the envelope's pass.
func BenchmarkFlatten(b *testing.B) {
	units, _ := benchUnits(b, 2000, 0)
	origin := schema.Origin{Source: "bench", NotAfter: time.Now().Add(24 * time.Hour)}
	var out schema.Output
	var findings [][]byte
	var size int64
	for _, u := range units {
		out.Reset()
		schema.Decode(u, origin, &out)
		for i := range out.Findings {
			f := []byte(out.Findings[i].RawFinding)
			findings = append(findings, f)
			size += int64(len(f))
		}
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, f := range findings {
			out.Reset()
			schema.Decode(f, origin, &out)
		}
	}
}

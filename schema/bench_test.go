package schema_test

import (
	"testing"
	"time"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/schema"
)

// benchUnits generates n events (no duplicates) as separate units; ocsf is
// the share of new findings from the OCSF feed.
func benchUnits(b *testing.B, n int64, insight, ocsf float64) ([][]byte, int64) {
	b.Helper()
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events, cfg.DupRatio, cfg.InsightRatio, cfg.OCSFRatio = 0, n, 0, insight, ocsf
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
// flattening, insight results), as the pipeline does for every unit. ASFF
// only, as before the OCSF feed (BenchmarkDecodeOCSF is that feed).
func BenchmarkDecode(b *testing.B) {
	benchDecode(b, 0.02, 0)
}

// benchDecode decodes 2,000 generated events, a share insight of them
// insight events and a share ocsf of new findings from the OCSF feed.
func benchDecode(b *testing.B, insight, ocsf float64) {
	units, size := benchUnits(b, 2000, insight, ocsf)
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
	benchFlatten(b, 0)
}

// BenchmarkDecodeOCSF decodes Findings Imported V2 events (every new finding
// from the OCSF feed, so all four classes; a few CSPM findings also come as
// ASFF events, as from accounts that run both feeds) into rows.
func BenchmarkDecodeOCSF(b *testing.B) {
	benchDecode(b, 0, 1)
}

// BenchmarkFlattenOCSF decodes bare OCSF findings (GetFindingsV2's elements):
// the shape check, the OCSF decode and the flattening into a row.
func BenchmarkFlattenOCSF(b *testing.B) {
	benchFlatten(b, 1)
}

// benchFlatten decodes the bare findings of a generated corpus with the
// given OCSF share; each unit is one finding of the format its share says.
func benchFlatten(b *testing.B, ocsf float64) {
	units, _ := benchUnits(b, 2000, 0, ocsf)
	origin := schema.Origin{Source: "bench", NotAfter: time.Now().Add(24 * time.Hour)}
	var out schema.Output
	var findings [][]byte
	var size int64
	add := func(raw string) {
		findings = append(findings, []byte(raw))
		size += int64(len(raw))
	}
	for _, u := range units {
		out.Reset()
		schema.Decode(u, origin, &out)
		if ocsf > 0 {
			for i := range out.OCSF {
				add(out.OCSF[i].RawFinding)
			}
		} else {
			for i := range out.Findings {
				add(out.Findings[i].RawFinding)
			}
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

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
	units, size := benchUnits(b, 2000, 0.02, 0)
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
	units, size := benchUnits(b, 2000, 0, 1)
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
	for _, u := range units {
		out.Reset()
		schema.Decode(u, origin, &out)
		raws := make([]string, 0, 1)
		if ocsf > 0 {
			for i := range out.OCSF {
				raws = append(raws, out.OCSF[i].RawFinding)
			}
		} else {
			for i := range out.Findings {
				raws = append(raws, out.Findings[i].RawFinding)
			}
		}
		for _, r := range raws {
			findings = append(findings, []byte(r))
			size += int64(len(r))
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

package files

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/schema"
)

// TestBackfillHostile puts every hostile unit of internal/hostile through
// backfill, one per line of a file, plus a unit over the size limit (tens of
// MB) and a file cut off inside a value: nothing crashes, every unit ends up
// as rows, dead letters (with a reason that names the problem and the
// original bytes) or a counted duplicate, and the counters agree with the
// lake.
func TestBackfillHostile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := hostile.Cases()

	// One unit per line; the control event again at the end is a duplicate.
	var lines bytes.Buffer
	type hostileUnit struct {
		c      hostile.Case
		source string
	}
	var units []hostileUnit
	linesFile := filepath.Join(dir, "hostile.json")
	for _, c := range append(cases, cases[0]) {
		units = append(units, hostileUnit{c, fmt.Sprintf("file:%s#%d", linesFile, lines.Len())})
		lines.Write(c.Data)
		lines.WriteByte('\n')
	}
	units[len(units)-1].c = hostile.Case{Name: "duplicate of the control event"}
	if err := os.WriteFile(linesFile, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// A unit of 20 MiB, over the default 16 MiB limit: an event with a huge
	// finding, which is never decoded but streamed to a dead letter.
	hugeFile := filepath.Join(dir, "huge.json")
	huge := []byte(hostile.Imported("huge", hostile.Time, hostile.Finding("finding/huge", `"Description":"`+strings.Repeat("A", 20<<20)+`"`)))
	if err := os.WriteFile(hugeFile, huge, 0o644); err != nil {
		t.Fatal(err)
	}
	hugeSum := sha256.Sum256(huge)
	huge = nil

	// An OCSF finding with 10 MiB of resources[].data, under the limit: a
	// row, its data as JSON text.
	hugeDataFile := filepath.Join(dir, "huge-data.json")
	hugeData := `{"blob":"` + strings.Repeat("D", 10<<20) + `","nested":` + strings.Repeat(`{"a":[`, 100) + strings.Repeat(`]}`, 100) + `}`
	if err := os.WriteFile(hugeDataFile, []byte(hostile.OCSFEvent("huge-data", hostile.Time, hostile.OCSFFinding("ocsf/huge-data",
		`"resources":[{"type":"AWS::EC2::Instance","uid":"i-huge","data":`+hugeData+`}]`))), 0o644); err != nil {
		t.Fatal(err)
	}

	// A pretty-printed event cut off in the middle: the splitter rejects it.
	truncFile := filepath.Join(dir, "truncated.json")
	pretty := strings.ReplaceAll(string(cases[0].Data), `,"`, ",\n  \"")
	trunc := []byte(pretty[:len(pretty)*2/3])
	if err := os.WriteFile(truncFile, trunc, 0o644); err != nil {
		t.Fatal(err)
	}

	root := filepath.Join(t.TempDir(), "lake")
	stats := backfillDir(t, root, BackfillOptions{}, linesFile, hugeFile, truncFile, hugeDataFile)

	dead := lakecheck.DeadLetters(t, root)
	bySource := map[string][]lakecheck.DeadLetter{}
	for _, d := range dead {
		bySource[d.Source] = append(bySource[d.Source], d)
		for _, s := range hostile.Secrets {
			if strings.Contains(d.Reason, s) {
				t.Errorf("reason %q quotes finding contents", d.Reason)
			}
		}
	}
	db := lakecheck.Open(t)
	findingRows := lakecheck.RowsBySource(t, db, root, "findings")
	insightRows := lakecheck.RowsBySource(t, db, root, "insight_results")
	ocsfRows := lakecheck.RowsBySource(t, db, root, "ocsf_findings")

	var wantFindings, wantInsights, wantOCSF, wantDead int
	for _, u := range units {
		c := u.c
		wantFindings += c.Findings
		wantInsights += c.Insights
		wantOCSF += c.OCSF
		wantDead += len(c.Dead)
		t.Run(c.Name, func(t *testing.T) {
			if got := findingRows[u.source]; got != c.Findings {
				t.Errorf("finding rows %d, want %d", got, c.Findings)
			}
			if got := insightRows[u.source]; got != c.Insights {
				t.Errorf("insight rows %d, want %d", got, c.Insights)
			}
			if got := ocsfRows[u.source]; got != c.OCSF {
				t.Errorf("OCSF rows %d, want %d", got, c.OCSF)
			}
			got := bySource[u.source]
			if len(got) != len(c.Dead) {
				t.Fatalf("%d dead letters, want %d: %+v", len(got), len(c.Dead), got)
			}
			for i, d := range got {
				if !strings.Contains(d.Reason, c.Dead[i]) {
					t.Errorf("dead letter %d: reason %q, want it to say %q", i, d.Reason, c.Dead[i])
				}
				want := c.Data
				if c.DeadData != nil {
					want = []byte(c.DeadData[i])
				}
				if !bytes.Equal(d.Data, want) {
					t.Errorf("dead letter %d: data %.120q, want the original bytes %.120q", i, d.Data, want)
				}
				if wantDt := hostile.Date; c.Undated {
					if d.Dt != schema.UndatedPartition {
						t.Errorf("dead letter %d in dt=%s, want %s (no usable date)", i, d.Dt, schema.UndatedPartition)
					}
				} else if d.Dt != wantDt {
					t.Errorf("dead letter %d in dt=%s, want %s (the event's date)", i, d.Dt, wantDt)
				}
			}
		})
	}

	// The huge unit: one dead letter with the whole unit, base64.
	hugeDead := bySource["file:"+hugeFile+"#0"]
	if len(hugeDead) != 1 || !strings.Contains(hugeDead[0].Reason, "exceeds the 16777216 byte limit") || sha256.Sum256(hugeDead[0].Data) != hugeSum {
		t.Errorf("the 20 MiB unit: %d dead letters, want 1 with its bytes and a size-limit reason", len(hugeDead))
	}
	// The cut-off file: one dead letter with what there was.
	truncDead := bySource["file:"+truncFile+"#0"]
	if len(truncDead) != 1 || !strings.Contains(truncDead[0].Reason, "truncated JSON") || !bytes.Equal(truncDead[0].Data, trunc) {
		t.Errorf("the truncated file: %+v, want one dead letter with its bytes and a truncation reason", truncDead)
	}
	wantDead += 2
	// The huge data: one row, the data intact.
	if n := lakecheck.Int(t, db, "SELECT count(*) FROM "+lakecheck.TableGlob(root, "ocsf_findings")+" WHERE source = ? AND resources[1].data_json = ?",
		"file:"+hugeDataFile+"#0", hugeData); n != 1 || ocsfRows["file:"+hugeDataFile+"#0"] != 1 {
		t.Errorf("the OCSF finding with 10 MiB of resources[].data: %d rows holding its data, want 1", n)
	}
	wantOCSF++

	// Accounting: every unit is counted, and rows, dead letters and
	// duplicates add up in the counters and in the lake.
	if got, want := stats.Units.Load(), int64(len(units)+3); got != want {
		t.Errorf("units counted %d, want %d", got, want)
	}
	if got := stats.Rows(schema.Findings).Load(); got != int64(wantFindings) || lakecheck.Total(findingRows) != wantFindings {
		t.Errorf("findings: stats %d, lake %d, want %d", got, lakecheck.Total(findingRows), wantFindings)
	}
	if got := stats.Rows(schema.InsightResults).Load(); got != int64(wantInsights) || lakecheck.Total(insightRows) != wantInsights {
		t.Errorf("insight results: stats %d, lake %d, want %d", got, lakecheck.Total(insightRows), wantInsights)
	}
	if got := stats.Rows(schema.OCSFFindings).Load(); got != int64(wantOCSF) || lakecheck.Total(ocsfRows) != wantOCSF || wantOCSF < 5 {
		t.Errorf("OCSF findings: stats %d, lake %d, want %d", got, lakecheck.Total(ocsfRows), wantOCSF)
	}
	if got := stats.DeadLetters.Load(); got != int64(wantDead) || len(dead) != wantDead {
		t.Errorf("dead letters: stats %d, lake %d, want %d", got, len(dead), wantDead)
	}
	if got := stats.Duplicates.Load(); got != 1 {
		t.Errorf("duplicates %d, want 1", got)
	}
	for src := range bySource {
		if !strings.HasPrefix(src, "file:") {
			t.Errorf("dead letter with source %q", src)
		}
	}

	// Values that merely fail to parse are NULL in kept rows.
	if n := lakecheck.Int(t, db, "SELECT count(*) FROM "+lakecheck.TableGlob(root, "findings")+" WHERE id = 'finding/createdat' AND created_at IS NULL AND updated_at IS NOT NULL AND raw_finding LIKE '%2025-02-30T25:61:00Z%'"); n != 1 {
		t.Errorf("the finding with a malformed CreatedAt: %d rows with created_at NULL and the text in raw_finding, want 1", n)
	}
	counts := lakecheck.Rows(t, db, "SELECT result_value, result_count, number_of_results FROM "+lakecheck.TableGlob(root, "insight_results")+" ORDER BY result_index")
	if len(counts) != 2 || counts[0]["result_value"] != "i-1" || counts[0]["result_count"] != nil || counts[1]["result_count"] != int64(7) || counts[0]["number_of_results"] != "many" {
		t.Errorf("insight rows %v, want i-1 with a NULL count, i-2 with 7, number_of_results as sent", counts)
	}
	// OCSF: the wrong types are NULL in the kept row, the text in raw_finding.
	if n := lakecheck.Int(t, db, "SELECT count(*) FROM "+lakecheck.TableGlob(root, "ocsf_findings")+" WHERE metadata_uid = 'ocsf/types' AND class_uid IS NULL AND severity IS NULL AND "+
		"severity_id IS NULL AND status IS NULL AND time IS NULL AND len(resources) = 0 AND len(vulnerabilities) = 0 AND modified_time IS NOT NULL AND raw_finding LIKE '%two thousand%'"); n != 1 {
		t.Errorf("the OCSF finding with wrong types: %d rows with NULLs and the text in raw_finding, want 1", n)
	}
	// A finding whose event time is not a time is placed by its UpdatedAt.
	if dt := lakecheck.Rows(t, db, "SELECT dt, event_time FROM "+lakecheck.TableGlob(root, "findings")+" WHERE id = 'finding/badtime'"); len(dt) != 1 || dt[0]["dt"] != hostile.Date || dt[0]["event_time"] != nil {
		t.Errorf("finding with a bad event time: %v, want dt %s from UpdatedAt and a NULL event_time", dt, hostile.Date)
	}
}

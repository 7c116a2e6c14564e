package files

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
	"github.com/hublake/hublake/units"
)

// shapeFile is one file of the generated shapes corpus: its name, its bytes
// as written, and its units (the decompressed text's) with their offsets,
// per stream (a ZIP member is a stream of its own, named <file>!<member>).
type shapeFile struct {
	name    string
	data    []byte
	streams map[string][]shapeUnit
}

type shapeUnit struct {
	off  int64
	data []byte
}

// shapesCorpus writes a generated corpus with every real producer's shape
// (gen's ShapesRatio) into dir, in every container and format backfill
// reads: newline-delimited events compressed with zstd; events concatenated
// without separator (Firehose) in Hadoop Snappy; a boto3 get_findings
// response saved with json.dump (ResponseMetadata first, NextToken last)
// holding the ASFF findings of events; a pretty JSON array of OCSF findings
// (as Prowler writes them) gzipped inside a ZIP archive beside a plain
// newline-delimited member.
func shapesCorpus(t *testing.T, dir string) []shapeFile {
	t.Helper()
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events = 0, 2400
	cfg.ShapesRatio, cfg.DupRatio = 0.3, 0.05
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var evs [][]byte
	for !g.Done() {
		evs = append(evs, bytes.Clone(g.Next()))
	}
	q := len(evs) / 5
	var files []shapeFile
	add := func(name string, data []byte, streams map[string][]shapeUnit) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, shapeFile{name: filepath.Join(dir, name), data: data, streams: streams})
	}
	lines := func(evs [][]byte, sep string) ([]byte, []shapeUnit) {
		var b bytes.Buffer
		var us []shapeUnit
		for _, e := range evs {
			us = append(us, shapeUnit{int64(b.Len()), e})
			b.Write(e)
			b.WriteString(sep)
		}
		return b.Bytes(), us
	}

	text, us := lines(evs[:q], "\n")
	add("events.json.zst", compress(t, units.Zstd, text), map[string][]shapeUnit{"": us})
	text, us = lines(evs[q:2*q], "")
	add("firehose-1", compress(t, units.HadoopSnappy, text), map[string][]shapeUnit{"": us})

	// A boto3 response of the ASFF findings of the next events.
	var doc bytes.Buffer
	doc.WriteString(`{"ResponseMetadata": {"RequestId": "3f1c", "HTTPStatusCode": 200, "HTTPHeaders": {"content-type": "application/json"}, "RetryAttempts": 0}, "Findings": [`)
	n := 0
	for _, e := range evs[2*q : 3*q] {
		ev := gjson.ParseBytes(e)
		if ev.Get("detail-type").String() == schema.DetailInsight || ev.Get("detail-type").String() == schema.DetailImportedV2 {
			continue
		}
		for _, f := range ev.Get("detail.findings").Array() {
			if n > 0 {
				doc.WriteString(", ")
			}
			doc.WriteString(f.Raw)
			n++
		}
	}
	doc.WriteString(`], "NextToken": "eyJwYWdlIjoyfQ=="}`)
	add("get-findings.json", doc.Bytes(), map[string][]shapeUnit{"": {{0, doc.Bytes()}}})

	// A ZIP archive: Prowler-style pretty array of the OCSF findings of the
	// next events, gzipped; and the last events as they are.
	var arr bytes.Buffer
	arr.WriteString("[")
	n = 0
	for _, e := range evs[3*q : 4*q] {
		ev := gjson.ParseBytes(e)
		if ev.Get("detail-type").String() != schema.DetailImportedV2 {
			continue
		}
		for _, f := range ev.Get("detail.findings").Array() {
			if n > 0 {
				arr.WriteString(",")
			}
			arr.WriteString("\n  " + f.Raw)
			n++
		}
	}
	arr.WriteString("\n]\n")
	text, us = lines(evs[4*q:], "\n")
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	for _, m := range []struct {
		name string
		data []byte
	}{{"scan/prowler-output.ocsf.json.gz", compress(t, units.Gzip, arr.Bytes())}, {"events.json", text}} {
		w, err := zw.Create(m.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	zw.Close()
	add("export.zip", z.Bytes(), map[string][]shapeUnit{
		"!scan/prowler-output.ocsf.json.gz": {{0, arr.Bytes()}},
		"!events.json":                      us,
	})
	return files
}

// TestGeneratedShapesReadBack: a generated corpus holding every real
// producer's shape, in every container and format backfill reads, read back
// with DuckDB: every row of both finding tables equals, in every column at
// every depth, what gjson reads from the source (lakecheck.Expected, with
// dedup modelled: the first of a (detail-type, action, finding bytes) key
// per stream), and every leaf of both tables' Parquet schemas is set in
// some row, so no typed column goes unchecked: a column added to a row type
// without an expectation fails here.
func TestGeneratedShapesReadBack(t *testing.T) {
	dir := t.TempDir()
	files := shapesCorpus(t, dir)
	root := t.TempDir()
	stats := backfillDir(t, root, BackfillOptions{Policy: pipeline.Policy{MaxUnits: 300}}, dir)
	if stats.DeadLetters.Load() != 0 || stats.InputsFailed.Load() != 0 || stats.Unreadable.Load() != 0 {
		t.Fatalf("%d dead letters, %d failed inputs, %d unreadable values", stats.DeadLetters.Load(), stats.InputsFailed.Load(), stats.Unreadable.Load())
	}
	want := map[string][]map[string]any{}
	dups := 0
	for _, f := range files {
		for suffix, us := range f.streams {
			name := f.name + suffix
			seen := map[string]bool{}
			for _, u := range us {
				asff, ocsf := lakecheck.Expected(name, u.off, u.data)
				for table, rows := range map[string][]map[string]any{schema.TableFindings: asff, schema.TableOCSFFindings: ocsf} {
					for _, r := range rows {
						key := fmt.Sprint(r["event_detail_type"], "\x00", r["action_arn"], "\x00", r["raw_finding"])
						if seen[key] {
							dups++
							continue
						}
						seen[key] = true
						want[table] = append(want[table], r)
					}
				}
			}
		}
	}
	if int64(dups) != stats.Duplicates.Load() {
		t.Errorf("%d duplicates dropped, the model drops %d", stats.Duplicates.Load(), dups)
	}
	db := lakecheck.Open(t)
	for _, table := range []string{schema.TableFindings, schema.TableOCSFFindings} {
		t.Run(table, func(t *testing.T) {
			if un := lakecheck.Uncovered(table, want[table]); len(un) > 0 {
				t.Errorf("leaves of %s no row sets, so the comparison never checks them: %v", table, un)
			}
			got := lakecheck.Rows(t, db, "SELECT * FROM "+lakecheck.TableGlob(root, table))
			if len(got) != len(want[table]) {
				t.Fatalf("%d rows, want %d", len(got), len(want[table]))
			}
			lakecheck.SortRows(got, "source", "finding_index")
			lakecheck.SortRows(want[table], "source", "finding_index")
			for i := range got {
				what := fmt.Sprint(want[table][i]["source"], " [", want[table][i]["finding_index"], "]")
				if got[i]["source"] != want[table][i]["source"] {
					t.Fatalf("row %d is %v, want %s", i, got[i]["source"], what)
				}
				compareAll(t, what, table, got[i], want[table][i])
				if t.Failed() {
					t.FailNow() // one row's differences say enough
				}
			}
		})
	}
	for _, s := range []string{"!scan/prowler-output.ocsf.json.gz#", "!events.json#", "get-findings.json#", "firehose-1#", "events.json.zst#"} {
		if !strings.Contains(fmt.Sprint(lakecheck.RowsBySource(t, db, root, schema.TableOCSFFindings), lakecheck.RowsBySource(t, db, root, schema.TableFindings)), s) {
			t.Errorf("no row from %s", s)
		}
	}
}

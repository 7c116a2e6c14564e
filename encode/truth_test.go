package encode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/internal/pqconform"
	"github.com/hublake/hublake/schema"
)

// Regression tests for parquet-go's defects (issue 19) that hublake works
// around; each fails if the workaround goes or an upgrade brings the defect
// back in another form.

// writeTable writes rows as one object of table with the table's settings
// (and extra options) and returns its bytes.
func writeTable[T any](t testing.TB, table schema.AnyTable, rows []T, extra ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	opts := append(WriterOptions(table, Options{}), extra...)
	w := NewParquetWriter[T](&buf, table, opts)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// leafValues returns, per leaf column path, the column's values in order
// (parquet-go's page reader; a NULL is a null Value).
func leafValues(t testing.TB, data []byte) map[string][]parquet.Value {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]parquet.Value{}
	paths := f.Schema().Columns()
	for _, rg := range f.RowGroups() {
		for c, chunk := range rg.ColumnChunks() {
			name := strings.Join(paths[c], ".")
			pages := chunk.Pages()
			for {
				p, err := pages.ReadPage()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				vals := make([]parquet.Value, p.NumValues())
				n, _ := p.Values().ReadValues(vals)
				for _, v := range vals[:n] {
					out[name] = append(out[name], v.Clone())
				}
			}
			pages.Close()
		}
	}
	return out
}

func count(vals []parquet.Value) (nulls, empty int) {
	for _, v := range vals {
		switch {
		case v.IsNull():
			nulls++
		case v.Kind() == parquet.ByteArray && len(v.ByteArray()) == 0:
			empty++
		}
	}
	return nulls, empty
}

// riskyVulns is a list of 65 vulnerabilities whose elements after the
// first hold the pattern of TestOptionalNullsSurviveBatching in vendor_url.
func riskyVulns(present func(int) bool) []schema.Vulnerability {
	vulns := []schema.Vulnerability{{ID: "first"}}
	for i := range 64 {
		v := schema.Vulnerability{ID: "v"}
		if present(i) {
			v.VendorURL = "https://example.com"
		}
		vulns = append(vulns, v)
	}
	return vulns
}

// TestOptionalNullsSurviveBatching guards parquet-go's null-bitmap scan in
// writeRowsFuncOfOptional (v0.32.0, v0.32.1): in a batch, a run of y
// non-null values starting at bit y of a 64-value word and followed only by
// nulls to the word's end made those nulls empty strings. The pattern here
// (3 NULLs, 3 values, NULLs to the end of the word) is in the rows of one
// write (note_text) and in the elements after the first of a list of
// structs (vulnerabilities[].vendor_url), in an object's first row (the
// whole object then takes the row path) and in a later one.
func TestOptionalNullsSurviveBatching(t *testing.T) {
	present := func(i int) bool { return i >= 3 && i < 6 }
	for _, risky := range []int{0, 10} {
		var rows []schema.Finding
		for i := range 64 {
			r := schema.Finding{ID: "f", RawFinding: "{}", Source: "s"}
			if present(i) {
				r.NoteText = "note"
			}
			rows = append(rows, r)
		}
		rows[risky].Vulnerabilities = riskyVulns(present)
		vals := leafValues(t, writeTable(t, schema.Findings, rows))
		// vendor_url: 62 NULL elements, and a NULL for each of the 63 empty lists.
		for col, want := range map[string]int{"note_text": 61, "vulnerabilities.list.element.vendor_url": 62 + 63} {
			nulls, empty := count(vals[col])
			if nulls != want || empty != 0 {
				t.Errorf("risky row %d: %s: %d NULLs and %d empty strings, want %d and 0", risky, col, nulls, empty, want)
			}
		}
		if got := len(vals["id"]); got != 64 {
			t.Errorf("risky row %d: %d rows, want 64", risky, got)
		}
	}
	// badBitmap, which says when a batch holds the pattern, is checked in
	// schema (TestBadBitmap), where the writer's typed half is.
}

// TestNestedTimestampsSurvive guards parquet-go's writeRowsFuncOfTime
// (v0.32.0, v0.32.1): an optional time.Time inside a list element or an
// optional struct was written as NULL (it took the definition level its
// parent raised for its own). schema's nested timestamps are *time.Time;
// both of the writer's paths are checked (a row with a list that takes the
// row path, see ParquetWriter.Write).
func TestNestedTimestampsSurvive(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123).UTC()
	row := schema.Finding{
		ID: "f", RawFinding: "{}", Source: "s", CreatedAt: at,
		Process:               &schema.Process{Name: "p", LaunchedAt: &at, TerminatedAt: &at},
		Vulnerabilities:       []schema.Vulnerability{{ID: "v", VendorCreatedAt: &at}, {ID: "w", VendorUpdatedAt: &at}},
		ThreatIntelIndicators: []schema.Indicator{{Type: "t", LastObservedAt: &at}},
	}
	risky := row
	risky.Vulnerabilities = append(slices.Clone(row.Vulnerabilities), riskyVulns(func(i int) bool { return i >= 3 && i < 6 })...)
	for _, rows := range [][]schema.Finding{{row}, {risky}} {
		vals := leafValues(t, writeTable(t, schema.Findings, rows))
		for col, want := range map[string][]bool{
			"created_at":            {true},
			"process.launched_at":   {true},
			"process.terminated_at": {true},
			"vulnerabilities.list.element.vendor_created_at":        {true, false},
			"vulnerabilities.list.element.vendor_updated_at":        {false, true},
			"threat_intel_indicators.list.element.last_observed_at": {true},
		} {
			got := vals[col]
			if len(got) < len(want) {
				t.Errorf("%s: %d values, want %d", col, len(got), len(want))
				continue
			}
			for i, w := range want {
				if v := got[i]; v.IsNull() == w || w && v.Int64() != at.UnixMilli() {
					t.Errorf("%d vulnerabilities: %s[%d] = %v, want present %v (%d)", len(rows[0].Vulnerabilities), col, i, v, w, at.UnixMilli())
				}
			}
		}
	}
}

// edgeFindings are rows whose bounds test the finisher: text that is not
// ASCII (where signed and unsigned byte order differ), long text cut inside
// a multi-byte character, zero doubles of both signs, extreme integers,
// optional columns NULL on whole pages, and empty lists.
func edgeFindings(n int) []schema.Finding {
	var rows []schema.Finding
	long := strings.Repeat("a", 61) + "é" + strings.Repeat("ü", 40) // a ColumnIndex bound is cut inside the first ü
	for i := range n {
		r := schema.Finding{
			ID:         []string{"arn:aws:x:" + strings.Repeat("z", i%7), "ärn:é", "arn:\u00ff", "arn:a", long + string(rune('a'+i%26))}[i%5],
			RawFinding: `{"i":` + strings.Repeat("1", i%9+1) + `}`, Source: "s",
			Title:        []string{"", "Ω title", "title", long, "\U0001F600"}[i%5],
			FindingIndex: []int32{math.MinInt32, math.MaxInt32, 0, -1}[i%4],
		}
		if i < n/2 {
			r.NoteText = "" // the first half of note_text is NULL: whole pages of it
		} else {
			r.NoteText = "note " + strings.Repeat("ß", i%5)
		}
		zero, negZero, big := 0.0, math.Copysign(0, -1), math.MaxFloat64
		score := []*float64{&zero, &negZero, &big, nil}[i%4]
		r.Vulnerabilities = []schema.Vulnerability{{ID: "v", EpssScore: score}}
		if i%3 == 0 {
			r.Vulnerabilities = nil
		}
		sev := int32(i % 101)
		r.SeverityNormalized = &sev
		rows = append(rows, r)
	}
	return rows
}

// TestFinisherSaysOnlyWhatIsTrue writes edge rows in many small pages and
// row groups and holds the object to its decoded pages (pqconform.Check):
// page headers, OffsetIndex, ColumnIndex and statistics. It also checks
// what the finisher chose: a ColumnIndex for id, none for raw_finding (a
// BigText column).
func TestFinisherSaysOnlyWhatIsTrue(t *testing.T) {
	data := writeTable(t, schema.Findings, edgeFindings(3000), parquet.PageBufferSize(2048), parquet.MaxRowsPerRowGroup(1100))
	_, problems, err := pqconform.Check(data, pqconform.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range problems {
		if i < 20 {
			t.Error(p)
		}
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	md := f.Metadata()
	if len(md.RowGroups) < 2 {
		t.Errorf("%d row groups, want several", len(md.RowGroups))
	}
	paths := f.Schema().Columns()
	for c, p := range paths {
		cc := md.RowGroups[0].Columns[c]
		switch strings.Join(p, ".") {
		case "id", "title", "note_text":
			if cc.ColumnIndexLength == 0 {
				t.Errorf("%s: no ColumnIndex", strings.Join(p, "."))
			}
		case "raw_finding":
			if cc.ColumnIndexLength != 0 || cc.MetaData.Statistics.MinValue != nil {
				t.Errorf("raw_finding has bounds")
			}
		}
	}
}

// TestFinisherPagesFromTheWriter: the finisher leaves pages as they are.
// Every value read back from its object equals the one read from parquet-go's
// own output of the same rows.
func TestFinisherPagesFromTheWriter(t *testing.T) {
	rows := edgeFindings(500)
	var plain bytes.Buffer
	w := parquet.NewGenericWriter[schema.Finding](&plain, WriterOptions(schema.Findings, Options{})...)
	for i := range rows {
		if _, err := w.Write(rows[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	a, b := leafValues(t, plain.Bytes()), leafValues(t, writeTable(t, schema.Findings, rows))
	for col, want := range a {
		got := b[col]
		if len(got) != len(want) {
			t.Errorf("%s: %d values, want %d", col, len(got), len(want))
			continue
		}
		for i := range want {
			if !parquet.Equal(got[i], want[i]) || got[i].DefinitionLevel() != want[i].DefinitionLevel() || got[i].RepetitionLevel() != want[i].RepetitionLevel() {
				t.Errorf("%s[%d] = %v, want %v", col, i, got[i], want[i])
				break
			}
		}
	}
}

// TestBoundsDocumented: docs/tables.md states the bounds the files give as
// the code sets them (IndexBoundBytes, StatBoundBytes, the columns without
// bounds).
func TestBoundsDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "docs", "tables.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(readme)), " ")
	want := []string{fmt.Sprintf("text cut to %d bytes", IndexBoundBytes), fmt.Sprintf("left out past %d bytes", StatBoundBytes)}
	for _, table := range schema.Tables() {
		for _, path := range table.NoBounds() {
			want = append(want, path[len(path)-1]+"`")
		}
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("docs/tables.md does not say %s", w)
		}
	}
}

// TestValidTextBounds: text bounds cut inside a character become valid
// UTF-8 bounds that still bracket the value.
func TestValidTextBounds(t *testing.T) {
	for _, value := range []string{"aéb", "ü€😀x", "plain", "\u00ff\u00ff", "z\U0010FFFF"} {
		for cut := 1; cut <= len(value); cut++ {
			lo := validMin([]byte(value[:cut]))
			// parquet-go's maximum: the cut prefix, its last byte incremented.
			hi := []byte(value[:cut])
			if cut < len(value) {
				hi[len(hi)-1]++
			}
			hi = validMax(hi)
			if !utf8.Valid(lo) || hi != nil && !utf8.Valid(hi) {
				t.Errorf("%q cut at %d: bounds %q/%q are not UTF-8", value, cut, lo, hi)
			}
			if string(lo) > value || hi != nil && string(hi) < value {
				t.Errorf("%q cut at %d: bounds %q/%q do not bracket it", value, cut, lo, hi)
			}
		}
	}
}

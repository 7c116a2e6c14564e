package pqconform

import (
	"bufio"
	"bytes"
	"cmp"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/schema"
)

//go:embed readers.mjs
var readersScript []byte

// Readers is the npm packages readers.mjs imports; `make tools` installs
// them under .tools/pqreaders (the Makefile pins the versions).
const readersDir = "pqreaders"

// LakeOptions say what CheckLake expects of a lake.
type LakeOptions struct {
	// Sorted reports whether an object (its path) must declare its sort
	// order (compacted objects).
	Sorted func(path string) bool
	// Probes is how many values per column the equality lookups try
	// (default 8), besides the first value of each page.
	Probes int
}

// LakeReport is what CheckLake read.
type LakeReport struct {
	Files, Rows, Probes int
	// MultiGroup counts the objects with more than one row group, MultiPage
	// the column chunks with more than one page: the shapes the checks must
	// have seen.
	MultiGroup, MultiPage int
}

// CheckLake holds every object of the tables of the lake at root to what it says of itself
// (Check), reads every one with hyparquet and arrow-rs (readers.mjs:
// identical rows, no ” in optional text, equality lookups pruned by the
// page index that find every row), and holds every findings and OCSF row to
// its own raw_finding: decoding raw_finding again must give the row, column
// by column at every depth (NULL stays NULL, a value its value), the
// envelope's columns aside. Every problem fails t.
func CheckLake(t testing.TB, root string, o LakeOptions) LakeReport {
	t.Helper()
	var rep LakeReport
	var files []string
	for _, table := range schema.TableNames() {
		m, err := filepath.Glob(filepath.Join(root, table, "*", "*.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no Parquet objects under %s", root)
	}
	slices.Sort(files)
	fail := 0
	kinds := map[string]int{}
	report := func(path, msg string) {
		// The first few of each kind of problem.
		k := kindOf(msg)
		if kinds[k]++; kinds[k] <= 4 {
			t.Errorf("%s: %s", rel(root, path), msg)
		}
		fail++
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sorted := o.Sorted != nil && o.Sorted(p)
		facts, problems, err := Check(data, Options{Sorted: sorted})
		if err != nil {
			report(p, err.Error())
			continue
		}
		for _, msg := range problems {
			report(p, msg)
		}
		rep.Files++
		if facts.RowGroups > 1 {
			rep.MultiGroup++
		}
		rep.MultiPage += facts.MultiPageChunks
	}

	dir := t.TempDir()
	type entry struct {
		Path string `json:"path"`
		Rows string `json:"rows"`
	}
	list := struct {
		Files  []entry `json:"files"`
		Probes int     `json:"probes"`
	}{Probes: cmp.Or(o.Probes, 8)}
	for i, p := range files {
		list.Files = append(list.Files, entry{Path: p, Rows: filepath.Join(dir, fmt.Sprintf("%d.jsonl", i))})
	}
	for _, r := range RunReaders(t, list) {
		rep.Rows += r.Rows
		rep.Probes += r.Probes
		for _, msg := range r.Problems {
			report(r.Path, msg)
		}
	}
	for i, p := range files {
		table := filepath.Base(filepath.Dir(filepath.Dir(p)))
		for _, msg := range roundTrip(table, list.Files[i].Rows) {
			report(p, msg)
		}
	}
	if fail > 0 {
		t.Errorf("%d problems, by kind: %v", fail, kinds)
	}
	return rep
}

// kinds of problems, for the summary of a failed check.
var problemKinds = []struct{ kind, text string }{
	{"bitmap-null-as-empty", "a NULL written as ''"},
	{"row-vs-raw_finding", "its raw_finding gives"},
	{"lookup-lost-rows", "rows with the page index"},
	{"readers-differ", "arrow-rs and hyparquet differ"},
	{"type_length", "type_length"},
	{"null-page-bounds", "byte[0]"},
	{"zero-sign", "must be written"},
	{"sorting_columns", "sorting_columns"},
	{"sort-order", "out of the declared order"},
	{"deprecated-min-max", "deprecated min/max"},
	{"page-header-null_count", "header: null_count"},
	{"column-index-bounds", "ColumnIndex page"},
	{"statistics", "statistics"},
	{"offset-index", "OffsetIndex"},
}

func kindOf(msg string) string {
	for _, k := range problemKinds {
		if strings.Contains(msg, k.text) {
			return k.kind
		}
	}
	return "other"
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

// ReaderReport is readers.mjs's report on one file.
type ReaderReport struct {
	Path     string   `json:"path"`
	Rows     int      `json:"rows"`
	Probes   int      `json:"probes"`
	Problems []string `json:"problems"`
}

// RunReaders runs readers.mjs over list (see its usage).
func RunReaders(t testing.TB, list any) []ReaderReport {
	t.Helper()
	var reps []ReaderReport
	runScript(t, "readers.mjs", readersScript, list, &reps)
	return reps
}

//go:embed lookups.mjs
var lookupsScript []byte

// LookupSpec is what RunLookups times: equality lookups of Values in
// Column of each of Files, Rounds times.
type LookupSpec struct {
	Files  []string `json:"files"`
	Column string   `json:"column"`
	Select []string `json:"select"` // more columns to read
	Values []string `json:"values"`
	Rounds int      `json:"rounds"`
}

// LookupReport is lookups.mjs's report on one file: its rows and pages
// (of the column), the lookups, how many lost rows (with or without the
// page index), the rows the page index kept per lookup on average, and the
// average milliseconds of a lookup with and without the page index.
type LookupReport struct {
	Path     string  `json:"path"`
	Rows     int     `json:"rows"`
	Pages    int     `json:"pages"`
	Lookups  int     `json:"lookups"`
	Lost     int     `json:"lost"`
	KeptRows float64 `json:"keptRows"`
	MsIndex  float64 `json:"msIndex"`
	MsScan   float64 `json:"msScan"`
}

// RunLookups runs lookups.mjs (hyparquet's page-index pruning) over spec.
func RunLookups(t testing.TB, spec LookupSpec) []LookupReport {
	t.Helper()
	var reps []LookupReport
	runScript(t, "lookups.mjs", lookupsScript, spec, &reps)
	return reps
}

// runScript runs one of the package's Node scripts with input (as JSON in a
// file named by its argument) and decodes its JSON output into out. The
// test is skipped when the npm packages are not installed, and fails then
// under CI or HUBLAKE_REQUIRE_STACK.
func runScript(t testing.TB, name string, body []byte, input, out any) {
	t.Helper()
	dir := filepath.Join(localstack.ToolsDir(t), readersDir)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".installed")); err != nil {
		msg := fmt.Sprintf("%s is not installed; run `make tools` (make test does)", dir)
		if os.Getenv("CI") != "" || os.Getenv("HUBLAKE_REQUIRE_STACK") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// ES modules resolve imports from the script's own directory.
	script := filepath.Join(dir, name)
	if old, err := os.ReadFile(script); err != nil || !bytes.Equal(old, body) {
		// Tests of several packages may do this at once: write, then rename.
		tmp := fmt.Sprintf("%s.%d.tmp", script, os.Getpid())
		if err := os.WriteFile(tmp, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, script); err != nil {
			t.Fatal(err)
		}
	}
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(path, in, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("node", script, path)
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// envelope are the columns a row takes from where it came (the event
// around it, the position of the unit), not from its finding.
func envelope(col string) bool {
	return strings.HasPrefix(col, "event_") || strings.HasPrefix(col, "action_") || col == "source" || col == "finding_index"
}

// roundTrip holds each row hyparquet read (canonical JSON lines in path) of a
// findings or OCSF object to the row its raw_finding decodes to.
func roundTrip(table, path string) []string {
	if table != schema.TableFindings && table != schema.TableOCSFFindings {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var problems []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	notAfter := time.Now().Add(100 * 365 * 24 * time.Hour)
	var out schema.Output
	for n := 0; sc.Scan(); n++ {
		var got map[string]any
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			return append(problems, fmt.Sprintf("row %d: %v", n, err))
		}
		raw, _ := got["raw_finding"].(string)
		out.Reset()
		schema.Decode([]byte(raw), schema.Origin{Source: "roundtrip", NotAfter: notAfter}, &out)
		var want any
		switch {
		case table == schema.TableFindings && len(out.Findings) == 1:
			want = &out.Findings[0]
		case table == schema.TableOCSFFindings && len(out.OCSF) == 1:
			want = &out.OCSF[0]
		default:
			problems = append(problems, fmt.Sprintf("row %d: its raw_finding does not decode to one %s row", n, table))
			continue
		}
		wj, err := json.Marshal(Canonical(want))
		if err != nil {
			return append(problems, err.Error())
		}
		var wm map[string]any
		if err := json.Unmarshal(wj, &wm); err != nil {
			return append(problems, err.Error())
		}
		for col, w := range wm {
			if envelope(col) {
				continue
			}
			if g := got[col]; !reflect.DeepEqual(g, w) {
				gj, _ := json.Marshal(g)
				ws, _ := json.Marshal(w)
				problems = append(problems, fmt.Sprintf("row %d (id %v): %s = %.300s, its raw_finding gives %.300s", n, got["id"], col, gj, ws))
			}
		}
		if len(problems) > 20 {
			break
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// Canonical returns a row (a pointer to a struct of schema's row types) in
// the canonical form readers.mjs gives the rows it reads: objects by column
// name, NULL as nil, text as strings, "i:"/"l:" integers, "t:" epoch
// milliseconds, "d:" the little-endian bytes of a double in hex, lists as
// arrays (never NULL), maps as objects. It follows hublake's writing
// conventions (schema/rows.go): an optional string that is empty, a zero
// optional time and a nil pointer are NULL.
func Canonical(row any) map[string]any {
	return canonStruct(reflect.ValueOf(row).Elem())
}

func canonStruct(v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("parquet")
		if !f.IsExported() || tag == "-" {
			continue
		}
		opts := strings.Split(tag, ",")
		name := opts[0]
		if name == "" {
			name = f.Name
		}
		out[name] = canonValue(v.Field(i), slices.Contains(opts[1:], "optional"))
	}
	return out
}

func canonValue(v reflect.Value, optional bool) any {
	if v.Type() == reflect.TypeFor[time.Time]() {
		t := v.Interface().(time.Time)
		if optional && t.IsZero() {
			return nil
		}
		return "t:" + strconv.FormatInt(t.UnixMilli(), 10)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return canonValue(v.Elem(), false)
	case reflect.String:
		if optional && v.Len() == 0 {
			return nil
		}
		return v.String()
	case reflect.Int32:
		return "i:" + strconv.FormatInt(v.Int(), 10)
	case reflect.Int64:
		return "l:" + strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return "d:" + hex.EncodeToString(binary.LittleEndian.AppendUint64(nil, math.Float64bits(v.Float())))
	case reflect.Bool:
		return v.Bool()
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = canonValue(v.Index(i), false)
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		it := v.MapRange()
		for it.Next() {
			out[it.Key().String()] = canonValue(it.Value(), false)
		}
		return out
	case reflect.Struct:
		return canonStruct(v)
	}
	panic(fmt.Sprintf("pqconform: no canonical form for %s", v.Type()))
}

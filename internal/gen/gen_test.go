package gen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/hublake/hublake/schema"
)

func testConfig(events int64) Config {
	c := DefaultConfig()
	c.Bytes, c.Events = 0, events
	return c
}

// units generates a whole corpus in memory and reports which units are bad.
func units(t testing.TB, c Config) (us [][]byte, bad []bool, st Stats) {
	t.Helper()
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	for !g.Done() {
		before := g.stats.Bad
		us = append(us, bytes.Clone(g.Next()))
		bad = append(bad, g.stats.Bad > before)
	}
	return us, bad, g.Stats()
}

func digest(us [][]byte) [32]byte {
	h := sha256.New()
	for _, u := range us {
		h.Write(u)
		h.Write([]byte{'\n'})
	}
	return [32]byte(h.Sum(nil))
}

func TestDeterministic(t *testing.T) {
	c := testConfig(3000)
	c.BadRatio = 0.02
	a, _, sa := units(t, c)
	b, _, sb := units(t, c)
	if digest(a) != digest(b) || sa != sb {
		t.Fatal("same config, different output")
	}
	c.Seed++
	d, _, _ := units(t, c)
	if digest(a) == digest(d) {
		t.Fatal("different seeds, same output")
	}
	same := 0
	for i := range min(len(a), len(d)) {
		if bytes.Equal(a[i], d[i]) {
			same++
		}
	}
	if same > 0 {
		t.Fatalf("%d units identical across seeds", same)
	}
}

var (
	uuidRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
)

func TestEnvelopes(t *testing.T) {
	c := testConfig(4000)
	us, _, st := units(t, c)
	start := c.End.AddDate(0, 0, -c.Days)
	types := map[string]int{}
	leadingZero := 0
	for i, u := range us {
		var ev struct {
			Version    string          `json:"version"`
			ID         string          `json:"id"`
			DetailType string          `json:"detail-type"`
			Source     string          `json:"source"`
			Account    string          `json:"account"`
			Time       string          `json:"time"`
			Region     string          `json:"region"`
			Resources  []string        `json:"resources"`
			Detail     json.RawMessage `json:"detail"`
		}
		if !json.Valid(u) || bytes.IndexByte(u, '\n') >= 0 {
			t.Fatalf("unit %d is not one line of valid JSON: %.200s", i, u)
		}
		if err := json.Unmarshal(u, &ev); err != nil {
			t.Fatalf("unit %d: %v", i, err)
		}
		tm, err := time.Parse(time.RFC3339, ev.Time)
		switch {
		case ev.Version != "0" || !uuidRE.MatchString(ev.ID) || ev.Source != "aws.securityhub":
			t.Fatalf("unit %d: bad envelope %.300s", i, u)
		case !accountRE.MatchString(ev.Account) || !slices.Contains(regionTable, ev.Region) || len(ev.Resources) != 1:
			t.Fatalf("unit %d: bad account, region or resources %.300s", i, u)
		case err != nil || !strings.HasSuffix(ev.Time, "Z") || tm.Before(start) || !tm.Before(c.End):
			t.Fatalf("unit %d: time %q outside [%v, %v)", i, ev.Time, start, c.End)
		case len(ev.Detail) == 0 || ev.Detail[0] != '{':
			t.Fatalf("unit %d: no detail object", i)
		}
		switch ev.DetailType {
		case schema.DetailImported:
		case schema.DetailImportedV2:
			// The finding's metadata.uid, as Security Hub sends it.
			if uid := gjson.GetBytes(u, "detail.findings.0.metadata.uid").String(); ev.Resources[0] != uid || len(uid) != 64 {
				t.Fatalf("unit %d: V2 event resources %v, finding metadata.uid %q", i, ev.Resources, uid)
			}
		default:
			if !strings.Contains(ev.Resources[0], ":action/custom/") {
				t.Fatalf("unit %d: %s without a custom action ARN", i, ev.DetailType)
			}
		}
		if ev.Account[0] == '0' {
			leadingZero++
		}
		types[ev.DetailType]++
	}
	if types[schema.DetailImported] == 0 || types[schema.DetailCustomAction] == 0 || types[schema.DetailInsight] == 0 || types[schema.DetailImportedV2] == 0 || len(types) != 4 {
		t.Fatalf("detail-types %v", types)
	}
	if leadingZero == 0 {
		t.Error("no account id with a leading zero")
	}
	if st.Bad != 0 || st.Events != st.Units {
		t.Fatalf("stats %+v", st)
	}
}

// TestDecode runs every unit through the lake's decoder: no dead letters,
// no value of the wrong type, and as many rows as the stats promise.
func TestDecode(t *testing.T) {
	c := testConfig(12000)
	us, _, st := units(t, c)
	o := schema.Origin{Source: "t", NotAfter: c.End.AddDate(0, 0, 1)}
	var out schema.Output
	var findings, results, ocsf int64
	dates := map[string]bool{}
	products := map[string]int{}
	last := map[string]*schema.Finding{}
	lastOCSF := map[string]*schema.OCSFFinding{}
	seenOCSF := map[string]bool{} // raw findings: a retry may come after a newer update
	resent, bigs := 0, 0
	for i, u := range us {
		schema.Decode(u, o, &out)
		if len(out.Dead) > 0 {
			t.Fatalf("unit %d: dead letter %q: %.300s", i, out.Dead[0].Reason, u)
		}
		if out.Unreadable > 0 {
			t.Fatalf("unit %d: %d values of the wrong type: %.300s", i, out.Unreadable, u)
		}
		if len(u) > 16<<10 {
			bigs++
		}
		findings += int64(len(out.Findings))
		results += int64(len(out.Insights))
		ocsf += int64(len(out.OCSF))
		for j := range out.OCSF {
			f := &out.OCSF[j]
			dates[f.Date] = true
			products[f.ProductName+"|"+f.VendorName]++
			if f.MetadataUID == "" || f.FindingUID == "" || f.AccountUID == "" || f.Time.IsZero() || f.ModifiedTime.IsZero() ||
				f.CreatedTime.After(f.ModifiedTime) || f.Severity == "" || f.Status == "" || len(f.Resources) == 0 || f.ClassUID == nil {
				t.Fatalf("unit %d: incomplete OCSF finding %.300s", i, f.RawFinding)
			}
			if seenOCSF[f.RawFinding] {
				continue
			}
			seenOCSF[f.RawFinding] = true
			if prev := lastOCSF[f.MetadataUID]; prev != nil {
				resent++
				if f.ModifiedTime.Before(prev.ModifiedTime) {
					t.Fatalf("unit %d: an OCSF update goes back in time", i)
				}
			}
			lastOCSF[f.MetadataUID] = f
		}
		for j := range out.Findings {
			f := &out.Findings[j]
			dates[f.Date] = true
			products[f.ProductName+"|"+f.CompanyName]++
			if f.SeverityNormalized != nil && f.SeverityLabel != labelFor(int64(*f.SeverityNormalized)) {
				t.Fatalf("unit %d: severity %s with normalized %d", i, f.SeverityLabel, *f.SeverityNormalized)
			}
			if f.UpdatedAt.IsZero() || f.CreatedAt.After(f.UpdatedAt) || f.AwsAccountID == "" || len(f.Resources) == 0 {
				t.Fatalf("unit %d: incomplete finding %.300s", i, f.RawFinding)
			}
			if f.EventDetailType != schema.DetailImported {
				continue
			}
			prev := last[f.ID]
			if prev != nil && prev.RawFinding != f.RawFinding {
				resent++
				if f.UpdatedAt.Before(prev.UpdatedAt) {
					t.Fatalf("unit %d: update goes back in time", i)
				}
				if f.UpdatedAt.Equal(prev.UpdatedAt) && f.WorkflowStatus == prev.WorkflowStatus &&
					f.NoteText == prev.NoteText && f.NoteUpdatedAt.Equal(prev.NoteUpdatedAt) &&
					len(f.UserDefinedFields) == len(prev.UserDefinedFields) {
					t.Fatalf("unit %d: same UpdatedAt, same workflow and note, yet different bytes", i)
				}
			}
			last[f.ID] = f
		}
		// Rows point into u, which stays alive in us; keep the last rows.
		out = schema.Output{}
	}
	if findings != st.Findings || results != st.InsightResults || ocsf != st.OCSFFindings {
		t.Fatalf("decoded %d findings, %d insight results and %d OCSF findings, stats say %d, %d and %d",
			findings, results, ocsf, st.Findings, st.InsightResults, st.OCSFFindings)
	}
	if len(dates) < c.Days-2 {
		t.Errorf("findings span %d dt partitions, want about %d", len(dates), c.Days)
	}
	if len(products) < 7 {
		t.Errorf("product mix too narrow: %v", products)
	}
	// Each update re-sends a finding (a finding of both feeds twice); a few
	// re-send one whose bytes did not change (a custom action in between
	// does not count).
	if want := float64(st.Updates); float64(resent) < 0.8*want || float64(resent) > 1.3*want {
		t.Errorf("%d findings re-sent changed, %d updates generated", resent, st.Updates)
	}
	if r := float64(st.Updates) / float64(st.Units); r < 0.08 || r > 0.12 {
		t.Errorf("update ratio %.3f, want about 0.10", r)
	}
	if avg := st.Bytes / st.Units; avg < 3000 || avg > 6000 {
		t.Errorf("average unit %d bytes, want 3-6 KB", avg)
	}
	if bigs == 0 {
		t.Error("no unit over 16 KiB: the size distribution has no tail")
	}
}

// TestOCSFFeed checks the OCSF part of the corpus: Findings Imported V2
// events of all four classes, in about the configured share; updates that
// change status, severity or comment under an unchanged modified_time;
// redeliveries; the same CSPM control finding in both feeds (ASFF Id =
// finding_info.uid); a few findings with only the *_dt twins; broken V2
// units that are dead letters; and none of it with a ratio of 0.
func TestOCSFFeed(t *testing.T) {
	c := testConfig(12000)
	c.BadRatio = 0.05
	us, bad, st := units(t, c)
	o := schema.Origin{Source: "t", NotAfter: c.End.AddDate(0, 0, 1)}
	classes := map[int32]int{}
	asffByID := map[string]*schema.Finding{}
	type change struct{ status, severity, comment bool }
	byUID := map[string][]*schema.OCSFFinding{}
	v2Units := map[string]int{}
	both, twinOnly, v2Dead := 0, 0, map[string]int{}
	for i, u := range us {
		var out schema.Output
		schema.Decode(u, o, &out)
		if bad[i] {
			for _, d := range out.Dead {
				if strings.Contains(string(u), `"Findings Imported V2"`) {
					v2Dead[d.Reason]++
				}
			}
			continue
		}
		for j := range out.Findings {
			asffByID[out.Findings[j].ID] = &out.Findings[j]
		}
		for j := range out.OCSF {
			f := &out.OCSF[j]
			v2Units[string(u)]++
			classes[*f.ClassUID]++
			byUID[f.MetadataUID] = append(byUID[f.MetadataUID], f)
			if a := asffByID[f.FindingUID]; a != nil && i > 0 && bytes.Contains(us[i-1], []byte(f.FindingUID)) {
				both++
				// (ASFF's legacy CIS findings name the standard's own rule,
				// ProductFields.RuleId; OCSF always the security control.)
				consolidated := strings.Contains(a.RawFinding, `"SecurityControlId"`)
				if !a.UpdatedAt.Equal(f.ModifiedTime) || consolidated && a.ComplianceSecurityControlID != f.ComplianceControl || a.Title != f.Title {
					t.Errorf("unit %d: the two feeds disagree: ASFF UpdatedAt %v control %s title %q, OCSF %v %s %q",
						i, a.UpdatedAt, a.ComplianceSecurityControlID, a.Title, f.ModifiedTime, f.ComplianceControl, f.Title)
				}
			}
			if !strings.Contains(f.RawFinding, `"time":`) && strings.Contains(f.RawFinding, `"time_dt":`) {
				twinOnly++
			}
		}
	}
	for _, class := range []int32{2002, 2003, 2004, 2006} {
		if classes[class] == 0 {
			t.Errorf("no OCSF finding of class %d: %v", class, classes)
		}
	}
	if share := float64(st.OCSFFindings) / float64(st.OCSFFindings+st.Findings); share < 0.2 || share > 0.45 {
		t.Errorf("OCSF findings are %.2f of all findings (%d of %d), want about %.1f", share, st.OCSFFindings, st.OCSFFindings+st.Findings, c.OCSFRatio)
	}
	if both == 0 || int64(both) < st.BothFeeds*9/10 {
		t.Errorf("%d V2 events follow their ASFF twin with the same Id, the generator sent %d", both, st.BothFeeds)
	}
	if twinOnly == 0 {
		t.Error("no OCSF finding with only the *_dt twins")
	}
	dups := 0
	for _, n := range v2Units {
		dups += n - 1
	}
	if dups == 0 {
		t.Error("no V2 event redelivered byte for byte")
	}
	var seen change
	for _, fs := range byUID {
		for i := 1; i < len(fs); i++ {
			a, b := fs[i-1], fs[i]
			if !a.ModifiedTime.Equal(b.ModifiedTime) || !a.Time.Equal(b.Time) || a.RawFinding == b.RawFinding {
				continue
			}
			seen.status = seen.status || a.Status != b.Status
			seen.severity = seen.severity || a.Severity != b.Severity
			seen.comment = seen.comment || a.Comment != b.Comment
		}
	}
	if !seen.status || !seen.severity || !seen.comment {
		t.Errorf("changes under an unchanged modified_time: %+v; want status, severity and comment changes", seen)
	}
	for _, want := range []string{"neither metadata.uid nor finding_info.uid", "event detail has no findings array"} {
		n := 0
		for r, k := range v2Dead {
			if strings.Contains(r, want) {
				n += k
			}
		}
		if n == 0 {
			t.Errorf("no broken V2 unit dead-lettered as %q: %v", want, v2Dead)
		}
	}

	c.OCSFRatio = 0
	us, _, st = units(t, c)
	for i, u := range us {
		if bytes.Contains(u, []byte(`"Findings Imported V2"`)) {
			t.Fatalf("unit %d is a V2 event with an OCSF ratio of 0", i)
		}
	}
	if st.ImportedV2 != 0 || st.OCSFFindings != 0 {
		t.Errorf("stats with an OCSF ratio of 0: %+v", st)
	}
}

// TestBadUnits checks that each bad unit is exactly one dead letter, in both
// formats, and that the good units around them still decode.
func TestBadUnits(t *testing.T) {
	for _, f := range []Format{NDJSON, Concat} {
		c := testConfig(4000)
		c.BadRatio, c.Format = 0.2, f
		us, bad, st := units(t, c)
		o := schema.Origin{Source: "t", NotAfter: c.End.AddDate(0, 0, 1)}
		nbad := int64(0)
		reasons := map[string]bool{}
		for i, u := range us {
			var out schema.Output
			schema.Decode(u, o, &out)
			if !bad[i] {
				if len(out.Dead) != 0 {
					t.Fatalf("format %d unit %d: good unit dead-lettered: %s", f, i, out.Dead[0].Reason)
				}
				continue
			}
			nbad++
			if len(out.Dead) != 1 || len(out.Findings)+len(out.Insights) != 0 {
				t.Fatalf("format %d unit %d: bad unit gave %d dead letters and %d rows: %.200q", f, i, len(out.Dead), len(out.Findings)+len(out.Insights), u)
			}
			if f == NDJSON && bytes.IndexByte(u, '\n') >= 0 {
				t.Fatalf("unit %d: bad unit spans lines", i)
			}
			reason := out.Dead[0].Reason
			if k := strings.IndexAny(reason, ":0123456789\""); k > 0 {
				reason = reason[:k]
			}
			reasons[reason] = true
		}
		if nbad != st.Bad || nbad < 600 {
			t.Fatalf("format %d: %d bad units seen, stats say %d", f, nbad, st.Bad)
		}
		if len(reasons) < 7 {
			t.Errorf("format %d: only %d kinds of dead letter: %v", f, len(reasons), reasons)
		}
		if bad[0] {
			t.Error("the first unit is bad")
		}
	}
}

// readCorpus returns the units of each file of a WriteDir corpus.
func readCorpus(t *testing.T, dir string) (names []string, files [][][]byte) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !isCorpusName(e.Name()) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if raw, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		var us [][]byte
		if bytes.HasSuffix(raw, []byte{'\n'}) {
			sc := bufio.NewScanner(bytes.NewReader(raw))
			sc.Buffer(nil, 16<<20)
			for sc.Scan() {
				us = append(us, bytes.Clone(sc.Bytes()))
			}
		} else {
			dec := json.NewDecoder(bytes.NewReader(raw))
			for {
				var m json.RawMessage
				if err := dec.Decode(&m); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("%s: %v", e.Name(), err)
				}
				us = append(us, m)
			}
		}
		names = append(names, e.Name())
		files = append(files, us)
	}
	return names, files
}

func TestDuplicates(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(0)
	c.Events, c.Bytes = 0, 6e6
	st, err := WriteDir(context.Background(), dir, c, WriteOptions{FileBytes: 300 << 10})
	if err != nil {
		t.Fatal(err)
	}
	_, files := readCorpus(t, dir)
	if int64(len(files)) != st.Files || st.Files < 15 {
		t.Fatalf("%d files, stats say %d", len(files), st.Files)
	}
	owner := map[string]int{}
	var dups, units int64
	for fi, us := range files {
		pos := map[string]int{}
		for i, u := range us {
			units++
			k := string(u)
			if f, ok := owner[k]; ok && f != fi {
				t.Fatalf("unit repeated across files %d and %d", f, fi)
			}
			owner[k] = fi
			if p, ok := pos[k]; ok {
				dups++
				if i-p > 2*dupWindow {
					t.Fatalf("duplicate %d units after its original", i-p)
				}
			}
			pos[k] = i
		}
	}
	if dups != st.Duplicates || units != st.Units {
		t.Fatalf("found %d duplicates in %d units, stats say %d in %d", dups, units, st.Duplicates, st.Units)
	}
	if r := float64(dups) / float64(units); r < 0.085 || r > 0.115 {
		t.Fatalf("duplicate ratio %.3f, want about %.2f", r, c.DupRatio)
	}
}

func TestSizes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "events-00099.json"), []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testConfig(0)
	c.Events, c.Bytes = 0, 3e6
	const fileBytes = 512 << 10
	st, err := WriteDir(context.Background(), dir, c, WriteOptions{FileBytes: fileBytes})
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes < c.Bytes || st.Bytes > c.Bytes+st.MaxUnit {
		t.Fatalf("corpus of %d bytes, asked for %d", st.Bytes, c.Bytes)
	}
	var total int64
	for i := range st.Files {
		fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("events-%05d.json", i)))
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
		if i < st.Files-1 && (fi.Size() < fileBytes || fi.Size() > fileBytes+st.MaxUnit+1) {
			t.Errorf("file %d has %d bytes, want about %d", i, fi.Size(), fileBytes)
		}
	}
	if total != st.Bytes+st.Units {
		t.Errorf("files hold %d bytes, want %d units plus newlines = %d", total, st.Units, st.Bytes+st.Units)
	}
	if _, err := os.Stat(filepath.Join(dir, "events-00099.json")); !os.IsNotExist(err) {
		t.Error("stale corpus file kept")
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Error("unrelated file removed")
	}

	var buf bytes.Buffer
	c.Bytes, c.Events = 0, 1234
	if st, err = WriteStream(context.Background(), &buf, c); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte{'\n'}); n != 1234 || st.Units != 1234 {
		t.Fatalf("%d lines for 1234 events", n)
	}
}

// TestGzipConcat writes a gzipped Firehose-style corpus twice: the bytes
// match, and the stream splits back into the same units as an in-memory run.
func TestGzipConcat(t *testing.T) {
	c := testConfig(3000)
	c.Format = Concat
	var trees [2]map[string][]byte
	for k := range trees {
		dir := t.TempDir()
		if _, err := WriteDir(context.Background(), dir, c, WriteOptions{FileBytes: 1 << 20, Gzip: true}); err != nil {
			t.Fatal(err)
		}
		trees[k] = map[string][]byte{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			trees[k][e.Name()] = b
		}
		if k == 0 {
			names, files := readCorpus(t, dir)
			n := 0
			for i, us := range files {
				if !strings.HasSuffix(names[i], ".json.gz") {
					t.Fatalf("file name %s", names[i])
				}
				n += len(us)
			}
			if n != 3000 {
				t.Fatalf("%d units read back, want 3000", n)
			}
		}
	}
	if len(trees[0]) < 2 || len(trees[0]) != len(trees[1]) {
		t.Fatalf("%d and %d files", len(trees[0]), len(trees[1]))
	}
	for name, b := range trees[0] {
		if !bytes.Equal(b, trees[1][name]) {
			t.Fatalf("%s differs between runs", name)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{},
		{Events: 1, Regions: 99},
		{Events: 1, DupRatio: 0.5, UpdateRatio: 0.5},
		{Events: 1, BadRatio: -1},
		{Events: 1, OCSFRatio: 1.5},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if _, err := WriteDir(context.Background(), t.TempDir(), Config{}, WriteOptions{}); err == nil {
		t.Error("WriteDir accepted an empty config")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WriteStream(ctx, io.Discard, testConfig(1e6)); err == nil {
		t.Error("WriteStream ignored a cancelled context")
	}
}

// BenchmarkGenerate measures generation alone (no I/O); MB/s is the speed of
// `hublake gen` without --gzip.
func BenchmarkGenerate(b *testing.B) {
	c := DefaultConfig()
	c.Bytes = 32 << 20
	b.SetBytes(c.Bytes)
	for b.Loop() {
		g, err := New(c)
		if err != nil {
			b.Fatal(err)
		}
		for !g.Done() {
			g.Next()
		}
	}
}

// BenchmarkWriteGzip measures generation with gzip into files.
func BenchmarkWriteGzip(b *testing.B) {
	c := DefaultConfig()
	c.Bytes = 32 << 20
	b.SetBytes(c.Bytes)
	dir := b.TempDir()
	for b.Loop() {
		if _, err := WriteDir(context.Background(), dir, c, WriteOptions{Gzip: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestShapesRatioZeroIsTheEarlierCorpus: with ShapesRatio 0 (the default)
// the corpus is byte for byte the one of the version before shapes existed
// (its digest, taken then), so benchmarks and the reference stay
// comparable.
func TestShapesRatioZeroIsTheEarlierCorpus(t *testing.T) {
	c := testConfig(5000)
	c.BadRatio = 0.02
	us, _, _ := units(t, c)
	if got := fmt.Sprintf("%x", digest(us)); got != "7ae374985993037a6f7552d97986c6bd6d531a27a3f3d2dacaac4d34f0ff715c" {
		t.Fatalf("the default corpus changed: digest %s", got)
	}
}

// epochMillisAt finds an ASFF timestamp written as an epoch-milliseconds
// number (shapeTableExport).
var epochMillisAt = regexp.MustCompile(`"UpdatedAt":\d`)

// TestShapes: with ShapesRatio every real producer's shape appears, is
// deterministic, and decodes to rows (no dead letter, no unreadable value)
// in which the shape's rule shows: severity and types from
// FindingProviderFields, the control from ProductFields, WorkflowState,
// nested objects, OCSF seconds, finding for finding_info, one resource,
// epoch milliseconds in *At, product and company from the ProductArn,
// Prowler 4's event_time.
func TestShapes(t *testing.T) {
	c := testConfig(6000)
	c.ShapesRatio = 0.3
	us, _, _ := units(t, c)
	again, _, _ := units(t, c)
	if digest(us) != digest(again) {
		t.Fatal("same config, different output")
	}
	o := schema.Origin{Source: "t", NotAfter: c.End.AddDate(0, 0, 1)}
	seen := map[string]int{}
	for i, u := range us {
		var out schema.Output
		schema.Decode(u, o, &out)
		if len(out.Dead) > 0 || out.Unreadable > 0 {
			t.Fatalf("unit %d: dead letters %v, %d unreadable: %.300s", i, out.Dead, out.Unreadable, u)
		}
		for _, f := range out.Findings {
			switch {
			case strings.Contains(f.ProductARN, "jfrog-xray"):
				if f.SeverityLabel == "" || len(f.Types) == 0 || f.Confidence == nil || len(f.RelatedFindings) == 0 {
					t.Fatalf("unit %d: BatchImportFindings input without severity, types, confidence or related findings from FindingProviderFields", i)
				}
				seen["batch import"]++
			case f.Process != nil:
				if f.Process.LaunchedAt.IsZero() || len(f.Malware) == 0 || len(f.Threats) == 0 || len(f.ThreatIntelIndicators) == 0 || f.Network.SourceIPV6 == "" {
					t.Fatalf("unit %d: runtime finding without its nested objects", i)
				}
				seen["runtime"]++
			case strings.Contains(f.RawFinding, `"Sensitive Data Identifications"`):
				if f.Region != "" || f.ProductName != "aquasecurity" || f.CompanyName != "aquasecurity" || f.UpdatedAt.IsZero() {
					t.Fatalf("unit %d: Trivy secret without its product and company from the ProductArn, or with a region: %q %q %q", i, f.ProductName, f.CompanyName, f.Region)
				}
				seen["trivy secret"]++
			case epochMillisAt.MatchString(f.RawFinding):
				if f.CreatedAt.Year() < 2020 || f.UpdatedAt.Year() < 2020 || f.UpdatedAt.After(f.EventTime) {
					t.Fatalf("unit %d: table export's epoch milliseconds not read: created %v updated %v", i, f.CreatedAt, f.UpdatedAt)
				}
				seen["table export"]++
			case strings.Contains(f.RawFinding, `"WorkflowState"`) && !strings.Contains(f.RawFinding, `"Workflow"`):
				if f.WorkflowStatus == "" || f.ComplianceSecurityControlID == "" || f.SeverityLabel == "" || len(f.ComplianceStandards) != 1 {
					t.Fatalf("unit %d: legacy 2019 control finding without workflow status, control, severity or standard", i)
				}
				seen["legacy 2019"]++
			}
		}
		for _, f := range out.OCSF {
			switch {
			case f.ProductName == "Prowler" && f.OCSFVersion == "1.2.0":
				if f.Time.Year() < 2025 || f.CreatedTime.Year() < 2025 || f.ClassName != "DetectionFinding" {
					t.Fatalf("unit %d: Prowler 4's event_time or created_time string not read: %v %v", i, f.Time, f.CreatedTime)
				}
				seen["prowler 4"]++
			case f.ProductName == "Prowler":
				if f.Time.Year() < 2025 || f.CreatedTime.Year() < 2025 {
					t.Fatalf("unit %d: Prowler's seconds read as milliseconds: %v", i, f.Time)
				}
				seen["prowler 5"]++
			case f.OCSFVersion == "1.1.0":
				if f.ResourceUID == "" || f.ProductFeature == "" || f.ModifiedTime.IsZero() {
					t.Fatalf("unit %d: Security Lake 1.1 finding without its resource, feature or times", i)
				}
				seen["lake 1.1"]++
			case f.OCSFVersion == "1.0.0-rc.2":
				if f.FindingUID == "" || f.Status == "" || f.Vulnerabilities[0].CVSSBaseScore == nil || len(f.Vulnerabilities[0].AffectedPackages) == 0 {
					t.Fatalf("unit %d: Security Lake 1.0 finding without finding uid, state, CVSS or packages", i)
				}
				seen["lake 1.0"]++
			}
		}
	}
	for _, s := range []string{"batch import", "runtime", "legacy 2019", "table export", "trivy secret", "prowler 5", "prowler 4", "lake 1.1", "lake 1.0"} {
		if seen[s] < 5 {
			t.Errorf("shape %s: %d rows in %d units", s, seen[s], len(us))
		}
	}
	t.Logf("rows per shape: %v", seen)
}

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/dashboards"
	"github.com/hublake/hublake/schema"
)

const (
	templateFile = "../../deploy/cloudformation/hublake.yaml"
	grafanaFile  = "../../deploy/grafana/hublake.json"
)

// exposition is a scrape of /metrics: the label names of every sample, by
// sample name (hublake_flush_duration_seconds_bucket is its own name).
type exposition map[string][]map[string]bool

var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? `)
var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)

func parseExposition(text string) exposition {
	out := exposition{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		m := sampleRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		labels := map[string]bool{}
		for _, l := range labelRE.FindAllStringSubmatch(m[3], -1) {
			labels[l[1]] = true
		}
		out[m[1]] = append(out[m[1]], labels)
	}
	return out
}

// emfLine returns the one EMF line among a process's output lines, as JSON.
func emfLine(t *testing.T, out string) map[string]any {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `"_aws"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d EMF lines, want one:\n%s", len(lines), out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("the EMF line is not JSON: %v\n%s", err, lines[0])
	}
	return m
}

// TestDashboardsUseExportedMetrics runs a consumer with EMF lines every
// second, lets it read and flush a few events, runs `hublake compact --emf`
// twice on an S3 lake (one run compacts, the next has nothing to do), and
// checks every metric the dashboards and alarms of deploy/ use against what
// they export: each CloudWatch metric of namespace hublake in the dashboard
// body (parsed from the template), in the alarms and in the Grafana
// dashboard's CloudWatch queries is an EMF metric of the consumer's lines
// or of the compaction runs' line, by the same dimensions, with the stream
// as Stream, tables the consumer writes as Table and, for the lake, what
// the template's s3://${LakeBucket}/${LakePrefix} gives for the bucket and
// prefix of the runs' --out as Lake; each Prometheus series of the Grafana
// dashboard is a sample of /metrics with the labels its query matches and
// groups by (job and instance are the scrape's).
func TestDashboardsUseExportedMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	e.publish(e.writeEvents(syntheticEvents(30, "dashboards")))
	p := e.consume("w1", nil, "--emf", "--emf-interval", "1s")

	// While the consumer starts: the compaction job's line, from the binary,
	// on a lake of its own whose prefix has a slash (as LakePrefix may).
	lakeBucket, lakePrefix := e.bucket, e.prefix+"-compaction/lake"
	lakeURL := "s3://" + lakeBucket + "/" + lakePrefix
	lk := lakeTarget{name: "versitygw", out: []string{"--out", lakeURL, "--s3-endpoint", stack.S3}}
	lk.backfill(t, genCorpus(t, 200, 2), 10)
	var compactEMF []emfMetricRef
	for i, compacts := range []bool{true, false} {
		code, out := lk.compactCode(t, nil, "--emf")
		if code != 0 {
			t.Fatalf("hublake compact --emf (run %d) exited %d:\n%s", i+1, code, tail(out, 40))
		}
		line := emfLine(t, out)
		if line["Lake"] != lakeURL || line["CompactionRuns"] != 1.0 || line["CompactionErrors"] != 0.0 {
			t.Errorf("run %d: Lake %v, CompactionRuns %v, CompactionErrors %v; want %s, 1, 0", i+1, line["Lake"], line["CompactionRuns"], line["CompactionErrors"], lakeURL)
		}
		if n, _ := line["CompactedPartitions"].(float64); (n > 0) != compacts || float64(summary(out)["compacted"]) != n {
			t.Errorf("run %d: CompactedPartitions %v, the summary says %d compacted; want some only in the first run", i+1, line["CompactedPartitions"], summary(out)["compacted"])
		}
		compactEMF = append(compactEMF, parseEMF(t, []byte(out))...)
	}

	// The current-state refresh's lines (one per table, by Lake and Table)
	// on the same lake, compacted.
	{
		args := append(append([]string{"current", "--progress", "none", "--log-level", "warn"}, lk.out...), "--emf")
		code, out := hublake(t, []string{"HUBLAKE_RECORD_AWS_OPS=" + currentOpsFile}, args...)
		if code != 0 {
			t.Fatalf("hublake current --emf exited %d:\n%s", code, tail(out, 40))
		}
		tables := map[string]bool{}
		for _, r := range parseEMF(t, []byte(out)) {
			if r.Dims == "Lake,Table" && r.DimValues["Lake"] == lakeURL {
				tables[r.DimValues["Table"]] = true
			}
			compactEMF = append(compactEMF, r)
		}
		for _, table := range schema.CurrentTableNames() {
			if !tables[table] {
				t.Errorf("hublake current --emf wrote no line for %s by Lake %s and Table", table, lakeURL)
			}
		}
	}

	waitMetric(t, p, "hublake_batches_total", 1, 90*time.Second)
	// A set of EMF lines after the flush carries its duration.
	deadline := time.Now().Add(30 * time.Second)
	var emf []emfMetricRef
	for {
		emf = parseEMF(t, []byte(p.output()))
		if slices.ContainsFunc(emf, func(r emfMetricRef) bool { return r.Name == "FlushDuration" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no EMF line with a FlushDuration after the first flush")
		}
		time.Sleep(500 * time.Millisecond)
	}
	prom := parseExposition(p.scrape(t))

	type key struct{ ns, name, dims string }
	published := map[key]map[string][]string{} // dimension values seen
	for _, r := range append(emf, compactEMF...) {
		k := key{r.Namespace, r.Name, r.Dims}
		if published[k] == nil {
			published[k] = map[string][]string{}
		}
		for d, v := range r.DimValues {
			if !slices.Contains(published[k][d], v) {
				published[k][d] = append(published[k][d], v)
			}
		}
	}
	tpl, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := dashboards.TemplateBody(tpl)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"Stream": e.name, "LakeBucket": lakeBucket, "LakePrefix": lakePrefix,
		dashboards.AlarmArnsVar: `"arn:aws:cloudwatch:us-east-1:000000000000:alarm:x"`}
	for _, v := range dashboards.SubVariables(body) {
		if _, ok := vars[v]; !ok {
			vars[v] = "x"
		}
	}
	body, err = dashboards.Substitute(body, vars)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := dashboards.CloudWatchRefs(body)
	if err != nil {
		t.Fatal(err)
	}
	alarms, err := dashboards.TemplateAlarmMetrics(tpl)
	if err != nil {
		t.Fatal(err)
	}
	grafana, err := os.ReadFile(grafanaFile)
	if err != nil {
		t.Fatal(err)
	}
	sels, grafanaCW, err := dashboards.GrafanaRefs(grafana)
	if err != nil {
		t.Fatal(err)
	}
	// The Grafana dashboard's $lake is the lake's URL (the stack's
	// LakeLocation output).
	for i, r := range grafanaCW {
		dims := map[string]string{}
		for d, v := range r.Dims {
			dims[d] = strings.ReplaceAll(v, "${lake}", lakeURL)
		}
		grafanaCW[i].Dims = dims
		grafanaCW[i].Widget = "Grafana: " + r.Widget
	}
	checked := 0
	byLake := map[string]int{} // compaction references checked, by where
	for _, r := range append(append(refs, alarms...), grafanaCW...) {
		if r.Namespace != dashboards.Namespace {
			continue
		}
		checked++
		if _, ok := r.Dims["Lake"]; ok {
			byLake[r.Widget]++
		}
		seen, ok := published[key{r.Namespace, r.Name, r.DimNames()}]
		if !ok {
			t.Errorf("%s: %s %s by %s is not an EMF metric of the consumer or of hublake compact", r.Widget, r.Namespace, r.Name, r.DimNames())
			continue
		}
		for d, v := range r.Dims {
			if v != "" && !slices.Contains(seen[d], v) {
				t.Errorf("%s: %s by %s = %q; hublake writes %s = %q", r.Widget, r.Name, d, v, d, seen[d])
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d EMF metric references checked; the dashboard parse is broken", checked)
	}
	for _, where := range []string{
		"Compaction runs (per hour)", "Compaction: objects and bytes replaced (per hour)",
		"Grafana: Compaction runs (per hour)", "Grafana: Compaction: objects and bytes replaced (per hour)",
		"CompactionErrorsAlarm", "CompactionNotRunningAlarm",
	} {
		if byLake[where] == 0 {
			t.Errorf("%s: no compaction metric checked (checked by Lake: %v)", where, byLake)
		}
	}

	for _, s := range sels {
		samples, ok := prom[s.Metric]
		if !ok {
			t.Errorf("%s: %s is not a metric of /metrics", s.Panel, s.Metric)
			continue
		}
		for _, l := range s.Labels() {
			if l == "job" || l == "instance" {
				continue // target labels, added by the scrape
			}
			if !slices.ContainsFunc(samples, func(labels map[string]bool) bool { return labels[l] }) {
				t.Errorf("%s: %s has no label %s", s.Panel, s.Metric, l)
			}
		}
	}
	if len(sels) < 10 {
		t.Errorf("only %d Prometheus selectors checked", len(sels))
	}
}

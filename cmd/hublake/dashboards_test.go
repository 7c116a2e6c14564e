package main

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/dashboards"
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

// TestDashboardsUseExportedMetrics runs a consumer with EMF lines every
// second, lets it read and flush a few events, and checks every metric the
// dashboards and alarms of deploy/ use against what it exports: each
// CloudWatch metric of namespace hublake in the dashboard body (parsed from
// the template) and in the alarms is an EMF metric of the consumer's lines,
// by the same dimensions, with the stream as Stream and tables the
// consumer writes as Table; each Prometheus series of the Grafana dashboard
// is a sample of /metrics with the labels its query matches and groups by
// (job and instance are the scrape's).
func TestDashboardsUseExportedMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	e.publish(e.writeEvents(syntheticEvents(30, "dashboards")))
	p := e.consume("w1", nil, "--emf", "--emf-interval", "1s")
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
	for _, r := range emf {
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
	vars := map[string]string{"Stream": e.name, dashboards.AlarmArnsVar: `"arn:aws:cloudwatch:us-east-1:000000000000:alarm:x"`}
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
	checked := 0
	for _, r := range append(refs, alarms...) {
		if r.Namespace != dashboards.Namespace {
			continue
		}
		checked++
		seen, ok := published[key{r.Namespace, r.Name, r.DimNames()}]
		if !ok {
			t.Errorf("%s: %s %s by %s is not an EMF metric of the consumer", r.Widget, r.Namespace, r.Name, r.DimNames())
			continue
		}
		for d, v := range r.Dims {
			if v != "" && !slices.Contains(seen[d], v) {
				t.Errorf("%s: %s by %s = %q; the consumer writes %s = %q", r.Widget, r.Name, d, v, d, seen[d])
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d EMF metric references checked; the dashboard parse is broken", checked)
	}

	grafana, err := os.ReadFile(grafanaFile)
	if err != nil {
		t.Fatal(err)
	}
	sels, _, err := dashboards.GrafanaRefs(grafana)
	if err != nil {
		t.Fatal(err)
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
	for _, pending := range dashboards.Pending {
		t.Logf("not on the dashboards yet: %s (needs %s)", pending.Panel, pending.Needs)
	}
}

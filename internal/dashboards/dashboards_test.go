package dashboards

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hublake/hublake/schema"
)

// vars are values for the body's Fn::Sub variables.
var vars = map[string]string{
	"AWS::Region": "eu-west-1", "Stream": "s", "AppName": "app", "RunbookUrl": "https://example.com/r",
	"EventsDeadLetterQueue.QueueName": "q", "Cluster": "c", "Service.Name": "svc", AlarmArnsVar: `"arn:a", "arn:b"`,
	"LakeBucket": "bucket", "LakePrefix": "lake",
}

// TestCloudWatchBody: the rendered body is valid and names every metric of
// every panel (hidden metrics of per-second expressions included).
func TestCloudWatchBody(t *testing.T) {
	body, err := Substitute(CloudWatchBody(), vars)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := CloudWatchRefs(body)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, p := range Panels() {
		want += len(p.CloudWatch)
	}
	if len(refs) != want {
		t.Errorf("%d metric references, the panels have %d metrics", len(refs), want)
	}
	var search Ref
	for _, r := range refs {
		if r.Search {
			search = r
		}
	}
	if search.Name != "LeasesHeld" || search.Dims["Stream"] != "s" || search.DimNames() != "Stream,Worker" {
		t.Errorf("the SEARCH of leases per worker reads as %+v", search)
	}
	lakes, refreshes := 0, map[string]bool{}
	for _, r := range refs {
		if _, ok := r.Dims["Lake"]; ok {
			lakes++
			if r.Namespace != Namespace || r.Dims["Lake"] != "s3://bucket/lake" || !lakeDims(r.Name, r.DimNames(), r.Dims["Table"]) {
				t.Errorf("%s: %s %s by %v, want by Lake = s3://bucket/lake (and, for the refresh's, Table = a finding table)", r.Widget, r.Namespace, r.Name, r.Dims)
			}
			if r.DimNames() == "Lake,Table" {
				refreshes[r.Name+" "+r.Dims["Table"]] = true
			}
		}
	}
	if lakes == 0 {
		t.Error("no graph shows the compaction job's metrics (by Lake)")
	}
	for _, m := range []string{"CurrentSnapshotAgeSeconds", "CurrentRows"} {
		for _, table := range schema.CurrentTableNames() {
			if !refreshes[m+" "+table] {
				t.Errorf("no graph shows %s of %s's current table", m, table)
			}
		}
	}
	if got := SubVariables(CloudWatchBody()); !slices.Equal(got, []string{"AWS::Region", AlarmArnsVar, "AppName", "Cluster", "EventsDeadLetterQueue.QueueName", "LakeBucket", "LakePrefix", "RunbookUrl", "Service.Name", "Stream"}) {
		t.Errorf("the body uses the variables %v", got)
	}
}

// TestCloudWatchRefsCatchesMistakes: each kind of mistake in a body is
// found (so that a silent validator cannot pass the real one).
func TestCloudWatchRefsCatchesMistakes(t *testing.T) {
	graph := func(metrics string, period string) string {
		if period == "" {
			period = "60"
		}
		return `{"widgets":[{"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"title":"t","region":"r","period":` + period + `,"metrics":` + metrics + `}}]}`
	}
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"widgets":[`, "not JSON"},
		{"no widgets", `{"widgets":[]}`, "no widgets"},
		{"outside the grid", `{"widgets":[{"type":"text","x":20,"y":0,"width":6,"height":1,"properties":{"markdown":"m"}}]}`, "outside"},
		{"overlap", `{"widgets":[{"type":"text","x":0,"y":0,"width":6,"height":2,"properties":{"markdown":"m"}},{"type":"text","x":5,"y":1,"width":6,"height":2,"properties":{"markdown":"m"}}]}`, "overlap"},
		{"unknown type", `{"widgets":[{"type":"graph","x":0,"y":0,"width":6,"height":2,"properties":{}}]}`, "unknown type"},
		{"no position", `{"widgets":[{"type":"text","properties":{"markdown":"m"}}]}`, "required"},
		{"odd dimensions", graph(`[["ns","m","Stream",{"stat":"Sum"}]]`, ""), "dimension name/value pairs"},
		{"bad statistic", graph(`[["ns","m","Stream","s",{"stat":"Total"}]]`, ""), "statistic"},
		{"no statistic", graph(`[["ns","m","Stream","s"]]`, ""), "statistic"},
		{"unknown option", graph(`[["ns","m","Stream","s",{"stat":"Sum","colour":"red"}]]`, ""), "unknown metric option"},
		{"undefined id", graph(`[["ns","m","Stream","s",{"stat":"Sum","id":"m1"}],[{"expression":"m2/PERIOD(m2)","id":"e1"}]]`, ""), "no metric of the graph defines"},
		{"duplicate id", graph(`[["ns","m","Stream","s",{"stat":"Sum","id":"m1"}],["ns","n","Stream","s",{"stat":"Sum","id":"m1"}]]`, ""), "twice"},
		{"unbalanced", graph(`[["ns","m","Stream","s",{"stat":"Sum","id":"m1"}],[{"expression":"m1/PERIOD(m1","id":"e1"}]]`, ""), "unbalanced"},
		{"unknown function", graph(`[["ns","m","Stream","s",{"stat":"Sum","id":"m1"}],[{"expression":"RATE(m1)","id":"e1"}]]`, ""), "unknown function"},
		{"bad search", graph(`[[{"expression":"SEARCH('{ns,Stream} LeasesHeld', 'Maximum', 60)","id":"e1"}]]`, ""), "SEARCH"},
		{"search outside its schema", graph(`[[{"expression":"SEARCH('{ns,Stream} MetricName=\"m\" Worker=\"w\"', 'Maximum', 60)","id":"e1"}]]`, ""), "not in its schema"},
		{"bad period", graph(`[["ns","m","Stream","s",{"stat":"Sum"}]]`, "90"), "multiple of 60"},
		{"empty alarms", `{"widgets":[{"type":"alarm","x":0,"y":0,"width":6,"height":2,"properties":{"alarms":[]}}]}`, "without alarms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CloudWatchRefs(tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %q", err, tc.want)
			}
		})
	}
}

// TestGrafana: the rendered dashboard is valid; its Prometheus targets
// select every panel's metrics by the $job variable.
func TestGrafana(t *testing.T) {
	prom, cw, err := GrafanaRefs(Grafana())
	if err != nil {
		t.Fatal(err)
	}
	if len(prom) == 0 || len(cw) == 0 {
		t.Fatalf("%d Prometheus selectors, %d CloudWatch queries", len(prom), len(cw))
	}
	for _, s := range prom {
		if !slices.Contains(s.Matchers, "job") {
			t.Errorf("%s: %s without the job matcher", s.Panel, s.Metric)
		}
	}
	// The compaction job's metrics come from CloudWatch, by the $lake
	// variable.
	lakes := 0
	for _, r := range cw {
		if r.Namespace == Namespace {
			lakes++
			if r.Dims["Lake"] != "${"+lakeVar+"}" || !lakeDims(r.Name, r.DimNames(), r.Dims["Table"]) {
				t.Errorf("%s: %s by %v, want by Lake = ${%s} (and, for the refresh's, Table = a finding table)", r.Widget, r.Name, r.Dims, lakeVar)
			}
		}
	}
	if lakes == 0 {
		t.Error("no Grafana panel shows the compaction job's metrics")
	}
	var dash struct {
		Templating struct{ List []struct{ Name, Type string } }
	}
	if err := json.Unmarshal(Grafana(), &dash); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(dash.Templating.List, func(v struct{ Name, Type string }) bool { return v.Name == lakeVar && v.Type == "textbox" }) {
		t.Errorf("the dashboard has no $%s textbox: %v", lakeVar, dash.Templating.List)
	}
}

// TestGrafanaRefsCatchesMistakes: the Grafana validator finds each kind of
// mistake.
func TestGrafanaRefsCatchesMistakes(t *testing.T) {
	var base map[string]any
	if err := json.Unmarshal(Grafana(), &base); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(panels []any)) []byte {
		var d map[string]any
		raw, _ := json.Marshal(base)
		_ = json.Unmarshal(raw, &d)
		f(d["panels"].([]any))
		out, _ := json.Marshal(d)
		return out
	}
	target := func(panels []any, i int) map[string]any {
		return panels[i].(map[string]any)["targets"].([]any)[0].(map[string]any)
	}
	for _, tc := range []struct {
		name string
		dash []byte
		want string
	}{
		{"duplicate id", mutate(func(p []any) { p[2].(map[string]any)["id"] = p[1].(map[string]any)["id"] }), "not unique"},
		{"overlap", mutate(func(p []any) { p[2].(map[string]any)["gridPos"] = p[1].(map[string]any)["gridPos"] }), "overlap"},
		{"bad PromQL", mutate(func(p []any) { target(p, 1)["expr"] = "sum(rate(hublake_records_total[5m])" }), "want \")\""},
		{"unknown data source", mutate(func(p []any) { target(p, 1)["datasource"] = map[string]any{"type": "prometheus", "uid": "${nope}"} }), "data-source variables"},
		{"undefined variable", mutate(func(p []any) {
			for _, panel := range p {
				targets, _ := panel.(map[string]any)["targets"].([]any)
				for _, tg := range targets {
					if dims, ok := tg.(map[string]any)["dimensions"].(map[string]any); ok {
						for k := range dims {
							dims[k] = "${nope}-x"
						}
					}
				}
			}
		}), "not a variable of the dashboard"},
		{"duplicate refId", mutate(func(p []any) {
			m := p[2].(map[string]any)
			ts := m["targets"].([]any)
			ts[1].(map[string]any)["refId"] = ts[0].(map[string]any)["refId"]
		}), "not unique"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := GrafanaRefs(tc.dash)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %q", err, tc.want)
			}
		})
	}
}

// TestParsePromQL: the selectors, their matchers and grouping labels, and
// the mistakes the parser refuses.
func TestParsePromQL(t *testing.T) {
	sels, err := ParsePromQL(`histogram_quantile(0.99, sum by (le) (rate(hublake_flush_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))`)
	if err != nil {
		t.Fatal(err)
	}
	if len(sels) != 1 || sels[0].Metric != "hublake_flush_duration_seconds_bucket" || !slices.Equal(sels[0].Labels(), []string{"job", "le"}) || !sels[0].Range {
		t.Errorf("got %+v", sels)
	}
	sels, err = ParsePromQL(`max by (shard) (hublake_behind_latest_seconds{job="a"}) * 1000 + count(up)`)
	if err != nil {
		t.Fatal(err)
	}
	if len(sels) != 2 || !slices.Equal(sels[0].Labels(), []string{"job", "shard"}) || sels[1].Metric != "up" {
		t.Errorf("got %+v", sels)
	}
	for expr, want := range map[string]string{
		`sum(rate(x[5m])`:            `want ")"`,
		`rate(x)`:                    "want a range vector",
		`sum(x[5m])`:                 "sum of a range vector",
		`frobnicate(x)`:              "unknown function",
		`x{job="a"`:                  "want a label name",
		`x{job}`:                     "want a matcher",
		`x{job=a}`:                   "want a string",
		`x[5 minutes]`:               "not a duration",
		`histogram_quantile(x, y)`:   "argument 1",
		`sum by (le (x)`:             "label list",
		`{job="a"}`:                  "without a metric name",
		`x[5m]`:                      "range vector",
		`sum(x) sum(y)`:              "unexpected",
		`x{job="a"} + `:              "unexpected",
		`"unterminated`:              "unterminated",
		`topk(x, y)`:                 "scalar parameter",
		`sum by (shard) (x) / y[1m]`: "range vector",
	} {
		if _, err := ParsePromQL(expr); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one about %q", expr, err, want)
		}
	}
}

// TestRewrite: the marked block is replaced, once; a template without
// markers, or with two, is refused.
func TestRewrite(t *testing.T) {
	tpl := []byte("a:\n  b: !Sub\n    # BEGIN generated dashboard body\n    - old\n    # END generated dashboard body\n    - AlarmArns: x\n")
	out, err := Rewrite(tpl)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "- old") || !strings.Contains(string(out), "    - |\n      {\n") {
		t.Errorf("rewritten:\n%s", out)
	}
	if again, _ := Rewrite(out); string(again) != string(out) {
		t.Error("a second rewrite changes the template")
	}
	if _, err := Rewrite([]byte("a: 1\n")); err == nil {
		t.Error("a template without markers was accepted")
	}
	if _, err := Rewrite(append(tpl, tpl...)); err == nil {
		t.Error("two marked blocks were accepted")
	}
}

// lakeDims: the compaction job's metrics are by Lake, the current-state
// refresh's (Current*) by Lake and Table, a finding table as `hublake
// current --table` names it.
func lakeDims(name, dims, table string) bool {
	if strings.HasPrefix(name, "Current") {
		return dims == "Lake,Table" && slices.Contains(schema.CurrentTableNames(), table)
	}
	return dims == "Lake"
}

// TestCheckMath: lists in brackets (MAX([a, b]), as an alarm over two
// tables uses) balance with their parentheses.
func TestCheckMath(t *testing.T) {
	ids := map[string]bool{"m1": true, "m2": true}
	for expr, want := range map[string]string{
		`MAX([m1, m2])`:      "",
		`m1/PERIOD(m1)`:      "",
		`MAX([m1, m2)]`:      "unbalanced",
		`MAX([m1, m2]`:       "unbalanced",
		`MAX([m1, m3])`:      "m3",
		`MAXIMUM([m1, m2])`:  "unknown function",
		`MAX(m1, m2]`:        "unbalanced",
		`SUM([m1, m2]) / 60`: "",
	} {
		err := CheckMath(expr, ids)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: error %v, want %q", expr, err, want)
		}
	}
}

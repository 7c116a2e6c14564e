package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hublake/hublake/internal/dashboards"
	"github.com/hublake/hublake/schema"
)

// The alarms, the CloudWatch dashboard and the Grafana dashboard: what they
// name exists (the AWS services' metrics with their documented dimensions,
// the stack's resources, the consumer's EMF namespace and Stream
// dimension), every alarm links to its runbook, and both dashboards are
// what internal/dashboards generates. cmd/hublake's tests check the
// consumer's own metric names against a running consumer.

const grafanaPath = "grafana/hublake.json"

// awsMetrics are the AWS services' metrics the stack watches, by namespace,
// with the dimensions it uses them by:
//   - AWS/Kinesis: https://docs.aws.amazon.com/streams/latest/dev/monitoring-with-cloudwatch.html (stream-level)
//   - AWS/Events: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html
//   - AWS/SQS: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
//   - AWS/ECS: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/available-metrics.html (service-level)
var awsMetrics = map[string]map[string]string{
	"AWS/Kinesis": {
		"GetRecords.IteratorAgeMilliseconds": "StreamName",
		"IncomingRecords":                    "StreamName",
		"ReadProvisionedThroughputExceeded":  "StreamName",
	},
	"AWS/Events": {"FailedInvocations": "RuleName"},
	"AWS/SQS":    {"ApproximateNumberOfMessagesVisible": "QueueName"},
	"AWS/ECS":    {"CPUUtilization": "ClusterName,ServiceName", "MemoryUtilization": "ClusterName,ServiceName"},
}

// emfDims are the dimension sets hublake publishes its EMF metrics by: the
// consumer by Stream (cmd/hublake/metrics.go), the compaction job by Lake
// (cmd/hublake/compact.go), the current-state refresh by Lake and Table
// (hublake current); cmd/hublake's tests check the names against a running
// consumer, a compaction run and a refresh.
var emfDims = map[string]bool{"Stream": true, "Stream,Table": true, "Stream,Worker": true, "Lake": true, "Lake,Table": true}

// stackNames are the values the dimensions of the stack's metrics must
// take, by dimension name, under the evaluator e.
func stackNames(t *testing.T, tpl *template, e *evaluator) map[string][]string {
	t.Helper()
	eval := func(v any) string { return e.mustString(t, v) }
	names := map[string][]string{
		"StreamName":  {eval(map[string]any{"Ref": "Stream"})},
		"Stream":      {eval(map[string]any{"Ref": "Stream"})},
		"QueueName":   {eval(map[string]any{"Fn::GetAtt": []any{"EventsDeadLetterQueue", "QueueName"}})},
		"ClusterName": {eval(map[string]any{"Ref": "Cluster"})},
		"ServiceName": {eval(map[string]any{"Fn::GetAtt": []any{"Service", "Name"}})},
		"Table":       schema.TableNames(),
		// The compaction job's Lake is the URL of the lake it is given
		// (s3lake.Lake's String: "s3://" + bucket + "/" + prefix).
		"Lake": {eval(compactionEnv(t, tpl)["HUBLAKE_OUT"])},
	}
	for _, r := range tpl.resourcesOfType("AWS::Events::Rule") {
		// Ref of a rule of the default event bus is its name.
		names["RuleName"] = append(names["RuleName"], eval(tpl.props(t, r)["Name"]), "<Ref "+r+">")
	}
	return names
}

// mustString evaluates v to a string, failing the test when it cannot.
func (e *evaluator) mustString(t testing.TB, v any) string {
	t.Helper()
	s, err := e.evalString(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkMetric checks one metric an alarm or a dashboard names: an AWS
// service's metric by its documented dimensions, or the consumer's, by one
// of its dimension sets; the dimension values name this stack's resources
// (values maps dimension names to what they may be; "" for a dimension a
// SEARCH leaves open).
func checkMetric(t *testing.T, where, ns, name string, dims map[string]string, values map[string][]string) {
	t.Helper()
	keys := make([]string, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dimNames := strings.Join(keys, ",")
	switch {
	case ns == dashboards.Namespace:
		if !emfDims[dimNames] {
			t.Errorf("%s: %s %s by %s: the consumer publishes its metrics by Stream, Stream and Table, or Stream and Worker, the compaction job by Lake, the refresh by Lake and Table", where, ns, name, dimNames)
		}
	case awsMetrics[ns] != nil:
		want, ok := awsMetrics[ns][name]
		if !ok {
			t.Errorf("%s: %s has no metric %s on the list (awsMetrics)", where, ns, name)
		} else if want != dimNames {
			t.Errorf("%s: %s %s by %s, want by %s", where, ns, name, dimNames, want)
		}
	default:
		t.Errorf("%s: unknown namespace %q", where, ns)
	}
	for _, k := range keys {
		if dims[k] == "" && k == "Worker" {
			continue // a SEARCH over the workers
		}
		if !slices.Contains(values[k], dims[k]) {
			t.Errorf("%s: %s %s: dimension %s = %q, want one of %q", where, ns, name, k, dims[k], values[k])
		}
	}
}

// alarmMetric is a metric an alarm watches (directly or in its metric math).
type alarmMetric struct {
	ns, name string
	dims     map[string]string
}

// alarmMetrics returns the metrics of an alarm's (evaluated) properties, and
// checks its metric math: unique ids, one expression that returns data,
// expressions over the alarm's own ids.
func alarmMetrics(t *testing.T, name string, p map[string]any) []alarmMetric {
	t.Helper()
	dimsOf := func(v any) map[string]string {
		out := map[string]string{}
		for _, d := range listOf(v) {
			out[fmt.Sprint(get(d, "Name"))] = fmt.Sprint(get(d, "Value"))
		}
		return out
	}
	if ns, ok := p["Namespace"].(string); ok {
		if p["Metrics"] != nil {
			t.Errorf("%s has both a metric and metric math", name)
		}
		if !statRE.MatchString(fmt.Sprint(p["Statistic"])) {
			t.Errorf("%s: statistic %v", name, p["Statistic"])
		}
		return []alarmMetric{{ns, fmt.Sprint(p["MetricName"]), dimsOf(p["Dimensions"])}}
	}
	var out []alarmMetric
	ids := map[string]bool{}
	var exprs []string
	returned := 0
	for _, m := range listOf(p["Metrics"]) {
		id := fmt.Sprint(get(m, "Id"))
		if ids[id] {
			t.Errorf("%s: id %s twice", name, id)
		}
		ids[id] = true
		if get(m, "ReturnData") == true {
			returned++
		}
		if e, ok := get(m, "Expression").(string); ok {
			exprs = append(exprs, e)
			continue
		}
		ms := get(m, "MetricStat")
		if ms == nil {
			t.Errorf("%s: %s is neither an expression nor a metric", name, id)
			continue
		}
		if !statRE.MatchString(fmt.Sprint(get(ms, "Stat"))) {
			t.Errorf("%s: %s: statistic %v", name, id, get(ms, "Stat"))
		}
		out = append(out, alarmMetric{fmt.Sprint(get(ms, "Metric", "Namespace")), fmt.Sprint(get(ms, "Metric", "MetricName")), dimsOf(get(ms, "Metric", "Dimensions"))})
	}
	if returned != 1 {
		t.Errorf("%s: %d metrics return data, want one", name, returned)
	}
	for _, e := range exprs {
		if err := dashboards.CheckMath(e, ids); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(out) == 0 {
		t.Errorf("%s watches no metric", name)
	}
	return out
}

var statRE = regexp.MustCompile(`^(Sum|Average|Maximum|Minimum|SampleCount|p\d{1,2}(\.\d+)?)$`)

// runbookAnchors returns the GitHub anchors of the headings in the
// "## Runbooks" section of README.md.
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	anchors := map[string]bool{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "## "); ok {
			in = githubAnchor(h) == "runbooks"
			if in {
				anchors["runbooks"] = true
			}
			continue
		}
		if h, ok := strings.CutPrefix(line, "### "); ok && in {
			anchors[githubAnchor(h)] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return anchors
}

// githubAnchor is the anchor GitHub gives a heading: lower case, spaces to
// hyphens, punctuation other than - and _ dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestAlarms: every alarm is named <AppName>-<what>, links to the runbook
// section "Alarm: <what>" of README.md in its description, notifies the
// optional topic, and watches metrics that exist by their dimensions on
// this stack's resources; every runbook has its alarm; the alarms an
// operator expects are there.
func TestAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	anchors := runbookAnchors(t)
	if !anchors["runbooks"] {
		t.Fatal("README.md has no ## Runbooks section")
	}
	if d := tpl.Parameters["RunbookUrl"]["Default"]; d != dashboards.DefaultRunbookURL {
		t.Errorf("RunbookUrl defaults to %v, the Grafana dashboard links %s", d, dashboards.DefaultRunbookURL)
	}
	e := newEvaluator(t, tpl, nil)
	values := stackNames(t, tpl, e)
	topic := map[string]any{"Fn::If": []any{"HasAlarmTopic", []any{map[string]any{"Ref": "AlarmTopicArn"}}, map[string]any{"Ref": "AWS::NoValue"}}}
	watched := map[string]bool{}
	linked := map[string]bool{}
	for _, a := range tpl.resourcesOfType("AWS::CloudWatch::Alarm") {
		raw := tpl.props(t, a)
		for _, k := range []string{"AlarmActions", "OKActions"} {
			if !reflect.DeepEqual(raw[k], topic) {
				t.Errorf("%s: %s %v, want the optional topic", a, k, raw[k])
			}
		}
		name, _ := get(raw, "AlarmName", "Fn::Sub").(string)
		what, ok := strings.CutPrefix(name, "${AppName}-")
		if !ok || what == "" {
			t.Errorf("%s: AlarmName %v, want !Sub \"${AppName}-<what>\"", a, raw["AlarmName"])
			continue
		}
		anchor := "alarm-" + what
		desc, _ := get(raw, "AlarmDescription", "Fn::Sub").(string)
		if !strings.Contains(desc, "${RunbookUrl}#"+anchor) {
			t.Errorf("%s: the description %q does not link ${RunbookUrl}#%s", a, desc, anchor)
		}
		if !anchors[anchor] {
			t.Errorf("%s: README.md has no runbook section %q (### Alarm: %s under ## Runbooks)", a, anchor, strings.ReplaceAll(what, "-", " "))
		}
		linked[anchor] = true
		p, err := e.eval(raw)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		for _, m := range alarmMetrics(t, a, p.(map[string]any)) {
			checkMetric(t, a, m.ns, m.name, m.dims, values)
			watched[m.ns+" "+m.name] = true
		}
	}
	for anchor := range anchors {
		if strings.HasPrefix(anchor, "alarm-") && !linked[anchor] {
			t.Errorf("README.md has the runbook %q, but no alarm links it", anchor)
		}
	}
	for _, want := range []string{
		"AWS/Kinesis GetRecords.IteratorAgeMilliseconds", // lag, or nothing reads
		"hublake DeadLetters",
		"hublake CheckpointFailures",
		"hublake StoreErrors",
		"hublake Records", // no records processed (with AWS/Kinesis IncomingRecords)
		"AWS/Kinesis IncomingRecords",
		"hublake WorkerSeconds", // task count
		"AWS/Events FailedInvocations",
		"AWS/SQS ApproximateNumberOfMessagesVisible", // the EventBridge DLQ's depth
		"hublake CompactionRuns",                     // compaction not running
		"hublake CompactionErrors",
		"hublake CurrentSnapshotAgeSeconds", // current tables stale
	} {
		if !watched[want] {
			t.Errorf("no alarm watches %s", want)
		}
	}
}

// TestDashboardsGenerated: the template's dashboard body and the Grafana
// dashboard are what internal/dashboards generates (`go generate ./deploy/`).
func TestDashboardsGenerated(t *testing.T) {
	tpl := loadTemplate(t)
	fresh, err := dashboards.Rewrite(tpl.raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, tpl.raw) {
		t.Errorf("%s: the dashboard body is stale; run `go generate ./deploy/`", templatePath)
	}
	got, err := os.ReadFile(grafanaPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, dashboards.Grafana()) {
		t.Errorf("%s is stale; run `go generate ./deploy/`", grafanaPath)
	}
}

// TestCloudWatchDashboard: the dashboard body, evaluated as CloudFormation
// would for several choices of the options, is a valid dashboard body whose
// metrics exist by their dimensions on this stack's resources, whose alarm
// widget shows exactly the alarms the stack creates, and whose graphs are
// the Grafana dashboard's panels.
func TestCloudWatchDashboard(t *testing.T) {
	tpl := loadTemplate(t)
	for _, over := range []map[string]string{
		nil,
		{"DesiredCount": "0"},
		{"CreateCustomAction": "false"},
	} {
		e := newEvaluator(t, tpl, over)
		body, err := e.evalString(tpl.props(t, dashboards.DashboardResource)["DashboardBody"])
		if err != nil {
			t.Fatalf("%v: %v", over, err)
		}
		refs, err := dashboards.CloudWatchRefs(body)
		if err != nil {
			t.Fatalf("%v: %v", over, err)
		}
		values := stackNames(t, tpl, e)
		for _, r := range refs {
			checkMetric(t, fmt.Sprintf("%v %s", over, r.Widget), r.Namespace, r.Name, r.Dims, values)
		}
		var dash struct {
			Widgets []struct {
				Type       string
				Properties struct {
					Title  string
					Alarms []string
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &dash); err != nil {
			t.Fatal(err)
		}
		var alarms, titles []string
		for _, w := range dash.Widgets {
			alarms = append(alarms, w.Properties.Alarms...)
			if w.Type == "metric" {
				titles = append(titles, w.Properties.Title)
			}
		}
		var want []string
		for _, a := range tpl.resourcesOfType("AWS::CloudWatch::Alarm") {
			if e.created(a) {
				want = append(want, "<"+a+".Arn>")
			}
		}
		slices.Sort(alarms)
		if !slices.Equal(alarms, want) {
			t.Errorf("%v: the alarm widget shows %v, the stack creates %v", over, alarms, want)
		}
		var panels []string
		for _, p := range dashboards.Panels() {
			panels = append(panels, p.Title)
		}
		if !slices.Equal(titles, panels) {
			t.Errorf("the dashboard's graphs are %q, want the panels %q", titles, panels)
		}
	}
}

// TestGrafanaDashboard: the Grafana dashboard is valid, its PromQL parses
// and selects the consumer's metrics by the $job variable, its CloudWatch
// queries name the stack's resources (by the names AppName gives them), and
// its panels are the CloudWatch dashboard's graphs.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(grafanaPath)
	if err != nil {
		t.Fatal(err)
	}
	prom, cw, err := dashboards.GrafanaRefs(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(prom) == 0 || len(cw) == 0 {
		t.Fatalf("%d Prometheus selectors and %d CloudWatch queries; want both", len(prom), len(cw))
	}
	for _, s := range prom {
		if !strings.HasPrefix(s.Metric, "hublake_") && !strings.HasPrefix(s.Metric, "process_") {
			t.Errorf("%s: %s is not one of the consumer's metrics", s.Panel, s.Metric)
		}
		if !slices.Contains(s.Matchers, "job") {
			t.Errorf("%s: %s is not selected by the $job variable", s.Panel, s.Metric)
		}
	}
	tpl := loadTemplate(t)
	e := newEvaluator(t, tpl, nil)
	app := e.params["AppName"].(string)
	eval := func(v any) string { return e.mustString(t, v) }
	values := map[string][]string{
		"StreamName": {eval(tpl.props(t, "Stream")["Name"])},
		"QueueName":  {eval(tpl.props(t, "EventsDeadLetterQueue")["QueueName"])},
		"Lake":       {"<the lake>"},
		"Table":      schema.TableNames(),
	}
	for _, r := range tpl.resourcesOfType("AWS::Events::Rule") {
		values["RuleName"] = append(values["RuleName"], eval(tpl.props(t, r)["Name"]))
	}
	for _, r := range cw {
		dims := map[string]string{}
		for k, v := range r.Dims {
			dims[k] = strings.NewReplacer("${app}", app, "${lake}", "<the lake>").Replace(v)
		}
		checkMetric(t, r.Widget, r.Namespace, r.Name, dims, values)
	}
	var dash struct {
		Panels []struct{ Type, Title string }
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var titles, panels []string
	for _, p := range dash.Panels {
		if p.Type == "timeseries" {
			titles = append(titles, p.Title)
		}
	}
	for _, p := range dashboards.Panels() {
		panels = append(panels, p.Title)
	}
	if !slices.Equal(titles, panels) {
		t.Errorf("the Grafana panels are %q, want %q", titles, panels)
	}
}

// TestCurrentStaleAlarm: the staleness alarm watches the snapshot age of
// every current-state table (by the refresh task's Lake and the table as
// `hublake current --table` names it), takes the older, and fires when for
// CompactionAlarmHours consecutive hours it was an hour or more or was not
// reported at all (missing data is breaching: no run, a run that dies).
func TestCurrentStaleAlarm(t *testing.T) {
	tpl := loadTemplate(t)
	raw := tpl.props(t, "CurrentStaleAlarm")
	for k, want := range map[string]any{
		"EvaluationPeriods":  map[string]any{"Ref": "CompactionAlarmHours"},
		"DatapointsToAlarm":  map[string]any{"Ref": "CompactionAlarmHours"},
		"TreatMissingData":   "breaching",
		"ComparisonOperator": "GreaterThanOrEqualToThreshold",
		"Threshold":          3600,
	} {
		if !reflect.DeepEqual(raw[k], want) {
			t.Errorf("CurrentStaleAlarm %s = %v, want %v", k, raw[k], want)
		}
	}
	e := newEvaluator(t, tpl, nil)
	p, err := e.eval(raw)
	if err != nil {
		t.Fatal(err)
	}
	lake := e.mustString(t, currentEnv(t, tpl)["HUBLAKE_OUT"])
	tables := map[string]bool{}
	for _, m := range alarmMetrics(t, "CurrentStaleAlarm", p.(map[string]any)) {
		if m.ns != dashboards.Namespace || m.name != "CurrentSnapshotAgeSeconds" || m.dims["Lake"] != lake {
			t.Errorf("CurrentStaleAlarm watches %s %s %v, want CurrentSnapshotAgeSeconds by Lake = %s", m.ns, m.name, m.dims, lake)
		}
		tables[m.dims["Table"]] = true
	}
	for _, table := range schema.CurrentTableNames() {
		if !tables[table] {
			t.Errorf("CurrentStaleAlarm does not watch %s's current table", table)
		}
	}
	var expr []string
	for _, m := range listOf(get(p, "Metrics")) {
		if s, ok := get(m, "Expression").(string); ok && get(m, "ReturnData") == true {
			expr = append(expr, s)
		}
	}
	if len(expr) != 1 || !strings.HasPrefix(expr[0], "MAX([") {
		t.Errorf("CurrentStaleAlarm returns %v, want the MAX of the tables' ages", expr)
	}
}

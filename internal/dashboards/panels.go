// Package dashboards defines the operator's dashboards of hublake once, as a
// list of panels, and renders it twice: as the body of the CloudWatch
// dashboard of the stack (deploy/cloudformation/hublake.yaml, between marker
// comments) from the EMF metrics the consumer and the compaction job write
// and the AWS services' own metrics, and as a Grafana dashboard
// (deploy/grafana/hublake.json) with PromQL on the consumer's hublake_*
// metrics and, for what Prometheus does not have (the AWS services', the
// compaction job's), queries of a CloudWatch data source. `go generate
// ./deploy/` writes both (deploy/internal/gendashboards).
//
// It also reads both back (CloudWatchRefs, GrafanaRefs, ParsePromQL): the
// tests of deploy/ validate their structure, and a test of cmd/hublake
// checks every metric they name against a running consumer's /metrics and
// EMF lines and the EMF line of a `hublake compact --emf` run.
package dashboards

import (
	"fmt"

	"github.com/hublake/hublake/schema"
)

// Namespace is the CloudWatch namespace of the EMF metrics of the consumer
// (cmd/hublake/metrics.go, by Stream), of the compaction job
// (cmd/hublake/compact.go, by Lake) and of the current-state refresh
// (hublake current, by Lake and Table).
const Namespace = "hublake"

// A Resource is a dimension value that names something of the stack; each
// renderer spells it its own way (a CloudFormation ${...} variable, a
// Grafana $variable).
type Resource int

const (
	Stream  Resource = iota // the Kinesis stream (the EMF dimension Stream, AWS/Kinesis StreamName)
	Rule                    // an EventBridge rule; Dim.Name names which (its name after "<AppName>-")
	DLQ                     // the EventBridge dead-letter queue
	Cluster                 // the ECS cluster
	Service                 // the ECS service
	Lake                    // the lake's URL, s3://<bucket>/<prefix> (the EMF dimension Lake of hublake compact)
	Literal                 // Dim.Value as it is
)

// Dim is one dimension of a metric.
type Dim struct {
	Name string
	Of   Resource
	// Value: the literal value (Of == Literal), or for Of == Rule the rule's
	// name without the "<AppName>-" prefix.
	Value string
}

// Metric is one series of a CloudWatch graph.
type Metric struct {
	Namespace, Name string
	Dims            []Dim
	// Stat is the statistic: Sum, Maximum, Average, SampleCount, p50, p99.
	Stat  string
	Label string
	// PerSecond plots the statistic divided by the period (Sum per second).
	PerSecond bool
	// Search plots one series per value of the dimensions named in
	// SearchDims that Dims leave open (a SEARCH expression), e.g. one line
	// per Worker.
	Search     bool
	SearchDims []string
	// RightAxis puts the series on the right axis.
	RightAxis bool
}

// Query is one series of a Grafana panel: PromQL, or (for the AWS services'
// own metrics, which Prometheus does not have) a CloudWatch metric.
type Query struct {
	PromQL string
	Legend string
	// CloudWatch is used instead of PromQL for a Grafana CloudWatch data
	// source query.
	CloudWatch *Metric
	// Unit overrides the panel's unit for this series (drawn on the right axis).
	Unit string
}

// Panel is one graph of both dashboards.
type Panel struct {
	Title string
	// Description says what the graph shows and when it matters.
	Description string
	// Unit is the Grafana unit of the graph (CloudWatch graphs have none;
	// their labels say it).
	Unit string
	// Period is the CloudWatch period in seconds (default 60).
	Period     int
	CloudWatch []Metric
	Grafana    []Query
}

// job is the Prometheus label selector every query carries (the $job
// variable of the Grafana dashboard).
const job = `{job=~"$job"}`

func sel(metric string) string { return metric + job }

// perSec is the per-second rate of a counter summed over the consumers,
// count5m its increase per 5 minutes.
func perSec(counter string) string {
	return "sum(rate(" + sel(counter) + "[$__rate_interval]))"
}

func count5m(counter string) string { return "sum(increase(" + sel(counter) + "[5m]))" }

// quantile is a quantile of a histogram over the consumers.
func quantile(q, histogram string) string {
	return "histogram_quantile(" + q + ", sum by (le) (rate(" + sel(histogram+"_bucket") + "[$__rate_interval])))"
}

// counts is a panel of counts per 5 minutes.
func counts(title, description string, cw []Metric, grafana ...Query) Panel {
	return Panel{Title: title + " (per 5 minutes)", Description: description, Unit: "short", Period: 300, CloudWatch: cw, Grafana: grafana}
}

// emf is one of the consumer's EMF metrics by Stream.
func emf(name, stat, label string) Metric {
	return Metric{Namespace: Namespace, Name: name, Dims: []Dim{{Name: "Stream", Of: Stream}}, Stat: stat, Label: label}
}

// compaction is one of the compaction job's EMF metrics by Lake, summed.
func compaction(name, label string) Metric {
	return Metric{Namespace: Namespace, Name: name, Dims: []Dim{{Name: "Lake", Of: Lake}}, Stat: "Sum", Label: label}
}

// refresh is one of the current-state refresh's EMF metrics (hublake
// current --emf) by Lake and Table, the finding table as `--table` names
// it.
func refresh(name, stat, table, label string) Metric {
	return Metric{Namespace: Namespace, Name: name, Dims: []Dim{{Name: "Lake", Of: Lake}, {Name: "Table", Of: Literal, Value: table}}, Stat: stat, Label: label}
}

// cloudWatchQueries are Grafana queries of a CloudWatch data source for
// metrics, legended by their labels; the series on the right axis are in
// rightUnit.
func cloudWatchQueries(ms []Metric, rightUnit string) []Query {
	var qs []Query
	for i := range ms {
		q := Query{CloudWatch: &ms[i], Legend: ms[i].Label}
		if ms[i].RightAxis {
			q.Unit = rightUnit
		}
		qs = append(qs, q)
	}
	return qs
}

func perSecond(m Metric) Metric { m.PerSecond = true; return m }

func right(m Metric) Metric { m.RightAxis = true; return m }

// Rules are the stack's EventBridge rules by their name after "<AppName>-".
var Rules = []string{"findings-imported", "findings-imported-v2", "findings-custom-action", "insight-results"}

// Panels are the graphs of both dashboards, in order (two per row).
func Panels() []Panel {
	kinesis := func(name, stat, label string) Metric {
		return Metric{Namespace: "AWS/Kinesis", Name: name, Dims: []Dim{{Name: "StreamName", Of: Stream}}, Stat: stat, Label: label}
	}
	ecs := func(name, label string) Metric {
		return Metric{Namespace: "AWS/ECS", Name: name, Dims: []Dim{{Name: "ClusterName", Of: Cluster}, {Name: "ServiceName", Of: Service}}, Stat: "Average", Label: label}
	}
	var rowsCW []Metric
	for _, table := range schema.TableNames() {
		m := perSecond(emf("RowsWritten", "Sum", table))
		m.Dims = append(m.Dims, Dim{Name: "Table", Of: Literal, Value: table})
		rowsCW = append(rowsCW, m)
	}
	var failed []Metric
	for _, r := range Rules {
		failed = append(failed, Metric{Namespace: "AWS/Events", Name: "FailedInvocations", Dims: []Dim{{Name: "RuleName", Of: Rule, Value: r}},
			Stat: "Sum", Label: "failed invocations: " + r})
	}
	dlq := right(Metric{Namespace: "AWS/SQS", Name: "ApproximateNumberOfMessagesVisible", Dims: []Dim{{Name: "QueueName", Of: DLQ}},
		Stat: "Maximum", Label: "events in the dead-letter queue"})
	var eventsGrafana []Query
	for i := range failed {
		eventsGrafana = append(eventsGrafana, Query{CloudWatch: &failed[i], Legend: failed[i].Label})
	}
	eventsGrafana = append(eventsGrafana, Query{CloudWatch: &dlq, Legend: dlq.Label, Unit: "short"})
	runs := []Metric{compaction("CompactionRuns", "runs"), compaction("CompactedPartitions", "partitions compacted"),
		compaction("CompactionErrors", "errors (failed partitions, runs that did not complete)")}
	replaced := []Metric{compaction("CompactedObjects", "objects replaced"), right(compaction("CompactionBytes", "bytes replaced"))}
	var age, rows []Metric
	for _, table := range schema.CurrentTableNames() {
		current := schema.CurrentName(table)
		age = append(age, refresh("CurrentSnapshotAgeSeconds", "Maximum", table, current+" (s)"))
		rows = append(rows, refresh("CurrentRows", "Maximum", table, current))
	}
	for _, table := range schema.CurrentTableNames() {
		age = append(age, right(refresh("CurrentRefreshErrors", "Sum", table, "refresh errors: "+table)))
	}
	leases := emf("LeasesHeld", "Maximum", "")
	leases.Search, leases.SearchDims = true, []string{"Stream", "Worker"}

	return []Panel{
		{
			Title:       "Records per second",
			Description: "Records the consumers read, and records arriving in the stream. Read below arriving for long means the consumers fall behind.",
			Unit:        "short",
			CloudWatch:  []Metric{perSecond(emf("Records", "Sum", "read by the consumers")), perSecond(kinesis("IncomingRecords", "Sum", "arriving in the stream"))},
			Grafana:     []Query{{PromQL: perSec("hublake_records_total"), Legend: "read by the consumers"}},
		},
		{
			Title:       "Bytes per second",
			Description: "Input bytes read from the stream and bytes of Parquet and dead-letter objects written to the lake.",
			Unit:        "Bps",
			CloudWatch:  []Metric{perSecond(emf("InputBytes", "Sum", "read")), perSecond(emf("BytesWritten", "Sum", "written to the lake"))},
			Grafana: []Query{
				{PromQL: perSec("hublake_input_bytes_total"), Legend: "read"},
				{PromQL: perSec("hublake_bytes_written_total"), Legend: "written to the lake"},
			},
		},
		{
			Title:       "Behind the tip",
			Description: "How far the consumers' last reads were behind the newest record: the largest shard's (MillisBehindLatest in CloudWatch, milliseconds; hublake_behind_latest_seconds in Prometheus), and the stream's own iterator age (milliseconds). The iterator-age alarm watches the second.",
			Unit:        "s",
			CloudWatch: []Metric{emf("MillisBehindLatest", "Maximum", "largest shard, as the consumers read it (ms)"),
				kinesis("GetRecords.IteratorAgeMilliseconds", "Maximum", "iterator age (stream, ms)")},
			Grafana: []Query{{PromQL: "max by (shard) (" + sel("hublake_behind_latest_seconds") + ")", Legend: "{{shard}}"}},
		},
		{
			Title:       "Records buffered",
			Description: "Records read but not yet durable in the lake (unflushed batches). It grows and falls with each flush window; growth without falling means flushes fail.",
			Unit:        "short",
			CloudWatch:  []Metric{emf("BufferedRecords", "Maximum", "largest worker")},
			Grafana:     []Query{{PromQL: "sum by (instance) (" + sel("hublake_buffered_records") + ")", Legend: "{{instance}}"}},
		},
		{
			Title:       "Leases held per worker",
			Description: "Shards each consumer task processes. Lease stealing evens them out within a few lease-sync intervals.",
			Unit:        "short",
			CloudWatch:  []Metric{leases},
			Grafana:     []Query{{PromQL: "sum by (instance) (" + sel("hublake_leases_held") + ")", Legend: "{{instance}}"}},
		},
		{
			Title:       "Consumer tasks",
			Description: "Consumer tasks running, from their own metrics. The task-count alarm fires when fewer run than the service's desired count.",
			Unit:        "short",
			Period:      300,
			CloudWatch:  []Metric{perSecond(emf("WorkerSeconds", "Sum", "tasks running"))},
			Grafana:     []Query{{PromQL: "count(" + sel("hublake_leases_held") + ")", Legend: "tasks running"}},
		},
		{
			Title:       "Rows written per second, per table",
			Description: "Rows the consumers made durable, per table of the lake.",
			Unit:        "short",
			CloudWatch:  rowsCW,
			Grafana:     []Query{{PromQL: "sum by (table) (rate(" + sel("hublake_rows_written_total") + "[$__rate_interval]))", Legend: "{{table}}"}},
		},
		counts("Duplicates and dead letters", "Rows dropped as duplicate deliveries (EventBridge retries), and units that could not become rows (dead_letters/ in the lake says why).",
			[]Metric{emf("Duplicates", "Sum", "duplicates dropped"), emf("DeadLetters", "Sum", "dead letters")},
			Query{PromQL: count5m("hublake_duplicates_total"), Legend: "duplicates dropped"}, Query{PromQL: count5m("hublake_dead_letters_total"), Legend: "dead letters"}),
		counts("Checkpoint failures", "Checkpoints that could not be written: a lease lost to another worker now and then, the lease table unreachable when they persist.",
			[]Metric{emf("CheckpointFailures", "Sum", "checkpoint failures")},
			Query{PromQL: count5m("hublake_checkpoint_failures_total"), Legend: "checkpoint failures"}),
		{
			Title:       "Flush duration",
			Description: "Time to write one batch's objects and checkpoint it.",
			Unit:        "s",
			CloudWatch: []Metric{emf("FlushDuration", "p50", "median (ms)"), emf("FlushDuration", "p99", "p99 (ms)"),
				emf("FlushDuration", "Maximum", "slowest (ms)")},
			Grafana: []Query{
				{PromQL: quantile("0.5", "hublake_flush_duration_seconds"), Legend: "median"},
				{PromQL: quantile("0.99", "hublake_flush_duration_seconds"), Legend: "p99"},
			},
		},
		counts("Store errors and retries", "S3 requests the SDK retried (throttling, 5xx, dropped connections), and batch writes that still failed: those block their shard until the store takes them.",
			[]Metric{emf("StoreRetries", "Sum", "requests retried"), emf("StoreErrors", "Sum", "batch writes failed")},
			Query{PromQL: count5m("hublake_store_retries_total"), Legend: "requests retried"}, Query{PromQL: count5m("hublake_store_errors_total"), Legend: "batch writes failed"}),
		counts("GetRecords throttling", "GetRecords calls refused because the shards' read throughput was exceeded (by every consumer of the stream).",
			[]Metric{kinesis("ReadProvisionedThroughputExceeded", "Sum", "throttled GetRecords")},
			Query{PromQL: count5m("hublake_kinesis_throttles_total"), Legend: "throttled Kinesis requests"}),
		{
			Title:       "EventBridge: failed invocations and dead-letter queue",
			Description: "Events the rules could not put into the stream after their retries, and what waits in the dead-letter queue for a redrive.",
			Unit:        "short",
			Period:      300,
			CloudWatch:  append(failed, dlq),
			Grafana:     eventsGrafana,
		},
		{
			Title:       "CPU and memory",
			Description: "The consumer tasks' CPU and memory, as a share of the task size (ECS) or in cores and bytes (Prometheus).",
			Unit:        "short",
			CloudWatch:  []Metric{ecs("CPUUtilization", "CPU (% of the task)"), ecs("MemoryUtilization", "memory (% of the task)")},
			Grafana: []Query{
				{PromQL: "sum by (instance) (rate(" + sel("process_cpu_seconds_total") + "[$__rate_interval]))", Legend: "CPU cores {{instance}}"},
				{PromQL: "sum by (instance) (" + sel("process_resident_memory_bytes") + ")", Legend: "memory {{instance}}", Unit: "bytes"},
			},
		},
		{
			Title: "Compaction runs (per hour)",
			Description: "Runs of `hublake compact` on the lake (each run counts once, whether it found anything to compact or not), the partitions they compacted, " +
				"and their errors: failed partitions (left as they were, tried again next run) and runs that could not complete. " +
				"No run for CompactionAlarmHours trips the compaction-not-running alarm, any error the compaction-errors alarm. " +
				"The job runs once per schedule tick and has no /metrics: these come from its EMF line, by the CloudWatch data source, for the lake in $lake.",
			Unit:       "short",
			Period:     3600,
			CloudWatch: runs,
			Grafana:    cloudWatchQueries(runs, ""),
		},
		{
			Title:       "Compaction: objects and bytes replaced (per hour)",
			Description: "Small batch objects the runs replaced with compacted ones, and their bytes (right axis).",
			Unit:        "short",
			Period:      3600,
			CloudWatch:  replaced,
			Grafana:     cloudWatchQueries(replaced, "bytes"),
		},
		{
			Title: "Current-state tables: snapshot age",
			Description: "How far each current-state table (findings_current, ocsf_findings_current) is behind the history: the time since the listing of the last `hublake current` run that brought it up to date (a run with nothing new does too), as each run reports it at its end; " +
				"and failed refreshes (right axis). Runs on compaction's schedule: an age that grows past three periods trips the current-stale alarm. From the runs' EMF lines, by the CloudWatch data source, for the lake in $lake.",
			Unit:       "s",
			Period:     3600,
			CloudWatch: age,
			Grafana:    cloudWatchQueries(age, "short"),
		},
		{
			Title:       "Current-state tables: rows",
			Description: "Rows of each current table's committed snapshot: the live findings (one row per finding, less what retention drops). It follows the live set, not the history.",
			Unit:        "short",
			Period:      3600,
			CloudWatch:  rows,
			Grafana:     cloudWatchQueries(rows, ""),
		},
	}
}

// String describes a metric for error messages.
func (m Metric) String() string { return fmt.Sprintf("%s %s %v", m.Namespace, m.Name, m.Dims) }

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// The consumer's metrics, in two forms that name the same quantities:
// Prometheus (/metrics, names hublake_*) and CloudWatch Embedded Metric
// Format lines on stdout (--emf: namespace "hublake", dimension Stream, for
// Fargate, which has no Prometheus scraper). The dashboards in deploy/
// (internal/dashboards) are built from these names, and a test of this
// package checks every name they use against a running consumer.
//
//	quantity                          Prometheus                              EMF (per --emf-interval)
//	records read                      hublake_records_total                   Records
//	input bytes read                  hublake_input_bytes_total               InputBytes
//	rows written, per table           hublake_rows_written_total{table}       RowsWritten, dimensions Stream, Table
//	duplicates dropped                hublake_duplicates_total                Duplicates
//	dead letters written              hublake_dead_letters_total              DeadLetters
//	bytes of objects written          hublake_bytes_written_total             BytesWritten
//	checkpoint failures               hublake_checkpoint_failures_total       CheckpointFailures
//	batch writes the store refused    hublake_store_errors_total              StoreErrors
//	store requests the SDK retried    hublake_store_retries_total             StoreRetries
//	throttled Kinesis requests        hublake_kinesis_throttles_total         (AWS/Kinesis ReadProvisionedThroughputExceeded)
//	flush duration                    hublake_flush_duration_seconds          FlushDuration (milliseconds, every flush)
//	how far behind the tip            hublake_behind_latest_seconds{shard}    MillisBehindLatest (the largest shard's, ms)
//	records read, not yet durable     hublake_buffered_records                BufferedRecords
//	leases held                       hublake_leases_held                     LeasesHeld; also dimensions Stream, Worker
//	workers running                   (one target per worker)                 WorkerSeconds (Sum / period = workers)
//	the binary's version              hublake_build_info{version,revision,goversion}
//
// Counters are totals in Prometheus and deltas since the previous line in
// EMF; gauges are the value at the time of the line. Prometheus names follow
// its conventions: base units (seconds, bytes), _total for counters, one
// series per quantity (rows per table are hublake_rows_written_total{table};
// the hublake_findings_total and hublake_insight_results_total of earlier
// versions said the same and are gone). EMF names follow CloudWatch's, whose
// metrics carry their unit (MillisBehindLatest, as the KCL and Kinesis'
// own IteratorAgeMilliseconds).

// metrics are the consumer's Prometheus metrics. The pipeline's counters
// live in pipeline.Stats; this exports them, plus what only the stream
// knows (leases, buffered records, lag per shard), which it is told as the
// stream's stream.Observer.
type metrics struct {
	reg          *prometheus.Registry
	stats        *pipeline.Stats
	flushSeconds prometheus.Histogram
	behind       *prometheus.GaugeVec
	stream       interface {
		Leases() int
		Buffered() int64
	}

	mu        sync.Mutex
	behindMax map[string]int64
	// flushMillis are the flush durations since the last EMF line.
	flushMillis []float64
}

// maxFlushSamples bounds the flush durations kept between two EMF lines
// (more are dropped: thousands of flushes a minute are not what a consumer
// does).
const maxFlushSamples = 10000

func newMetrics(stats *pipeline.Stats) *metrics {
	m := &metrics{
		reg:   prometheus.NewRegistry(),
		stats: stats,
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hublake_flush_duration_seconds",
			Help:    "Time to write one batch's objects and checkpoint it.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		behind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hublake_behind_latest_seconds",
			Help: "How far the last read of each shard was behind the tip of the stream (Kinesis' MillisBehindLatest, in seconds).",
		}, []string{"shard"}),
		behindMax: map[string]int64{},
	}
	stats.OnFlushDuration = m.observeFlush
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	m.reg.MustRegister(
		buildVersion().collector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		counter("hublake_records_total", "Input units (Kinesis records) read.", stats.Units.Load),
		counter("hublake_input_bytes_total", "Bytes of input units read.", stats.BytesIn.Load),
		counter("hublake_duplicates_total", "Rows dropped as duplicate deliveries.", stats.Duplicates.Load),
		counter("hublake_dead_letters_total", "Units or findings written to dead_letters/.", stats.DeadLetters.Load),
		counter("hublake_unreadable_values_total", "Values of the wrong JSON type stored as NULL.", stats.Unreadable.Load),
		counter("hublake_objects_written_total", "Objects written (Parquet and dead letters).", stats.Objects.Load),
		counter("hublake_bytes_written_total", "Bytes of objects written.", stats.BytesOut.Load),
		counter("hublake_batches_total", "Batches flushed and checkpointed.", stats.Batches.Load),
		counter("hublake_checkpoint_failures_total", "Checkpoint writes that failed (including lost leases).", stats.CheckpointFailures.Load),
		counter("hublake_store_errors_total", "Batch writes the store refused after the SDK's retries (the batch is written again; its shard waits).", stats.StoreErrors.Load),
		counter("hublake_store_retries_total", "Store (S3) requests the AWS SDK retried: throttling, 5xx, dropped connections.", stats.StoreRetries.Load),
		counter("hublake_kinesis_throttles_total", "Kinesis requests refused for throttling (GetRecords' ProvisionedThroughputExceeded).", stats.KinesisThrottles.Load),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hublake_leases_held", Help: "Shard leases this worker processes."}, func() float64 { return float64(m.leases()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hublake_buffered_records", Help: "Records read but not yet durable in the lake (unflushed batches)."}, func() float64 { return float64(m.buffered()) }),
		m.flushSeconds, m.behind,
	)
	for _, t := range schema.Tables() {
		rows := stats.Rows(t)
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "hublake_rows_written_total",
			Help:        "Rows written, per table.",
			ConstLabels: prometheus.Labels{"table": t.Name()},
		}, func() float64 { return float64(rows.Load()) }))
	}
	return m
}

func (m *metrics) observeFlush(d time.Duration) {
	m.flushSeconds.Observe(d.Seconds())
	m.mu.Lock()
	if len(m.flushMillis) < maxFlushSamples {
		m.flushMillis = append(m.flushMillis, float64(d.Microseconds())/1000)
	}
	m.mu.Unlock()
}

// takeFlushes returns the flush durations since the last call.
func (m *metrics) takeFlushes() []float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.flushMillis
	m.flushMillis = nil
	return out
}

// bind gives the metrics the stream whose leases and buffer they export.
func (m *metrics) bind(st interface {
	Leases() int
	Buffered() int64
}) {
	m.mu.Lock()
	m.stream = st
	m.mu.Unlock()
}

func (m *metrics) leases() int {
	m.mu.Lock()
	st := m.stream
	m.mu.Unlock()
	if st == nil {
		return 0
	}
	return st.Leases()
}

func (m *metrics) buffered() int64 {
	m.mu.Lock()
	st := m.stream
	m.mu.Unlock()
	if st == nil {
		return 0
	}
	return st.Buffered()
}

// ShardBehind implements stream.Observer.
func (m *metrics) ShardBehind(shard string, millis int64) { m.setBehind(shard, millis) }

// ShardReleased implements stream.Observer.
func (m *metrics) ShardReleased(shard string) { m.dropShard(shard) }

func (m *metrics) setBehind(shard string, millis int64) {
	m.behind.WithLabelValues(shard).Set(float64(millis) / 1000)
	m.mu.Lock()
	m.behindMax[shard] = millis
	m.mu.Unlock()
}

func (m *metrics) dropShard(shard string) {
	m.behind.DeleteLabelValues(shard)
	m.mu.Lock()
	delete(m.behindMax, shard)
	m.mu.Unlock()
}

func (m *metrics) maxBehind() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var most int64
	for _, v := range m.behindMax {
		most = max(most, v)
	}
	return most
}

// countAttempts counts what the SDK's retryer did into stats: the retried
// requests of the store's S3 client, and the throttled requests of the
// Kinesis client (the KCL's GetRecords and ListShards).
func countAttempts(s *pipeline.Stats) func(*middleware.Stack) error {
	return awsconf.CountAttempts(func(a awsconf.Attempts) {
		switch a.Service {
		case "S3":
			s.StoreRetries.Add(int64(a.Retries))
		case "Kinesis":
			s.KinesisThrottles.Add(int64(a.Throttles))
		}
	})
}

// emitEMF writes a set of EMF lines every interval until ctx ends.
func (m *metrics) emitEMF(ctx context.Context, w io.Writer, stream, worker string, interval time.Duration, log *slog.Logger) {
	e := newEMF(w, stream, worker, m)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := e.emit(now); err != nil {
				log.Warn("cannot write EMF metrics", "err", err)
			}
		}
	}
}

// The EMF namespace (deploy/'s alarms and dashboard use it).
const (
	emfNamespace = "hublake"
	// emfMaxValues is the most values one EMF metric may carry in one line.
	emfMaxValues = 100
)

// emf writes the key metrics as CloudWatch Embedded Metric Format lines, one
// set per interval, with the counters as deltas: on Fargate there is no
// Prometheus scraper, and awslogs turns these lines into CloudWatch metrics.
// A set is one line of the stream's metrics (dimension Stream, and
// LeasesHeld also by Stream and Worker), one line per table (RowsWritten by
// Stream and Table), and, when there were more than 100 flushes, more
// lines of FlushDuration values.
type emf struct {
	w      io.Writer
	stream string
	worker string
	m      *metrics
	last   map[string]int64
	lastAt time.Time
}

func newEMF(w io.Writer, stream, worker string, m *metrics) *emf {
	return &emf{w: w, stream: stream, worker: worker, m: m, last: map[string]int64{}, lastAt: time.Now()}
}

// emfMetric is a metric definition of an EMF directive.
type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// emfCounters are the counters of the stream line, in order, with units.
var emfCounters = []emfMetric{
	{"Records", "Count"}, {"InputBytes", "Bytes"}, {"BytesWritten", "Bytes"}, {"Duplicates", "Count"},
	{"DeadLetters", "Count"}, {"CheckpointFailures", "Count"}, {"StoreErrors", "Count"}, {"StoreRetries", "Count"},
}

func (e *emf) emit(now time.Time) error {
	s := e.m.stats
	totals := map[string]int64{
		"Records":            s.Units.Load(),
		"InputBytes":         s.BytesIn.Load(),
		"BytesWritten":       s.BytesOut.Load(),
		"Duplicates":         s.Duplicates.Load(),
		"DeadLetters":        s.DeadLetters.Load(),
		"CheckpointFailures": s.CheckpointFailures.Load(),
		"StoreErrors":        s.StoreErrors.Load(),
		"StoreRetries":       s.StoreRetries.Load(),
	}
	line := map[string]any{"Stream": e.stream, "Worker": e.worker}
	defs := make([]emfMetric, 0, len(emfCounters)+5)
	for _, c := range emfCounters {
		defs = append(defs, c)
		line[c.Name] = totals[c.Name] - e.last[c.Name]
		e.last[c.Name] = totals[c.Name]
	}
	defs = append(defs,
		emfMetric{"MillisBehindLatest", "Milliseconds"},
		emfMetric{"BufferedRecords", "Count"},
		emfMetric{"LeasesHeld", "Count"},
		emfMetric{"WorkerSeconds", "Seconds"},
	)
	line["MillisBehindLatest"] = e.m.maxBehind()
	line["BufferedRecords"] = e.m.buffered()
	line["LeasesHeld"] = e.m.leases()
	// The seconds this line covers: summed over a period and divided by it,
	// the number of workers that were running.
	line["WorkerSeconds"] = max(now.Sub(e.lastAt), 0).Seconds()
	e.lastAt = now
	flushes := e.m.takeFlushes()
	if len(flushes) > 0 {
		n := min(len(flushes), emfMaxValues)
		defs = append(defs, emfMetric{"FlushDuration", "Milliseconds"})
		line["FlushDuration"] = flushes[:n]
		flushes = flushes[n:]
	}
	if err := e.write(now, line, emfDirective([]string{"Stream"}, defs...), emfDirective([]string{"Stream", "Worker"}, emfMetric{"LeasesHeld", "Count"})); err != nil {
		return err
	}
	for len(flushes) > 0 {
		n := min(len(flushes), emfMaxValues)
		if err := e.write(now, map[string]any{"Stream": e.stream, "FlushDuration": flushes[:n]},
			emfDirective([]string{"Stream"}, emfMetric{"FlushDuration", "Milliseconds"})); err != nil {
			return err
		}
		flushes = flushes[n:]
	}
	for _, t := range schema.Tables() {
		key := "RowsWritten/" + t.Name()
		total := s.Rows(t).Load()
		rows := total - e.last[key]
		e.last[key] = total
		if err := e.write(now, map[string]any{"Stream": e.stream, "Table": t.Name(), "RowsWritten": rows},
			emfDirective([]string{"Stream", "Table"}, emfMetric{"RowsWritten", "Count"})); err != nil {
			return err
		}
	}
	return nil
}

// emfDirective is one CloudWatchMetrics entry: metrics by one dimension set.
func emfDirective(dims []string, ms ...emfMetric) map[string]any {
	return map[string]any{"Namespace": emfNamespace, "Dimensions": [][]string{dims}, "Metrics": ms}
}

func (e *emf) write(now time.Time, line map[string]any, directives ...map[string]any) error {
	line["_aws"] = map[string]any{"Timestamp": now.UnixMilli(), "CloudWatchMetrics": directives}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("encode EMF line: %w", err)
	}
	if _, err := e.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write EMF line: %w", err)
	}
	return nil
}

package main

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hublake/hublake/processor"
)

// metrics are the consumer's Prometheus metrics. The pipeline's counters
// live in processor.Stats; this exports them, plus what only the service
// knows (leases, lag per shard, checkpoint failures).
type metrics struct {
	reg                *prometheus.Registry
	stats              *processor.Stats
	flushSeconds       prometheus.Histogram
	behind             *prometheus.GaugeVec
	checkpointFailures prometheus.Counter
	leases             func() int

	mu        sync.Mutex
	behindMax map[string]int64
}

func newMetrics(stats *processor.Stats, leases func() int, buffered func() int64) *metrics {
	m := &metrics{
		reg:   prometheus.NewRegistry(),
		stats: stats,
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hublake_flush_duration_seconds",
			Help:    "Time to write one batch's objects and checkpoint it.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		behind: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hublake_millis_behind_latest",
			Help: "How far the last read of each shard was behind the tip of the stream.",
		}, []string{"shard"}),
		checkpointFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hublake_checkpoint_failures_total",
			Help: "Checkpoint writes that failed (including lost leases).",
		}),
		leases:    leases,
		behindMax: map[string]int64{},
	}
	stats.OnFlushDuration = func(d time.Duration) { m.flushSeconds.Observe(d.Seconds()) }
	counter := func(name, help string, v func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		counter("hublake_records_total", "Input units (Kinesis records) read.", stats.Units.Load),
		counter("hublake_input_bytes_total", "Bytes of input units read.", stats.BytesIn.Load),
		counter("hublake_findings_total", "Finding rows written.", stats.Findings.Load),
		counter("hublake_insight_results_total", "Insight result rows written.", stats.InsightResults.Load),
		counter("hublake_rows_written_total", "Rows written, both tables.", func() int64 { return stats.Findings.Load() + stats.InsightResults.Load() }),
		counter("hublake_duplicates_total", "Rows dropped as duplicate deliveries.", stats.Duplicates.Load),
		counter("hublake_dead_letters_total", "Units or findings written to dead_letters/.", stats.DeadLetters.Load),
		counter("hublake_unreadable_values_total", "Values of the wrong JSON type stored as NULL.", stats.Unreadable.Load),
		counter("hublake_objects_written_total", "Objects written (Parquet and dead letters).", stats.Objects.Load),
		counter("hublake_bytes_written_total", "Bytes of objects written.", stats.BytesOut.Load),
		counter("hublake_batches_total", "Batches flushed and checkpointed.", stats.Batches.Load),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hublake_leases_held", Help: "Shard leases this worker processes."}, func() float64 { return float64(leases()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hublake_buffered_records", Help: "Records read but not yet durable in the lake (unflushed batches)."}, func() float64 { return float64(buffered()) }),
		m.flushSeconds, m.behind, m.checkpointFailures,
	)
	return m
}

func (m *metrics) setBehind(shard string, millis int64) {
	m.behind.WithLabelValues(shard).Set(float64(millis))
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

// emf writes the key metrics as CloudWatch Embedded Metric Format lines, one
// per interval, with the counters as deltas: on Fargate there is no
// Prometheus scraper, and awslogs turns these lines into CloudWatch metrics.
type emf struct {
	w      io.Writer
	stream string
	m      *metrics
	failed func() int64
	last   map[string]int64
}

func (e *emf) emit(now time.Time) error {
	s := e.m.stats
	totals := map[string]int64{
		"Records":            s.Units.Load(),
		"Findings":           s.Findings.Load(),
		"InsightResults":     s.InsightResults.Load(),
		"Duplicates":         s.Duplicates.Load(),
		"DeadLetters":        s.DeadLetters.Load(),
		"BytesWritten":       s.BytesOut.Load(),
		"CheckpointFailures": e.failed(),
	}
	if e.last == nil {
		e.last = map[string]int64{}
	}
	type metricDef struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	defs := []metricDef{}
	line := map[string]any{"Stream": e.stream}
	for _, name := range []string{"Records", "Findings", "InsightResults", "Duplicates", "DeadLetters", "BytesWritten", "CheckpointFailures"} {
		unit := "Count"
		if name == "BytesWritten" {
			unit = "Bytes"
		}
		defs = append(defs, metricDef{name, unit})
		line[name] = totals[name] - e.last[name]
		e.last[name] = totals[name]
	}
	defs = append(defs, metricDef{"MillisBehindLatest", "Milliseconds"}, metricDef{"LeasesHeld", "Count"})
	line["MillisBehindLatest"] = e.m.maxBehind()
	line["LeasesHeld"] = e.m.leases()
	line["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "hublake",
			"Dimensions": [][]string{{"Stream"}},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = e.w.Write(append(b, '\n'))
	return err
}

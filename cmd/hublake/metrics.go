package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hublake/hublake/processor"
)

// metrics are the consumer's Prometheus metrics. The pipeline's counters
// live in processor.Stats; this exports them, plus what only the stream
// knows (leases, buffered records, lag per shard), which it is told as the
// stream's processor.Observer.
type metrics struct {
	reg          *prometheus.Registry
	stats        *processor.Stats
	flushSeconds prometheus.Histogram
	behind       *prometheus.GaugeVec
	stream       interface {
		Leases() int
		Buffered() int64
	}

	mu        sync.Mutex
	behindMax map[string]int64
}

func newMetrics(stats *processor.Stats) *metrics {
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
		counter("hublake_checkpoint_failures_total", "Checkpoint writes that failed (including lost leases).", stats.CheckpointFailures.Load),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hublake_leases_held", Help: "Shard leases this worker processes."}, func() float64 { return float64(m.leases()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hublake_buffered_records", Help: "Records read but not yet durable in the lake (unflushed batches)."}, func() float64 { return float64(m.buffered()) }),
		m.flushSeconds, m.behind,
	)
	return m
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

// ShardBehind implements processor.Observer.
func (m *metrics) ShardBehind(shard string, millis int64) { m.setBehind(shard, millis) }

// ShardReleased implements processor.Observer.
func (m *metrics) ShardReleased(shard string) { m.dropShard(shard) }

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

// emitEMF writes an EMF line every interval until ctx ends.
func (m *metrics) emitEMF(ctx context.Context, w io.Writer, stream string, interval time.Duration, log *slog.Logger) {
	e := &emf{w: w, stream: stream, m: m}
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

// emf writes the key metrics as CloudWatch Embedded Metric Format lines, one
// per interval, with the counters as deltas: on Fargate there is no
// Prometheus scraper, and awslogs turns these lines into CloudWatch metrics.
type emf struct {
	w      io.Writer
	stream string
	m      *metrics
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
		"CheckpointFailures": s.CheckpointFailures.Load(),
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

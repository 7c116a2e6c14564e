package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/stream"
)

type consumeCmd struct {
	// The consumer's objects are rewritten by the next compaction: they
	// are written with the codec cheapest in CPU (encode.StreamCodec).
	storeFlags       `set:"codec=${stream_codec}"`
	Stream           string        `help:"Kinesis stream the EventBridge rule writes to." required:""`
	App              string        `help:"KCL application name; it names the DynamoDB lease table." required:""`
	WorkerID         string        `name:"worker-id" help:"Unique id of this worker (default: the ECS task id, else hostname and pid)."`
	InitialPosition  string        `help:"Where a shard without a checkpoint starts: TRIM_HORIZON, LATEST or AT_TIMESTAMP." default:"${initial_position}" enum:"TRIM_HORIZON,LATEST,AT_TIMESTAMP"`
	InitialTimestamp string        `help:"With AT_TIMESTAMP: the RFC 3339 time to start at."`
	KinesisEndpoint  string        `name:"kinesis-endpoint" help:"Kinesis endpoint URL (a local stack)."`
	DynamodbEndpoint string        `name:"dynamodb-endpoint" help:"DynamoDB endpoint URL (a local stack)."`
	FlushRecords     int           `help:"Cut a shard's batch after this many records." default:"${flush_records}"`
	FlushBytes       byteSize      `help:"Cut a shard's batch before it holds more than this much input; the memory budget is about leases × (${batch_factor} × this + 2 × --max-unit-bytes + ${budget_fixed_mib} MiB) + ${budget_base_mib} MiB." default:"${flush_bytes}"`
	FlushWindow      time.Duration `help:"Cut a shard's batch when record arrival time leaves the window it opened; an idle shard's window is flushed once past." default:"${stream_window}"`
	MetricsAddr      string        `help:"Address of the HTTP server for /metrics, /healthz and /readyz." default:"${metrics_addr}"`
	EMF              bool          `name:"emf" help:"Also write the key metrics as CloudWatch Embedded Metric Format lines to stdout."`
	EMFInterval      time.Duration `name:"emf-interval" help:"Interval of the EMF lines." default:"60s"`
	ShardSync        time.Duration `help:"Interval between shard syncs; the KCL takes at most one new lease per sync." default:"${shard_sync}"`
	LeaseDuration    time.Duration `help:"Lease duration: a worker that stops renewing loses its shards after this long." default:"${lease_duration}"`
	LeaseStealing    bool          `help:"Balance shards across workers by stealing leases." default:"true" negatable:""`
	LeaseSync        time.Duration `help:"Interval between lease table syncs for lease stealing." default:"${lease_sync}"`
	MaxLeases        int           `help:"Maximum shards this worker processes (0: no limit)."`
	EnhancedFanOut   bool          `name:"enhanced-fan-out" help:"Use enhanced fan-out (SubscribeToShard) instead of polling. Untested against local emulators."`
	ShutdownTimeout  time.Duration `help:"On SIGTERM, how long to wait for batches to be flushed and checkpointed." default:"${shutdown_timeout}"`
}

// Validate checks the lake and the batch limits before any work.
func (c *consumeCmd) Validate() error {
	if err := c.lakeFlags.Validate(); err != nil {
		return err
	}
	return c.policy(c.FlushRecords, c.FlushBytes, c.FlushWindow).Validate()
}

func (c *consumeCmd) Run(ctx context.Context, g *globals) error {
	log := g.logger.With("stream", c.Stream, "app", c.App)
	setContainerMemoryLimit(log)
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID(ctx)
	}
	log = log.With("worker", c.WorkerID)
	var initialTime time.Time
	if c.InitialPosition == "AT_TIMESTAMP" {
		t, err := time.Parse(time.RFC3339, c.InitialTimestamp)
		if err != nil {
			return usagef("--initial-timestamp must be an RFC 3339 time with AT_TIMESTAMP: %w", err)
		}
		initialTime = t
	}
	awsConf, err := awsconf.Load(ctx, awsconf.Options{Region: c.Region, RequireRegion: true, Logger: log})
	if err != nil {
		return err
	}
	stats := &pipeline.Stats{}
	awsConf.APIOptions = append(awsConf.APIOptions, countAttempts(stats))
	store, err := c.open(ctx, awsConf, false)
	if err != nil {
		return err
	}
	m := newMetrics(stats)
	routeKCLLogs(log)
	st, err := stream.New(stream.Config{
		Stream: c.Stream, App: c.App, WorkerID: c.WorkerID,
		AWS: awsConf, KinesisEndpoint: c.KinesisEndpoint, DynamoDBEndpoint: c.DynamodbEndpoint,
		InitialPosition: c.InitialPosition, InitialTimestamp: initialTime,
		Policy: c.policy(c.FlushRecords, c.FlushBytes, c.FlushWindow), Encode: c.encodeOptions(),
		Store: store, Stats: stats, Logger: log, Observer: m,
		ShardSync: c.ShardSync, LeaseDuration: c.LeaseDuration, LeaseStealing: c.LeaseStealing,
		LeaseSync: c.LeaseSync, MaxLeases: c.MaxLeases, EnhancedFanOut: c.EnhancedFanOut,
		ShutdownTimeout: c.ShutdownTimeout, CrashHook: crashHookFromEnv(),
	})
	if err != nil {
		return err
	}
	m.bind(st)

	// Health and metrics first, so that the container is alive while the
	// worker starts.
	var started, storeOK atomic.Bool
	srv, err := c.serveHTTP(log, m, &started, &storeOK)
	if err != nil {
		return err
	}
	defer srv.Close()
	go watchStore(ctx, store, &storeOK, log)
	if c.EMF {
		go m.emitEMF(ctx, os.Stdout, c.Stream, c.WorkerID, c.EMFInterval, log)
	}
	return st.Run(ctx, func() {
		started.Store(true)
		log.Info("consuming", "out", store.String(), "initial_position", c.InitialPosition, "flush_records", c.FlushRecords,
			"flush_bytes", int64(c.FlushBytes), "flush_window", c.FlushWindow.String())
	})
}

func (c *consumeCmd) serveHTTP(log *slog.Logger, m *metrics, started, storeOK *atomic.Bool) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case !started.Load():
			http.Error(w, "worker starting", http.StatusServiceUnavailable)
		case !storeOK.Load():
			http.Error(w, "store not reachable", http.StatusServiceUnavailable)
		default:
			fmt.Fprintf(w, "ready: %d leases\n", m.leases())
		}
	})
	ln, err := net.Listen("tcp", c.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on --metrics-addr %s: %w", c.MetricsAddr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server failed", "err", err)
		}
	}()
	return srv, nil
}

// watchStore keeps the readiness flag of the store up to date.
func watchStore(ctx context.Context, store objstore.Store, ok *atomic.Bool, log *slog.Logger) {
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := store.Ping(pctx)
		cancel()
		if err != nil && ok.Load() {
			log.Warn("store not reachable", "err", err)
		}
		ok.Store(err == nil)
		select {
		case <-ctx.Done():
			return
		case <-time.After(30 * time.Second):
		}
	}
}

// defaultWorkerID is the ECS task id when running on ECS (from the task
// metadata endpoint), else hostname-pid.
func defaultWorkerID(ctx context.Context) string {
	if uri := os.Getenv("ECS_CONTAINER_METADATA_URI_V4"); uri != "" {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, uri+"/task", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			defer resp.Body.Close()
			var meta struct {
				TaskARN string `json:"TaskARN"`
			}
			if json.NewDecoder(resp.Body).Decode(&meta) == nil && meta.TaskARN != "" {
				return meta.TaskARN[strings.LastIndex(meta.TaskARN, "/")+1:]
			}
		}
	}
	host, _ := os.Hostname()
	return host + "-" + strconv.Itoa(os.Getpid())
}

// setContainerMemoryLimit sets GOMEMLIMIT to 90 % of the container's memory
// limit (cgroup v2), unless GOMEMLIMIT is set: the consumer's batches are
// bounded per shard (pipeline.MemoryBudget per lease held), and the GC
// should work harder before the task is killed.
func setContainerMemoryLimit(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return
	}
	debug.SetMemoryLimit(n / 10 * 9)
	log.Info("memory limit set from the container", "gomemlimit_bytes", n/10*9)
}

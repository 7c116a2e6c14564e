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

	"github.com/aws/aws-sdk-go-v2/aws"
	awscfg "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
	kclcfg "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	"github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"
	kcllog "github.com/vmware/vmware-go-kcl-v2/logger"

	"github.com/hublake/hublake/processor"
	"github.com/hublake/hublake/sinks"
)

type consumeCmd struct {
	storeFlags
	Stream           string        `help:"Kinesis stream the EventBridge rule writes to." required:""`
	App              string        `help:"KCL application name; it names the DynamoDB lease table." required:""`
	WorkerID         string        `name:"worker-id" help:"Unique id of this worker (default: the ECS task id, else hostname and pid)."`
	InitialPosition  string        `help:"Where a shard without a checkpoint starts: TRIM_HORIZON, LATEST or AT_TIMESTAMP." default:"TRIM_HORIZON" enum:"TRIM_HORIZON,LATEST,AT_TIMESTAMP"`
	InitialTimestamp string        `help:"With AT_TIMESTAMP: the RFC 3339 time to start at."`
	KinesisEndpoint  string        `name:"kinesis-endpoint" help:"Kinesis endpoint URL (a local stack)."`
	DynamodbEndpoint string        `name:"dynamodb-endpoint" help:"DynamoDB endpoint URL (a local stack)."`
	FlushRecords     int           `help:"Cut a shard's batch after this many records." default:"100000"`
	FlushBytes       byteSize      `help:"Cut a shard's batch before it holds more than this much input; memory is about leases × this × 3." default:"16MiB"`
	FlushWindow      time.Duration `help:"Cut a shard's batch when record arrival time leaves the window it opened; an idle shard's window is flushed once past." default:"60s"`
	MetricsAddr      string        `help:"Address of the HTTP server for /metrics, /healthz and /readyz." default:":9090"`
	EMF              bool          `name:"emf" help:"Also write the key metrics as CloudWatch Embedded Metric Format lines to stdout."`
	EMFInterval      time.Duration `name:"emf-interval" help:"Interval of the EMF lines." default:"60s"`
	ShardSync        time.Duration `help:"Interval between shard syncs; the KCL takes at most one new lease per sync." default:"10s"`
	LeaseDuration    time.Duration `help:"Lease duration: a worker that stops renewing loses its shards after this long." default:"20s"`
	LeaseStealing    bool          `help:"Balance shards across workers by stealing leases." default:"true" negatable:""`
	LeaseSync        time.Duration `help:"Interval between lease table syncs for lease stealing." default:"30s"`
	MaxLeases        int           `help:"Maximum shards this worker processes (0: no limit)."`
	EnhancedFanOut   bool          `name:"enhanced-fan-out" help:"Use enhanced fan-out (SubscribeToShard) instead of polling. Untested against local emulators."`
	ShutdownTimeout  time.Duration `help:"On SIGTERM, how long to wait for batches to be flushed and checkpointed." default:"20s"`
}

func (c *consumeCmd) policy() processor.Policy {
	return c.storeFlags.policy(c.FlushRecords, c.FlushBytes, c.FlushWindow)
}

func (c *consumeCmd) Run(ctx context.Context, g *globals) error {
	log := g.logger.With("stream", c.Stream, "app", c.App)
	setContainerMemoryLimit(log)
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID(ctx)
	}
	log = log.With("worker", c.WorkerID)

	awsConf, err := c.awsConfig(ctx)
	if err != nil {
		return err
	}
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(awsConf, func(o *dynamodb.Options) {
		if c.DynamodbEndpoint != "" {
			o.BaseEndpoint = aws.String(c.DynamodbEndpoint)
		}
	})

	kcfg, err := c.kclConfig(awsConf, log)
	if err != nil {
		return err
	}
	stats := &processor.Stats{}
	consumer := processor.NewConsumer(processor.ConsumerConfig{
		Stream:    c.Stream,
		Policy:    c.policy(),
		Encode:    sinks.EncodeOptions{Codec: c.Codec},
		Store:     store,
		Stats:     stats,
		Logger:    log,
		CrashHook: crashHookFromEnv(),
	})
	// The KCL reads through this client; GuardAggregated keeps records it
	// cannot de-aggregate from costing the page they came in (or a panic).
	kc := kinesis.NewFromConfig(awsConf, func(o *kinesis.Options) {
		if c.KinesisEndpoint != "" {
			o.BaseEndpoint = aws.String(c.KinesisEndpoint)
		}
	}, consumer.GuardAggregated)
	m := newMetrics(stats, func() int { return len(consumer.Shards()) }, consumer.Buffered)
	consumer.SetBehind(m.setBehind)
	var checkpointFailures atomic.Int64
	leases := processor.NewLeases(db, kcfg, log, func(shard string) {
		consumer.LeaseLost(shard)
		m.dropShard(shard)
	}, func() {
		checkpointFailures.Add(1)
		m.checkpointFailures.Inc()
	})
	consumer.SetLeases(leases)

	// Health and metrics first, so that the container is alive while the
	// worker starts.
	var started, storeOK atomic.Bool
	srv, err := c.serveHTTP(log, m, &started, &storeOK)
	if err != nil {
		return err
	}
	defer srv.Close()
	go watchStore(ctx, store, &storeOK, log)

	w := worker.NewWorker(consumer, kcfg).WithKinesis(kc).WithCheckpointer(leases)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the KCL worker: %w", err)
	}
	started.Store(true)
	log.Info("consuming", "out", store.String(), "initial_position", c.InitialPosition, "flush_records", c.FlushRecords,
		"flush_bytes", int64(c.FlushBytes), "flush_window", c.FlushWindow.String())

	if c.EMF {
		e := &emf{w: os.Stdout, stream: c.Stream, m: m, failed: checkpointFailures.Load}
		go func() {
			t := time.NewTicker(c.EMFInterval)
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
		}()
	}

	<-ctx.Done()
	start := time.Now()
	log.Info("stopping: no new records; flushing and checkpointing the shards' batches", "timeout", c.ShutdownTimeout.String())
	consumer.Stop()
	// The KCL's Shutdown waits for every shard consumer, and one waiting for
	// a parent shard never returns: do not wait for it, wait for the batches.
	go w.Shutdown()
	waitCtx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	clean := consumer.Wait(waitCtx)
	log.Info("stopped", "clean", clean, "seconds", time.Since(start).Seconds(),
		"records", stats.Units.Load(), "findings", stats.Findings.Load(), "dead_letters", stats.DeadLetters.Load())
	return nil
}

// awsConfig loads the default credential chain with the SDK's standard
// retryer (throttling and 5xx retried with jittered backoff).
func (c *consumeCmd) awsConfig(ctx context.Context) (aws.Config, error) {
	opts := []func(*awscfg.LoadOptions) error{
		awscfg.WithRetryer(func() aws.Retryer { return sinks.NewRetryer(0) }),
		awscfg.WithHTTPClient(sinks.HTTPClientWithTimeouts()),
	}
	if c.Region != "" {
		opts = append(opts, awscfg.WithRegion(c.Region))
	}
	conf, err := awscfg.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if conf.Region == "" {
		return aws.Config{}, errors.New("no AWS region: set --region or AWS_REGION")
	}
	sinks.RecordOperations(&conf)
	return conf, nil
}

func (c *consumeCmd) kclConfig(conf aws.Config, log *slog.Logger) (*kclcfg.KinesisClientLibConfiguration, error) {
	k := kclcfg.NewKinesisClientLibConfigWithCredentials(c.App, c.Stream, conf.Region, c.WorkerID, conf.Credentials, conf.Credentials).
		WithTableName(c.App).
		WithCallProcessRecordsEvenForEmptyRecordList(true).
		WithShardSyncIntervalMillis(int(c.ShardSync.Milliseconds())).
		WithFailoverTimeMillis(int(c.LeaseDuration.Milliseconds())).
		WithLeaseRefreshWaitTime(int(c.LeaseDuration.Milliseconds() / 4)).
		WithLeaseStealing(c.LeaseStealing).
		WithLeaseSyncingIntervalMillis(int(c.LeaseSync.Milliseconds())).
		WithIdleTimeBetweenReadsInMillis(1000).
		WithMaxRecords(10000).
		WithLogger(kclLogger{log: log.With("component", "kcl")})
	// Children of a split or merged shard start once their parent is
	// checkpointed at SHARD_END; look for that every 2 s, not 10 s.
	k.ParentShardPollIntervalMillis = 2000
	if c.MaxLeases > 0 {
		k = k.WithMaxLeasesForWorker(c.MaxLeases)
	}
	switch c.InitialPosition {
	case "LATEST":
		k = k.WithInitialPositionInStream(kclcfg.LATEST)
	case "AT_TIMESTAMP":
		t, err := time.Parse(time.RFC3339, c.InitialTimestamp)
		if err != nil {
			return nil, fmt.Errorf("--initial-timestamp must be an RFC 3339 time with AT_TIMESTAMP: %w", err)
		}
		k = k.WithTimestampAtInitialPositionInStream(&t)
	default:
		k = k.WithInitialPositionInStream(kclcfg.TRIM_HORIZON)
	}
	if c.EnhancedFanOut {
		k = k.WithEnhancedFanOutConsumer(true)
	}
	// The KCL's lease renewal logs through logrus' global logger.
	logrus.SetFormatter(&logrus.JSONFormatter{})
	logrus.SetOutput(os.Stderr)
	logrus.SetLevel(logrus.WarnLevel)
	return k, nil
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
func watchStore(ctx context.Context, store sinks.Store, ok *atomic.Bool, log *slog.Logger) {
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
// bounded per shard, and the GC should work harder before the task is killed.
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

// kclLogger routes the KCL's logging to slog. Its Info level is chatty
// (e.g. its own 5 calls/s/shard limiter) and goes to debug.
type kclLogger struct{ log *slog.Logger }

func (l kclLogger) Debugf(f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l kclLogger) Infof(f string, a ...any)  { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l kclLogger) Warnf(f string, a ...any)  { l.log.Info(fmt.Sprintf(f, a...)) }
func (l kclLogger) Errorf(f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...)) }
func (l kclLogger) Fatalf(f string, a ...any) {
	l.log.Error(fmt.Sprintf(f, a...))
	os.Exit(1)
}
func (l kclLogger) Panicf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (l kclLogger) WithFields(fields kcllog.Fields) kcllog.Logger {
	args := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		args = append(args, k, v)
	}
	return kclLogger{log: l.log.With(args...)}
}

package awsconf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
)

// Options configure the one AWS configuration a hublake process loads;
// every client (S3, Kinesis, DynamoDB) is built from it.
type Options struct {
	// Region overrides the region from the environment.
	Region string
	// RequireRegion fails when no region is set anywhere (the stream needs
	// one); otherwise a missing region defaults to us-east-1, which S3
	// needs only for signing (local endpoints, or a bucket the SDK finds).
	RequireRegion bool
	// MaxAttempts bounds the retryer's attempts per request (0: see
	// NewRetryer).
	MaxAttempts int
	// HTTPClient replaces the SDK's HTTP client (tests inject faults with
	// it); default HTTPClientWithTimeouts.
	HTTPClient aws.HTTPClient
	// Logger receives the SDK's own log lines (SDKLogger); nil: slog's
	// default logger. (The SDK's default prints plain-text lines on stderr.)
	Logger *slog.Logger
}

// Load loads the default credential chain (environment, shared
// config, the ECS task role, instance profile) with hublake's retryer and
// HTTP client.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	httpClient := o.HTTPClient
	if httpClient == nil {
		httpClient = HTTPClientWithTimeouts()
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return NewRetryer(o.MaxAttempts) }),
		config.WithHTTPClient(httpClient),
		config.WithLogger(SDKLogger(o.Logger)),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if o.RequireRegion {
			return aws.Config{}, errors.New("no AWS region: set --region or AWS_REGION")
		}
		cfg.Region = "us-east-1"
	}
	RecordOperations(&cfg)
	return cfg, nil
}

// SDKLogger returns the AWS SDK logger that writes to l (nil: slog's default
// logger): the SDK's warnings (such as "falling back to IMDSv1") at warn,
// its debug lines (a response without a checksum to validate, a retried
// request) at debug, each as a record of component "aws-sdk".
func SDKLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		log := l
		if log == nil {
			log = slog.Default()
		}
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		ctx := context.Background()
		if log.Enabled(ctx, level) {
			log.Log(ctx, level, fmt.Sprintf(format, v...), "component", "aws-sdk")
		}
	})
}

// NewRetryer returns the retryer of every AWS client hublake builds: the
// SDK's standard one (exponential backoff with jitter; throttling, 5xx,
// timeouts and dropped connections retried) with delays capped at 20 s and
// at most attempts attempts; 0 means AWS_MAX_ATTEMPTS when it is a positive
// number, else 10. (Every AWS SDK reads AWS_MAX_ATTEMPTS, but not when the
// program gives it a retryer of its own, as hublake does for the backoff.)
func NewRetryer(attempts int) aws.Retryer {
	if attempts <= 0 {
		attempts = 10
		if n, err := strconv.Atoi(os.Getenv("AWS_MAX_ATTEMPTS")); err == nil && n > 0 {
			attempts = n
		}
	}
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = attempts
		o.MaxBackoff = 20 * time.Second
	})
}

// HTTPClientWithTimeouts is the HTTP client hublake gives the SDK: the SDK's
// own buildable client (it honours AWS_CA_BUNDLE) with a bound on the wait
// for response headers, so a stalled connection is retried instead of
// hanging a shard.
func HTTPClientWithTimeouts() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.ResponseHeaderTimeout = 30 * time.Second
		t.MaxIdleConnsPerHost = 16
	})
}

// Backoff is the wait between attempts of work hublake retries itself
// beyond the SDK's retryer (a batch the store refuses, records a stream
// rejects): the SDK's exponential backoff with full jitter.
type Backoff struct {
	b *retry.ExponentialJitterBackoff
}

// NewBackoff returns a backoff whose delays grow as 2^attempt seconds (with
// full jitter) up to max.
func NewBackoff(max time.Duration) Backoff {
	return Backoff{b: retry.NewExponentialJitterBackoff(max)}
}

// Sleep waits before attempt+1 (attempt counts from 1) or until ctx ends,
// and reports whether ctx is still live.
func (b Backoff) Sleep(ctx context.Context, attempt int, err error) bool {
	d, derr := b.b.BackoffDelay(attempt, err)
	if derr != nil {
		d = time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// RecordOperations appends "<service>:<Operation>" for every AWS API call
// made with cfg to the file named by HUBLAKE_RECORD_AWS_OPS, when that is
// set. The integration tests use it to learn which operations the service
// really calls, and the deployment tests check the task role against that
// list: least privilege from observation, not from memory.
func RecordOperations(cfg *aws.Config) {
	path := os.Getenv("HUBLAKE_RECORD_AWS_OPS")
	if path == "" {
		return
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("hublakeRecordOperation",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				op := awsmiddleware.GetServiceID(ctx) + ":" + awsmiddleware.GetOperationName(ctx)
				mu.Lock()
				if !seen[op] {
					seen[op] = true
					if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
						fmt.Fprintln(f, op)
						f.Close()
					}
				}
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

// Attempts are what the SDK's retryer did for one AWS operation call.
type Attempts struct {
	Service, Operation string
	// Retries is the number of attempts that failed and were tried again.
	Retries int
	// Throttles is the number of attempts refused for throttling (SlowDown,
	// ProvisionedThroughputExceededException, LimitExceededException, …),
	// retried or not.
	Throttles int
}

// CountAttempts returns an API option (for aws.Config.APIOptions) that
// reports, after every operation call that needed more than one attempt or
// was throttled, how many of its attempts the SDK's retryer retried and how
// many were throttled. It reads the retryer's own attempt results, so it
// counts exactly what the standard retryer (NewRetryer) did, without
// wrapping it.
func CountAttempts(report func(Attempts)) func(*middleware.Stack) error {
	throttles := retry.IsErrorThrottles(retry.DefaultThrottles)
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("hublakeCountAttempts",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				results, ok := retry.GetAttemptResults(md)
				if !ok {
					return out, md, err
				}
				a := Attempts{Service: awsmiddleware.GetServiceID(ctx), Operation: awsmiddleware.GetOperationName(ctx)}
				for _, r := range results.Results {
					if r.Retried {
						a.Retries++
					}
					if r.Err != nil && throttles.IsErrorThrottle(r.Err) == aws.TrueTernary {
						a.Throttles++
					}
				}
				if a.Retries > 0 || a.Throttles > 0 {
					report(a)
				}
				return out, md, err
			}), middleware.Before)
	}
}

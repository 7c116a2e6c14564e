package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/s3lake"
)

// checkCmd is `hublake check consume|backfill|compact`: the command's
// configuration (the same flags and environment) tried without doing the
// work, each check one line, in seconds: what Vector's validate, Redpanda
// Connect's lint and Fluent Bit's --dry-run do for theirs. Only calls the
// command itself makes are used, so a role that may run the command may
// check it: the stream is listed (ListShards), the lease table described,
// the lake listed, and a probe object written and deleted under its
// _hublake/ prefix (layout.ProbeKey), with the command's encryption settings.
type checkCmd struct {
	Consume  checkConsumeCmd  `cmd:"" help:"Check a consume configuration (the same flags and environment): credentials, the stream, the lease table, a probe write and delete in the lake."`
	Backfill checkBackfillCmd `cmd:"" help:"Check a backfill configuration: credentials, the sources, a probe write and delete in the lake."`
	Compact  checkCompactCmd  `cmd:"" help:"Check a compact configuration: credentials, an existing lake, a probe write and delete."`
}

// checkFlags are the check commands' own.
type checkFlags struct {
	CheckTimeout time.Duration `name:"check-timeout" help:"How long each check may take; AWS calls are not retried." default:"5s"`
}

type checkConsumeCmd struct {
	consumeCmd
	checkFlags
}

type checkBackfillCmd struct {
	backfillCmd
	checkFlags
}

type checkCompactCmd struct {
	compactCmd
	checkFlags
}

const checkHelp = `Examples:

  hublake check consume --stream security-hub --app hublake --out s3://my-lake/lake
  hublake check backfill --out s3://my-lake/lake s3://my-archive/firehose/
  HUBLAKE_OUT=s3://my-lake/lake hublake check compact

Each check prints one line, "ok" or "FAIL", what was checked and how it went;
the exit status is 1 when one failed, 0 otherwise. AWS calls are not retried
and each check gives up after --check-timeout.`

func (checkCmd) Help() string         { return checkHelp }
func (checkConsumeCmd) Help() string  { return checkHelp }
func (checkBackfillCmd) Help() string { return checkHelp }
func (checkCompactCmd) Help() string  { return checkHelp }

func (c *checkConsumeCmd) Run(ctx context.Context, g *globals) error {
	ch := newChecker(os.Stdout, c.CheckTimeout)
	cfg, ok := ch.config(ctx, g, c.Region, true)
	if ok {
		ch.credentials(ctx, cfg)
		kc := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
			if c.KinesisEndpoint != "" {
				o.BaseEndpoint = aws.String(c.KinesisEndpoint)
			}
		})
		ch.check(ctx, "stream "+c.Stream, func(ctx context.Context) (string, error) {
			_, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(c.Stream), MaxResults: aws.Int32(1)})
			return "reachable", err
		})
		db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
			if c.DynamodbEndpoint != "" {
				o.BaseEndpoint = aws.String(c.DynamodbEndpoint)
			}
		})
		ch.check(ctx, "lease table "+c.App, func(ctx context.Context) (string, error) {
			out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(c.App)})
			var nf *dbtypes.ResourceNotFoundException
			if errors.As(err, &nf) {
				return "does not exist yet: the first consumer creates it (dynamodb:CreateTable)", nil
			}
			if err != nil {
				return "", err
			}
			return "reachable (" + strings.ToLower(string(out.Table.TableStatus)) + ")", nil
		})
	}
	ch.lake(ctx, &c.lakeFlags, cfg, ok, false)
	return ch.result()
}

func (c *checkBackfillCmd) Run(ctx context.Context, g *globals) error {
	ch := newChecker(os.Stdout, c.CheckTimeout)
	needAWS := layout.IsS3URL(c.Out)
	for _, s := range c.Sources {
		needAWS = needAWS || layout.IsS3URL(s)
	}
	var cfg aws.Config
	ok := false
	if needAWS {
		if cfg, ok = ch.config(ctx, g, c.Region, false); ok {
			ch.credentials(ctx, cfg)
		}
	}
	client := s3lake.NewClient(cfg, c.s3Options())
	for _, src := range c.Sources {
		switch {
		case src == "-":
			ch.pass("source -", "stdin")
		case layout.IsS3URL(src):
			if !ok {
				continue
			}
			ch.check(ctx, "source "+src, func(ctx context.Context) (string, error) {
				bucket, prefix, err := layout.ParseS3URL(src)
				if err != nil {
					return "", err
				}
				if strings.HasSuffix(src, "/") && prefix != "" {
					prefix += "/"
				}
				out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)})
				if err != nil {
					return "", err
				}
				if len(out.Contents) == 0 {
					return "", errors.New("no objects under this prefix")
				}
				return "listed", nil
			})
		default:
			ch.check(ctx, "source "+src, func(context.Context) (string, error) {
				st, err := os.Stat(src)
				if err != nil {
					return "", err
				}
				if st.IsDir() {
					f, err := os.Open(src)
					if err != nil {
						return "", err
					}
					f.Close()
					return "a readable directory", nil
				}
				f, err := os.Open(src)
				if err != nil {
					return "", err
				}
				f.Close()
				return "a readable file", nil
			})
		}
	}
	ch.lake(ctx, &c.lakeFlags, cfg, ok || !needAWS, false)
	return ch.result()
}

func (c *checkCompactCmd) Run(ctx context.Context, g *globals) error {
	ch := newChecker(os.Stdout, c.CheckTimeout)
	var cfg aws.Config
	ok := true
	if layout.IsS3URL(c.Out) {
		if cfg, ok = ch.config(ctx, g, c.Region, false); ok {
			ch.credentials(ctx, cfg)
		}
	}
	ch.lake(ctx, &c.lakeFlags, cfg, ok, true)
	return ch.result()
}

// checker runs checks and prints a line for each.
type checker struct {
	w       io.Writer
	timeout time.Duration
	failed  int
	total   int
}

func newChecker(w io.Writer, timeout time.Duration) *checker {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &checker{w: w, timeout: timeout}
}

func (ch *checker) pass(what, detail string) {
	ch.total++
	fmt.Fprintf(ch.w, "ok    %s: %s\n", what, detail)
}

func (ch *checker) fail(what string, err error) {
	ch.total++
	ch.failed++
	fmt.Fprintf(ch.w, "FAIL  %s: %s\n", what, oneLine(err))
}

// check runs fn within the timeout and prints its line; it reports whether
// it passed.
func (ch *checker) check(ctx context.Context, what string, fn func(context.Context) (string, error)) bool {
	cctx, cancel := context.WithTimeout(ctx, ch.timeout)
	defer cancel()
	detail, err := fn(cctx)
	if err != nil {
		if cctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s (--check-timeout): %w", ch.timeout, err)
		}
		ch.fail(what, err)
		return false
	}
	ch.pass(what, detail)
	return true
}

// config loads the AWS configuration the command would, without retries.
func (ch *checker) config(ctx context.Context, g *globals, region string, requireRegion bool) (aws.Config, bool) {
	var cfg aws.Config
	ok := ch.check(ctx, "AWS configuration", func(ctx context.Context) (string, error) {
		var err error
		cfg, err = awsconf.Load(ctx, awsconf.Options{Region: region, RequireRegion: requireRegion, MaxAttempts: 1, Logger: g.logger})
		if err != nil {
			return "", err
		}
		return "region " + cfg.Region, nil
	})
	return cfg, ok
}

// credentials checks that the credential chain yields credentials.
func (ch *checker) credentials(ctx context.Context, cfg aws.Config) {
	ch.check(ctx, "credentials", func(ctx context.Context) (string, error) {
		if cfg.Credentials == nil {
			return "", errors.New("no credential provider")
		}
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return "", err
		}
		return "from " + c.Source, nil
	})
}

// lake checks the lake of f: that it exists (existing) or can be made,
// that it can be listed, and that an object can be written and deleted in
// it. awsOK is false when the AWS configuration failed (an S3 lake is then
// not tried).
func (ch *checker) lake(ctx context.Context, f *lakeFlags, cfg aws.Config, awsOK, existing bool) {
	what := "lake " + f.Out
	if !layout.IsS3URL(f.Out) {
		if _, err := os.Stat(f.Out); errors.Is(err, os.ErrNotExist) {
			if existing {
				ch.fail(what, fmt.Errorf("no lake here: %w", err))
				return
			}
			ch.check(ctx, what, func(context.Context) (string, error) {
				return "does not exist yet: it will be created (its parent is writable)", writableAncestor(f.Out)
			})
			return
		}
	} else if !awsOK {
		return
	}
	var store objstore.Lake
	if !ch.check(ctx, what, func(ctx context.Context) (string, error) {
		var err error
		store, err = f.open(ctx, cfg, existing)
		if err != nil {
			return "", err
		}
		return "reachable", nil
	}) {
		return
	}
	ch.check(ctx, what+" (probe)", func(ctx context.Context) (string, error) {
		var id [16]byte
		_, _ = rand.Read(id[:])
		key, err := layout.ProbeKey(hex.EncodeToString(id[:]))
		if err != nil {
			return "", err
		}
		w, err := store.Create(ctx, key)
		if err != nil {
			return "", fmt.Errorf("write %s: %w", key, err)
		}
		if _, err := io.WriteString(w, "hublake check\n"); err != nil {
			_ = w.Abort()
			return "", fmt.Errorf("write %s: %w", key, err)
		}
		if err := w.Commit(); err != nil {
			return "", fmt.Errorf("write %s: %w", key, err)
		}
		if err := store.Delete(ctx, key); err != nil {
			return "", fmt.Errorf("delete %s: %w", key, err)
		}
		if !layout.IsS3URL(f.Out) {
			// The directories the probe made, if nothing else is in them.
			_ = os.Remove(filepath.Join(f.Out, filepath.FromSlash(layout.MetaPrefix), "check"))
			_ = os.Remove(filepath.Join(f.Out, filepath.FromSlash(layout.MetaPrefix)))
		}
		return "wrote and deleted " + key, nil
	})
}

// writableAncestor checks that the nearest existing directory above path
// takes a new file.
func writableAncestor(path string) error {
	dir, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for {
		parent := filepath.Dir(dir)
		if st, err := os.Stat(parent); err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", parent)
			}
			f, err := os.CreateTemp(parent, ".hublake-check-*")
			if err != nil {
				return err
			}
			f.Close()
			return os.Remove(f.Name())
		}
		if parent == dir {
			return fmt.Errorf("no directory above %s", path)
		}
		dir = parent
	}
}

func (ch *checker) result() error {
	if ch.failed > 0 {
		return fmt.Errorf("%d of %d checks failed", ch.failed, ch.total)
	}
	return nil
}

// oneLine is an error as one short line: the AWS operation and the
// service's error code and message, or the network error, without the
// SDK's request ids and retry bookkeeping.
func oneLine(err error) string {
	msg := err.Error()
	var op *smithy.OperationError
	var api smithy.APIError
	var netErr *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &api):
		msg = api.ErrorCode()
		if m := api.ErrorMessage(); m != "" {
			msg += ": " + m
		}
	case errors.As(err, &dns):
		msg = dns.Error()
	case errors.As(err, &netErr):
		msg = netErr.Error()
	}
	if errors.As(err, &op) {
		msg = op.Operation() + ": " + msg
	}
	if errors.Is(err, context.DeadlineExceeded) && !strings.Contains(msg, "within") {
		msg = "no answer in time: " + msg
	}
	return strings.Join(strings.Fields(msg), " ")
}

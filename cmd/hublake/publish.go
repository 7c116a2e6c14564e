package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/bytedance/sonic"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/files"
	"github.com/hublake/hublake/objstore/s3lake"
)

type publishCmd struct {
	Stream          string   `help:"Kinesis stream to put the events into." required:""`
	KinesisEndpoint string   `name:"kinesis-endpoint" help:"Kinesis endpoint URL (a local stack)."`
	Region          string   `help:"AWS region (default: from the environment)."`
	MaxBytes        byteSize `help:"Largest record accepted; larger units are skipped and counted." default:"1MiB"`
	Create          int      `help:"Create the stream with this many shards if it does not exist (for local stacks); 0: do not create."`
	Files           []string `arg:"" name:"file" help:"Files of events (any format backfill reads), directories, s3://bucket/prefix, or - for stdin."`
}

// Validate checks the files before any work.
func (c *publishCmd) Validate() error { return validateSources("file", c.Files) }

// Run puts every unit of the files into the stream as an EventBridge rule
// target does: one event per record, partition key = the event id (or a
// digest of the record when it has none), in file order, failed records of
// a PutRecords call retried with backoff.
func (c *publishCmd) Run(ctx context.Context, g *globals) error {
	conf, err := awsconf.Load(ctx, awsconf.Options{Region: c.Region, RequireRegion: true, Logger: g.logger})
	if err != nil {
		return err
	}
	kc := kinesis.NewFromConfig(conf, func(o *kinesis.Options) {
		if c.KinesisEndpoint != "" {
			o.BaseEndpoint = aws.String(c.KinesisEndpoint)
		}
	})
	if c.Create > 0 {
		if err := ensureStream(ctx, kc, c.Stream, int32(c.Create)); err != nil {
			return err
		}
	}
	p := &putter{kc: kc, stream: c.Stream, backoff: awsconf.NewBackoff(5 * time.Second)}
	var skipped int
	start := time.Now()
	for in, err := range inputs(ctx, c.Files, conf, s3lake.Options{DiscoverRegion: true}) {
		if err != nil {
			return err
		}
		n, err := files.EachUnit(ctx, in, int(c.MaxBytes), func(_ int64, data []byte) error {
			return p.add(ctx, data)
		})
		skipped += n
		if err != nil {
			return fmt.Errorf("publish %s: %w", in.Name, err)
		}
	}
	if err := p.flush(ctx); err != nil {
		return err
	}
	g.logger.Info("published", "stream", c.Stream, "records", p.sent, "bytes", p.bytes, "skipped_too_large", skipped,
		"seconds", time.Since(start).Seconds())
	fmt.Printf("published %d records (%s) to %s", p.sent, humanBytes(p.bytes), c.Stream)
	if skipped > 0 {
		fmt.Printf("; skipped %d units over %s", skipped, humanBytes(int64(c.MaxBytes)))
	}
	fmt.Println()
	return nil
}

// putter batches records into PutRecords calls (500 records, 5 MiB).
type putter struct {
	kc      *kinesis.Client
	stream  string
	backoff awsconf.Backoff
	pending []types.PutRecordsRequestEntry
	size    int
	sent    int64
	bytes   int64
}

func partitionKey(data []byte) string {
	if n, err := sonic.Get(data, "id"); err == nil {
		if id, err := n.String(); err == nil && id != "" && len(id) <= 256 {
			return id
		}
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

func (p *putter) add(ctx context.Context, data []byte) error {
	key := partitionKey(data)
	if len(p.pending) == 500 || p.size+len(data)+len(key) > 5<<20 {
		if err := p.flush(ctx); err != nil {
			return err
		}
	}
	p.pending = append(p.pending, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(key)})
	p.size += len(data) + len(key)
	return nil
}

func (p *putter) flush(ctx context.Context) error {
	entries := p.pending
	for attempt := 0; len(entries) > 0; attempt++ {
		if attempt > 0 && !p.backoff.Sleep(ctx, attempt, nil) {
			return ctx.Err()
		}
		if attempt > 20 {
			return errors.New("put records: giving up after 20 attempts")
		}
		out, err := p.kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(p.stream), Records: entries})
		if err != nil {
			return fmt.Errorf("put records into %s: %w", p.stream, err)
		}
		var failed []types.PutRecordsRequestEntry
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				failed = append(failed, entries[i])
				continue
			}
			p.sent++
			p.bytes += int64(len(entries[i].Data))
		}
		entries = failed
	}
	p.pending, p.size = p.pending[:0], 0
	return nil
}

// ensureStream creates a provisioned stream with n shards unless it exists,
// and waits until it is active.
func ensureStream(ctx context.Context, kc *kinesis.Client, name string, n int32) error {
	_, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err == nil {
		return nil
	}
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		return fmt.Errorf("describe stream %s: %w", name, err)
	}
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(n)}); err != nil {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 200 * time.Millisecond })
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
		return fmt.Errorf("wait for stream %s: %w", name, err)
	}
	return nil
}

package processor

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/hublake/hublake/processor/units"
	"github.com/hublake/hublake/schema"
	"github.com/hublake/hublake/sinks"
)

// The file source: backfill reads files (local, S3 or stdin), splits each
// into units and runs one Batcher per file, several files at a time. A file
// is a source partition: dedup and batch cuts depend only on its bytes, so the
// output is the same whatever the number of workers. Object names carry the
// digest of the file's bytes up to the end of the batch and the batch's first
// byte offset (a path is not an identity: files get renamed, and stdin has
// none), so a re-run overwrites the same objects.

// Input is one file to read.
type Input struct {
	// Name is what the source column shows: a path, s3://bucket/key or "-".
	Name string
	// Size is the input's size in bytes, -1 when unknown (stdin).
	Size int64
	open func(ctx context.Context) (io.ReadCloser, error)
}

// BackfillOptions configure Backfill.
type BackfillOptions struct {
	Policy  Policy
	Encode  sinks.EncodeOptions
	Store   sinks.Store
	Workers int // default GOMAXPROCS
	Stats   *Stats
	// NotAfter bounds partition dates (default: now plus one day).
	NotAfter time.Time
	// BytesRead is called with the input bytes read so far (progress).
	BytesRead func(n int64)
	Logger    *slog.Logger
	S3        *s3.Client   // for s3:// inputs
	Stdin     io.Reader    // for "-"
	CrashHook func(string) // tests only
}

// ListInputs expands sources (files, directories read recursively,
// s3://bucket/prefix, "-") into inputs, in a stable order. Hidden files
// (names starting with ".") in directories are skipped.
func ListInputs(ctx context.Context, sources []string, client *s3.Client, stdin io.Reader) ([]Input, error) {
	var out []Input
	for _, src := range sources {
		switch {
		case src == "-":
			if stdin == nil {
				stdin = os.Stdin
			}
			r := stdin
			out = append(out, Input{Name: "-", Size: -1, open: func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(r), nil
			}})
		case strings.HasPrefix(src, "s3://"):
			ins, err := listS3(ctx, client, src)
			if err != nil {
				return nil, err
			}
			out = append(out, ins...)
		default:
			ins, err := listLocal(src)
			if err != nil {
				return nil, err
			}
			out = append(out, ins...)
		}
	}
	return out, nil
}

func localInput(path string, size int64) Input {
	return Input{Name: path, Size: size, open: func(context.Context) (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open input: %w", err)
		}
		return f, nil
	}}
}

func listLocal(src string) ([]Input, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", src, err)
	}
	if !st.IsDir() {
		return []Input{localInput(src, st.Size())}, nil
	}
	var out []Input
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read input directory: %w", err)
		}
		if path != src && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("input %s: %w", path, err)
		}
		out = append(out, localInput(path, info.Size()))
		return nil
	})
	return out, err
}

func listS3(ctx context.Context, client *s3.Client, src string) ([]Input, error) {
	if client == nil {
		return nil, errors.New("s3 input needs an S3 client")
	}
	bucket, prefix, err := sinks.ParseS3URL(src)
	if err != nil {
		return nil, err
	}
	var out []Input
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", src, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			out = append(out, Input{Name: "s3://" + bucket + "/" + key, Size: aws.ToInt64(o.Size), open: func(ctx context.Context) (io.ReadCloser, error) {
				obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				if err != nil {
					return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
				}
				return obj.Body, nil
			}})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("input %s: no objects under this prefix", src)
	}
	return out, nil
}

// Backfill reads every input through the pipeline into opts.Store. It
// returns an error when an input could not be read or the store refused a
// write; bad records are dead letters, not errors.
func Backfill(ctx context.Context, inputs []Input, opts BackfillOptions) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if opts.Stats == nil {
		opts.Stats = &Stats{}
	}
	if opts.NotAfter.IsZero() {
		opts.NotAfter = schema.NotAfter(time.Now())
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var read atomic.Int64
	next := make(chan Input)
	errs := make(chan error, len(inputs))
	var wg sync.WaitGroup
	for range min(workers, max(len(inputs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := sinks.NewEncoder(opts.Store, opts.Encode)
			for in := range next {
				if err := backfillOne(ctx, in, enc, &opts, &read); err != nil {
					opts.Logger.Error("input failed", "input", in.Name, "err", err)
					errs <- fmt.Errorf("%s: %w", in.Name, err)
				}
			}
		}()
	}
feed:
	for _, in := range inputs {
		select {
		case next <- in:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := ctx.Err(); err != nil {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// countingReader reports bytes read, for progress.
type countingReader struct {
	r     io.Reader
	total *atomic.Int64
	cb    func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		t := c.total.Add(int64(n))
		if c.cb != nil {
			c.cb(t)
		}
	}
	return n, err
}

// fileNamer names a file batch: the digest of the input up to the batch's
// end, and the batch's first byte offset.
func fileNamer(first, last *Unit) string {
	return sinks.FileBatchName(last.Digest, first.Offset)
}

// openInput opens in, counting its raw bytes into read (and cb), and
// decompresses it when it starts with the gzip magic number.
func openInput(ctx context.Context, in Input, read *atomic.Int64, cb func(int64)) (io.Reader, func(), error) {
	rc, err := in.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	if read == nil {
		read = new(atomic.Int64)
	}
	br := bufio.NewReaderSize(&countingReader{r: rc, total: read, cb: cb}, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close(); rc.Close() }, nil
	}
	return br, func() { rc.Close() }, nil
}

// EachUnit calls fn with every unit of in, split as backfill splits it.
// Units over maxUnit bytes are skipped and counted in the returned number.
func EachUnit(ctx context.Context, in Input, maxUnit int, fn func(offset int64, data []byte) error) (oversize int, err error) {
	r, closeIn, err := openInput(ctx, in, nil, nil)
	if err != nil {
		return 0, err
	}
	defer closeIn()
	sp := units.NewSplitter(r, maxUnit)
	for {
		if err := ctx.Err(); err != nil {
			return oversize, err
		}
		p, err := sp.Next()
		if errors.Is(err, io.EOF) {
			return oversize, nil
		}
		if err != nil {
			return oversize, err
		}
		if p.Oversize != nil {
			if _, err := io.Copy(io.Discard, p.Oversize); err != nil {
				return oversize, err
			}
			oversize++
			continue
		}
		if err := fn(p.Offset, p.Data); err != nil {
			return oversize, err
		}
	}
}

func backfillOne(ctx context.Context, in Input, enc *sinks.Encoder, opts *BackfillOptions, read *atomic.Int64) error {
	r, closeIn, err := openInput(ctx, in, read, opts.BytesRead)
	if err != nil {
		return err
	}
	defer closeIn()
	b := NewBatcher(opts.Policy, enc, fileNamer, WithStats(opts.Stats), WithCrashHook(opts.CrashHook))
	sp := units.NewSplitter(r, int(b.policy.MaxUnitBytes))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := sp.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		source := "file:" + in.Name + "#" + fmt.Sprint(p.Offset)
		if p.Oversize != nil {
			if err := oversizeDeadLetter(ctx, enc, opts, source, p, b.policy.MaxUnitBytes); err != nil {
				return err
			}
			continue
		}
		u := Unit{
			Data:   p.Data,
			Origin: schema.Origin{Source: source, NotAfter: opts.NotAfter},
			Pos:    sinks.FileOffset(p.Offset),
			Offset: p.Offset,
			Digest: p.Digest,
			Reject: p.Reject,
		}
		if err := b.Add(ctx, u); err != nil {
			return err
		}
	}
	return b.Flush(ctx)
}

// oversizeDeadLetter streams a unit over the size limit to its own dead
// letter. The bytes pass through a temporary file so that the object name
// can carry the unit's own digest: two inputs that share a prefix but differ
// inside the oversized unit must not overwrite each other's dead letter.
func oversizeDeadLetter(ctx context.Context, enc *sinks.Encoder, opts *BackfillOptions, source string, p units.Piece, limit int64) error {
	tmp, err := os.CreateTemp("", "hublake-oversize-*")
	if err != nil {
		return fmt.Errorf("spool oversized unit: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), p.Oversize)
	if err != nil {
		return fmt.Errorf("spool oversized unit: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool oversized unit: %w", err)
	}
	name := sinks.FileBatchName(p.Digest, p.Offset) + "-" + hex.EncodeToString(h.Sum(nil))[:16]
	reason := fmt.Sprintf("unit of %d bytes exceeds the %d byte limit (--max-unit-bytes); not decoded", n, limit)
	written, err := enc.StreamDeadLetter(ctx, schema.UndatedPartition, name, source, reason, tmp)
	if err != nil {
		return err
	}
	opts.Stats.Units.Add(1)
	opts.Stats.BytesIn.Add(n)
	opts.Stats.DeadLetters.Add(1)
	opts.Stats.Objects.Add(1)
	opts.Stats.BytesOut.Add(written)
	return nil
}

// SortInputs orders inputs largest first, so that the longest file starts
// first and the workers finish together.
func SortInputs(in []Input) {
	sort.SliceStable(in, func(i, j int) bool { return in[i].Size > in[j].Size })
}

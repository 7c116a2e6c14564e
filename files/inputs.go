package files

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore/s3lake"
	"github.com/hublake/hublake/schema"
)

// Input is one file to read.
type Input struct {
	// Name is what the source column shows: a path, s3://bucket/key or "-".
	Name string
	// Key names the input within its source, independently of where the
	// source was listed from and in which order: the path relative to the
	// directory given (with slashes), the path of a file given by itself,
	// the object key in S3, "-" for stdin. Part hashes it.
	Key string
	// Size is the input's size in bytes, -1 when unknown (stdin).
	Size int64
	open func(ctx context.Context) (io.ReadCloser, error)
}

// dirBatch is how many entries of a directory are read at a time.
const dirBatch = 256

// Inputs lists sources (files, directories read recursively, s3://bucket/
// prefix, "-" for stdin) as a stream: a directory is read dirBatch entries
// at a time (depth first, in the file system's order; names starting with
// "." are skipped, and so are symbolic links and other non-regular files
// inside directories) and an S3 prefix one listing page (1,000 keys) at a
// time, so that the listing of a prefix of millions of objects is never
// held in memory. An error ends the stream; a prefix without objects is
// one.
//
// What a lake holds is never an input: directories and key segments named
// _hublake (a lake's bookkeeping) are skipped, and so are the tables and
// _hublake of each lake root in lakes (the destination: a directory or
// s3://bucket/prefix), so that a destination inside a source is not read
// back; a source inside one of them is an error.
func Inputs(ctx context.Context, sources []string, client *s3.Client, stdin io.Reader, lakes ...string) iter.Seq2[Input, error] {
	return func(yield func(Input, error) bool) {
		skip := newLakeSkip(lakes)
		for _, src := range sources {
			var ok bool
			switch {
			case src == "-":
				if stdin == nil {
					stdin = os.Stdin
				}
				r := stdin
				ok = yield(Input{Name: "-", Key: "-", Size: -1, open: func(context.Context) (io.ReadCloser, error) {
					return io.NopCloser(r), nil
				}}, nil)
			case strings.HasPrefix(src, "s3://"):
				ok = listS3(ctx, client, src, skip, yield)
			default:
				ok = listLocal(ctx, src, skip, yield)
			}
			if !ok {
				return
			}
		}
	}
}

// InputsOf streams a fixed list of inputs.
func InputsOf(ins ...Input) iter.Seq2[Input, error] {
	return func(yield func(Input, error) bool) {
		for _, in := range ins {
			if !yield(in, nil) {
				return
			}
		}
	}
}

func localInput(path, key string, size int64) Input {
	return Input{Name: path, Key: key, Size: size, open: func(context.Context) (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open input: %w", err)
		}
		return f, nil
	}}
}

// fail ends a listing with err.
func fail(yield func(Input, error) bool, err error) bool {
	yield(Input{}, err)
	return false
}

// lakeSkip is what of the destination lakes the listing leaves out: the
// table directories and _hublake of each root, as resolved local paths and
// as S3 bucket/key prefixes.
type lakeSkip struct {
	dirs []string // resolved absolute paths
	s3   []string // "bucket/prefix/table/"
}

func newLakeSkip(lakes []string) lakeSkip {
	var sk lakeSkip
	subtrees := []string{strings.TrimSuffix(layout.MetaPrefix, "/")}
	subtrees = append(subtrees, schema.AllTableNames()...)
	for _, root := range lakes {
		if strings.HasPrefix(root, "s3://") {
			bucket, prefix, err := layout.ParseS3URL(root)
			if err != nil {
				continue
			}
			if prefix != "" {
				prefix += "/"
			}
			for _, s := range subtrees {
				sk.s3 = append(sk.s3, bucket+"/"+prefix+s+"/")
			}
			continue
		}
		base := resolvePath(root)
		for _, s := range subtrees {
			sk.dirs = append(sk.dirs, filepath.Join(base, s))
		}
	}
	return sk
}

// resolvePath is p as an absolute path without symbolic links (as far as
// it exists).
func resolvePath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	return abs
}

// within returns the destination subtree that holds the resolved path p,
// or "".
func (sk lakeSkip) within(p string) string {
	for _, d := range sk.dirs {
		if p == d || strings.HasPrefix(p, d+string(filepath.Separator)) {
			return d
		}
	}
	return ""
}

// skipsKey reports whether the S3 object bucket/key is part of a lake.
func (sk lakeSkip) skipsKey(bucket, key string) bool {
	if key == strings.TrimSuffix(layout.MetaPrefix, "/") || strings.HasPrefix(key, layout.MetaPrefix) || strings.Contains(key, "/"+layout.MetaPrefix) {
		return true
	}
	full := bucket + "/" + key
	for _, p := range sk.s3 {
		if strings.HasPrefix(full, p) {
			return true
		}
	}
	return false
}

// listLocal yields a file, or the files under a directory; it reports
// whether to go on.
func listLocal(ctx context.Context, src string, skip lakeSkip, yield func(Input, error) bool) bool {
	st, err := os.Stat(src)
	if err != nil {
		return fail(yield, fmt.Errorf("input %s: %w", src, err))
	}
	base := resolvePath(src)
	if d := skip.within(base); d != "" {
		return fail(yield, fmt.Errorf("input %s is inside the destination lake (%s): hublake does not read its own output", src, d))
	}
	if !st.IsDir() {
		return yield(localInput(src, filepath.ToSlash(filepath.Clean(src)), st.Size()), nil)
	}
	return walkDir(ctx, src, src, base, skip, yield)
}

// walkDir yields the regular files under dir, reading it dirBatch entries
// at a time (never a whole directory at once) and descending into
// subdirectories as it meets them; it reports whether to go on. resolved
// is dir as resolvePath has it (subdirectories met are real directories:
// symbolic links are not followed), to leave the destination out.
func walkDir(ctx context.Context, root, dir, resolved string, skip lakeSkip, yield func(Input, error) bool) bool {
	f, err := os.Open(dir)
	if err != nil {
		return fail(yield, fmt.Errorf("read input directory: %w", err))
	}
	defer f.Close()
	for {
		if err := ctx.Err(); err != nil {
			return fail(yield, err)
		}
		entries, err := f.ReadDir(dirBatch)
		for _, d := range entries {
			if strings.HasPrefix(d.Name(), ".") {
				continue
			}
			path := filepath.Join(dir, d.Name())
			switch {
			case d.IsDir():
				sub := filepath.Join(resolved, d.Name())
				if d.Name() == strings.TrimSuffix(layout.MetaPrefix, "/") || skip.within(sub) != "" {
					continue
				}
				if !walkDir(ctx, root, path, sub, skip, yield) {
					return false
				}
			case d.Type().IsRegular():
				info, err := d.Info()
				if err != nil {
					return fail(yield, fmt.Errorf("input %s: %w", path, err))
				}
				rel, err := filepath.Rel(root, path)
				if err != nil {
					return fail(yield, fmt.Errorf("input %s: %w", path, err))
				}
				if !yield(localInput(path, filepath.ToSlash(rel), info.Size()), nil) {
					return false
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return fail(yield, fmt.Errorf("read input directory %s: %w", dir, err))
		}
	}
}

// listS3 yields the objects under an S3 prefix, a listing page at a time;
// it reports whether to go on.
func listS3(ctx context.Context, client *s3.Client, src string, skip lakeSkip, yield func(Input, error) bool) bool {
	if client == nil {
		return fail(yield, errors.New("s3 input needs an S3 client"))
	}
	bucket, prefix, err := layout.ParseS3URL(src)
	if err != nil {
		return fail(yield, err)
	}
	// The prefix is S3's: s3://b/firehose/ lists firehose/… but not
	// firehose-old/… (ParseS3URL trims the slash, as the lake's root wants).
	if strings.HasSuffix(src, "/") && prefix != "" {
		prefix += "/"
	}
	found, skipped := false, 0
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fail(yield, fmt.Errorf("list %s: %w", src, err))
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			if skip.skipsKey(bucket, key) {
				skipped++
				continue
			}
			found = true
			in := Input{Name: "s3://" + bucket + "/" + key, Key: key, Size: aws.ToInt64(o.Size), open: func(ctx context.Context) (io.ReadCloser, error) {
				// A body cut on the way is resumed, and one that stays short
				// is an error, never an early end (s3lake.GetObject).
				body, err := s3lake.GetObject(ctx, client, bucket, key, s3lake.Range{Length: -1})
				if err != nil {
					return nil, err
				}
				return body, nil
			}}
			if !yield(in, nil) {
				return false
			}
		}
	}
	if !found {
		if skipped > 0 {
			return fail(yield, fmt.Errorf("input %s: its %d objects are all a lake's (the destination's tables or _hublake/): nothing to read", src, skipped))
		}
		return fail(yield, fmt.Errorf("input %s: no objects under this prefix", src))
	}
	return true
}

// Part is one share of the inputs of a backfill split over N processes: the
// inputs whose Key hashes (FNV-1a, 64 bits) to K modulo N, 0 ≤ K < N. The
// share of an input depends on its key alone, not on the listing's order or
// on the other inputs, so N processes given the same sources and the parts
// 0/N … N-1/N read every input exactly once; as every object name derives
// from an input's content, they write what one process would. The zero
// Part, and any Part of N = 1, is everything.
type Part struct{ K, N int }

// ParsePart reads "K/N".
func ParsePart(s string) (Part, error) {
	k, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	ki, kerr := strconv.Atoi(k)
	ni, nerr := strconv.Atoi(n)
	if !ok || kerr != nil || nerr != nil {
		return Part{}, fmt.Errorf("part %q: want K/N, e.g. 0/4", s)
	}
	p := Part{K: ki, N: ni}
	return p, p.Validate()
}

// Validate checks 0 ≤ K < N.
func (p Part) Validate() error {
	if p.N < 1 || p.K < 0 || p.K >= p.N {
		return fmt.Errorf("part %d/%d: want 0 ≤ K < N (K counts from 0, as AWS_BATCH_JOB_ARRAY_INDEX does)", p.K, p.N)
	}
	return nil
}

// Whole reports whether the part is every input.
func (p Part) Whole() bool { return p.N <= 1 }

// Has reports whether the input with this key belongs to the part.
func (p Part) Has(key string) bool {
	if p.Whole() {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()%uint64(p.N) == uint64(p.K)
}

func (p Part) String() string {
	if p.Whole() {
		return "all"
	}
	return strconv.Itoa(p.K) + "/" + strconv.Itoa(p.N)
}

// DefaultLookAhead is how many inputs Backfill lists ahead of its workers.
const DefaultLookAhead = 1024

// feed sends the inputs of opts.Part to next, largest first within a window
// of opts.LookAhead listed inputs, until the listing ends or ctx does; it
// returns the listing's error.
func feed(ctx context.Context, inputs iter.Seq2[Input, error], next chan<- Input, opts *BackfillOptions) error {
	window := opts.LookAhead
	if window <= 0 {
		window = DefaultLookAhead
	}
	pull, stop := iter.Pull2(inputs)
	defer stop()
	pending := &bySize{}
	var count, bytes int64
	listed := false
	var listErr error
	for {
		for !listed && pending.Len() < window {
			in, err, ok := pull()
			switch {
			case !ok:
				listed = true
				if opts.Listed != nil {
					opts.Listed(count, bytes)
				}
			case err != nil:
				listed, listErr = true, err
			case opts.Part.Has(in.Key):
				count++
				if in.Size < 0 || bytes < 0 {
					bytes = -1
				} else {
					bytes += in.Size
				}
				heap.Push(pending, in)
			}
		}
		if listErr != nil || pending.Len() == 0 {
			return listErr
		}
		in := heap.Pop(pending).(Input)
		select {
		case next <- in:
			opts.Stats.Inputs.Add(1)
		case <-ctx.Done():
			return nil
		}
	}
}

// bySize is a heap of inputs, largest first (unknown sizes last), by key
// among equals.
type bySize []Input

func (h bySize) Len() int { return len(h) }
func (h bySize) Less(i, j int) bool {
	if h[i].Size != h[j].Size {
		return h[i].Size > h[j].Size
	}
	return h[i].Key < h[j].Key
}
func (h bySize) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *bySize) Push(x any)   { *h = append(*h, x.(Input)) }
func (h *bySize) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = Input{}
	*h = old[:len(old)-1]
	return x
}

package files

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/objstore/s3lake"
	"github.com/hublake/hublake/pipeline"
)

// TestPart: K/N parses and validates; every key belongs to exactly one part
// of N, the parts are about even, and the share of a key is fixed (a
// backfill split over several runs of different versions must not move
// inputs between parts).
func TestPart(t *testing.T) {
	for s, want := range map[string]Part{"0/4": {0, 4}, "3/4": {3, 4}, " 0/1 ": {0, 1}} {
		if p, err := ParsePart(s); err != nil || p != want {
			t.Errorf("ParsePart(%q) = %v, %v; want %v", s, p, err, want)
		}
	}
	for _, s := range []string{"4/4", "-1/4", "1/0", "1", "a/b", "1/4/2", ""} {
		if _, err := ParsePart(s); err == nil {
			t.Errorf("ParsePart(%q) accepted", s)
		}
	}
	keys := make([]string, 4000)
	for i := range keys {
		keys[i] = fmt.Sprintf("firehose/2025/%02d/%02d/hublake-%d.gz", i%12+1, i%28+1, i)
	}
	for n := 1; n <= 7; n++ {
		counts := make([]int, n)
		for _, k := range keys {
			owners := 0
			for i := range n {
				if (Part{K: i, N: n}).Has(k) {
					owners++
					counts[i]++
				}
			}
			if owners != 1 {
				t.Fatalf("%s belongs to %d of %d parts", k, owners, n)
			}
		}
		for i, c := range counts {
			if share := float64(c) / float64(len(keys)); share < 0.7/float64(n) || share > 1.3/float64(n) {
				t.Errorf("part %d/%d has %.1f%% of the keys", i, n, 100*share)
			}
		}
	}
	if !(Part{}).Has("anything") || !(Part{}).Whole() {
		t.Error("the zero Part is not everything")
	}
	golden := map[string]int{"a.json": 0, "findings/2025-01-01.json.gz": 0, "firehose/2026/03/01/00/x": 1, "-": 0, "b.json": 3}
	for k, want := range golden {
		if !(Part{K: want, N: 4}).Has(k) {
			for i := range 4 {
				if (Part{K: i, N: 4}).Has(k) {
					t.Errorf("%q is in part %d/4, was %d/4: the hash changed", k, i, want)
				}
			}
		}
	}
}

// TestInputsLocal: a directory is listed recursively, more entries than
// are read at a time, hidden files and directories and symbolic links
// skipped; keys are paths relative to the directory given (whatever it is
// called), a file given by itself is keyed by its path, stdin by "-".
func TestInputsLocal(t *testing.T) {
	root := t.TempDir()
	want := map[string]int64{}
	write := func(rel string, size int) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2*dirBatch + 17 {
		rel := fmt.Sprintf("flat/%04d.json", i)
		write(rel, i)
		want["flat/"+filepath.Base(rel)] = int64(i)
	}
	for _, rel := range []string{"2025/01/02/a.json.gz", "2025/01/03/b.json", "top.json"} {
		write(rel, 3)
		want[rel] = 3
	}
	write(".hidden.json", 1)
	write(".git/objects/x", 1)
	write("2025/.tmp/c.json", 1)
	if err := os.Symlink(filepath.Join(root, "top.json"), filepath.Join(root, "link.json")); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{root, root + "/", filepath.Join(root, ".", "")} {
		got := map[string]int64{}
		for in, err := range Inputs(context.Background(), []string{src}, nil, nil) {
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := got[in.Key]; dup {
				t.Errorf("%s listed twice", in.Key)
			}
			got[in.Key] = in.Size
			if in.Name != filepath.Join(root, filepath.FromSlash(in.Key)) {
				t.Errorf("%s is named %s", in.Key, in.Name)
			}
		}
		if !maps.Equal(got, want) {
			t.Errorf("listing %s: %d inputs, want %d; extra or missing: %v", src, len(got), len(want), symmetricDiff(got, want))
		}
	}
	file := filepath.Join(root, "top.json")
	var keys []string
	for in, err := range Inputs(context.Background(), []string{file, "-"}, nil, strings.NewReader("{}")) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, in.Key)
	}
	if !slices.Equal(keys, []string{filepath.ToSlash(file), "-"}) {
		t.Errorf("keys %v", keys)
	}
	for _, err := range Inputs(context.Background(), []string{filepath.Join(root, "missing")}, nil, nil) {
		if err == nil {
			t.Error("a missing source was listed")
		}
	}
}

func symmetricDiff(a, b map[string]int64) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, "+"+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "-"+k)
		}
	}
	slices.Sort(out)
	return out
}

// countLists counts the ListObjectsV2 calls of the clients built from cfg.
func countLists(cfg *aws.Config, n *atomic.Int64) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countLists",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetOperationName(ctx) == "ListObjectsV2" {
					n.Add(1)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

// TestInputsS3Streams: an S3 prefix is listed a page at a time: the first
// input comes after the first page, before the rest of the listing is
// asked for; all of them come, keyed by their object keys; an empty prefix
// is an error.
func TestInputsS3Streams(t *testing.T) {
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(fake.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	ctx := context.Background()
	cfg, err := awsconf.Load(ctx, awsconf.Options{Region: localstack.Region})
	if err != nil {
		t.Fatal(err)
	}
	var lists atomic.Int64
	countLists(&cfg, &lists)
	client := s3lake.NewClient(cfg, s3lake.Options{Endpoint: fake.URL, PathStyle: true})
	laketest.CreateBucket(t, client, "archive")
	const objects = 2100 // three pages of at most 1,000 keys
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range objects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			key := fmt.Sprintf("firehose/%04d.json", i)
			if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("archive"), Key: aws.String(key), Body: strings.NewReader("{}")}); err != nil {
				t.Errorf("put %s: %v", key, err)
			}
		}()
	}
	wg.Wait()
	lists.Store(0)

	next, stop := iter.Pull2(Inputs(ctx, []string{"s3://archive/firehose"}, client, nil))
	in, err, ok := next()
	if !ok || err != nil {
		t.Fatalf("first input: %v %v", ok, err)
	}
	if in.Key != "firehose/0000.json" || in.Name != "s3://archive/firehose/0000.json" || in.Size != 2 {
		t.Errorf("first input %+v", in)
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("%d list requests before the first input, want 1 (the listing is not streamed)", n)
	}
	seen := 1
	for {
		_, err, ok := next()
		if !ok {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen++
	}
	stop()
	if seen != objects || lists.Load() != 3 {
		t.Errorf("%d inputs from %d list requests, want %d from 3", seen, lists.Load(), objects)
	}
	// The prefix is a key prefix; a trailing slash is part of it.
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("archive"), Key: aws.String("firehose-old/x.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]int{"s3://archive/firehose/": objects, "s3://archive/firehose": objects + 1, "s3://archive/firehose-": 1} {
		n := 0
		for _, err := range Inputs(ctx, []string{src}, client, nil) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != want {
			t.Errorf("%s lists %d inputs, want %d", src, n, want)
		}
	}
	for _, err := range Inputs(ctx, []string{"s3://archive/nothing-here"}, client, nil) {
		if err == nil || !strings.Contains(err.Error(), "no objects") {
			t.Errorf("an empty prefix: %v", err)
		}
	}
}

// TestBackfillLookAhead: Backfill never lists more than its look-ahead
// window ahead of its workers, and within the window the largest input goes
// first.
func TestBackfillLookAhead(t *testing.T) {
	const inputs, window, workers = 300, 8, 2
	var yielded, opened atomic.Int64
	var mu sync.Mutex
	var order []int64
	var maxAhead int64
	tiny := func(size int64) Input {
		return Input{Name: fmt.Sprint(size), Key: fmt.Sprint(size), Size: size, open: func(context.Context) (io.ReadCloser, error) {
			opened.Add(1)
			mu.Lock()
			order = append(order, size)
			mu.Unlock()
			// As many bytes as listed (blanks: no units), or the input
			// would fail as one that shrank.
			return io.NopCloser(strings.NewReader(strings.Repeat(" ", int(size)))), nil
		}}
	}
	seq := func(yield func(Input, error) bool) {
		for i := range int64(inputs) {
			if ahead := yielded.Add(1) - opened.Load(); ahead > maxAhead {
				maxAhead = ahead
			}
			if !yield(tiny(i*7919%inputs), nil) {
				return
			}
		}
	}
	store, _ := dirlake.New(t.TempDir())
	stats := &pipeline.Stats{}
	var listed int64 = -1
	err := Backfill(context.Background(), seq, BackfillOptions{Store: store, Workers: workers, LookAhead: window, Stats: stats,
		Listed: func(n, _ int64) { listed = n }})
	if err != nil {
		t.Fatal(err)
	}
	if opened.Load() != inputs || stats.Inputs.Load() != inputs || listed != inputs {
		t.Fatalf("%d inputs opened, %d counted, %d listed; want %d", opened.Load(), stats.Inputs.Load(), listed, inputs)
	}
	// The window, the input being handed over, and one per worker.
	if maxAhead > window+1+workers+1 {
		t.Errorf("the listing ran %d inputs ahead of the workers, more than the window of %d allows", maxAhead, window)
	}

	// A source that fits the window goes largest first.
	order = nil
	opened.Store(0)
	sizes := []int64{5, 90, 1, 40, 40, 7}
	var ins []Input
	for _, s := range sizes {
		ins = append(ins, tiny(s))
	}
	if err := Backfill(context.Background(), InputsOf(ins...), BackfillOptions{Store: store, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []int64{90, 40, 40, 7, 5, 1}) {
		t.Errorf("inputs were read in the order %v, want largest first", order)
	}
}

// TestBackfillParts: N parts of a backfill write disjoint sets of objects
// whose union is, byte for byte, what one run writes (also when they share
// a lake), and a part run again writes the same objects again.
func TestBackfillParts(t *testing.T) {
	in := corpus(t, 1200, 8)
	whole := lakecheck.Files(t, backfillDirOut(t, BackfillOptions{}, in))
	if len(whole) < 10 {
		t.Fatalf("the whole run wrote only %d objects", len(whole))
	}
	const n = 4
	union := map[string][]byte{}
	shared := t.TempDir()
	var inputs int64
	for k := range n {
		opts := BackfillOptions{Part: Part{K: k, N: n}}
		part := lakecheck.Files(t, backfillDirOut(t, opts, in))
		stats := backfillDir(t, shared, opts, in)
		inputs += stats.Inputs.Load()
		for name, b := range part {
			if _, dup := union[name]; dup {
				t.Errorf("part %d/%d writes %s, which another part wrote", k, n, name)
			}
			union[name] = b
		}
	}
	files, _ := filepath.Glob(filepath.Join(in, "*"))
	if inputs != int64(len(files)) || len(files) < 4 {
		t.Errorf("the parts read %d inputs in all, want the corpus's %d", inputs, len(files))
	}
	compareLakes(t, "the union of the parts", union, whole)
	compareLakes(t, "the parts in one lake", lakecheck.Files(t, shared), whole)
	backfillDir(t, shared, BackfillOptions{Part: Part{K: 2, N: n}}, in)
	compareLakes(t, "the lake after part 2/4 ran again", lakecheck.Files(t, shared), whole)
}

func backfillDirOut(t *testing.T, opts BackfillOptions, sources ...string) string {
	t.Helper()
	out := t.TempDir()
	backfillDir(t, out, opts, sources...)
	return out
}

func compareLakes(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Errorf("%s: %d objects, one run %d", what, len(got), len(want))
		return
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s: %s differs from one run's", what, name)
		}
	}
}

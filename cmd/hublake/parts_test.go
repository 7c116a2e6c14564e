package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hublake/hublake/files"
	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/localstack"
)

// TestResolvePart: --part, else AWS Batch's array index of --parts, else
// everything; contradictions and incomplete settings are errors.
func TestResolvePart(t *testing.T) {
	env := func(index string) func(string) string {
		return func(k string) string {
			if k == batchArrayIndex {
				return index
			}
			return ""
		}
	}
	for _, tc := range []struct {
		flag  files.Part
		parts int
		index string
		want  files.Part
		err   string
	}{
		{want: files.Part{}},
		{flag: files.Part{K: 1, N: 4}, want: files.Part{K: 1, N: 4}},
		{flag: files.Part{K: 1, N: 4}, parts: 4, index: "3", want: files.Part{K: 1, N: 4}},
		{flag: files.Part{K: 1, N: 4}, parts: 8, err: "disagree"},
		{parts: 4, index: "3", want: files.Part{K: 3, N: 4}},
		{parts: 1, index: "0", want: files.Part{K: 0, N: 1}},
		{parts: 1, want: files.Part{}},
		{index: "2", err: "--parts"},
		{parts: 4, index: "4", err: "0 ≤ K < N"},
		{parts: 4, index: "x", err: "not a number"},
		{parts: 4, err: "without AWS_BATCH_JOB_ARRAY_INDEX"},
	} {
		got, err := resolvePart(tc.flag, tc.parts, env(tc.index))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%+v: error %v, want one about %q", tc, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%+v: got %v, %v; want %v", tc, got, err, tc.want)
		}
	}
}

var summaryRE = regexp.MustCompile(`(?m)^  (inputs|objects written) +(\d+)`)

// backfillRun is one `hublake backfill` process's summary.
type backfillRun struct{ inputs, objects int }

// backfill runs `hublake backfill` over S3 with extra environment and flags.
func (e *env) backfill(extraEnv []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(hublakeBin, append([]string{"backfill", "--s3-endpoint", stack.S3, "--progress", "none", "--workers", "2"}, args...)...)
	cmd.Env = append(append(os.Environ(), stack.Env()...), extraEnv...)
	cmd.Env = append(cmd.Env, "HUBLAKE_RECORD_AWS_OPS="+backfillOpsFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

func parseSummary(t *testing.T, out string) backfillRun {
	t.Helper()
	var r backfillRun
	found := 0
	for _, m := range summaryRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "inputs" {
			r.inputs = n
		} else {
			r.objects = n
		}
		found++
	}
	if found != 2 {
		t.Fatalf("no summary in the output:\n%s", out)
	}
	return r
}

// TestBackfillPartsOnS3: four `hublake backfill` processes, each one part of
// the same S3 prefix (two by --part, two as AWS Batch array children by
// AWS_BATCH_JOB_ARRAY_INDEX and HUBLAKE_PARTS), run at once into one lake
// and write exactly the objects, byte for byte, that one process writes
// over the prefix; they write disjoint sets of objects (their object counts
// add up to the one run's); and one part run again changes nothing.
func TestBackfillPartsOnS3(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	ctx := context.Background()
	corpus := t.TempDir()
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events, cfg.BadRatio = 0, 1600, 0.01
	if _, err := gen.WriteDir(ctx, corpus, cfg, gen.WriteOptions{FileBytes: 500 << 10, Gzip: true}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*"))
	if len(files) < 8 {
		t.Fatalf("the corpus has %d files; the test wants several per part", len(files))
	}
	client := s3.New(s3.Options{
		Region: localstack.Region, BaseEndpoint: aws.String(stack.S3), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, ""),
	})
	src := e.prefix + "-src"
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%s/2026/%02d/%02d/%s", src, i%3+1, i%5+1, filepath.Base(f))
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	source := "s3://" + e.bucket + "/" + src
	lk := func(name string) (string, string) {
		return "s3://" + e.bucket + "/" + e.prefix + "-" + name, filepath.Join(stack.S3Root, e.bucket, e.prefix+"-"+name)
	}

	oneURL, oneDir := lk("one")
	cmd, out := e.backfill(nil, "--out", oneURL, source)
	if err := cmd.Run(); err != nil {
		t.Fatalf("backfill: %v\n%s", err, out)
	}
	one := parseSummary(t, out.String())
	want := lakecheck.Files(t, oneDir)
	if one.inputs != len(files) || one.objects != len(want) || len(want) < 10 {
		t.Fatalf("one run: %d inputs, %d objects (%d in the lake); want %d inputs", one.inputs, one.objects, len(want), len(files))
	}
	// Backfill's objects are meant to stay: ZSTD (encode.DefaultCodec).
	if got := lakecheck.Codecs(t, oneDir); len(got) != 1 || got["ZSTD"] == 0 {
		t.Errorf("backfill's objects by codec: %v, want all ZSTD", got)
	}

	partsURL, partsDir := lk("parts")
	const n = 4
	runs := make([]backfillRun, n)
	var wg sync.WaitGroup
	for k := range n {
		var cmd *exec.Cmd
		var out *bytes.Buffer
		if k < 2 {
			cmd, out = e.backfill(nil, "--out", partsURL, "--part", fmt.Sprintf("%d/%d", k, n), source)
		} else {
			cmd, out = e.backfill([]string{"AWS_BATCH_JOB_ARRAY_INDEX=" + strconv.Itoa(k), "HUBLAKE_PARTS=" + strconv.Itoa(n)}, "--out", partsURL, source)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				t.Errorf("part %d/%d: %v\n%s", k, n, err, out)
				return
			}
			if !regexp.MustCompile(fmt.Sprintf(`(?m)^  part +%d/%d$`, k, n)).MatchString(out.String()) {
				t.Errorf("part %d/%d does not say which part it read:\n%s", k, n, out)
			}
			runs[k] = parseSummary(t, out.String())
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var inputs, objects int
	for _, r := range runs {
		inputs += r.inputs
		objects += r.objects
	}
	got := lakecheck.Files(t, partsDir)
	compareTrees(t, "the four parts' lake", got, want)
	// Every object of the lake is written by some part; as many objects as
	// the lake holds were written in all, so no two parts wrote the same.
	if inputs != one.inputs || objects != len(want) {
		t.Errorf("the parts read %d inputs and wrote %d objects; one run %d and %d (parts %+v)", inputs, objects, one.inputs, len(want), runs)
	}

	cmd, out = e.backfill([]string{"AWS_BATCH_JOB_ARRAY_INDEX=1", "HUBLAKE_PARTS=4"}, "--out", partsURL, source)
	if err := cmd.Run(); err != nil {
		t.Fatalf("part 1/4 again: %v\n%s", err, out)
	}
	if again := parseSummary(t, out.String()); again != runs[1] {
		t.Errorf("part 1/4 run again read and wrote %+v, the first time %+v", again, runs[1])
	}
	compareTrees(t, "the lake after part 1/4 ran again", lakecheck.Files(t, partsDir), want)
}

func compareTrees(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
		t.Fatalf("%s has %d objects, one run's lake %d:\n got %v\nwant %v", what, len(got), len(want), slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s: %s differs from one run's", what, name)
		}
	}
}

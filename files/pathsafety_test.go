package files

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore/s3lake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// pathHostileInput writes findings whose every data-derived value looks like
// a path (account, region, ids, event and finding times) into files whose
// names do too, and returns the directory.
func pathHostileInput(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	var events []string
	for i, v := range []string{"../../x", "..", "/", "a/b", "../../..", `..\..\x`, "/etc/passwd", "dt=2024-01-01/../../x", "x\x00y", "%2e%2e%2f"} {
		q := fmt.Sprintf("%q", v)
		f := hostile.Finding(fmt.Sprintf("../../finding/%d/%s", i, v),
			`"AwsAccountId":`+q, `"Region":`+q, `"ProductName":`+q, `"CompanyName":`+q,
			`"Resources":[{"Type":`+q+`,"Id":`+q+`,"Region":`+q+`,"Partition":`+q+`}]`)
		events = append(events,
			// A usable event time: a row in that date's partition.
			hostile.Imported(v, hostile.Time, f),
			// A path for a time, UpdatedAt usable: a row by UpdatedAt.
			hostile.Imported(v, v, f),
			// Paths for both times: a dead letter without a date.
			hostile.Imported(v, v, hostile.Finding(fmt.Sprintf("f%d", i), `"UpdatedAt":`+q, `"AwsAccountId":`+q)),
			// Times outside the partition range: dead letters.
			hostile.Imported(v, "9999-12-31T23:59:59Z", f),
			hostile.Imported(v, "1969-12-31T23:59:59Z", hostile.Finding(fmt.Sprintf("f%d", i), `"UpdatedAt":"0001-01-01T00:00:00Z"`)),
			// An insight with a path for an ARN and for a result value.
			hostile.Insight(v, hostile.Time, `"insightArn":`+q+`,"insightResults":[{`+q+`:1}]`),
		)
		// A bare finding (no envelope) whose UpdatedAt is a path.
		events = append(events, hostile.Finding(fmt.Sprintf("bare%d", i), `"UpdatedAt":`+q))
	}
	body := []byte(strings.Join(events, "\n") + "\n")
	// File names a user's directory can hold: dots, quotes, shell syntax,
	// newlines, a leading dash, percent escapes, non-ASCII (hidden ones, like
	// "..json", are skipped by design).
	names := []string{"..json", "...", "-", "--out=..", "a b'\"$(x).json", "x\ny.json", "%2e%2e%2fx", "ü.json", "dt=2024-01-01"}
	for i, name := range names {
		sub := filepath.Join(dir, "d..."+fmt.Sprint(i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		// A first line of its own makes each file's object names its own.
		first := hostile.Imported(fmt.Sprintf("file-%d", i), hostile.Time, hostile.Finding(fmt.Sprintf("file-%d", i))) + "\n"
		if err := os.WriteFile(filepath.Join(sub, name), append([]byte(first), body...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestBackfillStaysInsideTheRoot: a backfill of findings whose accounts,
// regions, ids and times look like paths, from files whose names do too,
// writes only well-formed keys under the lake root: nothing beside the root
// in its parent directory, and on S3 nothing outside the prefix.
func TestBackfillStaysInsideTheRoot(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	in := pathHostileInput(t)
	parent := t.TempDir()
	root := filepath.Join(parent, "lake")
	stats := backfillDir(t, root, BackfillOptions{Policy: pipeline.Policy{MaxUnits: 7}}, in)
	if stats.Rows(schema.Findings).Load() == 0 || stats.DeadLetters.Load() == 0 || stats.Rows(schema.InsightResults).Load() == 0 {
		t.Fatalf("the input made %d findings, %d insight results, %d dead letters; want some of each",
			stats.Rows(schema.Findings).Load(), stats.Rows(schema.InsightResults).Load(), stats.DeadLetters.Load())
	}
	var files int
	err := filepath.Walk(parent, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			if p != parent {
				t.Errorf("written outside the lake root: %s", p)
			}
			return nil
		}
		if info.IsDir() {
			return nil
		}
		files++
		if err := layout.CheckKey(filepath.ToSlash(rel)); err != nil {
			t.Errorf("not a lake key: %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if int64(files) != stats.Objects.Load() {
		t.Errorf("%d files under the root, %d objects written", files, stats.Objects.Load())
	}
	// The hostile values are data, intact in their columns.
	db := lakecheck.Open(t)
	if n := lakecheck.Int(t, db, "SELECT count(*) FROM "+lakecheck.TableGlob(root, "findings")+" WHERE aws_account_id = '../../x' AND region = '../../x'"); n == 0 {
		t.Error(`no row keeps AwsAccountId "../../x" as its value`)
	}
	for _, d := range lakecheck.DeadLetters(t, root) {
		if !layout.ValidDate(d.Dt) {
			t.Errorf("dead letter partition %q", d.Dt)
		}
	}

	// The same input into S3 under a prefix: every key is under the prefix
	// and well formed.
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(fake.Close)
	ctx := context.Background()
	store := laketest.NewS3(t, fake.URL, "s3://lake/pfx", s3lake.Options{}, 0, 0)
	laketest.CreateBucket(t, store.Client(), "lake")
	s3stats := &pipeline.Stats{}
	if err := Backfill(ctx, Inputs(ctx, []string{in}, nil, nil), BackfillOptions{Policy: pipeline.Policy{MaxUnits: 7}, Store: store, Stats: s3stats}); err != nil {
		t.Fatal(err)
	}
	out, err := store.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lake")})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(out.Contents)) != s3stats.Objects.Load() || len(out.Contents) == 0 {
		t.Errorf("%d keys in the bucket, %d objects written", len(out.Contents), s3stats.Objects.Load())
	}
	for _, o := range out.Contents {
		key := aws.ToString(o.Key)
		rel, ok := strings.CutPrefix(key, "pfx/")
		if !ok || layout.CheckKey(rel) != nil {
			t.Errorf("key outside the prefix or not a lake key: %q", key)
		}
	}
}

package files

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/objstore/s3lake"
	"github.com/hublake/hublake/pipeline"
)

// event builds an EventBridge event around one finding.
func event(t testing.TB, id, detailType, action string, finding map[string]any) []byte {
	t.Helper()
	ev := map[string]any{
		"version": "0", "id": id, "detail-type": detailType, "source": "aws.securityhub",
		"account": "111122223333", "time": "2025-06-01T10:00:00Z", "region": "us-east-1",
		"resources": []string{},
		"detail":    map[string]any{"findings": []any{finding}},
	}
	if action != "" {
		ev["resources"] = []string{action}
		ev["detail"].(map[string]any)["actionName"] = "send_to_lake"
		ev["detail"].(map[string]any)["actionDescription"] = "Send the finding to the lake"
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func finding(updatedAt, workflow, note string) map[string]any {
	f := map[string]any{
		"SchemaVersion": "2018-10-08",
		"Id":            "arn:aws:securityhub:us-east-1:111122223333:subscription/cis/1.4/finding/dedup-test",
		"ProductArn":    "arn:aws:securityhub:us-east-1::product/aws/securityhub",
		"AwsAccountId":  "111122223333",
		"Title":         "1.4 Ensure no root account access key exists",
		"UpdatedAt":     updatedAt,
		"Severity":      map[string]any{"Label": "CRITICAL"},
		"Workflow":      map[string]any{"Status": workflow},
	}
	if note != "" {
		f["Note"] = map[string]any{"Text": note, "UpdatedBy": "analyst", "UpdatedAt": updatedAt}
	}
	return f
}

// TestDedup: the dedup key is (event kind, action ARN, finding content), so
// retries collapse while every real change, even one that keeps UpdatedAt
// (BatchUpdateFindings), and every custom-action delivery gets its own row.
func TestDedup(t *testing.T) {
	const action = "arn:aws:securityhub:us-east-1:111122223333:action/custom/send_to_lake"
	imported, custom := "Security Hub Findings - Imported", "Security Hub Findings - Custom Action"
	e1 := event(t, "e1", imported, "", finding("2025-06-01T09:00:00Z", "NEW", ""))
	lines := [][]byte{
		e1,
		e1, // EventBridge retry: same bytes
		event(t, "e2", imported, "", finding("2025-06-01T09:30:00Z", "NEW", "")),                                    // new UpdatedAt
		event(t, "e3", imported, "", finding("2025-06-01T09:30:00Z", "NOTIFIED", "")),                               // workflow change, same UpdatedAt
		event(t, "e4", imported, "", finding("2025-06-01T09:30:00Z", "NOTIFIED", "ticket OPS-1 opened")),            // note change, same UpdatedAt
		event(t, "e5", custom, action, finding("2025-06-01T09:30:00Z", "NOTIFIED", "ticket OPS-1 opened")),          // same finding, sent by an analyst
		event(t, "e5", custom, action, finding("2025-06-01T09:30:00Z", "NOTIFIED", "ticket OPS-1 opened")),          // its retry
		event(t, "e6", imported, "", finding("2025-06-01T09:30:00Z", "NOTIFIED", "ticket OPS-1 opened")),            // re-import, same content as e4
		event(t, "e7", custom, action+"-other", finding("2025-06-01T09:30:00Z", "NOTIFIED", "ticket OPS-1 opened")), // another action
	}
	in := writeLines(t, lines...)
	root := t.TempDir()
	stats := backfillDir(t, root, BackfillOptions{}, in)
	db := lakecheck.Open(t)
	rows := lakecheck.Rows(t, db, "SELECT event_id, action_arn, workflow_status, note_text FROM "+lakecheck.TableGlob(root, "findings")+" ORDER BY source")
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprint(r["event_id"]))
	}
	want := []string{"e1", "e2", "e3", "e4", "e5", "e7"}
	if !slices.Equal(got, want) {
		t.Fatalf("rows from events %v, want %v", got, want)
	}
	if stats.Duplicates.Load() != 3 {
		t.Errorf("duplicates = %d, want 3 (e1 retry, e5 retry, e6 re-import of e4's content)", stats.Duplicates.Load())
	}
}

// writeLines writes units as NDJSON into a temporary file and returns its
// path.
func writeLines(t testing.TB, lines ...[]byte) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(in, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

// corpus writes a generated corpus of several files and returns its dir.
func corpus(t testing.TB, events int64, files int64) string {
	t.Helper()
	dir := t.TempDir()
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events = 0, events
	cfg.BadRatio = 0.01
	if _, err := gen.WriteDir(context.Background(), dir, cfg, gen.WriteOptions{FileBytes: events * 4000 / files}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBackfillDeterministic: the same input gives the same objects with the
// same bytes, whatever the number of workers and however often it runs.
func TestBackfillDeterministic(t *testing.T) {
	in := corpus(t, 3000, 3)
	policy := pipeline.Policy{MaxBytes: 2 << 20, MaxUnits: 700}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	// Sequential: one file at a time, decoded on its own goroutine.
	backfillDir(t, a, BackfillOptions{Policy: policy, Workers: 1, Decoders: 1}, in)
	first := lakecheck.Files(t, a)
	backfillDir(t, a, BackfillOptions{Policy: policy, Workers: 1, Decoders: 1}, in) // re-run into the same lake
	backfillDir(t, b, BackfillOptions{Policy: policy, Workers: 3}, in)
	// One file at a time, each decoded by many goroutines and its objects
	// written side by side.
	backfillDir(t, c, BackfillOptions{Policy: policy, Workers: 1, Decoders: 8}, in)
	again, other, decoders := lakecheck.Files(t, a), lakecheck.Files(t, b), lakecheck.Files(t, c)
	if len(first) < 10 {
		t.Fatalf("only %d objects: the test needs several batches per file", len(first))
	}
	for name, want := range first {
		if !bytes.Equal(again[name], want) {
			t.Errorf("re-run changed %s", name)
		}
		if !bytes.Equal(other[name], want) {
			t.Errorf("3 workers wrote %s differently (or not at all)", name)
		}
		if !bytes.Equal(decoders[name], want) {
			t.Errorf("8 decoders wrote %s differently (or not at all)", name)
		}
	}
	if len(again) != len(first) || len(other) != len(first) || len(decoders) != len(first) {
		t.Errorf("object counts: first %d, re-run %d, 3 workers %d, 8 decoders %d", len(first), len(again), len(other), len(decoders))
	}
	for name := range first {
		if strings.Contains(name, ".tmp-") {
			t.Errorf("temporary file left behind: %s", name)
		}
	}
}

// TestBackfillS3MatchesLocal writes the same input to a local directory, to
// versitygw (a real S3 server on loopback that checks SigV4 signatures) and
// to gofakes3 in process: the three lakes hold identical objects.
func TestBackfillS3MatchesLocal(t *testing.T) {
	in := corpus(t, 1500, 2)
	samples, _ := filepath.Glob(filepath.Join(lakecheck.SamplesDir(t), "*.json"))
	sources := append([]string{in}, samples...)
	policy := pipeline.Policy{MaxBytes: 1 << 20}
	local := t.TempDir()
	backfillDir(t, local, BackfillOptions{Policy: policy}, sources...)
	want := lakecheck.Files(t, local)

	stack := localstack.Start(t, localstack.Options{S3: true})
	stack.SetEnv(t)
	stack.Bucket(t, "lake")

	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(fake.Close)

	for _, tc := range []struct {
		name, endpoint string
		objects        func(t *testing.T, store *s3lake.Lake) map[string][]byte
	}{
		{"versitygw", stack.S3, func(t *testing.T, _ *s3lake.Lake) map[string][]byte {
			return lakecheck.Files(t, filepath.Join(stack.S3Root, "lake", "pfx"))
		}},
		{"gofakes3", fake.URL, func(t *testing.T, store *s3lake.Lake) map[string][]byte {
			return laketest.ReadBucket(t, store.Client(), "lake", "pfx/")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := laketest.NewS3(t, tc.endpoint, "s3://lake/pfx", s3lake.Options{}, 0, 0)
			if tc.name == "gofakes3" {
				laketest.CreateBucket(t, store.Client(), "lake")
			}
			if err := Backfill(ctx, Inputs(ctx, sources, nil, nil), BackfillOptions{Policy: policy, Store: store}); err != nil {
				t.Fatal(err)
			}
			got := tc.objects(t, store)
			if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
				t.Fatalf("objects differ:\n s3:    %v\n local: %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
			}
			for k, v := range want {
				if !bytes.Equal(got[k], v) {
					t.Errorf("%s differs between S3 and the local lake", k)
				}
			}
		})
	}
}

func TestBackfillFromS3Input(t *testing.T) {
	fake := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(fake.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	ctx := context.Background()
	client := laketest.NewS3(t, fake.URL, "s3://archive", s3lake.Options{}, 0, 0).Client()
	laketest.CreateBucket(t, client, "archive")
	in := corpus(t, 500, 2)
	files, _ := filepath.Glob(filepath.Join(in, "*"))
	for _, f := range files {
		laketest.PutFile(t, client, "archive", "firehose/2025/"+filepath.Base(f), f)
	}
	fromS3, fromDisk := t.TempDir(), t.TempDir()
	store, _ := dirlake.New(fromS3)
	stats := &pipeline.Stats{}
	if err := Backfill(ctx, Inputs(ctx, []string{"s3://archive/firehose/"}, client, nil), BackfillOptions{Store: store, Stats: stats}); err != nil {
		t.Fatal(err)
	}
	backfillDir(t, fromDisk, BackfillOptions{}, in)
	a, b := lakecheck.Files(t, fromS3), lakecheck.Files(t, fromDisk)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d objects from S3 input, %d from the same files on disk", len(a), len(b))
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("object %s missing when reading from S3", k)
		}
	}
	if stats.Units.Load() != 500 {
		t.Errorf("read %d units from S3, want 500", stats.Units.Load())
	}
}

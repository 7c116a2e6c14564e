package sinks

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hublake/hublake/internal/faults"
	"github.com/hublake/hublake/schema"
)

// Values an attacker can put where a partition value or a name part comes
// from: a finding's account or region, an event time, a stream name or a
// shard id, a file name.
var hostileParts = []string{
	"../../x", "..", ".", "/", "a/b", "a/../../b", `a\b`, `..\..\x`, "/etc/passwd",
	"../../..", "2024-01-01/../..", "dt=2024-01-01/../../x", "a\x00b", "a\nb", " ",
	"", "-x", ".hidden", "a..b", "ü", "a b", "%2e%2e%2f", "x/", "/x", strings.Repeat("a", 300),
	"2024-01-01/x", "10000-01-01", "2024-13-01", "2024-01-1",
}

func TestObjectKeyRefusesHostileParts(t *testing.T) {
	t.Parallel()
	for _, table := range []string{schema.TableFindings, schema.TableInsightResults, schema.TableDeadLetters} {
		for _, v := range hostileParts {
			if key, err := ObjectKey(table, v, "name"); err == nil {
				t.Errorf("ObjectKey(%q, dt=%q) = %q, want an error", table, v, key)
			}
			if ValidName(v) {
				// A few hostile-looking values are plain names ("-x" is not);
				// they must still make a key that stays in the partition.
				key, err := ObjectKey(table, "2024-01-01", v)
				if err != nil || CheckKey(key) != nil || strings.Count(key, "/") != 2 {
					t.Errorf("ObjectKey(name=%q) = %q, %v: a valid name must make a valid key", v, key, err)
				}
				continue
			}
			if key, err := ObjectKey(table, "2024-01-01", v); err == nil {
				t.Errorf("ObjectKey(%q, name=%q) = %q, want an error", table, v, key)
			}
		}
	}
	for _, table := range []string{"", "..", "../findings", "findings/..", "findings/dt=2024-01-01", "other"} {
		if key, err := ObjectKey(table, "2024-01-01", "name"); err == nil {
			t.Errorf("ObjectKey(table=%q) = %q, want an error", table, key)
		}
	}
	if key, err := ObjectKey(schema.TableFindings, "2024-01-01", "stream-shardId-000000000000-4968"); err != nil || key != "findings/dt=2024-01-01/stream-shardId-000000000000-4968.parquet" {
		t.Errorf("a valid key: %q, %v", key, err)
	}
}

// hostileKeys are whole keys that must never reach a store.
var hostileKeys = []string{
	"", "/", "..", "findings", "findings/", "findings/dt=2024-01-01/",
	"../findings/dt=2024-01-01/a.parquet",
	"/findings/dt=2024-01-01/a.parquet",
	"findings/dt=2024-01-01/../../../etc/passwd",
	"findings/dt=2024-01-01/../../x.parquet",
	"findings/dt=2024-01-01/..",
	"findings/dt=2024-01-01/a/b.parquet",
	"findings/dt=2024-01-01/a/../b.parquet",
	"findings/dt=../../x/a.parquet",
	"findings/dt=2024-01-01/.hidden.parquet",
	"findings/dt=2024-01-01/a..parquet",
	`findings\dt=2024-01-01\a.parquet`,
	"findings/dt=2024-01-01/a.parquet\n",
	"findings/dt=2024-01-01/a.parquet\x00",
	"findings/dt=2024-01-01/a b.parquet",
	"findings//dt=2024-01-01/a.parquet",
	"other/dt=2024-01-01/a.parquet",
	"findings/dt=2024-1-01/a.parquet",
	"findings/dt=2024-01-01/ü.parquet",
	// Compaction's bookkeeping (layout.go) has patterns as strict.
	"_hublake/absorbed/../x",
	"_hublake/absorbed/findings/dt=2024-01-01/../../x.parquet",
	"_hublake/absorbed/findings/dt=2024-01-01/.hidden.parquet",
	"_hublake/absorbed/findings/dt=2024-01-01/a/b.parquet",
	"_hublake/locks/findings/dt=2024-01-01/x",
	"_hublake/locks/other/dt=2024-01-01",
	"_hublake/compactions/findings/dt=2024-01-01/x.json",
	"_hublake/compactions/findings/dt=2024-01-01/0123456789abcdef0123456789abcdef.json/x",
	"_hublake/other/findings/dt=2024-01-01/x",
	"_hublake/",
	"x/_hublake/locks/findings/dt=2024-01-01",
}

func TestCheckKeyRefusesHostileKeys(t *testing.T) {
	t.Parallel()
	for _, k := range hostileKeys {
		if CheckKey(k) == nil {
			t.Errorf("CheckKey(%q) accepted it", k)
		}
	}
	for _, k := range []string{"findings/dt=2024-01-01/a.parquet", "dead_letters/dt=1970-01-01/x-0000000000012.jsonl.gz",
		"_hublake/absorbed/findings/dt=2024-01-01/a.parquet", "_hublake/locks/insight_results/dt=2024-01-01",
		"_hublake/compactions/dead_letters/dt=1970-01-01/0123456789abcdef0123456789abcdef.json"} {
		if err := CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q): %v", k, err)
		}
	}
}

// TestSafeNamePart: stream names and shard ids become name parts through
// SafeNamePart; whatever they hold, the result is a valid name without a
// path separator or "..".
func TestSafeNamePart(t *testing.T) {
	t.Parallel()
	for _, v := range hostileParts {
		got := SafeNamePart(v)
		if strings.ContainsAny(got, `/\.`) || got == "" {
			t.Errorf("SafeNamePart(%q) = %q", v, got)
		}
		name := got + "-" + SafeNamePart("shardId-000000000000") + "-49680664686265489273428101641233952911125403354508820482"
		if len(v) < 128 && !ValidName(name) {
			t.Errorf("SafeNamePart(%q) = %q does not make a valid object name", v, got)
		}
	}
}

// TestDirRefusesHostileKeys: the directory store refuses every hostile key
// and creates nothing, anywhere under the root's parent.
func TestDirRefusesHostileKeys(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	root := filepath.Join(parent, "lake")
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range hostileKeys {
		if w, err := d.Create(context.Background(), k); err == nil {
			_, _ = w.Write([]byte("escaped"))
			_ = w.Commit()
			t.Errorf("Dir.Create(%q) accepted it", k)
		}
	}
	// The same through the encoder: every hostile dt or name is refused.
	enc := NewEncoder(d, EncodeOptions{})
	for _, v := range hostileParts {
		if _, err := enc.WriteDeadLetters(context.Background(), v, "name", []schema.DeadLetter{{Reason: "r", Data: []byte("x")}}); err == nil {
			t.Errorf("WriteDeadLetters(dt=%q) accepted it", v)
		}
		if _, err := enc.WriteFindings(context.Background(), "2024-01-01", v, []schema.Finding{{ID: "i", ProductARN: "p"}}); err == nil && !ValidName(v) {
			t.Errorf("WriteFindings(name=%q) accepted it", v)
		}
	}
	err = filepath.Walk(parent, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, "..") || CheckKey(filepath.ToSlash(rel)) != nil {
			t.Errorf("file outside the lake's layout: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestS3RefusesHostileKeys: the S3 store refuses every hostile key before
// sending anything, and an s3:// destination with ".." is refused.
func TestS3RefusesHostileKeys(t *testing.T) {
	t.Parallel()
	proxy := faults.New(gofakes3.New(s3mem.New()).Server())
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	store := newTestS3(t, srv.URL, "s3://lake/prefix", S3Options{})
	createBucket(t, store.Client(), "lake")
	before := len(proxy.Requests())
	for _, k := range hostileKeys {
		if w, err := store.Create(context.Background(), k); err == nil {
			_, _ = w.Write([]byte("escaped"))
			_ = w.Commit()
			t.Errorf("S3.Create(%q) accepted it", k)
		}
	}
	enc := NewEncoder(store, EncodeOptions{})
	for _, v := range hostileParts {
		if _, err := enc.WriteDeadLetters(context.Background(), v, "name", []schema.DeadLetter{{Reason: "r", Data: []byte("x")}}); err == nil {
			t.Errorf("WriteDeadLetters(dt=%q) accepted it", v)
		}
	}
	if n := len(proxy.Requests()) - before; n != 0 {
		t.Errorf("%d requests reached S3 for refused keys: %v", n, proxy.Requests()[before:])
	}
	out, err := store.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("lake")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 0 {
		t.Errorf("objects in the bucket: %d, want none", len(out.Contents))
	}
	for _, dest := range []string{"s3://lake/../other", "s3://lake/a/../../b", "s3://lake/./x", "s3:///x", "s3://"} {
		if _, err := NewS3(aws.Config{Region: "us-east-1"}, dest, S3Options{Endpoint: srv.URL, PathStyle: true}); err == nil {
			t.Errorf("NewS3(%q) accepted it", dest)
		}
	}
}

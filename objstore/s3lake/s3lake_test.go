package s3lake_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/internal/faults"
	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/s3lake"
	"github.com/hublake/hublake/schema"
)

// TestS3StatWhenHEADIsRefused: a role whose s3:ListBucket carries an
// s3:prefix condition gets 403 for a HEAD of a missing key; Stat then asks
// the listing, and still tells a missing object from a present one.
func TestS3StatWhenHEADIsRefused(t *testing.T) {
	t.Parallel()
	backend := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	store := laketest.NewS3(t, srv.URL, "s3://lake/root", s3lake.Options{}, 0, time.Second)
	laketest.CreateBucket(t, store.Client(), "lake")
	ctx := context.Background()
	laketest.Put(t, store, "findings/dt=2024-01-02/a.parquet", []byte("aaaa"))
	if st, err := store.Stat(ctx, "findings/dt=2024-01-02/a.parquet"); err != nil || st.Size != 4 {
		t.Errorf("Stat of a present object = %+v, %v", st, err)
	}
	for _, k := range []string{"findings/dt=2024-01-02/a", "findings/dt=2024-01-02/b.parquet"} {
		if _, err := store.Stat(ctx, k); !errors.Is(err, objstore.ErrNotExist) {
			t.Errorf("Stat(%s) = %v, want objstore.ErrNotExist", k, err)
		}
	}
}

// TestS3DeleteOfAbsentObject: a store that answers a DELETE of an absent
// key with 404 NoSuchKey (versitygw does; AWS answers 204) is no error, as
// objstore.Store promises; another failure still is.
func TestS3DeleteOfAbsentObject(t *testing.T) {
	t.Parallel()
	backend := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			switch {
			case strings.HasSuffix(r.URL.Path, "/absent.parquet"):
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
				return
			case strings.HasSuffix(r.URL.Path, "/denied.parquet"):
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
				return
			}
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	store := laketest.NewS3(t, srv.URL, "s3://lake/root", s3lake.Options{}, 0, time.Second)
	laketest.CreateBucket(t, store.Client(), "lake")
	ctx := context.Background()
	laketest.Put(t, store, "findings/dt=2024-01-02/a.parquet", []byte("aaaa"))
	if err := store.Delete(ctx, "findings/dt=2024-01-02/a.parquet"); err != nil {
		t.Errorf("Delete of a present object: %v", err)
	}
	if _, err := store.Stat(ctx, "findings/dt=2024-01-02/a.parquet"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("after Delete, Stat = %v, want objstore.ErrNotExist", err)
	}
	if err := store.Delete(ctx, "findings/dt=2024-01-02/absent.parquet"); err != nil {
		t.Errorf("Delete answered 404 NoSuchKey: %v, want no error", err)
	}
	if err := store.Delete(ctx, "findings/dt=2024-01-02/denied.parquet"); err == nil {
		t.Error("Delete answered 403 AccessDenied: no error")
	}
}

// TestS3RefusesHostileKeys: the S3 store refuses every hostile key before
// sending anything, and an s3:// destination with ".." is refused.
func TestS3RefusesHostileKeys(t *testing.T) {
	t.Parallel()
	proxy := faults.New(gofakes3.New(s3mem.New()).Server())
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	store := laketest.NewS3(t, srv.URL, "s3://lake/prefix", s3lake.Options{}, 0, time.Second)
	laketest.CreateBucket(t, store.Client(), "lake")
	before := len(proxy.Requests())
	for _, k := range hostile.Keys {
		if w, err := store.Create(context.Background(), k); err == nil {
			_, _ = w.Write([]byte("escaped"))
			_ = w.Commit()
			t.Errorf("S3.Create(%q) accepted it", k)
		}
	}
	enc := encode.New(store, encode.Options{})
	for _, v := range hostile.NameParts {
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
		if _, err := s3lake.New(aws.Config{Region: "us-east-1"}, dest, s3lake.Options{Endpoint: srv.URL, PathStyle: true}); err == nil {
			t.Errorf("s3lake.New(%q) accepted it", dest)
		}
	}
}

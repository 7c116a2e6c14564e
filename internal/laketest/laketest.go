// Package laketest gives tests lakes to write to: a directory and S3
// servers (gofakes3 in process, versitygw from the local stack) behind
// fault-injecting proxies, and the small operations tests do on them.
// Tests only.
package laketest

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/internal/faults"
	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/objstore/s3lake"
)

// Lakes returns the stores every Lake test runs against: a directory and
// versitygw (a real S3 server with conditional writes), the S3 one with
// NewS3's one-second response timeout. The process needs the stack's
// credentials (localstack.Main).
func Lakes(t *testing.T) map[string]objstore.Lake {
	t.Helper()
	d, err := dirlake.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stack := localstack.Start(t, localstack.Options{S3: true, S3Metadata: true})
	stack.Bucket(t, "lake")
	s := NewS3(t, stack.S3, "s3://lake/root", s3lake.Options{}, 0, time.Second)
	return map[string]objstore.Lake{"dir": d, "versitygw": s}
}

// NewS3 returns an S3 store at dest on the server at endpoint (path-style
// addressing), with the retryer's attempts (0: the default) and, when
// timeout is not 0, an HTTP client that gives up on a response after it
// (so that a "timeout" fault costs that, not the production 30 s).
func NewS3(t testing.TB, endpoint, dest string, o s3lake.Options, attempts int, timeout time.Duration) *s3lake.Lake {
	t.Helper()
	opts := awsconf.Options{Region: localstack.Region, MaxAttempts: attempts}
	if timeout > 0 {
		opts.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = timeout
		})
	}
	cfg, err := awsconf.Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	o.Endpoint, o.PathStyle = endpoint, true
	store, err := s3lake.New(cfg, dest, o)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// Server is an S3 server behind a fault-injecting proxy.
type Server struct {
	Name  string
	Proxy *faults.Proxy
	URL   string
}

// GoFakeS3 runs gofakes3 in process behind a proxy.
func GoFakeS3(t testing.TB) Server {
	t.Helper()
	p := faults.New(gofakes3.New(s3mem.New()).Server())
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })
	return Server{Name: "gofakes3", Proxy: p, URL: srv.URL}
}

// Versitygw starts versitygw (a real S3 server that checks SigV4
// signatures and part ETags) behind a proxy.
func Versitygw(t testing.TB) Server {
	t.Helper()
	stack := localstack.Start(t, localstack.Options{S3: true, S3Metadata: true})
	p, err := faults.NewReverse(stack.S3)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })
	return Server{Name: "versitygw", Proxy: p, URL: srv.URL}
}

// RandomBytes returns n random bytes.
func RandomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteObject writes data as key through the store in chunks, as the
// encoders do, and commits it.
func WriteObject(ctx context.Context, store objstore.Store, key string, data []byte) error {
	w, err := store.Create(ctx, key)
	if err != nil {
		return err
	}
	for len(data) > 0 {
		n := min(len(data), 256<<10)
		if _, err := w.Write(data[:n]); err != nil {
			_ = w.Abort()
			return err
		}
		data = data[n:]
	}
	return w.Commit()
}

// Put is WriteObject that fails the test on error.
func Put(t testing.TB, s objstore.Store, key string, data []byte) {
	t.Helper()
	if err := WriteObject(context.Background(), s, key, data); err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

// CreateBucket creates a bucket.
func CreateBucket(t testing.TB, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
}

// GetObject returns an object's bytes.
func GetObject(t testing.TB, c *s3.Client, bucket, key string) ([]byte, error) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// OpenUploads returns the number of multipart uploads open in a bucket.
func OpenUploads(t testing.TB, c *s3.Client, bucket string) int {
	t.Helper()
	out, err := c.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "NoSuchUpload" {
		return 0 // gofakes3, for a bucket that never had a multipart upload
	}
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	return len(out.Uploads)
}

// PutFile puts the file at path into a bucket as key.
func PutFile(t testing.TB, c *s3.Client, bucket, key, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: f}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// ReadBucket returns every object under prefix, keyed without the prefix.
func ReadBucket(t testing.TB, c *s3.Client, bucket, prefix string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("get %s: %v", aws.ToString(o.Key), err)
			}
			b, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(aws.ToString(o.Key), prefix)] = b
		}
	}
	return out
}

// HTTPResponse is an empty response with the status code.
func HTTPResponse(code int) *http.Response {
	return &http.Response{StatusCode: code, Header: http.Header{}}
}

package awsconf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hublake/hublake/internal/faults"
	"github.com/hublake/hublake/internal/localstack"
)

// TestCountAttempts: the API option reports the retries and throttles of
// each operation call, as the SDK's retryer made them (a 500 and a 503
// SlowDown before the object is stored: two retries, one throttle), and
// nothing for a call that succeeded at once.
func TestCountAttempts(t *testing.T) {
	t.Parallel()
	proxy := faults.New(gofakes3.New(s3mem.New()).Server())
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() { proxy.Close(); srv.Close() })
	var mu sync.Mutex
	var got []Attempts
	cfg, err := Load(context.Background(), Options{
		Region: localstack.Region,
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = time.Second
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIOptions = append(cfg.APIOptions, CountAttempts(func(a Attempts) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, a)
	}))
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(srv.URL), true })
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lake")}); err != nil {
		t.Fatal(err)
	}
	put := func(key, body string) error {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(key), Body: strings.NewReader(body)})
		return err
	}
	if err := put("pfx/findings/dt=2026-01-01/a.parquet", "first"); err != nil {
		t.Fatal(err)
	}
	proxy.Add(faults.Rule{Ops: []string{"PutObject"}, Faults: []faults.Fault{faults.InternalError, faults.SlowDown}, Limit: 2})
	if err := put("pfx/findings/dt=2026-01-01/b.parquet", "second"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := Attempts{Service: "S3", Operation: "PutObject", Retries: 2, Throttles: 1}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("reported %+v, want [%+v]", got, want)
	}
}

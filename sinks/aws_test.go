package sinks

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/hublake/hublake/internal/faults"
	"github.com/hublake/hublake/internal/localstack"
)

// TestCountAttempts: the API option reports the retries and throttles of
// each operation call, as the SDK's retryer made them (a 500 and a 503
// SlowDown before the object is stored: two retries, one throttle), and
// nothing for a call that succeeded at once.
func TestCountAttempts(t *testing.T) {
	t.Parallel()
	srv := gofakes3Server(t)
	var mu sync.Mutex
	var got []Attempts
	cfg, err := LoadAWSConfig(context.Background(), AWSOptions{
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
	store, err := NewS3(cfg, "s3://lake/pfx", S3Options{Endpoint: srv.url, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	createBucket(t, store.Client(), "lake")
	if err := writeObject(context.Background(), store, "findings/dt=2026-01-01/a.parquet", []byte("first")); err != nil {
		t.Fatal(err)
	}
	srv.proxy.Add(faults.Rule{Ops: []string{"PutObject"}, Faults: []faults.Fault{faults.InternalError, faults.SlowDown}, Limit: 2})
	if err := writeObject(context.Background(), store, "findings/dt=2026-01-01/b.parquet", []byte("second")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := Attempts{Service: "S3", Operation: "PutObject", Retries: 2, Throttles: 1}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("reported %+v, want [%+v]", got, want)
	}
}

package sinks

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/internal/localstack"
)

func TestMain(m *testing.M) { localstack.Main(m) }

// newTestS3 returns an S3 store at dest on the server at endpoint, with an
// HTTP client that gives up on a response after a second (so that a
// "timeout" fault costs a second, not the production 30).
func newTestS3(t testing.TB, endpoint, dest string, o S3Options) *S3 {
	return newTestS3Attempts(t, endpoint, dest, o, 0)
}

// newTestS3Attempts is newTestS3 with the retryer's attempts (0: default).
func newTestS3Attempts(t testing.TB, endpoint, dest string, o S3Options, attempts int) *S3 {
	t.Helper()
	o.Endpoint, o.PathStyle = endpoint, true
	cfg, err := awsconf.Load(context.Background(), awsconf.Options{
		Region: localstack.Region, MaxAttempts: attempts,
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = time.Second
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := NewS3(cfg, dest, o)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func createBucket(t testing.TB, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
}

func httpResponse(code int) *http.Response {
	return &http.Response{StatusCode: code, Header: http.Header{}}
}

package processor

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/sinks"
)

// testS3 returns an S3 store at dest on the server at endpoint.
func testS3(t testing.TB, endpoint, dest string, o sinks.S3Options, attempts int) *sinks.S3 {
	t.Helper()
	cfg, err := awsconf.Load(context.Background(), awsconf.Options{Region: localstack.Region, MaxAttempts: attempts})
	if err != nil {
		t.Fatal(err)
	}
	o.Endpoint, o.PathStyle = endpoint, true
	store, err := sinks.NewS3(cfg, dest, o)
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

func putFile(t testing.TB, c *s3.Client, bucket, key, path string) {
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

// readBucket returns every object under prefix, keyed without the prefix.
func readBucket(t testing.TB, c *s3.Client, bucket, prefix string) map[string][]byte {
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

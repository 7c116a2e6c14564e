package s3lake_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/objstore/s3lake"
)

// TestBucketRegionDiscovery: a client with DiscoverRegion asks each
// bucket's region once (HeadBucket), from the answer's x-amz-bucket-region
// whether S3 answers 200, refuses (403) or redirects (301), and signs every
// request for that region; a server that does not say leaves the client's
// own; a question cut short by the caller's context is asked again;
// s3lake.Options.Region fixes the region without asking.
func TestBucketRegionDiscovery(t *testing.T) {
	regions := map[string]struct {
		region string
		status int
	}{
		"ok-bucket":       {"eu-west-3", http.StatusOK},
		"refused-bucket":  {"ap-south-1", http.StatusForbidden},
		"moved-bucket":    {"us-west-2", http.StatusMovedPermanently},
		"unsaying-bucket": {"", http.StatusOK},
	}
	scope := regexp.MustCompile(`Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/s3/`)
	var mu sync.Mutex
	heads := map[string]int{}
	signed := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		b := regions[bucket]
		mu.Lock()
		if r.Method == http.MethodHead && !strings.Contains(strings.TrimPrefix(r.URL.Path, "/"), "/") {
			heads[bucket]++
		} else if m := scope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			signed[bucket] = append(signed[bucket], m[1])
		}
		mu.Unlock()
		if b.region != "" {
			w.Header().Set("X-Amz-Bucket-Region", b.region)
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(b.status)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte(`<ListBucketResult><Name>` + bucket + `</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`))
	}))
	defer srv.Close()
	cfg, err := awsconf.Load(context.Background(), awsconf.Options{Region: "us-east-1", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	list := func(c *s3.Client, ctx context.Context, bucket string) {
		t.Helper()
		if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); err != nil && ctx.Err() == nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
	}
	c := s3lake.NewClient(cfg, s3lake.Options{Endpoint: srv.URL, PathStyle: true, DiscoverRegion: true})
	for range 3 {
		for bucket := range regions {
			list(c, context.Background(), bucket)
		}
	}
	for bucket, b := range regions {
		want := b.region
		if want == "" {
			want = "us-east-1"
		}
		if heads[bucket] != 1 {
			t.Errorf("%s: %d HeadBucket questions, want 1", bucket, heads[bucket])
		}
		for _, got := range signed[bucket] {
			if got != want {
				t.Errorf("%s: a request signed for %s, want %s", bucket, got, want)
			}
		}
		if len(signed[bucket]) != 3 {
			t.Errorf("%s: %d signed requests, want 3", bucket, len(signed[bucket]))
		}
	}

	// A cancelled question is asked again by the next request.
	c = s3lake.NewClient(cfg, s3lake.Options{Endpoint: srv.URL, PathStyle: true, DiscoverRegion: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	heads["ok-bucket"] = 0
	list(c, ctx, "ok-bucket")
	list(c, context.Background(), "ok-bucket")
	if heads["ok-bucket"] != 1 {
		t.Errorf("after a cancelled question, %d HeadBucket questions, want 1", heads["ok-bucket"])
	}

	// A fixed region: no question, every request signed for it.
	c = s3lake.NewClient(cfg, s3lake.Options{Endpoint: srv.URL, PathStyle: true, Region: "eu-north-1"})
	heads["moved-bucket"], signed["moved-bucket"] = 0, nil
	list(c, context.Background(), "moved-bucket")
	if heads["moved-bucket"] != 0 || len(signed["moved-bucket"]) != 1 || signed["moved-bucket"][0] != "eu-north-1" {
		t.Errorf("with Region eu-north-1: %d questions, signed %v", heads["moved-bucket"], signed["moved-bucket"])
	}
}

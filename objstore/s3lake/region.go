package s3lake

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// Each S3 location is used in its bucket's region, whatever the region of
// the stream or of the other locations: a lake in eu-west-3 and an archive
// in us-east-1 are read and written from one process with one
// configuration. An S3 client made by NewClient resolves the endpoint of
// every request that names a bucket in that bucket's region (the request is
// then signed for it too: the SDK takes the signing region from the
// resolved endpoint): Options.Region when set, else the region S3 tells
// for the bucket (Options.DiscoverRegion), asked once per bucket and
// client.

// bucketRegions knows the region of each bucket.
type bucketRegions struct {
	fixed    string
	discover func(ctx context.Context, bucket string) (string, bool)
	mu       sync.Mutex
	known    map[string]string
}

// region returns the bucket's region, or "" for the client's own.
func (b *bucketRegions) region(ctx context.Context, bucket string) string {
	if b.fixed != "" || b.discover == nil {
		return b.fixed
	}
	b.mu.Lock()
	r, ok := b.known[bucket]
	b.mu.Unlock()
	if ok {
		return r
	}
	r, final := b.discover(ctx, bucket)
	if final {
		b.mu.Lock()
		b.known[bucket] = r
		b.mu.Unlock()
	}
	return r
}

// regionalResolver resolves each request's endpoint in its bucket's region.
type regionalResolver struct {
	base    s3.EndpointResolverV2
	regions *bucketRegions
}

func (r regionalResolver) ResolveEndpoint(ctx context.Context, p s3.EndpointParameters) (smithyendpoints.Endpoint, error) {
	if p.Bucket != nil && *p.Bucket != "" {
		if region := r.regions.region(ctx, *p.Bucket); region != "" {
			p.Region = aws.String(region)
		}
	}
	return r.base.ResolveEndpoint(ctx, p)
}

// regionDiscoveryTimeout bounds the one HeadBucket that asks a bucket's
// region.
const regionDiscoveryTimeout = 10 * time.Second

// headBucketRegion returns a discover function that asks S3 for a bucket's
// region with HeadBucket: S3 answers it in the x-amz-bucket-region header,
// also when it refuses the request (403: the caller may not list the bucket;
// 301: the bucket is in another region than the endpoint asked). final is
// false when the question could not be asked (the context ended): the next
// request asks again. A server that does not say (a local S3 server) leaves
// the client's own region.
func headBucketRegion(client *s3.Client) func(context.Context, string) (string, bool) {
	return func(parent context.Context, bucket string) (string, bool) {
		ctx, cancel := context.WithTimeout(parent, regionDiscoveryTimeout)
		defer cancel()
		out, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}, func(o *s3.Options) {
			o.RetryMaxAttempts = 2
		})
		if err == nil {
			return aws.ToString(out.BucketRegion), true
		}
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.Response != nil {
			return re.Response.Header.Get("X-Amz-Bucket-Region"), true
		}
		return "", parent.Err() == nil
	}
}

package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Options configure the S3 store and the S3 client the file source uses.
type S3Options struct {
	// Endpoint is a custom endpoint URL (a local S3 server).
	Endpoint string
	// PathStyle addresses buckets as /bucket/key (local servers need it).
	PathStyle bool
	// SSE is "" (no header: the bucket's default encryption applies),
	// "aws:kms" or "AES256".
	SSE string
	// SSEKMSKeyID is the KMS key for SSE "aws:kms" (empty: the AWS managed key).
	SSEKMSKeyID string
	// PartSize is the multipart part size (default 8 MiB, minimum 5 MiB).
	PartSize int64
	// Region is the region of every bucket (empty: see DiscoverRegion).
	Region string
	// DiscoverRegion: each bucket's region is asked of S3, once per bucket
	// and client (see region.go); otherwise, without Region, the
	// configuration's region is used.
	DiscoverRegion bool
}

// Validate checks the option combinations a user can get wrong.
func (o S3Options) Validate() error {
	switch o.SSE {
	case "", "aws:kms", "AES256":
	default:
		return fmt.Errorf("--sse must be aws:kms or AES256, not %q", o.SSE)
	}
	if o.SSEKMSKeyID != "" && o.SSE != "aws:kms" {
		return errors.New("--sse-kms-key-id needs --sse aws:kms")
	}
	return nil
}

// NewS3Client builds an S3 client from cfg (see LoadAWSConfig) with the
// options' endpoint and addressing.
func NewS3Client(cfg aws.Config, o S3Options) *s3.Client {
	endpoint := func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
	}
	if o.Region == "" && !o.DiscoverRegion {
		return s3.NewFromConfig(cfg, endpoint)
	}
	regions := &bucketRegions{fixed: o.Region, known: map[string]string{}}
	if o.Region == "" {
		regions.discover = headBucketRegion(s3.NewFromConfig(cfg, endpoint))
	}
	return s3.NewFromConfig(cfg, endpoint, func(so *s3.Options) {
		so.EndpointResolverV2 = regionalResolver{base: s3.NewDefaultEndpointResolverV2(), regions: regions}
	})
}

// ParseS3URL splits s3://bucket/prefix into bucket and prefix (without
// leading or trailing slashes).
func ParseS3URL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" || !strings.HasPrefix(s, "s3://") ||
		u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", "", fmt.Errorf("not an s3://bucket/prefix URL: %q", s)
	}
	if err := CheckBucketName(u.Host); err != nil {
		return "", "", err
	}
	prefix = strings.Trim(u.Path, "/")
	for _, seg := range strings.Split(prefix, "/") {
		if seg == ".." || seg == "." {
			return "", "", fmt.Errorf("s3 prefix %q contains %q", prefix, seg)
		}
	}
	return u.Host, prefix, nil
}

// S3 is a Store in an S3 bucket under a prefix. Objects are streamed with the
// SDK's transfer manager (feature/s3/transfermanager; its predecessor, the
// upload manager, is deprecated): one PutObject for small objects, a
// multipart upload in PartSize parts for large ones, completed on Commit
// (atomic) and aborted on failure, so no object is ever half visible and no
// parts are left behind. Memory stays bounded: the transfer manager reads a
// non-seekable body into a pool of Concurrency+1 part buffers, the memory
// tests' multipart case proves it. (One wart: when CompleteMultipartUpload
// fails, the transfer manager prints a plain-text line through the standard
// library's log package; it names no finding content.)
type S3 struct {
	client *s3.Client
	tm     *transfermanager.Client
	bucket string
	prefix string
	opts   S3Options
}

// minPartSize is S3's smallest multipart part.
const minPartSize = 5 << 20

// NewS3 returns a store for s3://bucket/prefix whose client is built from
// cfg (see LoadAWSConfig).
func NewS3(cfg aws.Config, dest string, o S3Options) (*S3, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	bucket, prefix, err := ParseS3URL(dest)
	if err != nil {
		return nil, err
	}
	client := NewS3Client(cfg, o)
	part := o.PartSize
	if part < minPartSize {
		part = 8 << 20
	}
	tm := transfermanager.New(client, func(t *transfermanager.Options) {
		t.PartSizeBytes = part
		t.MultipartUploadThreshold = part
		t.Concurrency = 2
		// Abort a failed multipart upload on a context of its own, so that
		// a cancelled upload still sends its abort.
		t.FailTimeout = 30 * time.Second
	})
	return &S3{client: client, tm: tm, bucket: bucket, prefix: prefix, opts: o}, nil
}

// Client returns the store's S3 client.
func (s *S3) Client() *s3.Client { return s.client }

func (s *S3) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *S3) fullKey(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// Ping checks that the bucket is reachable with the current credentials. It
// lists at most one key under the prefix, which the task role may do.
func (s *S3) Ping(ctx context.Context) error {
	_, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(s.fullKey("")),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return fmt.Errorf("reach s3://%s: %w", s.bucket, err)
	}
	return nil
}

// Create implements Store.
func (s *S3) Create(ctx context.Context, key string) (ObjectWriter, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	in := &transfermanager.UploadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.fullKey(key)),
	}
	ctype, cenc := ContentType(key)
	in.ContentType = aws.String(ctype)
	if cenc != "" {
		in.ContentEncoding = aws.String(cenc)
	}
	if s.opts.SSE != "" {
		in.ServerSideEncryption = tmtypes.ServerSideEncryption(s.opts.SSE)
		if s.opts.SSEKMSKeyID != "" {
			in.SSEKMSKeyID = aws.String(s.opts.SSEKMSKeyID)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	in.Body = pr
	o := &s3Object{pw: pw, cancel: cancel, done: make(chan struct{}), key: key}
	go func() {
		defer close(o.done)
		_, err := s.tm.UploadObject(ctx, in)
		if err != nil {
			s.abortUpload(ctx, in, err)
			err = fmt.Errorf("upload s3://%s/%s: %w", s.bucket, s.fullKey(key), err)
		}
		o.err = err
		// Unblock a writer if the upload gave up early.
		pr.CloseWithError(errOr(err, errUploadFinished))
	}()
	return o, nil
}

// abortUpload aborts the multipart upload a failed upload began. The
// transfer manager aborts it too (on a context of its own), but a part whose
// request was still being stored when the abort arrived can outlive it ("it
// might be necessary to abort a given multipart upload multiple times", says
// the S3 API reference): so the abort is sent again after a short pause,
// whatever the first one answered (NoSuchUpload included: the race is the
// same). What still slips through is removed by the bucket's lifecycle rule
// (deploy/: incomplete uploads aborted after a day).
func (s *S3) abortUpload(ctx context.Context, in *transfermanager.UploadObjectInput, err error) {
	var mu transfermanager.MultipartUploadError
	if !errors.As(err, &mu) || mu.UploadID() == "" {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	abort := &s3.AbortMultipartUploadInput{Bucket: in.Bucket, Key: in.Key, UploadId: aws.String(mu.UploadID())}
	_, _ = s.client.AbortMultipartUpload(actx, abort)
	select {
	case <-time.After(reabortDelay):
	case <-actx.Done():
		return
	}
	_, _ = s.client.AbortMultipartUpload(actx, abort)
}

// reabortDelay is the pause before the second AbortMultipartUpload: long
// enough for a part request in flight at the first one to end.
const reabortDelay = 500 * time.Millisecond

var (
	errAborted        = errors.New("object aborted")
	errUploadFinished = errors.New("upload already finished")
)

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

type s3Object struct {
	pw       *io.PipeWriter
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
	key      string
	finished bool
}

func (o *s3Object) Write(p []byte) (int, error) {
	n, err := o.pw.Write(p)
	if err != nil {
		<-o.done
		if o.err != nil {
			return n, o.err
		}
		return n, fmt.Errorf("write object %s: %w", o.key, err)
	}
	return n, nil
}

// Commit ends the body; the upload manager then completes the multipart
// upload (or sends the single PutObject) and Commit waits for that.
func (o *s3Object) Commit() error {
	if o.finished {
		return errors.New("object already committed or aborted")
	}
	o.finished = true
	o.pw.Close()
	<-o.done
	o.cancel()
	return o.err
}

// Abort fails the body, which makes the upload manager abort a multipart
// upload it started; nothing becomes visible.
func (o *s3Object) Abort() error {
	if o.finished {
		return nil
	}
	o.finished = true
	o.pw.CloseWithError(errAborted)
	<-o.done
	o.cancel()
	return nil
}

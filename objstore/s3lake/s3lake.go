// Package s3lake is the lake in an S3 bucket: the objstore.Lake of an
// s3://bucket/prefix given as --out (streamed uploads through the transfer
// manager, listing, ranged reads, deletes, and locks by conditional writes),
// the resumable read every S3 object hublake reads goes through (read.go),
// and the region of each bucket (region.go).
package s3lake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
)

// Options configure the S3 store and the S3 client the file source uses.
type Options struct {
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

// Validate checks the option combinations a user can get wrong. The
// commands call it once, with their flags; New does not again.
func (o Options) Validate() error {
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

// NewClient builds an S3 client from cfg (awsconf.Load) with the
// options' endpoint and addressing.
func NewClient(cfg aws.Config, o Options) *s3.Client {
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

// S3 is a objstore.Store in an S3 bucket under a prefix. Objects are streamed with the
// SDK's transfer manager (feature/s3/transfermanager; its predecessor, the
// upload manager, is deprecated): one PutObject for small objects, a
// multipart upload in PartSize parts for large ones, completed on Commit
// (atomic) and aborted on failure, so no object is ever half visible and no
// parts are left behind. Memory stays bounded: the transfer manager reads a
// non-seekable body into a pool of Concurrency+1 part buffers, the memory
// tests' multipart case proves it. (One wart: when CompleteMultipartUpload
// fails, the transfer manager prints a plain-text line through the standard
// library's log package; it names no finding content.)
type Lake struct {
	client *s3.Client
	tm     *transfermanager.Client
	bucket string
	prefix string
	opts   Options
}

// minPartSize is S3's smallest multipart part.
const minPartSize = 5 << 20

// New returns a store for s3://bucket/prefix whose client is built from
// cfg (awsconf.Load), with options o that Options.Validate accepts (the
// commands validate them with their flags, before any work).
func New(cfg aws.Config, dest string, o Options) (*Lake, error) {
	bucket, prefix, err := layout.ParseS3URL(dest)
	if err != nil {
		return nil, err
	}
	client := NewClient(cfg, o)
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
	return &Lake{client: client, tm: tm, bucket: bucket, prefix: prefix, opts: o}, nil
}

// Client returns the store's S3 client.
func (s *Lake) Client() *s3.Client { return s.client }

func (s *Lake) String() string { return "s3://" + s.bucket + "/" + s.prefix }

// URL implements objstore.Lake: s3://bucket/prefix/key.
func (s *Lake) URL(key string) string { return "s3://" + s.bucket + "/" + s.fullKey(key) }

func (s *Lake) fullKey(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// Ping checks that the bucket is reachable with the current credentials. It
// lists at most one key under the prefix, which the task role may do.
func (s *Lake) Ping(ctx context.Context) error {
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

// Create implements objstore.Store.
func (s *Lake) Create(ctx context.Context, key string) (objstore.ObjectWriter, error) {
	if err := layout.CheckKey(key); err != nil {
		return nil, err
	}
	in := &transfermanager.UploadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.fullKey(key)),
	}
	ctype, cenc := layout.ContentType(key)
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
func (s *Lake) abortUpload(ctx context.Context, in *transfermanager.UploadObjectInput, err error) {
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

// Stat implements objstore.Store with HeadObject. S3 answers a HEAD of a missing key
// with 404 only when the caller may list the bucket; a role whose
// s3:ListBucket is limited by an s3:prefix condition may get 403 instead, so
// a 403 is settled by listing the key itself (ListObjectsV2 on the key as
// prefix, which that condition allows).
func (s *Lake) Stat(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := layout.CheckKey(key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.fullKey(key))})
	switch {
	case err == nil:
		return objstore.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), Modified: aws.ToTime(out.LastModified)}, nil
	case httpStatus(err) == http.StatusNotFound:
		return objstore.ObjectInfo{}, fmt.Errorf("s3://%s/%s: %w", s.bucket, s.fullKey(key), objstore.ErrNotExist)
	case httpStatus(err) == http.StatusForbidden:
		return s.statByListing(ctx, key)
	}
	return objstore.ObjectInfo{}, fmt.Errorf("stat s3://%s/%s: %w", s.bucket, s.fullKey(key), err)
}

func (s *Lake) statByListing(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	full := s.fullKey(key)
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(full), MaxKeys: aws.Int32(1)})
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("stat s3://%s/%s (HEAD was refused, and so was the listing): %w", s.bucket, full, err)
	}
	if len(out.Contents) == 0 || aws.ToString(out.Contents[0].Key) != full {
		return objstore.ObjectInfo{}, fmt.Errorf("s3://%s/%s: %w", s.bucket, full, objstore.ErrNotExist)
	}
	return s.info(out.Contents[0]), nil
}

func (s *Lake) info(o types.Object) objstore.ObjectInfo {
	return objstore.ObjectInfo{
		Key:  strings.TrimPrefix(aws.ToString(o.Key), s.fullKey("")),
		Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), Modified: aws.ToTime(o.LastModified),
	}
}

// httpStatus returns the HTTP status of a failed AWS call (0 if none).
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// Delete implements objstore.Store (S3 deletes are idempotent and free of
// charge). An absent object is no error, as objstore.Store promises: AWS
// answers 204 for it, but S3-compatible stores (versitygw, MinIO in some
// modes) answer 404 NoSuchKey, which a retried DELETE whose first answer
// was lost also meets.
func (s *Lake) Delete(ctx context.Context, key string) error {
	if err := layout.CheckKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.fullKey(key))})
	if err != nil && httpStatus(err) != http.StatusNotFound {
		return fmt.Errorf("delete s3://%s/%s: %w", s.bucket, s.fullKey(key), err)
	}
	return nil
}

// List implements objstore.Lake with ListObjectsV2, a page (1,000 keys) at a time.
func (s *Lake) List(ctx context.Context, prefix string) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		if err := layout.CheckPrefix(prefix); err != nil {
			yield(objstore.ObjectInfo{}, err)
			return
		}
		p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.fullKey(prefix))})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(objstore.ObjectInfo{}, fmt.Errorf("list s3://%s/%s: %w", s.bucket, s.fullKey(prefix), err))
				return
			}
			for _, o := range page.Contents {
				if !yield(s.info(o), nil) {
					return
				}
			}
		}
	}
}

// Reads: an object of up to s3WholeRead bytes is fetched with one GET; a
// larger one is read in s3Block ranges (GETs with If-Match on the first
// response's ETag, so a replaced object fails the read instead of mixing two
// versions), of which the last s3Blocks are kept: a Parquet reader reads a
// row group's column chunks side by side, and a row group of a compacted
// object fits in that cache, so each block is fetched once.
const (
	s3WholeRead = 8 << 20
	s3Block     = 1 << 20
	s3Blocks    = 32
)

// Open implements objstore.Lake.
func (s *Lake) Open(ctx context.Context, key string) (objstore.ReadObject, error) {
	if err := layout.CheckKey(key); err != nil {
		return nil, err
	}
	o := &s3ReadObject{ctx: ctx, s: s, key: s.fullKey(key), blocks: map[int64][]byte{}}
	first, size, etag, err := o.get(0, s3WholeRead, "")
	if err != nil {
		return nil, err
	}
	o.size, o.etag = size, etag
	for off := int64(0); off < int64(len(first)); off += s3Block {
		o.put(off, first[off:min(off+s3Block, int64(len(first)))])
	}
	return o, nil
}

type s3ReadObject struct {
	ctx  context.Context
	s    *Lake
	key  string
	size int64
	etag string

	mu     sync.Mutex
	blocks map[int64][]byte
	order  []int64 // oldest first
}

func (o *s3ReadObject) Size() int64  { return o.size }
func (o *s3ReadObject) Close() error { o.blocks = nil; return nil }

// get fetches n bytes at off (fewer at the end) and returns them with the
// object's size and ETag; a body cut on the way is resumed (GetObject).
func (o *s3ReadObject) get(off, n int64, etag string) ([]byte, int64, string, error) {
	body, err := GetObject(o.ctx, o.s.client, o.s.bucket, o.key, Range{Offset: off, Length: n, IfMatch: etag})
	if err != nil {
		return nil, 0, "", err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, 0, "", err
	}
	return b, body.Size(), body.ETag(), nil
}

func (o *s3ReadObject) put(off int64, b []byte) {
	if _, ok := o.blocks[off]; !ok {
		o.order = append(o.order, off)
	}
	o.blocks[off] = b
	for len(o.order) > s3Blocks {
		delete(o.blocks, o.order[0])
		o.order = o.order[1:]
	}
}

// ReadAt implements io.ReaderAt from the cached blocks, fetching the missing
// ones.
func (o *s3ReadObject) ReadAt(p []byte, off int64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.blocks == nil {
		return 0, errors.New("read from a closed object")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= o.size {
			return n, io.EOF
		}
		start := at - at%s3Block
		b, ok := o.blocks[start]
		if !ok {
			got, _, _, err := o.get(start, s3Block, o.etag)
			if err != nil {
				return n, err
			}
			b = got
			o.put(start, b)
		}
		if at-start >= int64(len(b)) {
			return n, io.ErrUnexpectedEOF
		}
		n += copy(p[n:], b[at-start:])
	}
	return n, nil
}

// TryLock implements objstore.Lake with conditional writes of a small JSON object:
// PutObject with If-None-Match: * creates it; a lock that is released or
// whose holder let it expire (not renewed for ttl) is taken over with a
// PutObject whose If-Match is the ETag just read, so of two takers exactly
// one succeeds. Renew and Release are PutObjects with If-Match on the ETag
// the holder wrote last: a holder whose lock was taken over learns it from
// the failed condition (objstore.ErrLockLost) before it does anything else.
func (s *Lake) TryLock(ctx context.Context, key, holder string, ttl time.Duration) (objstore.Lock, error) {
	if err := layout.CheckKey(key); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(key, layout.MetaPrefix+"locks/") {
		return nil, fmt.Errorf("refusing lock key %q", key)
	}
	l := &s3Lock{s: s, key: s.fullKey(key), holder: holder, ttl: ttl, acquired: time.Now().UTC()}
	etag, err := l.put(ctx, false, "", true)
	if err == nil {
		l.etag = etag
		return l, nil
	}
	if !conditionFailed(err) {
		return nil, fmt.Errorf("lock s3://%s/%s: %w", s.bucket, l.key, err)
	}
	// The lock object exists: take it over if it is free.
	cur, etag, err := s.readLock(ctx, l.key)
	if err != nil {
		return nil, err
	}
	if !cur.Released && time.Now().Before(cur.Expires) {
		return nil, fmt.Errorf("%s (held by %s until %s): %w", key, cur.Holder, cur.Expires.Format(time.RFC3339), objstore.ErrLocked)
	}
	etag, err = l.put(ctx, false, etag, false)
	if conditionFailed(err) {
		return nil, fmt.Errorf("%s (taken over by another holder just now): %w", key, objstore.ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("lock s3://%s/%s: %w", s.bucket, l.key, err)
	}
	l.etag = etag
	return l, nil
}

// readLock reads the lock object at full (a key with the store's prefix)
// and returns it with its ETag; a body that is not a lock reads as a free
// lock (the take-over replaces it).
func (s *Lake) readLock(ctx context.Context, full string) (objstore.LockBody, string, error) {
	var cur objstore.LockBody
	body, err := GetObject(ctx, s.client, s.bucket, full, Range{Length: -1})
	if err != nil {
		return cur, "", fmt.Errorf("read lock: %w", err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 64<<10))
	if err != nil {
		return cur, "", fmt.Errorf("read lock: %w", err)
	}
	if json.Unmarshal(b, &cur) != nil {
		cur = objstore.LockBody{Released: true}
	}
	return cur, body.ETag(), nil
}

type s3Lock struct {
	s        *Lake
	key      string
	holder   string
	ttl      time.Duration
	acquired time.Time

	mu   sync.Mutex
	etag string
}

// put writes the lock object: created (ifNone) or replacing the version
// ifMatch; released marks it free.
func (l *s3Lock) put(ctx context.Context, released bool, ifMatch string, ifNone bool) (string, error) {
	b := objstore.LockBody{Holder: l.holder, Acquired: l.acquired, Expires: time.Now().UTC().Add(l.ttl), Released: released}
	if released {
		b.Expires = time.Now().UTC()
	}
	body, _ := json.Marshal(b)
	in := &s3.PutObjectInput{
		Bucket: aws.String(l.s.bucket), Key: aws.String(l.key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	}
	if ifNone {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifMatch)
	}
	l.s.encrypt(in)
	out, err := l.s.client.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// conditionFailed reports whether a conditional write failed its condition
// (412), raced another conditional write of the key (409), or found no
// object to match (404).
func conditionFailed(err error) bool {
	switch httpStatus(err) {
	case http.StatusPreconditionFailed, http.StatusConflict, http.StatusNotFound:
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "PreconditionFailed" || api.ErrorCode() == "ConditionalRequestConflict")
}

func (l *s3Lock) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	etag, err := l.put(ctx, false, l.etag, false)
	if conditionFailed(err) {
		return fmt.Errorf("renew lock s3://%s/%s: %w", l.s.bucket, l.key, objstore.ErrLockLost)
	}
	if err != nil {
		return fmt.Errorf("renew lock s3://%s/%s: %w", l.s.bucket, l.key, err)
	}
	l.etag = etag
	return nil
}

func (l *s3Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.put(context.WithoutCancel(ctx), true, l.etag, false); err != nil && !conditionFailed(err) {
		return fmt.Errorf("release lock s3://%s/%s: %w", l.s.bucket, l.key, err)
	}
	return nil
}

// encrypt asks for the configured server-side encryption on a PutObject (the
// lock's; objects go through the transfer manager, see Create).
func (s *Lake) encrypt(in *s3.PutObjectInput) {
	if s.opts.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.opts.SSE)
		if s.opts.SSEKMSKeyID != "" {
			in.SSEKMSKeyId = aws.String(s.opts.SSEKMSKeyID)
		}
	}
}

// CleanTemp implements objstore.Lake. S3 has no temporary objects: an object becomes
// visible only when its upload completes. What a killed writer leaves is an
// incomplete multipart upload (invisible, but billed): the store aborts its
// own on any failure (abortUpload), and the bucket's lifecycle rule in
// deploy/ aborts any that is older than a day.
func (s *Lake) CleanTemp(context.Context, string, time.Duration) (int, error) { return 0, nil }

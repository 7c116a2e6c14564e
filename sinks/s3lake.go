package sinks

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
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// The S3 store's side of Lake: listing, ranged reads, deletes, and locks by
// conditional writes (If-None-Match to create, If-Match on the ETag to renew,
// take over or release).

// Stat implements Store with HeadObject. S3 answers a HEAD of a missing key
// with 404 only when the caller may list the bucket; a role whose
// s3:ListBucket is limited by an s3:prefix condition may get 403 instead, so
// a 403 is settled by listing the key itself (ListObjectsV2 on the key as
// prefix, which that condition allows).
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := CheckKey(key); err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.fullKey(key))})
	switch {
	case err == nil:
		return ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), Modified: aws.ToTime(out.LastModified)}, nil
	case httpStatus(err) == http.StatusNotFound:
		return ObjectInfo{}, fmt.Errorf("s3://%s/%s: %w", s.bucket, s.fullKey(key), ErrNotExist)
	case httpStatus(err) == http.StatusForbidden:
		return s.statByListing(ctx, key)
	}
	return ObjectInfo{}, fmt.Errorf("stat s3://%s/%s: %w", s.bucket, s.fullKey(key), err)
}

func (s *S3) statByListing(ctx context.Context, key string) (ObjectInfo, error) {
	full := s.fullKey(key)
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(full), MaxKeys: aws.Int32(1)})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat s3://%s/%s (HEAD was refused, and so was the listing): %w", s.bucket, full, err)
	}
	if len(out.Contents) == 0 || aws.ToString(out.Contents[0].Key) != full {
		return ObjectInfo{}, fmt.Errorf("s3://%s/%s: %w", s.bucket, full, ErrNotExist)
	}
	return s.info(out.Contents[0]), nil
}

func (s *S3) info(o types.Object) ObjectInfo {
	return ObjectInfo{
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

// Delete implements Store (S3 deletes are idempotent and free of charge).
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.fullKey(key))}); err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", s.bucket, s.fullKey(key), err)
	}
	return nil
}

// List implements Lake with ListObjectsV2, a page (1,000 keys) at a time.
func (s *S3) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := CheckPrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.fullKey(prefix))})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(ObjectInfo{}, fmt.Errorf("list s3://%s/%s: %w", s.bucket, s.fullKey(prefix), err))
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

// Open implements Lake.
func (s *S3) Open(ctx context.Context, key string) (ReadObject, error) {
	if err := CheckKey(key); err != nil {
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
	s    *S3
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
// object's size and ETag; a body cut on the way is resumed (GetS3Object).
func (o *s3ReadObject) get(off, n int64, etag string) ([]byte, int64, string, error) {
	body, err := GetS3Object(o.ctx, o.s.client, o.s.bucket, o.key, S3Range{Offset: off, Length: n, IfMatch: etag})
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

// TryLock implements Lake with conditional writes of a small JSON object:
// PutObject with If-None-Match: * creates it; a lock that is released or
// whose holder let it expire (not renewed for ttl) is taken over with a
// PutObject whose If-Match is the ETag just read, so of two takers exactly
// one succeeds. Renew and Release are PutObjects with If-Match on the ETag
// the holder wrote last: a holder whose lock was taken over learns it from
// the failed condition (ErrLockLost) before it does anything else.
func (s *S3) TryLock(ctx context.Context, key, holder string, ttl time.Duration) (Lock, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(key, MetaPrefix+"locks/") {
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
		return nil, fmt.Errorf("%s (held by %s until %s): %w", key, cur.Holder, cur.Expires.Format(time.RFC3339), ErrLocked)
	}
	etag, err = l.put(ctx, false, etag, false)
	if conditionFailed(err) {
		return nil, fmt.Errorf("%s (taken over by another holder just now): %w", key, ErrLocked)
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
func (s *S3) readLock(ctx context.Context, full string) (lockBody, string, error) {
	var cur lockBody
	body, err := GetS3Object(ctx, s.client, s.bucket, full, S3Range{Length: -1})
	if err != nil {
		return cur, "", fmt.Errorf("read lock: %w", err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 64<<10))
	if err != nil {
		return cur, "", fmt.Errorf("read lock: %w", err)
	}
	if json.Unmarshal(b, &cur) != nil {
		cur = lockBody{Released: true}
	}
	return cur, body.ETag(), nil
}

type s3Lock struct {
	s        *S3
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
	b := lockBody{Holder: l.holder, Acquired: l.acquired, Expires: time.Now().UTC().Add(l.ttl), Released: released}
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
		return fmt.Errorf("renew lock s3://%s/%s: %w", l.s.bucket, l.key, ErrLockLost)
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
func (s *S3) encrypt(in *s3.PutObjectInput) {
	if s.opts.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.opts.SSE)
		if s.opts.SSEKMSKeyID != "" {
			in.SSEKMSKeyId = aws.String(s.opts.SSEKMSKeyID)
		}
	}
}

// CleanTemp implements Lake. S3 has no temporary objects: an object becomes
// visible only when its upload completes. What a killed writer leaves is an
// incomplete multipart upload (invisible, but billed): the store aborts its
// own on any failure (abortUpload), and the bucket's lifecycle rule in
// deploy/ aborts any that is older than a day.
func (s *S3) CleanTemp(context.Context, string, time.Duration) (int, error) { return 0, nil }

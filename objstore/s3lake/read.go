package s3lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hublake/hublake/objstore"
)

// Resumable reads: every S3 object hublake reads (backfill's S3 inputs,
// compaction's inputs and manifests, locks) is read through GetObject.
//
// The SDK retries a GET until its response headers arrive; a connection cut
// while the body streams reaches the caller as a read error (or, from a
// server that closes cleanly, as a body shorter than its Content-Length). A
// body read through GetObject that breaks is resumed where it broke: a new
// GET with Range from the first byte not yet received, and If-Match on the
// ETag of the first response, after the delay the client's own retryer
// chooses (aws.Retryer.RetryDelay, exponential backoff with jitter) and
// within its attempt budget (MaxAttempts consecutive attempts that deliver
// nothing; an attempt that delivers bytes starts the count again, so a body
// cut over and over still ends, as each cut is progress). What it never does:
//
//   - splice two versions: an object replaced meanwhile answers the If-Match
//     with 412, or (a server that ignores If-Match) with another ETag or size,
//     and the read fails with ErrChanged;
//   - take a short body for the end: the read ends with io.EOF only once every
//     byte the first response announced (Content-Length, or the total of its
//     Content-Range) has been delivered; a body still short when the attempts
//     are spent is an error naming the key and the bytes received and
//     expected.
//
// A server that ignores Range (200 with the whole object) is handled too: the
// bytes before the resume point are read and dropped.
//
// A body that stalls (no byte for Range.Stall, DefaultStall unless set) is
// taken for a dead connection: it is closed and resumed like a cut one. The
// SDK bounds only the wait for response headers (awsconf), and a connection
// that goes quiet mid-body without a reset (a NAT entry dropped, a peer gone
// without a FIN) would otherwise hold a backfill input or a compaction
// partition until the kernel's keepalive gives up, which is hours.
//
// One limit: a whole-object GET's checksum (the SDK validates it when the
// object has one) covers a body read in one go; a resumed body is checked
// by its ETag and length only, as ranged reads are.

// ErrChanged: the object was replaced while it was read.
var ErrChanged = errors.New("object changed while it was read")

// Range is what GetObject reads of an object.
type Range struct {
	// Offset is the first byte.
	Offset int64
	// Length is how many bytes (fewer at the object's end); negative: to
	// the end.
	Length int64
	// IfMatch, when set, is the ETag the object must have (the read fails
	// with ErrChanged otherwise); when empty, the first response's ETag
	// pins the rest of the read.
	IfMatch string
	// Stall is the longest wait for the body's next byte before the
	// connection is taken for dead and the read resumed (0: DefaultStall).
	Stall time.Duration
}

// DefaultStall is Range.Stall's default: twice the SDK client's wait for
// response headers (awsconf.HTTPClientWithTimeouts, 30 s). S3 streams a
// body without pauses; a minute without a byte is a dead connection.
const DefaultStall = time.Minute

// Body is an object's body being read (see GetObject). It is not safe
// for concurrent use.
type Body struct {
	ctx     context.Context
	client  *s3.Client
	retryer aws.Retryer
	bucket  string
	key     string

	etag     string
	size     int64 // the object's size; -1 when the server did not say
	pos, end int64 // the next byte to deliver; the end of the read (-1: unknown)
	body     io.ReadCloser
	skip     int64 // bytes of body to drop before pos (a 200 to a ranged GET)

	attempt int   // attempts in a row that delivered nothing
	lastErr error // why the last attempt ended early
	resumed int

	stall   time.Duration
	watch   *time.Timer // closes a body that stalls (see bodyRead)
	mu      sync.Mutex  // guards reading and stalled, shared with watch
	reading io.Closer   // the body a Read waits on
	stalled bool        // watch closed it
}

// GetObject starts reading r of s3://bucket/key and returns its body,
// which resumes itself when the connection breaks (see above). An object
// that does not exist is an error wrapping objstore.ErrNotExist; one whose ETag is
// not r.IfMatch, ErrChanged.
func GetObject(ctx context.Context, client *s3.Client, bucket, key string, r Range) (*Body, error) {
	b := &Body{
		ctx: ctx, client: client, retryer: client.Options().Retryer, bucket: bucket, key: key,
		etag: r.IfMatch, size: -1, pos: r.Offset, end: -1, stall: r.Stall,
	}
	if b.stall <= 0 {
		b.stall = DefaultStall
	}
	in := b.input(r.Offset, r.Length)
	out, err := client.GetObject(ctx, in)
	if err != nil {
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable && r.Offset == 0 {
			// A Range on an empty object: S3 answers 416.
			b.size, b.end = 0, 0
			return b, nil
		}
		return nil, b.getError(err)
	}
	if err := b.accept(out, true, r.Length); err != nil {
		return nil, err
	}
	return b, nil
}

// Size returns the object's size (-1 when the server did not say).
func (b *Body) Size() int64 { return b.size }

// ETag returns the object's ETag.
func (b *Body) ETag() string { return b.etag }

// Resumed returns how many times a broken body was resumed.
func (b *Body) Resumed() int { return b.resumed }

// Close implements io.Closer.
func (b *Body) Close() error {
	if b.watch != nil {
		b.watch.Stop()
	}
	if b.body != nil {
		b.body.Close()
		b.body = nil
	}
	return nil
}

func (b *Body) url() string { return "s3://" + b.bucket + "/" + b.key }

// received says how far the read got, for errors.
func (b *Body) received() string {
	if b.end < 0 {
		return fmt.Sprintf("%d bytes received (of an unknown length)", b.pos)
	}
	return fmt.Sprintf("%d of %d bytes received", b.pos, b.end)
}

// input is the GetObject of n bytes at off (n < 0: to the end).
func (b *Body) input(off, n int64) *s3.GetObjectInput {
	in := &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(b.key)}
	switch {
	case n >= 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+max(n, 1)-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	if b.etag != "" {
		in.IfMatch = aws.String(b.etag)
	}
	return in
}

func (b *Body) getError(err error) error {
	switch httpStatus(err) {
	case http.StatusNotFound:
		return fmt.Errorf("%s: %w", b.url(), objstore.ErrNotExist)
	case http.StatusPreconditionFailed:
		return fmt.Errorf("read %s: %w (ETag %s no longer matches)", b.url(), ErrChanged, b.etag)
	}
	return fmt.Errorf("read %s: %w", b.url(), err)
}

// accept takes a response: the first one (which sets the ETag, the size and
// the end of the read, n bytes from pos) or a resumption's (which must be
// of the same object and start at or before pos).
func (b *Body) accept(out *s3.GetObjectOutput, first bool, n int64) error {
	etag := aws.ToString(out.ETag)
	start, total := int64(0), int64(-1)
	if cr := aws.ToString(out.ContentRange); cr != "" {
		var ok bool
		if start, total, ok = parseContentRange(cr); !ok {
			out.Body.Close()
			return fmt.Errorf("read %s: unreadable Content-Range %q", b.url(), cr)
		}
	} else if out.ContentLength != nil {
		total = *out.ContentLength
	}
	switch {
	case b.etag != "" && etag != b.etag, !first && total != b.size:
		out.Body.Close()
		return fmt.Errorf("read %s: %w (ETag %s, %d bytes, now %s, %d bytes; %s)", b.url(), ErrChanged, b.etag, b.size, etag, total, b.received())
	case start > b.pos:
		out.Body.Close()
		return fmt.Errorf("read %s: asked for bytes from %d, got bytes from %d", b.url(), b.pos, start)
	}
	if first {
		b.etag, b.size = etag, total
		b.end = total
		if n >= 0 && total >= 0 {
			b.end = min(b.pos+n, total)
		} else if n >= 0 {
			b.end = b.pos + n
		}
	}
	b.body, b.skip = out.Body, b.pos-start
	return nil
}

// parseContentRange reads "bytes 0-99/1234" ("*" for an unknown total).
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if tot == "*" {
		return start, -1, true
	}
	total, err = strconv.ParseInt(tot, 10, 64)
	return start, total, err == nil
}

// Read implements io.Reader: it returns io.EOF only at the end of the read,
// resuming a broken body as many times as the retryer allows.
func (b *Body) Read(p []byte) (int, error) {
	for {
		if b.end >= 0 && b.pos >= b.end {
			b.Close()
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if b.body == nil {
			if err := b.resume(); err != nil {
				return 0, notEOF(err)
			}
			continue
		}
		if b.skip > 0 {
			n, err := io.CopyN(io.Discard, readerFunc(b.bodyRead), b.skip)
			b.skip -= n
			if err != nil {
				b.broken(err)
			}
			continue
		}
		q := p
		if b.end >= 0 {
			q = p[:min(int64(len(p)), b.end-b.pos)]
		}
		n, err := b.bodyRead(q)
		b.pos += int64(n)
		if n > 0 {
			b.attempt = 0
		}
		switch {
		case err == nil:
		case b.end < 0 && err == io.EOF:
			// No length announced: the server's end is the end.
			b.end = b.pos
		case b.end >= 0 && b.pos >= b.end:
			// Every byte is in. An error now is not a cut (the SDK reports
			// a whole object's checksum mismatch at its end): it stands.
			if err != io.EOF {
				b.Close()
				return n, notEOF(fmt.Errorf("read %s: %w", b.url(), err))
			}
		default:
			b.broken(err)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// bodyRead reads the current body, closing it if no byte comes for
// b.stall: the Read then returns an error saying so, and the body is
// resumed like a cut one.
func (b *Body) bodyRead(p []byte) (int, error) {
	b.mu.Lock()
	b.reading, b.stalled = b.body, false
	b.mu.Unlock()
	if b.watch == nil {
		b.watch = time.AfterFunc(b.stall, b.stalledBody)
	} else {
		b.watch.Reset(b.stall)
	}
	n, err := b.body.Read(p)
	b.watch.Stop()
	b.mu.Lock()
	stalled := b.stalled
	b.reading = nil
	b.mu.Unlock()
	if stalled && err != nil && n == 0 {
		err = fmt.Errorf("no byte for %s, the connection taken for dead: %w", b.stall, err)
	}
	return n, err
}

// stalledBody is b.watch's function: it closes the body a Read waits on
// (net/http unblocks a Read of a body closed meanwhile with an error).
func (b *Body) stalledBody() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reading != nil {
		b.stalled = true
		b.reading.Close()
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// notEOF keeps an error from reading as the end of the object: a reader's
// end is io.EOF itself, but a network client's error may wrap io.EOF (a
// connection closed before the response: "Get …: EOF"), and a caller that
// tests errors.Is(err, io.EOF) would take the failed read for a whole one.
func notEOF(err error) error {
	if err != io.EOF && errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", err.Error(), io.ErrUnexpectedEOF)
	}
	return err
}

// broken drops a body that ended early.
func (b *Body) broken(err error) {
	b.Close()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	b.lastErr = err
}

// resume waits the retryer's delay and asks for the rest of the object.
func (b *Body) resume() error {
	if err := b.ctx.Err(); err != nil {
		return fmt.Errorf("read %s: %s: %w", b.url(), b.received(), context.Cause(b.ctx))
	}
	b.attempt++
	if b.attempt >= b.retryer.MaxAttempts() {
		return fmt.Errorf("read %s: %s; the body broke %d times in a row: %w", b.url(), b.received(), b.attempt, b.lastErr)
	}
	delay, err := b.retryer.RetryDelay(b.attempt, b.lastErr)
	if err != nil {
		delay = time.Second
	}
	t := time.NewTimer(delay)
	select {
	case <-t.C:
	case <-b.ctx.Done():
		t.Stop()
		return fmt.Errorf("read %s: %s: %w", b.url(), b.received(), context.Cause(b.ctx))
	}
	n := int64(-1)
	if b.end >= 0 {
		n = b.end - b.pos
	}
	out, err := b.client.GetObject(b.ctx, b.input(b.pos, n))
	if err != nil {
		return fmt.Errorf("%w (resuming: %s)", b.getError(err), b.received())
	}
	b.resumed++
	return b.accept(out, false, n)
}

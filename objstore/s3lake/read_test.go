package s3lake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/s3lake"
)

// objectServer serves one object at /bucket/key the way S3 does (Range,
// If-Match, ETag, Content-Range), and misbehaves on demand: it cuts bodies
// at chosen offsets, replaces the object after a number of GETs, ignores
// Range (200 with the whole object) or ignores If-Match.
type objectServer struct {
	mu sync.Mutex
	serverFaults
	etag string
	// gets records "Range|If-Match" of every GET.
	gets []string
}

// serverFaults is an objectServer's object and misbehaviour.
type serverFaults struct {
	data []byte
	// cuts: a response whose bytes reach cuts[0] stops there (the
	// connection is dropped), and the cut is used up.
	cuts []int64
	// stalls: a response whose bytes reach stalls[0] stops there and sends
	// nothing more until the client goes (a connection gone quiet), and the
	// stall is used up.
	stalls []int64
	// replaceAt: the GET of this number (from 1) and the later ones see
	// replacement instead (another ETag).
	replaceAt   int
	replacement []byte
	noRange     bool
	noIfMatch   bool
}

func newObjectServer(t *testing.T, f serverFaults) (*objectServer, *s3.Client) {
	t.Helper()
	s := &objectServer{serverFaults: f, etag: etagOf(f.data)}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{},
		Retryer:     &recordingRetryer{Standard: retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts, o.MaxBackoff = 4, time.Millisecond })},
	})
}

func etagOf(b []byte) string { return fmt.Sprintf(`"%x"`, sha256.Sum256(b)) }

func (s *objectServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.gets = append(s.gets, r.Header.Get("Range")+"|"+r.Header.Get("If-Match"))
	if s.replaceAt > 0 && len(s.gets) == s.replaceAt {
		s.data, s.etag = s.replacement, etagOf(s.replacement)
	}
	data, etag := s.data, s.etag
	s.mu.Unlock()
	if m := r.Header.Get("If-Match"); m != "" && m != etag && !s.noIfMatch {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusPreconditionFailed)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`)
		return
	}
	start, end := int64(0), int64(len(data)) // end exclusive
	ranged := false
	if rng := r.Header.Get("Range"); rng != "" && !s.noRange {
		a, b, _ := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
		start, _ = strconv.ParseInt(a, 10, 64)
		if b != "" {
			last, _ := strconv.ParseInt(b, 10, 64)
			end = min(end, last+1)
		}
		if start >= int64(len(data)) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		ranged = true
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	if ranged {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, len(data)))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	s.mu.Lock()
	cut := int64(-1)
	if len(s.cuts) > 0 && s.cuts[0] >= start && s.cuts[0] < end {
		cut, s.cuts = s.cuts[0], s.cuts[1:]
	}
	stall := int64(-1)
	if len(s.stalls) > 0 && s.stalls[0] >= start && s.stalls[0] < end {
		stall, s.stalls = s.stalls[0], s.stalls[1:]
	}
	s.mu.Unlock()
	if stall >= 0 {
		w.Write(data[start:stall])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	if cut < 0 {
		w.Write(data[start:end])
		return
	}
	w.Write(data[start:cut])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler) // the connection goes, mid-body
}

func (s *objectServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.gets...)
}

// recordingRetryer is the SDK's standard retryer, recording the delays it
// was asked for.
type recordingRetryer struct {
	*retry.Standard
	mu     sync.Mutex
	delays []int // attempt numbers
}

func (r *recordingRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	r.mu.Lock()
	r.delays = append(r.delays, attempt)
	r.mu.Unlock()
	return r.Standard.RetryDelay(attempt, err)
}

// TestGetS3ObjectResumes: a body cut mid-stream is resumed from the last
// byte received, with a Range GET conditional on the first response's ETag
// and after the retryer's delay; a ranged read is resumed inside its range;
// a server that ignores Range is read from the start again and the bytes
// before the resume point dropped; a body cut again and again ends as long
// as each attempt makes progress.
func TestGetS3ObjectResumes(t *testing.T) {
	t.Parallel()
	data := laketest.RandomBytes(t, 3<<20+17)
	for _, tc := range []struct {
		name     string
		srv      serverFaults
		rng      s3lake.Range
		want     []byte
		requests []string // the Range of each GET ("" for none)
	}{
		{name: "whole object, cut twice", srv: serverFaults{cuts: []int64{1000, 2 << 20}}, rng: s3lake.Range{Length: -1},
			want: data, requests: []string{"", "bytes=1000-3145744", "bytes=2097152-3145744"}},
		{name: "range, cut inside it", srv: serverFaults{cuts: []int64{5000}}, rng: s3lake.Range{Offset: 100, Length: 1 << 20},
			want: data[100 : 100+1<<20], requests: []string{"bytes=100-1048675", "bytes=5000-1048675"}},
		{name: "cut before the first byte", srv: serverFaults{cuts: []int64{0}}, rng: s3lake.Range{Length: -1},
			want: data, requests: []string{"", "bytes=0-3145744"}},
		{name: "server without Range support", srv: serverFaults{cuts: []int64{1000}, noRange: true}, rng: s3lake.Range{Length: -1},
			want: data, requests: []string{"", "bytes=1000-3145744"}},
		{name: "ranged read, server without Range support", srv: serverFaults{cuts: []int64{70000}, noRange: true}, rng: s3lake.Range{Offset: 65536, Length: 65536},
			want: data[65536:131072], requests: []string{"bytes=65536-131071", "bytes=70000-131071"}},
		{name: "cut ten times, progress each time", srv: serverFaults{cuts: []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}}, rng: s3lake.Range{Length: -1},
			want: data},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tc.srv
			f.data = data
			srv, client := newObjectServer(t, f)
			body, err := s3lake.GetObject(context.Background(), client, "bucket", "some/key", tc.rng)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("read %d bytes, want the %d of the object's range", len(got), len(tc.want))
			}
			if body.Size() != int64(len(data)) || body.ETag() != srv.etag {
				t.Errorf("size %d, ETag %s; want %d, %s", body.Size(), body.ETag(), len(data), srv.etag)
			}
			reqs := srv.requests()
			if body.Resumed() != len(tc.srv.cuts) || len(reqs) != 1+body.Resumed() {
				t.Fatalf("%d requests %v, resumed %d times; want one per cut (%d) after the first", len(reqs), reqs, body.Resumed(), len(tc.srv.cuts))
			}
			for i, r := range reqs[1:] {
				rng, ifMatch, _ := strings.Cut(r, "|")
				if ifMatch != srv.etag {
					t.Errorf("resumption %d: If-Match %q, want the ETag %s", i+1, ifMatch, srv.etag)
				}
				if tc.requests != nil && rng != tc.requests[i+1] {
					t.Errorf("resumption %d: Range %q, want %q", i+1, rng, tc.requests[i+1])
				}
			}
			if tc.requests != nil {
				if rng, _, _ := strings.Cut(reqs[0], "|"); rng != tc.requests[0] {
					t.Errorf("first GET: Range %q, want %q", rng, tc.requests[0])
				}
			}
			rec := client.Options().Retryer.(*recordingRetryer)
			if len(rec.delays) != body.Resumed() {
				t.Errorf("the retryer was asked for %d delays, for %d resumptions", len(rec.delays), body.Resumed())
			}
		})
	}
}

// TestGetS3ObjectFails: what a resumed read must never return as data.
// An object replaced between the cut and the resumption fails the read with
// s3lake.ErrChanged, whether the server honours If-Match (412) or not (another
// ETag); a body still short when the retryer's attempts are spent is an
// error naming the key and the bytes received and expected, never an early
// io.EOF; an object that is gone is objstore.ErrNotExist; an empty object reads as
// empty.
// TestGetS3ObjectStalls: a body that stops sending without a reset is
// closed after Range.Stall without a byte and resumed from the last byte
// received, within its range too.
func TestGetS3ObjectStalls(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	for _, tc := range []struct {
		name   string
		r      s3lake.Range
		want   []byte
		stalls []int64
	}{
		{"whole object", s3lake.Range{Length: -1}, data, []int64{300 << 10, 700 << 10}},
		{"a range", s3lake.Range{Offset: 100 << 10, Length: 500 << 10}, data[100<<10 : 600<<10], []int64{400 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, client := newObjectServer(t, serverFaults{data: data, stalls: tc.stalls})
			tc.r.Stall = 200 * time.Millisecond
			body, err := s3lake.GetObject(context.Background(), client, "bucket", "k", tc.r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			if err != nil {
				t.Fatalf("read: %v (requests %q)", err, srv.requests())
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("read %d bytes, want %d and the same bytes", len(got), len(tc.want))
			}
			if body.Resumed() != len(tc.stalls) {
				t.Errorf("resumed %d times, want %d", body.Resumed(), len(tc.stalls))
			}
			reqs := srv.requests()
			if len(reqs) != len(tc.stalls)+1 {
				t.Fatalf("requests %q, want %d", reqs, len(tc.stalls)+1)
			}
			for i, at := range tc.stalls {
				if want := fmt.Sprintf("bytes=%d-", at); !strings.HasPrefix(reqs[i+1], want) || !strings.HasSuffix(reqs[i+1], "|"+etagOf(data)) {
					t.Errorf("resumption %d asked %q, want Range %s… and If-Match", i+1, reqs[i+1], want)
				}
			}
		})
	}
}

func TestGetS3ObjectFails(t *testing.T) {
	t.Parallel()
	data := laketest.RandomBytes(t, 1<<20)
	other := laketest.RandomBytes(t, 1<<20)
	for _, tc := range []struct {
		name    string
		srv     serverFaults
		wantErr error
		inMsg   []string
		atMost  int64 // bytes that may have been delivered before the error
	}{
		{name: "replaced, server honours If-Match", srv: serverFaults{cuts: []int64{1000}, replaceAt: 2, replacement: other},
			wantErr: s3lake.ErrChanged, atMost: 1000, inMsg: []string{"s3://bucket/some/key"}},
		{name: "replaced, server ignores If-Match", srv: serverFaults{cuts: []int64{1000}, replaceAt: 2, replacement: other, noIfMatch: true},
			wantErr: s3lake.ErrChanged, atMost: 1000, inMsg: []string{"s3://bucket/some/key", "1000 of 1048576 bytes received"}},
		{name: "short after every attempt", srv: serverFaults{cuts: []int64{1000, 1000, 1000, 1000, 1000}},
			wantErr: io.ErrUnexpectedEOF, atMost: 1000, inMsg: []string{"s3://bucket/some/key", "1000 of 1048576 bytes received", "4 times in a row"}},
		{name: "deleted meanwhile", srv: serverFaults{cuts: []int64{1000}}, wantErr: objstore.ErrNotExist, atMost: 1000},
		// Each resumption's connection closes before its response: the
		// SDK's error wraps io.EOF ("Get …: EOF"), which must not read as
		// the object's end (it did: a backfill took a cut S3 object for a
		// whole one and exited 0).
		{name: "resumptions dropped before their headers", srv: serverFaults{cuts: []int64{1000}},
			wantErr: io.ErrUnexpectedEOF, atMost: 1000, inMsg: []string{"s3://bucket/some/key", "1000 of 1048576 bytes received"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tc.srv
			f.data = data
			_, client := newObjectServer(t, f)
			switch {
			case tc.wantErr == objstore.ErrNotExist:
				client = s3.New(client.Options(), func(o *s3.Options) {
					o.HTTPClient = notFoundAfter(o.HTTPClient, 1)
				})
			case strings.HasPrefix(tc.name, "resumptions dropped"):
				client = s3.New(client.Options(), func(o *s3.Options) {
					o.HTTPClient = droppedAfter(o.HTTPClient, 1)
				})
			}
			body, err := s3lake.GetObject(context.Background(), client, "bucket", "some/key", s3lake.Range{Length: -1})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			if err == nil {
				t.Fatalf("read %d bytes and no error", len(got))
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if errors.Is(err, io.EOF) {
				t.Errorf("error %v wraps io.EOF: a caller would take it for the end of the object", err)
			}
			for _, s := range tc.inMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if int64(len(got)) > tc.atMost || !bytes.Equal(got, data[:len(got)]) {
				t.Errorf("%d bytes delivered before the error, want at most %d of the first version", len(got), tc.atMost)
			}
		})
	}

	t.Run("empty object", func(t *testing.T) {
		t.Parallel()
		_, client := newObjectServer(t, serverFaults{data: []byte{}})
		for _, rng := range []s3lake.Range{{Length: -1}, {Length: 8 << 20}} {
			body, err := s3lake.GetObject(context.Background(), client, "bucket", "k", rng)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(body); err != nil || len(got) != 0 || body.Size() != 0 {
				t.Errorf("%+v: %d bytes, size %d, %v", rng, len(got), body.Size(), err)
			}
		}
	})

	t.Run("context cancelled while waiting to resume", func(t *testing.T) {
		t.Parallel()
		_, client := newObjectServer(t, serverFaults{data: data, cuts: []int64{1000}})
		client = s3.New(client.Options(), func(o *s3.Options) {
			o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = fixedBackoff(time.Hour) })
		})
		ctx, cancel := context.WithCancel(context.Background())
		body, err := s3lake.GetObject(ctx, client, "bucket", "k", s3lake.Range{Length: -1})
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err = io.ReadAll(body)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want the context's", err)
		}
	})
}

type fixedBackoff time.Duration

func (f fixedBackoff) BackoffDelay(int, error) (time.Duration, error) { return time.Duration(f), nil }

// notFoundAfter answers every request after the first n with 404 NoSuchKey.
func notFoundAfter(c s3.HTTPClient, n int) s3.HTTPClient {
	var mu sync.Mutex
	return httpClientFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		n--
		gone := n < 0
		mu.Unlock()
		if !gone {
			return c.Do(r)
		}
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`
		return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Header: http.Header{"Content-Type": {"application/xml"}},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
	})
}

// droppedAfter drops the connection of every request after the first n
// before any response, as the transport reports a server that closed it:
// an error wrapping io.EOF.
func droppedAfter(c s3.HTTPClient, n int) s3.HTTPClient {
	var mu sync.Mutex
	return httpClientFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		n--
		gone := n < 0
		mu.Unlock()
		if !gone {
			return c.Do(r)
		}
		return nil, &url.Error{Op: r.Method, URL: r.URL.String(), Err: io.EOF}
	})
}

type httpClientFunc func(*http.Request) (*http.Response, error)

func (f httpClientFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

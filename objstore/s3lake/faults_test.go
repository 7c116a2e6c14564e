package s3lake_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/hublake/hublake/internal/faults"
	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/s3lake"
)

// TestS3RetriesTransientFaults: every kind of transient failure S3 produces —
// 500 InternalError, 503 SlowDown, a response that never comes, a dropped
// connection — is retried by the SDK's retryer inside one operation call,
// for single-request objects and for the parts and completion of multipart
// uploads; the object then holds exactly the bytes written.
func TestS3RetriesTransientFaults(t *testing.T) {
	t.Parallel()
	transient := []faults.Fault{faults.InternalError, faults.SlowDown, faults.Timeout, faults.Drop}
	for _, tc := range []struct {
		name   string
		server func(testing.TB) laketest.Server
		size   int
		ops    []string
	}{
		{"single request", laketest.GoFakeS3, 64 << 10, []string{"PutObject"}},
		{"multipart", laketest.GoFakeS3, 11 << 20, []string{"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}},
		{"multipart on versitygw", laketest.Versitygw, 11 << 20, []string{"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := tc.server(t)
			store := laketest.NewS3(t, srv.URL, "s3://lake/pfx", s3lake.Options{PartSize: 5 << 20}, 0, time.Second)
			laketest.CreateBucket(t, store.Client(), "lake")
			for _, op := range tc.ops {
				srv.Proxy.Add(faults.Rule{Ops: []string{op}, Faults: transient, Limit: len(transient)})
			}
			data := laketest.RandomBytes(t, tc.size)
			const key = "findings/dt=2024-01-01/retried.parquet"
			if err := laketest.WriteObject(context.Background(), store, key, data); err != nil {
				t.Fatalf("write through transient faults: %v", err)
			}
			got, err := laketest.GetObject(t, store.Client(), "lake", "pfx/"+key)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("object after retries: %d bytes (err %v), want the %d bytes written", len(got), err, len(data))
			}
			for _, op := range tc.ops {
				if n := srv.Proxy.Faulted(op); n != len(transient) {
					t.Errorf("%s: %d faults injected, want %d", op, n, len(transient))
				}
				// Every fault was followed by another attempt of the same
				// call: the SDK's retryer, not a new call by hublake.
				if n := srv.Proxy.RecoveredAfterFault(op); n < 1 {
					t.Errorf("%s: no call recovered by an SDK retry after its fault", op)
				}
			}
			if tc.name == "single request" {
				reqs := srv.Proxy.Requests()
				var attempts []int
				inv := ""
				for _, r := range reqs {
					if r.Op == "PutObject" {
						if inv == "" {
							inv = r.Invocation
						}
						if r.Invocation != inv {
							t.Errorf("PutObject attempts from several invocations (%q, %q): retried outside the SDK", inv, r.Invocation)
						}
						attempts = append(attempts, r.Attempt)
					}
				}
				if want := []int{1, 2, 3, 4, 5}; !equalInts(attempts, want) {
					t.Errorf("PutObject attempts %v, want %v (four faults, then success)", attempts, want)
				}
			}
			if n := laketest.OpenUploads(t, store.Client(), "lake"); n != 0 {
				t.Errorf("%d multipart uploads left open", n)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestS3RetryerBacksOffWithJitter checks the retryer the S3 store is built
// with: ten attempts, 5xx, SlowDown, throttling and connection errors
// retryable, and delays drawn at random (jitter) under an exponentially
// growing cap (backoff) that stops at 20 s. It asserts the delays the
// retryer chooses, not how long anything took.
func TestS3RetryerBacksOffWithJitter(t *testing.T) {
	t.Parallel()
	store := laketest.NewS3(t, "http://127.0.0.1:1", "s3://lake", s3lake.Options{}, 0, time.Second)
	r := store.Client().Options().Retryer
	if r.MaxAttempts() != 10 {
		t.Errorf("MaxAttempts = %d, want 10", r.MaxAttempts())
	}
	withStatus := func(code int, err error) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: laketest.HTTPResponse(code)}, Err: err}
	}
	slowDown := withStatus(503, &smithy.GenericAPIError{Code: "SlowDown", Message: "reduce your request rate"})
	for name, err := range map[string]error{
		"500 InternalError":  withStatus(500, &smithy.GenericAPIError{Code: "InternalError"}),
		"503 SlowDown":       slowDown,
		"throttling":         &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"},
		"dropped connection": &smithyhttp.RequestSendError{Err: io.ErrUnexpectedEOF},
		"timeout":            &smithyhttp.RequestSendError{Err: context.DeadlineExceeded},
	} {
		if !r.IsErrorRetryable(err) {
			t.Errorf("%s is not retryable", name)
		}
	}
	if r.IsErrorRetryable(withStatus(403, &smithy.GenericAPIError{Code: "AccessDenied"})) {
		t.Error("403 AccessDenied is retryable; it should fail at once")
	}
	// SlowDown is a throttle: the cap is 1 s × 2^(attempt-1), at most 20 s.
	prevMax := time.Duration(0)
	for attempt := 1; attempt <= 8; attempt++ {
		ceiling := min(time.Second<<(attempt-1), 20*time.Second)
		seen := map[time.Duration]bool{}
		var most time.Duration
		for range 200 {
			d, err := r.RetryDelay(attempt, slowDown)
			if err != nil {
				t.Fatal(err)
			}
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: delay %s outside [0, %s]", attempt, d, ceiling)
			}
			seen[d] = true
			most = max(most, d)
		}
		if len(seen) < 150 {
			t.Errorf("attempt %d: only %d distinct delays in 200: no jitter", attempt, len(seen))
		}
		if most < ceiling/2 {
			t.Errorf("attempt %d: longest delay %s, want close to the cap %s", attempt, most, ceiling)
		}
		if attempt <= 5 && most <= prevMax {
			t.Errorf("attempt %d: delays do not grow (max %s after %s)", attempt, most, prevMax)
		}
		prevMax = most
	}
}

// TestS3MultipartAbortedOnFailure: when a part cannot be uploaded even after
// the retryer's attempts, the upload fails, AbortMultipartUpload is sent, no
// part is left behind and nothing becomes visible; the same holds when the
// caller gives up (context cancelled, as at the end of a shutdown) in the
// middle of a part, and when the writer aborts the object itself.
func TestS3MultipartAbortedOnFailure(t *testing.T) {
	t.Parallel()
	servers := []func(testing.TB) laketest.Server{laketest.GoFakeS3, laketest.Versitygw}
	for _, newServer := range servers {
		for _, mode := range []string{"part fails", "context cancelled", "writer aborts"} {
			newServer, mode := newServer, mode
			t.Run(mode, func(t *testing.T) {
				t.Parallel()
				srv := newServer(t)
				t.Logf("server: %s", srv.Name)
				store := laketest.NewS3(t, srv.URL, "s3://abort"+bucketSuffix(mode)+"/pfx", s3lake.Options{PartSize: 5 << 20}, 3, time.Second)
				bucket := "abort" + bucketSuffix(mode)
				laketest.CreateBucket(t, store.Client(), bucket)
				const key = "findings/dt=2024-01-01/big.parquet"
				data := laketest.RandomBytes(t, 16<<20)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var err error
				switch mode {
				case "part fails":
					// Part 1 goes through; every later part fails every attempt.
					srv.Proxy.Add(faults.Rule{Ops: []string{"UploadPart"}, Faults: []faults.Fault{faults.None}, Limit: 1})
					srv.Proxy.Add(faults.Rule{Ops: []string{"UploadPart"}, Faults: []faults.Fault{faults.InternalError, faults.SlowDown, faults.Drop}})
					err = laketest.WriteObject(ctx, store, key, data)
				case "context cancelled":
					// A part hangs; the caller's context ends meanwhile. The
					// cancel waits for the part that went through to be
					// stored: a part still being written when the abort
					// arrives may survive it (S3 documents this race; the
					// store's second abort and the bucket's lifecycle rule
					// cover it in production, timing cannot in a test).
					srv.Proxy.Add(faults.Rule{Ops: []string{"UploadPart"}, Faults: []faults.Fault{faults.None}, Limit: 1})
					srv.Proxy.Add(faults.Rule{Ops: []string{"UploadPart"}, Faults: []faults.Fault{faults.Timeout}})
					go func() {
						for srv.Proxy.Faulted("UploadPart") == 0 || srv.Proxy.Served("UploadPart") == 0 {
							time.Sleep(10 * time.Millisecond)
						}
						cancel()
					}()
					err = laketest.WriteObject(ctx, store, key, data)
				case "writer aborts":
					var w objstore.ObjectWriter
					w, err = store.Create(ctx, key)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := w.Write(data[:12<<20]); err != nil {
						t.Fatal(err)
					}
					for srv.Proxy.Count("UploadPart") == 0 {
						time.Sleep(10 * time.Millisecond)
					}
					if err := w.Abort(); err != nil {
						t.Fatal(err)
					}
					err = errors.New("aborted")
				}
				if err == nil {
					t.Fatal("the write succeeded; want it to fail")
				}
				srv.Proxy.Heal()
				if srv.Proxy.Count("CreateMultipartUpload") != 1 {
					t.Fatalf("CreateMultipartUpload sent %d times, want 1 (a multipart upload)", srv.Proxy.Count("CreateMultipartUpload"))
				}
				if srv.Proxy.Count("AbortMultipartUpload") < 1 {
					t.Errorf("no AbortMultipartUpload after the failure (requests: %v)", srv.Proxy.Requests())
				}
				if srv.Proxy.Count("CompleteMultipartUpload") != 0 {
					t.Errorf("CompleteMultipartUpload sent after a failure")
				}
				if n := laketest.OpenUploads(t, store.Client(), bucket); n != 0 {
					t.Errorf("%d multipart uploads left open (orphaned parts)", n)
				}
				if _, err := laketest.GetObject(t, store.Client(), bucket, "pfx/"+key); err == nil {
					t.Error("the failed object is visible")
				}
			})
		}
	}
}

func bucketSuffix(mode string) string {
	switch mode {
	case "part fails":
		return "-part"
	case "context cancelled":
		return "-cancel"
	}
	return "-writer"
}

// TestS3HonoursMaxAttemptsEnv: AWS_MAX_ATTEMPTS, which every AWS SDK reads,
// still sets the attempts although hublake gives the SDK its own retryer.
func TestS3HonoursMaxAttemptsEnv(t *testing.T) {
	t.Setenv("AWS_MAX_ATTEMPTS", "3")
	store := laketest.NewS3(t, "http://127.0.0.1:1", "s3://lake", s3lake.Options{}, 0, time.Second)
	if n := store.Client().Options().Retryer.MaxAttempts(); n != 3 {
		t.Errorf("MaxAttempts = %d with AWS_MAX_ATTEMPTS=3", n)
	}
	store = laketest.NewS3(t, "http://127.0.0.1:1", "s3://lake", s3lake.Options{}, 5, time.Second)
	if n := store.Client().Options().Retryer.MaxAttempts(); n != 5 {
		t.Errorf("MaxAttempts = %d with s3lake.Options.MaxAttempts 5", n)
	}
}

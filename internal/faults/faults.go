// Package faults is a fault-injecting stand-in for the AWS endpoints hublake
// talks to, for tests only: an http.Handler in front of a real server (a
// reverse proxy to versitygw, dynalite or kinesis-mock, or gofakes3's handler
// in process) that answers chosen requests with the failures the real
// services produce — 500 InternalError, 503 SlowDown, a throttling error in
// an AWS JSON body, a response that never comes, a connection dropped
// mid-request, a connection reset while the request's body is uploaded or
// while the response's body is downloaded, a response seconds late — and
// records every request it saw: the operation, the SDK's attempt number and
// invocation id, the fault injected, the status and when it arrived, was
// forwarded and ended. Tests read the record to prove that the SDK retried,
// that a multipart upload was aborted, that a delete came long enough after
// the marker it depends on, and so on.
//
// Faults are chosen by rules: in turn (Rule.Faults, Every, Limit), or at
// random (Rule.Rate) from the proxy's seeded source (Seed), for a chaos
// schedule: the same seed draws the same sequence of decisions, in the order
// the requests arrive.
package faults

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is what the proxy does instead of forwarding a request.
type Fault int

const (
	// None forwards the request.
	None Fault = iota
	// InternalError answers 500 InternalError.
	InternalError
	// SlowDown answers 503 SlowDown (S3's throttling).
	SlowDown
	// Throttle answers 400 with an AWS JSON error body whose __type is the
	// rule's ErrorType (DynamoDB's and Kinesis'
	// ProvisionedThroughputExceededException).
	Throttle
	// Timeout never answers: it holds the request until the client gives up
	// (its response header timeout or its context), or the proxy closes.
	Timeout
	// Drop reads part of the request and closes the connection without a
	// response.
	Drop
	// ResetUpload reads part of the request's body (a random share of it)
	// and resets the connection (TCP RST) without forwarding the request.
	ResetUpload
	// ResetDownload forwards the request, then sends the response's status,
	// headers and a random share of its body, and resets the connection: a
	// body cut mid-stream. It applies to GETs (the requests that download a
	// body); any other request gets ResetUpload instead, so that a request
	// the server acted on is never reported as failed.
	ResetDownload
	// Delay holds the request for a random time between the rule's
	// MinDelay and MaxDelay, then forwards it.
	Delay
)

// Chaos is the mix of a chaos schedule: every transient failure S3 produces
// that the SDK or hublake must ride out.
var Chaos = []Fault{InternalError, SlowDown, ResetUpload, ResetDownload, Delay}

// ChaosRule returns a rule that fails a share rate of every request with a
// fault of Chaos drawn at random, delays lasting 2–5 s.
func ChaosRule(rate float64) Rule {
	return Rule{Rate: rate, Faults: Chaos, MinDelay: 2 * time.Second, MaxDelay: 5 * time.Second}
}

func (f Fault) String() string {
	switch f {
	case None:
		return "none"
	case InternalError:
		return "500 InternalError"
	case SlowDown:
		return "503 SlowDown"
	case Throttle:
		return "400 throttling"
	case Timeout:
		return "timeout"
	case Drop:
		return "dropped connection"
	case ResetUpload:
		return "reset while uploading"
	case ResetDownload:
		return "reset while downloading"
	case Delay:
		return "delay"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Rule chooses the requests to fail and how.
type Rule struct {
	// Ops are the operations the rule applies to ("UploadPart",
	// "UpdateItem", ...); empty: every request.
	Ops []string
	// Faults are injected in turn, one per matching request, cycling.
	Faults []Fault
	// Limit is how many matching requests fail; 0: every one until Heal.
	Limit int
	// Every fails one matching request in Every (the first, then every
	// Every-th); 0 or 1: every matching request.
	Every int
	// Rate, when positive, fails each matching request with this
	// probability instead, with a fault of Faults drawn at random (both
	// from the proxy's seeded source); Every is then ignored.
	Rate float64
	// MinDelay and MaxDelay bound a Delay fault's delay.
	MinDelay, MaxDelay time.Duration
	// ErrorType is the __type of a Throttle fault's body, e.g.
	// "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException".
	ErrorType string

	matched, injected int
}

// Request is one request the proxy saw.
type Request struct {
	Op string
	// Attempt is the SDK's attempt number (amz-sdk-request), 0 when absent.
	Attempt int
	// Invocation is the SDK's invocation id: the same for every attempt of
	// one operation call.
	Invocation string
	Method     string
	Path       string
	// Range is the request's Range header (a resumed S3 read has one).
	Range string
	Fault Fault
	// Start is when the request arrived; Forwarded when it was handed to
	// the server (zero if it never was); End when the proxy was done with
	// it.
	Start, Forwarded, End time.Time
	// Status is the status sent (0 when the connection was reset or
	// dropped before one).
	Status int
	// Sent is the number of response body bytes sent before a
	// ResetDownload cut the connection.
	Sent int64
}

// Proxy is the fault-injecting handler.
type Proxy struct {
	next  http.Handler
	mu    sync.Mutex
	rules []*Rule
	rng   *rand.Rand
	log   []*Request
	// served counts, per operation, the requests forwarded to the server
	// whose response the server has finished.
	served map[string]int
	closed chan struct{}
	once   sync.Once
}

// New returns a proxy in front of handler (gofakes3's, for example).
func New(handler http.Handler) *Proxy {
	return &Proxy{next: handler, closed: make(chan struct{}), served: map[string]int{}, rng: rand.New(rand.NewPCG(1, 1))}
}

// Seed reseeds the source that random rules draw from (the default seed is
// 1).
func (p *Proxy) Seed(seed uint64) {
	p.mu.Lock()
	p.rng = rand.New(rand.NewPCG(seed, seed))
	p.mu.Unlock()
}

// NewReverse returns a proxy in front of the server at target. The Host
// header is kept as the client sent it, so SigV4 signatures still verify.
func NewReverse(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		FlushInterval: -1,
		// A client that gave up is not an error worth logging.
		ErrorLog: nil,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, err.Error(), http.StatusBadGateway)
		},
	}
	return New(rp), nil
}

// Add installs a rule; rules are tried in order, the first that fails a
// request wins.
func (p *Proxy) Add(r Rule) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	rule := r
	p.rules = append(p.rules, &rule)
	return &rule
}

// Heal removes every rule: from now on every request is forwarded.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.rules = nil
	p.mu.Unlock()
}

// Close releases requests held by Timeout faults.
func (p *Proxy) Close() { p.once.Do(func() { close(p.closed) }) }

// Requests returns every request seen so far, in the order they arrived.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Request, len(p.log))
	for i, r := range p.log {
		out[i] = *r
	}
	return out
}

// Count returns how many requests of op were seen (all attempts).
func (p *Proxy) Count(op string) int {
	n := 0
	for _, r := range p.Requests() {
		if r.Op == op {
			n++
		}
	}
	return n
}

// Served returns how many requests of op were forwarded and fully handled
// by the server (its handler returned).
func (p *Proxy) Served(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.served[op]
}

// Faulted returns how many requests of op (any op when "") got a fault.
func (p *Proxy) Faulted(op string) int {
	n := 0
	for _, r := range p.Requests() {
		if r.Fault != None && (op == "" || r.Op == op) {
			n++
		}
	}
	return n
}

// Retried returns how many requests of op (any op when "") were a retry:
// an SDK attempt after the first.
func (p *Proxy) Retried(op string) int {
	n := 0
	for _, r := range p.Requests() {
		if r.Attempt > 1 && (op == "" || r.Op == op) {
			n++
		}
	}
	return n
}

// RecoveredAfterFault returns how many operation calls (invocations) of op
// had a fault injected into one attempt and then a later attempt of the same
// invocation that was forwarded: the SDK's retryer at work.
func (p *Proxy) RecoveredAfterFault(op string) int {
	faulted := map[string]int{}
	n := 0
	for _, r := range p.Requests() {
		if r.Op != op || r.Invocation == "" {
			continue
		}
		if r.Fault != None {
			if _, ok := faulted[r.Invocation]; !ok {
				faulted[r.Invocation] = r.Attempt
			}
			continue
		}
		if a, ok := faulted[r.Invocation]; ok && r.Attempt > a {
			n++
			delete(faulted, r.Invocation)
		}
	}
	return n
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &Request{Op: Operation(r), Method: r.Method, Path: r.URL.Path, Invocation: r.Header.Get("amz-sdk-invocation-id"), Range: r.Header.Get("Range"), Start: time.Now()}
	req.Attempt = attempt(r.Header.Get("amz-sdk-request"))
	d := p.choose(req.Op, r.Method)
	req.Fault = d.fault
	p.mu.Lock()
	p.log = append(p.log, req)
	p.mu.Unlock()
	rec := &recorder{ResponseWriter: w}
	defer func() {
		p.mu.Lock()
		req.End, req.Status, req.Sent = time.Now(), rec.status, rec.sent
		p.mu.Unlock()
	}()
	forward := func(w http.ResponseWriter) {
		p.mu.Lock()
		req.Forwarded = time.Now()
		p.mu.Unlock()
		p.next.ServeHTTP(w, r)
		p.mu.Lock()
		p.served[req.Op]++
		p.mu.Unlock()
	}
	switch d.fault {
	case None:
		forward(rec)
	case Delay:
		t := time.NewTimer(d.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-p.closed:
			t.Stop()
			hangUp(w, false)
			return
		}
		forward(rec)
	case ResetDownload:
		rec.cut = d.share
		forward(rec)
	case InternalError:
		writeError(rec, r, http.StatusInternalServerError, "InternalError", "InternalFailure", "injected: we encountered an internal error")
	case SlowDown:
		writeError(rec, r, http.StatusServiceUnavailable, "SlowDown", "ServiceUnavailable", "injected: please reduce your request rate")
	case Throttle:
		errType := d.errType
		if errType == "" {
			errType = "ProvisionedThroughputExceededException"
		}
		writeError(rec, r, http.StatusBadRequest, "SlowDown", errType, "injected: rate of requests exceeds the allowed throughput")
	case Timeout:
		// The server notices a client that hangs up only once the body is
		// read; then the request's context ends.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-p.closed:
		case <-time.After(5 * time.Minute):
		}
	case Drop:
		_, _ = io.CopyN(io.Discard, r.Body, 1024)
		hangUp(w, false)
	case ResetUpload:
		if r.ContentLength > 0 {
			_, _ = io.CopyN(io.Discard, r.Body, int64(d.share*float64(r.ContentLength)))
		}
		hangUp(w, true)
	}
}

// decision is what choose decided for a request.
type decision struct {
	fault   Fault
	errType string
	share   float64       // ResetUpload, ResetDownload: the share of the body let through
	delay   time.Duration // Delay
}

func (p *Proxy) choose(op, method string) decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rule := range p.rules {
		if len(rule.Ops) > 0 && !contains(rule.Ops, op) {
			continue
		}
		if rule.Limit > 0 && rule.injected >= rule.Limit {
			continue
		}
		rule.matched++
		if len(rule.Faults) == 0 {
			continue
		}
		var f Fault
		if rule.Rate > 0 {
			if p.rng.Float64() >= rule.Rate {
				continue
			}
			f = rule.Faults[p.rng.IntN(len(rule.Faults))]
		} else {
			if rule.Every > 1 && (rule.matched-1)%rule.Every != 0 {
				continue
			}
			f = rule.Faults[rule.injected%len(rule.Faults)]
		}
		rule.injected++
		if f == ResetDownload && method != http.MethodGet {
			f = ResetUpload
		}
		d := decision{fault: f, errType: rule.ErrorType, share: p.rng.Float64()}
		if f == Delay {
			d.delay = rule.MinDelay
			if span := rule.MaxDelay - rule.MinDelay; span > 0 {
				d.delay += time.Duration(p.rng.Int64N(int64(span)))
			}
		}
		return d
	}
	return decision{}
}

// hangUp takes the connection from the server and closes it: with a TCP
// reset (the peer reads ECONNRESET), or an orderly close (it reads EOF).
func hangUp(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic("faults: the server does not support hijacking; cannot drop the connection")
	}
	if l, ok := conn.(interface{ SetLinger(int) error }); ok && reset {
		_ = l.SetLinger(0)
	}
	conn.Close()
}

// errCut is what a cut response's writer returns to the server's handler.
var errCut = errors.New("faults: connection reset while the body was sent")

// recorder passes a response through, recording its status and the body
// bytes sent; with cut set (ResetDownload), it lets that share of the body
// (by its Content-Length) through and then resets the connection.
type recorder struct {
	http.ResponseWriter
	status int
	sent   int64
	cut    float64
	limit  int64
	gone   bool
}

func (c *recorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *recorder) WriteHeader(code int) {
	if c.status != 0 || c.gone {
		return
	}
	if c.cut > 0 {
		n, _ := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64)
		if n <= 0 {
			// No body to cut: the reset comes before the headers.
			c.reset()
			return
		}
		c.limit = int64(c.cut * float64(n))
	}
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *recorder) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.gone {
		return 0, errCut
	}
	if c.cut > 0 && c.sent+int64(len(b)) > c.limit {
		n, _ := c.ResponseWriter.Write(b[:c.limit-c.sent])
		c.sent += int64(n)
		c.reset()
		return n, errCut
	}
	n, err := c.ResponseWriter.Write(b)
	c.sent += int64(n)
	return n, err
}

func (c *recorder) Flush() {
	if !c.gone {
		_ = http.NewResponseController(c.ResponseWriter).Flush()
	}
}

func (c *recorder) reset() {
	c.gone = true
	_ = http.NewResponseController(c.ResponseWriter).Flush()
	hangUp(c.ResponseWriter, true)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeError answers in the error format of the protocol the request used:
// an AWS JSON body for JSON protocols (X-Amz-Target), S3's XML otherwise.
func writeError(w http.ResponseWriter, r *http.Request, status int, s3Code, jsonType, msg string) {
	_, _ = io.Copy(io.Discard, r.Body)
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/x-amz-json-1.0"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("x-amzn-RequestId", "injected-fault")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, jsonType, msg)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", "injected-fault")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>injected-fault</RequestId></Error>`, s3Code, msg)
}

// attempt parses "attempt=2; max=10".
func attempt(h string) int {
	for _, part := range strings.Split(h, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == "attempt" {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// Operation names the AWS operation of a request: the X-Amz-Target of JSON
// protocols (DynamoDB, Kinesis), or the S3 REST operation from the method,
// the path (path-style: /bucket/key) and the query.
func Operation(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if _, op, ok := strings.Cut(t, "."); ok {
			return op
		}
		return t
	}
	q := r.URL.Query()
	_, uploads := q["uploads"]
	uploadID := q.Has("uploadId")
	hasKey := strings.Contains(strings.Trim(r.URL.Path, "/"), "/")
	switch r.Method {
	case http.MethodPut:
		switch {
		case uploadID && q.Has("partNumber"):
			return "UploadPart"
		case hasKey:
			return "PutObject"
		}
		return "CreateBucket"
	case http.MethodPost:
		switch {
		case uploads:
			return "CreateMultipartUpload"
		case uploadID:
			return "CompleteMultipartUpload"
		case q.Has("delete"):
			return "DeleteObjects"
		}
		return "PostObject"
	case http.MethodDelete:
		switch {
		case uploadID:
			return "AbortMultipartUpload"
		case hasKey:
			return "DeleteObject"
		}
		return "DeleteBucket"
	case http.MethodHead:
		if hasKey {
			return "HeadObject"
		}
		return "HeadBucket"
	case http.MethodGet:
		switch {
		case uploads:
			return "ListMultipartUploads"
		case uploadID:
			return "ListParts"
		case hasKey:
			return "GetObject"
		case q.Get("list-type") == "2":
			return "ListObjectsV2"
		case r.URL.Path == "/" || r.URL.Path == "":
			return "ListBuckets"
		}
		return "ListObjects"
	}
	return r.Method
}

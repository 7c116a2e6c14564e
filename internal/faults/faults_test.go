package faults

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// backend is a server that answers GET /b/k with body and counts the
// requests it was handed.
func backend(t *testing.T, body []byte) (*Proxy, string, *atomic.Int64) {
	t.Helper()
	var handled atomic.Int64
	p := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			for b := body; len(b) > 0; b = b[min(len(b), 4096):] {
				w.Write(b[:min(len(b), 4096)])
			}
		}
	}))
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })
	return p, srv.URL, &handled
}

// TestResets: a ResetDownload fault lets part of a GET's body through and
// resets the connection (the client reads an error, never a clean end), and
// records how much it sent; a ResetUpload fault never reaches the server.
func TestResets(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("0123456789"), 100_000)
	p, url, handled := backend(t, body)
	p.Add(Rule{Faults: []Fault{ResetDownload}, Limit: 1})
	resp, err := http.Get(url + "/b/k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("read the whole body (%d bytes) without an error", len(got))
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %v, want a reset", err)
	}
	if len(got) >= len(body) || !bytes.Equal(got, body[:len(got)]) {
		t.Errorf("%d bytes read, want a prefix of the %d", len(got), len(body))
	}
	r := settled(p, 0)
	if r.Fault != ResetDownload || r.Status != http.StatusOK || r.Sent >= int64(len(body)) || r.Forwarded.IsZero() {
		t.Errorf("request record %+v", r)
	}

	// A PUT drawn for ResetDownload is reset while uploading instead: the
	// server never sees it.
	p.Add(Rule{Faults: []Fault{ResetDownload, ResetUpload}, Limit: 2})
	before := handled.Load()
	for range 2 {
		req, _ := http.NewRequest(http.MethodPut, url+"/b/k", bytes.NewReader(body))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("PUT answered %s, want a reset", resp.Status)
		}
	}
	if n := handled.Load() - before; n != 0 {
		t.Errorf("%d reset uploads reached the server", n)
	}
	for i := 1; i < 3; i++ {
		if r := settled(p, i); r.Fault != ResetUpload || !r.Forwarded.IsZero() {
			t.Errorf("request record %+v", r)
		}
	}
}

// TestChaosSchedule: a rate rule fails about its share of the requests, with
// every fault of the mix, delays within their bounds (and recorded as the
// time between arrival and forwarding); the same seed draws the same
// schedule, another seed another one.
func TestChaosSchedule(t *testing.T) {
	t.Parallel()
	schedule := func(seed uint64) []Fault {
		p := New(http.NotFoundHandler())
		p.Seed(seed)
		p.Add(ChaosRule(0.05))
		var out []Fault
		for range 4000 {
			out = append(out, p.choose("GetObject", http.MethodGet).fault)
		}
		return out
	}
	a, b, c := schedule(7), schedule(7), schedule(8)
	if !slices.Equal(a, b) {
		t.Error("the same seed drew two schedules")
	}
	if slices.Equal(a, c) {
		t.Error("two seeds drew the same schedule")
	}
	counts := map[Fault]int{}
	for _, f := range a {
		counts[f]++
	}
	if faulted := len(a) - counts[None]; faulted < 140 || faulted > 260 {
		t.Errorf("%d of %d requests faulted at 5 %%", faulted, len(a))
	}
	for _, f := range Chaos {
		if counts[f] == 0 {
			t.Errorf("no %s drawn", f)
		}
	}

	p, url, _ := backend(t, []byte("hello"))
	p.Add(Rule{Faults: []Fault{Delay}, Rate: 1, MinDelay: 200 * time.Millisecond, MaxDelay: 300 * time.Millisecond, Limit: 1})
	resp, err := http.Get(url + "/b/k")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := settled(p, 0)
	if string(got) != "hello" || r.Fault != Delay {
		t.Fatalf("delayed request: %q, %+v", got, r)
	}
	if d := r.Forwarded.Sub(r.Start); d < 200*time.Millisecond {
		t.Errorf("forwarded %s after arrival, want at least 200ms", d)
	}
}

// settled returns the record of request i once the proxy is done with it
// (the client may see a reset before the server's handler has returned).
func settled(p *Proxy, i int) Request {
	for {
		if r := p.Requests()[i]; !r.End.IsZero() {
			return r
		}
		time.Sleep(time.Millisecond)
	}
}

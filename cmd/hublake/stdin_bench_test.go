package main

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// BenchmarkInterruptibleStdin: what reading stdin through interruptible
// (an io.Pipe fed by a goroutine, so that Ctrl-C stops a read that blocks)
// costs against reading it directly, in 64 KiB reads as backfill's buffered
// reader does: it reports the throughput through the pipe and its ratio to
// the direct reads of the same bytes in the same process.
func BenchmarkInterruptibleStdin(b *testing.B) {
	data := bytes.Repeat([]byte(`{"detail-type":"Security Hub Findings - Imported","detail":{"findings":[]}}`+"\n"), 1<<20/76*64)
	buf := make([]byte, 64<<10)
	read := func(r io.Reader) time.Duration {
		start := time.Now()
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
		return time.Since(start)
	}
	var direct, piped time.Duration
	for b.Loop() {
		direct += read(bytes.NewReader(data))
		piped += read(interruptible(context.Background(), bytes.NewReader(data)))
	}
	b.SetBytes(int64(len(data)))
	b.ReportMetric(float64(len(data))*float64(b.N)/piped.Seconds()/1e6, "MB/s-piped")
	b.ReportMetric(piped.Seconds()/direct.Seconds(), "x-direct-time")
}

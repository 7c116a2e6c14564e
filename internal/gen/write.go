package gen

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// WriteOptions say how WriteDir lays the corpus out in files.
type WriteOptions struct {
	// FileBytes is the size (before compression) at which a file is closed
	// and the next one started; default 16 MiB.
	FileBytes int64
	// Gzip compresses each file (names end in .json.gz).
	Gzip bool
}

// DefaultFileBytes is the default WriteOptions.FileBytes.
const DefaultFileBytes = 16 << 20

// checkEvery is how many units pass between checks for cancellation.
const checkEvery = 256

// WriteDir writes the corpus described by cfg into dir, creating it if
// needed, as files named events-00000.json, events-00001.json, ... (.json.gz
// with Gzip). A file is closed once it holds FileBytes; duplicates always land
// in the same file as their original. Files of an earlier run that follow the
// same naming pattern and were not rewritten are removed, so dir holds one
// corpus; other files are left alone.
//
// A file's bytes are gathered in memory and written (and compressed) by a
// background worker while the next file is generated, so memory use is a few
// times FileBytes.
func WriteDir(ctx context.Context, dir string, cfg Config, opt WriteOptions) (st Stats, err error) {
	if opt.FileBytes <= 0 {
		opt.FileBytes = DefaultFileBytes
	}
	g, err := New(cfg)
	if err != nil {
		return Stats{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("create output directory: %w", err)
	}
	w := newDirWriter(opt)
	defer func() {
		if cerr := w.close(); err == nil {
			err = cerr
		}
	}()
	written := make(map[string]bool)
	var buf *bytes.Buffer
	flush := func() error {
		name := fmt.Sprintf("events-%05d.json", len(written))
		if opt.Gzip {
			name += ".gz"
		}
		written[name] = true
		g.stats.Files++
		err := w.submit(filepath.Join(dir, name), buf)
		buf = nil
		return err
	}
	for !g.Done() {
		if buf != nil && int64(buf.Len()) >= opt.FileBytes {
			if err := flush(); err != nil {
				return g.stats, err
			}
		}
		if buf == nil {
			if err := ctx.Err(); err != nil {
				return g.stats, err
			}
			buf = w.buffer()
			g.Cut()
		}
		_, _ = writeUnit(buf, g.Next(), cfg.Format) // a bytes.Buffer does not fail
		if g.stats.Units%checkEvery == 0 && ctx.Err() != nil {
			return g.stats, ctx.Err()
		}
	}
	if buf != nil {
		if err := flush(); err != nil {
			return g.stats, err
		}
	}
	if err := w.close(); err != nil {
		return g.stats, err
	}
	return g.stats, removeStale(dir, written)
}

// WriteStream writes the whole corpus to w as one stream (no file cuts).
func WriteStream(ctx context.Context, w io.Writer, cfg Config) (Stats, error) {
	g, err := New(cfg)
	if err != nil {
		return Stats{}, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	for !g.Done() {
		if _, err := writeUnit(bw, g.Next(), cfg.Format); err != nil {
			return g.stats, fmt.Errorf("write corpus: %w", err)
		}
		if g.stats.Units%checkEvery == 0 && ctx.Err() != nil {
			return g.stats, ctx.Err()
		}
	}
	if err := bw.Flush(); err != nil {
		return g.stats, fmt.Errorf("write corpus: %w", err)
	}
	return g.stats, nil
}

type unitWriter interface {
	io.Writer
	io.ByteWriter
}

// writeUnit writes one unit in format f and returns the bytes written.
func writeUnit(w unitWriter, u []byte, f Format) (int, error) {
	n, err := w.Write(u)
	if err != nil || f == Concat {
		return n, err
	}
	return n + 1, w.WriteByte('\n')
}

// dirWriter writes finished files on background workers. Each file is
// compressed on its own, so the output does not depend on the number of
// workers.
type dirWriter struct {
	opt  WriteOptions
	jobs chan fileJob
	free chan *bytes.Buffer // buffers not in use: bounds memory
	wg   sync.WaitGroup
	once sync.Once
	mu   sync.Mutex
	err  error
}

type fileJob struct {
	path string
	buf  *bytes.Buffer
}

func newDirWriter(opt WriteOptions) *dirWriter {
	n := min(runtime.GOMAXPROCS(0), 4)
	w := &dirWriter{opt: opt, jobs: make(chan fileJob), free: make(chan *bytes.Buffer, n+1)}
	for range n + 1 {
		w.free <- new(bytes.Buffer)
	}
	for range n {
		w.wg.Go(w.work)
	}
	return w
}

// buffer returns an empty buffer for the next file, waiting for a worker to
// release one.
func (w *dirWriter) buffer() *bytes.Buffer {
	b := <-w.free
	b.Grow(int(min(w.opt.FileBytes, 1<<30)) + 256<<10)
	return b
}

// submit hands a finished file to the workers; it reports the first error a
// worker met.
func (w *dirWriter) submit(path string, b *bytes.Buffer) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.jobs <- fileJob{path, b}
	return nil
}

func (w *dirWriter) work() {
	for j := range w.jobs {
		if w.failed() == nil {
			if err := writeFile(j.path, j.buf.Bytes(), w.opt.Gzip); err != nil {
				w.mu.Lock()
				w.err = cmp.Or(w.err, err)
				w.mu.Unlock()
			}
		}
		j.buf.Reset()
		w.free <- j.buf
	}
}

func (w *dirWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// close waits for the workers and returns the first error; it may be called
// more than once.
func (w *dirWriter) close() error {
	w.once.Do(func() {
		close(w.jobs)
		w.wg.Wait()
	})
	return w.failed()
}

// writeFile writes data to path, gzipped when compress is set. BestSpeed
// keeps compression from dominating generation; the gzip header carries no
// name or time, so output stays reproducible.
func writeFile(path string, data []byte, compress bool) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create corpus file: %w", err)
	}
	if compress {
		zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed) // the level is valid
		_, err = zw.Write(data)
		err = errors.Join(err, zw.Close())
	} else {
		_, err = f.Write(data)
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// removeStale deletes corpus files in dir that this run did not write.
func removeStale(dir string, written map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list output directory: %w", err)
	}
	for _, d := range entries {
		name := d.Name()
		if written[name] || !isCorpusName(name) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("remove stale corpus file: %w", err)
		}
	}
	return nil
}

// isCorpusName reports whether name is events-NNNNN.json or .json.gz.
func isCorpusName(name string) bool {
	rest, ok := strings.CutPrefix(name, "events-")
	if !ok {
		return false
	}
	num, ok := strings.CutSuffix(rest, ".json")
	if !ok {
		num, ok = strings.CutSuffix(rest, ".json.gz")
	}
	if !ok || len(num) < 5 {
		return false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// benchDirs are the corpora BenchDir wrote, by size and days.
var benchDirs sync.Map

// BenchDir writes the default corpus of about n bytes, with event times over
// days days (0: the default), in files of 8 MiB, into a temporary directory
// once per process, and returns the directory: the benchmarks of a test
// binary share it (the system's temporary directory holds it after the
// process).
func BenchDir(n int64, days int) (string, error) {
	key := fmt.Sprintf("%d/%d", n, days)
	if v, ok := benchDirs.Load(key); ok {
		return v.(string), nil
	}
	dir, err := os.MkdirTemp("", "hublake-bench-")
	if err != nil {
		return "", err
	}
	cfg := DefaultConfig()
	cfg.Bytes = n
	if days > 0 {
		cfg.Days = days
	}
	if _, err := WriteDir(context.Background(), dir, cfg, WriteOptions{FileBytes: 8 << 20}); err != nil {
		return "", err
	}
	benchDirs.Store(key, dir)
	return dir, nil
}

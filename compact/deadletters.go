package compact

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/extsort"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
)

// Dead letters are gzipped JSON lines; a file of several gzip members one
// after another is itself a valid gzip file whose content is the members'
// content in order (RFC 1952, "a gzip file consists of a series of
// members"; Go's, zlib's and DuckDB's readers all read every member). So a
// dead-letter partition is compacted by concatenating its objects, without
// decompressing anything but a check that each input is whole.

// spooledInput is one dead-letter input copied into the spool file.
type spooledInput struct {
	off, size int64
}

// spoolDeadLetters copies every input into one local spool file, checking
// that each is a complete gzip stream (a damaged object fails the run
// before anything is written to the lake).
// It returns the spool, where each input is in it, and the number of lines
// (dead letters).
func spoolDeadLetters(ctx context.Context, lk objstore.Lake, inputs []object, tmpDir string) (*os.File, []spooledInput, int64, error) {
	f, err := os.CreateTemp(tmpDir, "hublake-compact-dead-letters-*")
	if err != nil {
		return nil, nil, 0, fmt.Errorf("spool dead letters: %w", err)
	}
	fail := func(err error) (*os.File, []spooledInput, int64, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, nil, 0, err
	}
	var lines lineCounter
	bw := bufio.NewWriterSize(f, 256<<10)
	var out []spooledInput
	var off int64
	open := func(ctx context.Context, in object) (objstore.ReadObject, error) { return lk.Open(ctx, in.Key) }
	closeObj := func(o objstore.ReadObject) { o.Close() }
	err = extsort.Prefetch(ctx, inputs, func(o object) int64 { return o.Size }, 32<<20, open, func(in object, obj objstore.ReadObject) error {
		defer obj.Close()
		cw := &encode.CountingWriter{W: bw}
		raw := io.TeeReader(io.NewSectionReader(obj, 0, obj.Size()), cw)
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return fmt.Errorf("dead letters %s: not gzip: %w", in.Key, err)
		}
		if _, err := io.Copy(&lines, zr); err != nil {
			return fmt.Errorf("dead letters %s: %w", in.Key, err)
		}
		if _, err := io.Copy(io.Discard, raw); err != nil { // what the gzip reader did not need
			return fmt.Errorf("dead letters %s: %w", in.Key, err)
		}
		out = append(out, spooledInput{off: off, size: cw.N})
		off += cw.N
		return nil
	}, closeObj)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fail(err)
	}
	return f, out, int64(lines), nil
}

// lineCounter counts the newlines written to it.
type lineCounter int64

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// writeDeadLetters writes the spooled inputs into outputs of at most target
// bytes each (an input larger than that is an output of its own), in input
// order.
func writeDeadLetters(ctx context.Context, lk objstore.Lake, table, dt, run string, spool *os.File, in []spooledInput, target int64, written func(object) error) error {
	k := 0
	for i := 0; i < len(in); {
		j, size := i, int64(0)
		for j < len(in) && (j == i || size+in[j].size <= target) {
			size += in[j].size
			j++
		}
		key, err := layout.ObjectKey(table, dt, layout.CompactedName(run, k))
		if err != nil {
			return err
		}
		w, err := lk.Create(ctx, key)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, io.NewSectionReader(spool, in[i].off, size)); err != nil {
			_ = w.Abort()
			return fmt.Errorf("write %s: %w", key, err)
		}
		if err := w.Commit(); err != nil {
			return err
		}
		if err := written(object{Key: key, Size: size}); err != nil {
			return err
		}
		k++
		i = j
	}
	return nil
}

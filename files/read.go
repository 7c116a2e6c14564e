package files

import (
	"archive/zip"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync/atomic"

	"github.com/hublake/hublake/units"
)

// Reading an input: its bytes are counted as they come (progress) and held
// against the size it was listed with; its format is told by its content
// (units.Detect: compressed streams are decompressed, layer after layer; a
// ZIP archive's members are read one by one; binary content is refused);
// what comes out is JSON text for the splitter. An input that cannot be read
// to its end is an *InputError.

// InputError is an input that could not be read to its end, or at all: a
// read error, a compressed stream that ends early, a file that shrank while
// read, an object whose body is shorter than listed, content that is not a
// format hublake reads, or a write the store refused. The rows of the units
// read before the break are in the lake (they are correct); the run reports
// the input as failed (exit status 1).
type InputError struct {
	Name string
	Err  error
}

func (e *InputError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// FailedInputs returns every input err (from Backfill) reports as failed,
// in the order they failed.
func FailedInputs(err error) []*InputError {
	var out []*InputError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *InputError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}

// ShortInputError is an input that ended before the size it was listed
// with.
type ShortInputError struct{ Read, Size int64 }

func (e *ShortInputError) Error() string {
	return fmt.Sprintf("input ended after %d of its %d bytes (it shrank while it was read, or its transfer was cut short)", e.Read, e.Size)
}

// rawReader reads an input's bytes as they come: it adds them to total (and
// reports the total to cb, for progress) and, at the end, checks that there
// were as many as the input was listed with (size; -1 when unknown). A file
// that grows while read is read up to where it ends then.
type rawReader struct {
	r     io.Reader
	n     int64
	size  int64
	total *atomic.Int64
	cb    func(int64)
}

func (c *rawReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		t := c.total.Add(int64(n))
		if c.cb != nil {
			c.cb(t)
		}
	}
	if err == io.EOF && c.size >= 0 && c.n < c.size {
		err = &ShortInputError{Read: c.n, Size: c.size}
	}
	return n, err
}

// maxLayers bounds the compression layers of one input (a .json.gz in a ZIP
// is two).
const maxLayers = 4

// streamFunc handles one stream of text: the input's content, or one
// member of an archive, named for the source column.
type streamFunc func(name string, r io.Reader) error

// eachStream opens in and calls fn with each stream of text it holds: its
// content, decompressed as many times as it is compressed, or each member
// of a ZIP archive (named <input>!<member>; directories, __MACOSX/ and
// hidden members skipped). It returns fn's errors, or why the input cannot
// be read; a member that fails does not stop the others.
func eachStream(ctx context.Context, in Input, total *atomic.Int64, cb func(int64), fn streamFunc) error {
	rc, err := in.open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	if total == nil {
		total = new(atomic.Int64)
	}
	raw := &rawReader{r: rc, size: in.Size, total: total, cb: cb}
	br := bufio.NewReaderSize(raw, 64<<10)
	text, format, err := decodeLayers(br, true)
	if err != nil {
		return err
	}
	if format == units.Zip {
		return eachMember(ctx, in, rc, br, raw, fn)
	}
	return finishText(in.Name, text, br, fn)
}

// finishText hands a stream of text to fn and then checks that the raw
// stream under it has ended too: bytes after the end of a compressed stream
// are not silently dropped.
func finishText(name string, text *bufio.Reader, raw *bufio.Reader, fn streamFunc) error {
	if err := fn(name, text); err != nil {
		return err
	}
	if text == raw {
		return nil
	}
	if _, err := raw.Peek(1); err == nil {
		return fmt.Errorf("data after the end of the compressed stream")
	} else if err != io.EOF {
		return err
	}
	return nil
}

// decodeLayers tells the format of r's content and decompresses it until it
// is text; it returns the text, or Zip when zipOK and r is an archive (r is
// then untouched), or an error for content hublake does not read.
func decodeLayers(r *bufio.Reader, zipOK bool) (*bufio.Reader, units.Format, error) {
	for layer := 0; ; layer++ {
		head, err := r.Peek(units.DetectSize)
		if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, 0, err
		}
		format, what := units.Detect(head)
		switch {
		case format == units.Text:
			return r, format, nil
		case format == units.Binary:
			return nil, format, fmt.Errorf("not JSON text: %s", what)
		case format == units.Zip && layer == 0 && zipOK:
			return r, format, nil
		case format == units.Zip:
			return nil, format, errors.New("a ZIP archive inside a compressed stream or inside another archive: not supported")
		case layer == maxLayers:
			return nil, format, fmt.Errorf("more than %d layers of compression", maxLayers)
		}
		dr, err := units.Decompress(format, r)
		if err != nil {
			return nil, format, err
		}
		r = bufio.NewReaderSize(dr, 64<<10)
	}
}

// eachMember reads a ZIP archive's members. The central directory is at
// the end, so the archive is read from a file: the input's own when it is
// one, else a temporary copy (an S3 object, stdin).
func eachMember(ctx context.Context, in Input, rc io.ReadCloser, br *bufio.Reader, raw *rawReader, fn streamFunc) error {
	var ra io.ReaderAt
	var size int64
	if f, ok := rc.(*os.File); ok && in.Size >= 0 {
		info, err := f.Stat()
		if err != nil {
			return fmt.Errorf("zip: %w", err)
		}
		ra, size = &countingReaderAt{r: f, raw: raw}, info.Size()
	} else {
		tmp, err := os.CreateTemp("", "hublake-zip-*")
		if err != nil {
			return fmt.Errorf("zip: spool the archive: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if size, err = io.Copy(tmp, br); err != nil {
			return fmt.Errorf("zip: spool the archive: %w", err)
		}
		ra = tmp
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	var errs []error
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if skipMember(f) {
			continue
		}
		name := in.Name + "!" + f.Name
		if err := readMember(f, name, fn); err != nil {
			errs = append(errs, fmt.Errorf("member %s: %w", f.Name, err))
		}
	}
	return errors.Join(errs...)
}

// skipMember: directories, macOS resource forks (__MACOSX/) and hidden
// files are not members to read (as hidden files are not inputs in a
// directory).
func skipMember(f *zip.File) bool {
	return f.Mode().IsDir() || strings.HasSuffix(f.Name, "/") || strings.HasPrefix(f.Name, "__MACOSX/") ||
		strings.HasPrefix(path.Base(f.Name), ".")
}

func readMember(f *zip.File, name string, fn streamFunc) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	text, _, err := decodeLayers(br, false)
	if err != nil {
		return err
	}
	return finishText(name, text, br, fn)
}

// countingReaderAt counts the bytes read from a ZIP archive read in place,
// for progress.
type countingReaderAt struct {
	r   io.ReaderAt
	raw *rawReader
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if n > 0 {
		t := c.raw.total.Add(int64(n))
		if c.raw.cb != nil {
			c.raw.cb(t)
		}
	}
	return n, err
}

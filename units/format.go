package units

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// Format is how an input's bytes are encoded, told by its content (never by
// its name: Firehose, S3 exports and people name files every way).
type Format uint8

const (
	// Text is JSON text, or text that is not JSON (its lines are dead
	// letters).
	Text Format = iota
	Gzip
	Zstd
	// Snappy is the Snappy framing format ("sNaPpY" stream identifier):
	// what Firehose writes for "Snappy".
	Snappy
	// HadoopSnappy is Hadoop's block format (each block a big-endian
	// uncompressed length, then compressed chunks each preceded by their
	// big-endian length): what Firehose writes for "Hadoop-compatible
	// Snappy".
	HadoopSnappy
	Bzip2
	// Zip is a ZIP archive: its members are read one by one (they need
	// random access, so the archive must be a file; see Backfill).
	Zip
	// Binary is content that is none of the above and not text: refused.
	Binary
)

func (f Format) String() string {
	switch f {
	case Text:
		return "text"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Snappy:
		return "snappy"
	case HadoopSnappy:
		return "hadoop-snappy"
	case Bzip2:
		return "bzip2"
	case Zip:
		return "zip"
	}
	return "binary"
}

// Compressed reports whether f is a compressed stream that Decompress reads.
func (f Format) Compressed() bool {
	switch f {
	case Gzip, Zstd, Snappy, HadoopSnappy, Bzip2:
		return true
	}
	return false
}

// DetectSize is how many leading bytes Detect needs to decide (fewer when
// the input is shorter).
const DetectSize = 4096

// hadoopMaxBlock bounds the uncompressed length of one Hadoop Snappy block
// (Hadoop writes 256 KiB by default) and of one of its chunks. Its first byte
// is then at most 0x03: no text starts so, which keeps the detection of a
// format without a magic number unambiguous.
const hadoopMaxBlock = 64 << 20

// binaryMagics name binary formats hublake does not read, so that the error
// says what the file is. Each is at least four bytes, or three with the
// content check's agreement (see Detect).
var binaryMagics = []struct {
	magic, what string
}{
	{"\x7fELF", "an ELF executable"},
	{"\xfe\xed\xfa\xce", "a Mach-O executable"},
	{"\xfe\xed\xfa\xcf", "a Mach-O executable"},
	{"\xcf\xfa\xed\xfe", "a Mach-O executable"},
	{"\xca\xfe\xba\xbe", "a Mach-O or Java class file"},
	{"PAR1", "a Parquet file"},
	{"\xfd7zXZ\x00", "xz-compressed data (not supported: decompress it first)"},
	{"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (not supported)"},
	{"\x04\x22\x4d\x18", "LZ4-compressed data (not supported: decompress it first)"},
	{"\x89PNG", "a PNG image"},
	{"%PDF-", "a PDF document"},
	{"GIF8", "a GIF image"},
	{"\xff\xd8\xff", "a JPEG image"},
	{"Obj\x01", "an Avro file"},
	{"ORC", "an ORC file"},
	{"SQLite format 3\x00", "an SQLite database"},
	{"MZ", "a Windows executable"},
	{"\xff\xfe\x00\x00", "UTF-32 text (hublake reads UTF-8 JSON: convert it)"},
	{"\x00\x00\xfe\xff", "UTF-32 text (hublake reads UTF-8 JSON: convert it)"},
	{"\xff\xfe", "UTF-16 text (hublake reads UTF-8 JSON: convert it)"},
	{"\xfe\xff", "UTF-16 text (hublake reads UTF-8 JSON: convert it)"},
}

// Detect tells the format of an input from its first bytes (up to
// DetectSize of them; head is the whole input when shorter). For Binary it
// also says what the content looks like, for the error that refuses it.
//
// Compressed formats and ZIP are known by their magic numbers, Hadoop Snappy
// (which has none) by a first block whose header is consistent: an
// uncompressed length of 1 byte to 64 MiB, a chunk length no larger than
// that length can compress to, and a Snappy block that says it decodes to at
// most that length. Anything else is text unless it holds a NUL byte or more
// than one control character in sixteen (JSON text has neither: a control
// character in a string must be escaped), or starts with the magic number of
// a known binary format or a UTF-16/32 byte order mark. Text that is not
// valid UTF-8 (a Latin-1 line, say) is still text: its units are dead
// letters, its neighbours rows.
func Detect(head []byte) (Format, string) {
	switch {
	case len(head) >= 4 && (string(head[:4]) == "PK\x03\x04" || string(head[:4]) == "PK\x05\x06"):
		return Zip, ""
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return Gzip, ""
	case len(head) >= 4 && (string(head[:4]) == "\x28\xb5\x2f\xfd" || (head[0]&0xf0 == 0x50 && string(head[1:4]) == "\x2a\x4d\x18")):
		// A zstd frame, or a skippable frame (pzstd and seekable zstd
		// start with one).
		return Zstd, ""
	case bytes.HasPrefix(head, []byte("\xff\x06\x00\x00sNaPpY")):
		return Snappy, ""
	case len(head) >= 10 && string(head[:3]) == "BZh" && head[3] >= '1' && head[3] <= '9' &&
		(string(head[4:10]) == "\x31\x41\x59\x26\x53\x59" || string(head[4:10]) == "\x17\x72\x45\x38\x50\x90"):
		return Bzip2, ""
	}
	for _, m := range binaryMagics {
		if len(m.magic) >= 4 && bytes.HasPrefix(head, []byte(m.magic)) {
			return Binary, m.what
		}
	}
	if len(head) > 262 && string(head[257:262]) == "ustar" {
		return Binary, "a tar archive (not supported: unpack it first)"
	}
	if hadoopSnappyHead(head) {
		return HadoopSnappy, ""
	}
	if looksBinary(head) {
		for _, m := range binaryMagics {
			if bytes.HasPrefix(head, []byte(m.magic)) {
				return Binary, m.what
			}
		}
		return Binary, "binary content, not text: not a format hublake reads (JSON text, gzip, zstd, Snappy, Hadoop Snappy, bzip2 or ZIP)"
	}
	return Text, ""
}

// looksBinary reports whether b holds a NUL byte or more than one control
// character (other than the four JSON blanks and form feed and backspace)
// in sixteen.
func looksBinary(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	ctl := 0
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\b') || c == 0x7f {
			ctl++
		}
	}
	return ctl*16 > len(b)
}

// hadoopSnappyHead reports whether head starts like a Hadoop Snappy stream.
func hadoopSnappyHead(head []byte) bool {
	if len(head) < 9 {
		return false
	}
	block := binary.BigEndian.Uint32(head[0:4])
	chunk := binary.BigEndian.Uint32(head[4:8])
	if block == 0 || block > hadoopMaxBlock || chunk == 0 || uint64(chunk) > uint64(snappy.MaxEncodedLen(int(block))) {
		return false
	}
	n, err := snappy.DecodedLen(head[8:])
	return err == nil && n > 0 && n <= int(block)
}

// zstdMaxWindow bounds the memory a zstd stream may ask for: 128 MiB, the
// window of `zstd --long` (27); larger windows are refused.
const zstdMaxWindow = 128 << 20

// Decompress returns a reader of the decompressed content of r, which holds
// a stream of the compressed format f. A stream that ends before its format
// says it does (a truncated file, a transfer cut short) is an error
// (io.ErrUnexpectedEOF or the decoder's own), never a quiet end; but the
// Snappy formats have no end marker, so a cut that falls exactly between two
// of their chunks cannot be told from the end.
func Decompress(f Format, r io.Reader) (io.ReadCloser, error) {
	switch f {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", eofIsTruncation(err))
		}
		return &errorContext{r: zr, format: "gzip", close: zr.Close}, nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return &errorContext{r: zr, format: "zstd", close: func() error { zr.Close(); return nil }}, nil
	case Snappy:
		return &errorContext{r: snappy.NewReader(r), format: "snappy"}, nil
	case HadoopSnappy:
		return &errorContext{r: &hadoopSnappyReader{r: r}, format: "hadoop snappy"}, nil
	case Bzip2:
		return &errorContext{r: bzip2.NewReader(r), format: "bzip2"}, nil
	}
	return nil, fmt.Errorf("%s is not a compressed stream", f)
}

// eofIsTruncation turns an io.EOF met inside a compressed stream (where
// more was due) into io.ErrUnexpectedEOF.
func eofIsTruncation(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// errorContext names the format in the errors of a decompressor, and makes
// sure a stream cut short never reads as a clean end.
type errorContext struct {
	r      io.Reader
	format string
	close  func() error
	err    error
}

func (e *errorContext) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
		if !strings.HasPrefix(err.Error(), e.format) {
			e.err = fmt.Errorf("%s: %w", e.format, err)
		}
		err = e.err
	} else if err != nil {
		e.err = io.EOF
	}
	return n, err
}

func (e *errorContext) Close() error {
	if e.close != nil {
		return e.close()
	}
	return nil
}

// hadoopSnappyReader decodes Hadoop's Snappy block format: blocks of a
// 4-byte big-endian uncompressed length followed by chunks (each a 4-byte
// big-endian compressed length and a Snappy block) until the block's length
// is produced.
type hadoopSnappyReader struct {
	r      io.Reader
	remain uint32 // uncompressed bytes of the current block still to come
	out    []byte // decoded bytes not yet read
	in     []byte // the chunk being decoded
	dec    []byte // its decoded bytes (out points into them)
	hdr    [4]byte
	err    error
}

func (h *hadoopSnappyReader) Read(p []byte) (int, error) {
	for len(h.out) == 0 {
		if h.err != nil {
			return 0, h.err
		}
		h.err = h.next()
	}
	n := copy(p, h.out)
	h.out = h.out[n:]
	return n, nil
}

// next decodes the next chunk into out; io.EOF only at a block boundary.
func (h *hadoopSnappyReader) next() error {
	for h.remain == 0 {
		n, err := io.ReadFull(h.r, h.hdr[:])
		if n == 0 && errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil {
			return eofIsTruncation(err)
		}
		h.remain = binary.BigEndian.Uint32(h.hdr[:])
		if h.remain > hadoopMaxBlock {
			return fmt.Errorf("block of %d bytes is larger than %d: not Hadoop Snappy, or corrupt", h.remain, hadoopMaxBlock)
		}
	}
	if _, err := io.ReadFull(h.r, h.hdr[:]); err != nil {
		return eofIsTruncation(err)
	}
	clen := binary.BigEndian.Uint32(h.hdr[:])
	if clen == 0 || uint64(clen) > uint64(snappy.MaxEncodedLen(int(h.remain))) {
		return fmt.Errorf("chunk of %d bytes cannot hold the %d bytes left in its block: corrupt", clen, h.remain)
	}
	if cap(h.in) < int(clen) {
		h.in = make([]byte, clen)
	}
	h.in = h.in[:clen]
	if _, err := io.ReadFull(h.r, h.in); err != nil {
		return eofIsTruncation(err)
	}
	n, err := snappy.DecodedLen(h.in)
	if err != nil {
		return fmt.Errorf("chunk: %w", err)
	}
	if n > int(h.remain) {
		return fmt.Errorf("chunk decodes to %d bytes, its block has %d left: corrupt", n, h.remain)
	}
	if cap(h.dec) < n {
		h.dec = make([]byte, n)
	}
	out, err := snappy.DecodeStrict(h.dec[:n], h.in)
	if err != nil {
		return fmt.Errorf("chunk: %w", err)
	}
	h.remain -= uint32(len(out))
	h.out = out
	return nil
}

package extsort

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
)

// Rows waiting to be sorted are held in a compact encoding rather than as
// parquet.Row (24 bytes per value, and a finding has 131 of them, most
// null): about a third of the memory, so a buffer of a given size sorts three
// times the rows. Sorted runs that do not fit are spilled to local temporary
// files in the same encoding, compressed with s2: cheaper to write and read
// back than Parquet, and a reader needs only its buffers (no pages per
// column), so a merge of many runs stays small.
//
// A row: uvarint(number of values), then per value a kind byte (0: null,
// else 1+parquet.Kind), its repetition and definition levels (a byte each),
// uvarint(column index) and its payload (fixed-size little endian, or
// uvarint(length) and the bytes). In a spill file each row is preceded by
// uvarint(its encoded length).

var errCorrupt = errors.New("corrupt encoded row")

// SpillBlock is the s2 block size of spill files: a reader holds about two
// blocks, and a merge reads up to MergeFanIn files at once.
const SpillBlock = 256 << 10

// appendRow appends the encoding of row to b.
func appendRow(b []byte, row parquet.Row) []byte {
	b = binary.AppendUvarint(b, uint64(len(row)))
	for _, v := range row {
		if v.IsNull() {
			b = append(b, 0, byte(v.RepetitionLevel()), byte(v.DefinitionLevel()))
			b = binary.AppendUvarint(b, uint64(v.Column()))
			continue
		}
		k := v.Kind()
		b = append(b, byte(k)+1, byte(v.RepetitionLevel()), byte(v.DefinitionLevel()))
		b = binary.AppendUvarint(b, uint64(v.Column()))
		switch k {
		case parquet.Boolean:
			if v.Boolean() {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case parquet.Int32:
			b = binary.LittleEndian.AppendUint32(b, uint32(v.Int32()))
		case parquet.Int64:
			b = binary.LittleEndian.AppendUint64(b, uint64(v.Int64()))
		case parquet.Float:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v.Float()))
		case parquet.Double:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Double()))
		default: // byte arrays, fixed-length byte arrays, int96
			b = binary.AppendUvarint(b, uint64(len(v.ByteArray())))
			b = append(b, v.ByteArray()...)
		}
	}
	return b
}

// decodeRow decodes an encoded row. Its byte values point into b, which the
// caller must not change while the row is in use.
func decodeRow(b []byte) (parquet.Row, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	b = b[w:]
	row := make(parquet.Row, n)
	for i := range row {
		if len(b) < 3 {
			return nil, errCorrupt
		}
		kind, rep, def := b[0], int(b[1]), int(b[2])
		col, w := binary.Uvarint(b[3:])
		if w <= 0 || col > parquet.MaxColumnIndex {
			return nil, errCorrupt
		}
		b = b[3+w:]
		var v parquet.Value
		if kind != 0 {
			k := parquet.Kind(kind - 1)
			size := 0
			switch k {
			case parquet.Boolean:
				size = 1
			case parquet.Int32, parquet.Float:
				size = 4
			case parquet.Int64, parquet.Double:
				size = 8
			case parquet.ByteArray, parquet.FixedLenByteArray, parquet.Int96:
				l, w := binary.Uvarint(b)
				if w <= 0 || l > uint64(len(b)-w) {
					return nil, errCorrupt
				}
				b = b[w:]
				size = int(l)
			default:
				return nil, errCorrupt
			}
			if len(b) < size {
				return nil, errCorrupt
			}
			p := b[:size:size]
			b = b[size:]
			switch k {
			case parquet.Boolean:
				v = parquet.BooleanValue(p[0] != 0)
			case parquet.Int32:
				v = parquet.Int32Value(int32(binary.LittleEndian.Uint32(p)))
			case parquet.Float:
				v = parquet.FloatValue(math.Float32frombits(binary.LittleEndian.Uint32(p)))
			case parquet.Int64:
				v = parquet.Int64Value(int64(binary.LittleEndian.Uint64(p)))
			case parquet.Double:
				v = parquet.DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(p)))
			case parquet.FixedLenByteArray:
				v = parquet.FixedLenByteArrayValue(p)
			case parquet.Int96:
				if size != 12 {
					return nil, errCorrupt
				}
				var x deprecated.Int96
				for j := range x {
					x[j] = binary.LittleEndian.Uint32(p[4*j:])
				}
				v = parquet.Int96Value(x)
			default:
				v = parquet.ByteArrayValue(p)
			}
		}
		row[i] = v.Level(rep, def, int(col))
	}
	return row, nil
}

// RowBytes is a row's size as the row group bound counts it: the bytes of
// its values.
func RowBytes(row parquet.Row) int64 {
	var n int64
	for _, v := range row {
		switch {
		case v.IsNull():
		case v.Kind() == parquet.ByteArray || v.Kind() == parquet.FixedLenByteArray:
			n += int64(len(v.ByteArray()))
		default:
			n += 8
		}
	}
	return n
}

// spillWriter writes encoded rows to a temporary file.
type spillWriter struct {
	f  *os.File
	zw *s2.Writer
	bw *bufio.Writer
	n  [binary.MaxVarintLen64]byte
}

func newSpill(dir string) (*spillWriter, error) {
	f, err := os.CreateTemp(dir, "hublake-sort-run-*")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	zw := s2.NewWriter(f, s2.WriterConcurrency(1), s2.WriterBlockSize(SpillBlock))
	return &spillWriter{f: f, zw: zw, bw: bufio.NewWriterSize(zw, 256<<10)}, nil
}

// write writes one encoded row.
func (w *spillWriter) write(enc []byte) error {
	l := binary.PutUvarint(w.n[:], uint64(len(enc)))
	if _, err := w.bw.Write(w.n[:l]); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	if _, err := w.bw.Write(enc); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}

// finish flushes the file and returns a reader of it from the start.
func (w *spillWriter) finish() (*spillReader, error) {
	if err := w.bw.Flush(); err != nil {
		return nil, w.fail(err)
	}
	if err := w.zw.Close(); err != nil {
		return nil, w.fail(err)
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return nil, w.fail(err)
	}
	zr := s2.NewReader(w.f, s2.ReaderMaxBlockSize(SpillBlock))
	return &spillReader{f: w.f, br: bufio.NewReaderSize(zr, 32<<10)}, nil
}

func (w *spillWriter) fail(err error) error {
	w.discard()
	return fmt.Errorf("spill: %w", err)
}

// discard removes an unfinished spill file.
func (w *spillWriter) discard() { w.f.Close(); os.Remove(w.f.Name()) }

// spillReader reads a spilled run back; close removes the file.
type spillReader struct {
	f  *os.File
	br *bufio.Reader
}

// next returns the next encoded row (a fresh slice) and io.EOF at the end.
func (r *spillReader) next() ([]byte, error) {
	n, err := binary.ReadUvarint(r.br)
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil || n > 1<<34 {
		return nil, fmt.Errorf("read spill: %w", errors.Join(err, errCorrupt))
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.br, b); err != nil {
		return nil, fmt.Errorf("read spill: %w", errors.Join(err, errCorrupt))
	}
	return b, nil
}

func (r *spillReader) close() {
	r.f.Close()
	os.Remove(r.f.Name())
}

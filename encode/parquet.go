package encode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/hublake/hublake/lake"
	"github.com/hublake/hublake/schema"
)

// The Parquet codecs. Objects meant to stay (backfill's, compaction's) are
// ZSTD, 1.3–1.4× smaller than Snappy's. The consumer writes Snappy by
// default: its objects live only until the next compaction rewrites them in
// ZSTD, and Snappy costs about a quarter less CPU per GB on the consumer's
// path, which decides how many shards a task keeps up with (BENCHMARKS.md,
// "Where the time goes on the consumer path").
const (
	CodecZSTD   = "zstd"
	CodecSnappy = "snappy"
	// DefaultCodec is the codec of backfill and compaction.
	DefaultCodec = CodecZSTD
	// StreamCodec is the consumer's default codec.
	StreamCodec = CodecSnappy
)

// Options configure Parquet files.
type Options struct {
	// Codec is CodecZSTD or CodecSnappy; empty means DefaultCodec.
	Codec string
	// RowGroupRows bounds the rows per row group (default
	// DefaultRowGroupRows).
	RowGroupRows int64
	// RowGroupBytes bounds the input bytes per row group (default
	// DefaultRowGroupBytes): the writer holds a row group's values, their
	// encoding and its compressed pages until the row group is written, so
	// this, not the batch, bounds the encoder's memory, even for text that
	// does not compress.
	RowGroupBytes int64
	// Absorbed, if set, counts the objects the writers' marker checks kept
	// out of the lake (see AbsorbedCounts).
	Absorbed *AbsorbedCounts
}

// The defaults of Options.
const (
	DefaultRowGroupRows  = 10_000
	DefaultRowGroupBytes = 4 << 20
)

// Validate checks the codec name.
func (o Options) Validate() error {
	switch o.Codec {
	case "", CodecZSTD, CodecSnappy:
		return nil
	}
	return fmt.Errorf("unknown Parquet codec %q (want %s or %s)", o.Codec, CodecZSTD, CodecSnappy)
}

func (o Options) codec() compress.Codec {
	if o.Codec == CodecSnappy {
		return snappyCodec{}
	}
	return newZstdCodec()
}

// WriterOptions are parquet-go's settings for table's objects, for every
// writer of them (the Encoder, compaction): its schema, the codec, the row
// group bound, V2 data pages, no page statistics (page headers carry only
// the null count the finisher, finish.go, puts there), ColumnIndex bounds
// cut at IndexBoundBytes, and none for the table's columns without bounds.
func WriterOptions(t schema.AnyTable, o Options) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		t.Schema(),
		parquet.Compression(o.codec()),
		parquet.MaxRowsPerRowGroup(o.RowGroupRowsOrDefault()),
		parquet.CreatedBy("hublake", "1", ""),
		// Dictionaries pay off on repetitive text (control titles and
		// remediation, an insight's raw_detail repeated on each of its
		// results); past this size a column falls back to plain encoding.
		parquet.DictionaryMaxBytes(4 << 20),
		parquet.DataPageVersion(2),
		// Page statistics would copy a page's min and max (megabytes for a
		// long text) into its header, for no reader: the finisher keeps
		// the null count only.
		parquet.DataPageStatistics(false),
		parquet.ColumnIndexSizeLimit(func([]string) int { return IndexBoundBytes }),
	}
	for _, path := range t.NoBounds() {
		opts = append(opts, parquet.SkipPageBounds(path...))
	}
	return opts
}

// The bounds a file gives (BENCHMARKS.md, "Page index and statistics"):
// every column has min/max in its ColumnIndex and row-group statistics except
// the table's columns without bounds (JSON documents: their bounds would all read
// '{"…'). A byte array bound in the ColumnIndex is cut to IndexBoundBytes
// (a true, shorter bound: parquet-go cuts and increments bytes, the
// finisher makes text bounds valid UTF-8); a row group's byte array min/max
// are exact, and left out when longer than StatBoundBytes.
const (
	IndexBoundBytes = 64
	StatBoundBytes  = 512
)

func finishOptionsOf(t schema.AnyTable) finishOptions {
	o := finishOptions{noBounds: map[string]bool{}, statBytes: StatBoundBytes}
	for _, path := range t.NoBounds() {
		o.noBounds[strings.Join(path, ".")] = true
	}
	return o
}

// NewParquetWriter returns a writer of one object of table t into out:
// schema's writer of rows of type T (T is t's row type, or any for rows
// built by parquet-go: compaction's), with opts (WriterOptions and any
// more), through the finisher.
func NewParquetWriter[T any](out io.Writer, t schema.AnyTable, opts []parquet.WriterOption) *schema.ParquetWriter[T] {
	return schema.NewParquetWriter[T](newSink(out, t), unbuffered(opts))
}

// unbuffered returns opts with parquet-go's writes unbuffered
// (WriteBufferSize -1), so that all of a row group has reached the
// finisher when Flush returns; the buffer is after the finisher (newSink).
func unbuffered(opts []parquet.WriterOption) []parquet.WriterOption {
	return append(slices.Clip(opts), parquet.WriteBufferSize(-1))
}

// parquetSink is what a schema.ParquetWriter of one object writes through:
// the finisher, and the buffer behind it.
type parquetSink struct {
	*finisher
	out *bufio.Writer
}

// newSink returns the sink of one object of table t into out.
func newSink(out io.Writer, t schema.AnyTable) parquetSink {
	bw := bufio.NewWriterSize(out, 64<<10)
	return parquetSink{finisher: newFinisher(bw, finishOptionsOf(t)), out: bw}
}

// Flush passes what the finisher wrote on to the object.
func (s parquetSink) Flush() error { return s.out.Flush() }

// RowGroupRowsOrDefault is the bound on a row group's rows (see
// Options.RowGroupRows).
func (o Options) RowGroupRowsOrDefault() int64 {
	if o.RowGroupRows <= 0 {
		return DefaultRowGroupRows
	}
	return o.RowGroupRows
}

// RowGroupBytesOrDefault is the bound on a row group's input bytes (see
// Options.RowGroupBytes).
func (o Options) RowGroupBytesOrDefault() int64 {
	if o.RowGroupBytes <= 0 {
		return DefaultRowGroupBytes
	}
	return o.RowGroupBytes
}

// Encoder writes the tables' Parquet objects and the dead letters, each
// through the absorbed-name check (absorbed.go). It is safe for concurrent
// use.
type Encoder struct {
	store lake.Store
	// opts are the writer's options of each table (by schema's index),
	// groupBytes the input bytes of a row group.
	opts       [][]parquet.WriterOption
	groupBytes int
	absorbed   *AbsorbedCounts
}

// New returns an encoder writing to store.
func New(store lake.Store, o Options) *Encoder {
	e := &Encoder{store: store, absorbed: o.Absorbed, groupBytes: int(o.RowGroupBytesOrDefault())}
	for _, t := range schema.Tables() {
		e.opts = append(e.opts, unbuffered(WriterOptions(t, o)))
	}
	return e
}

// WriteRows writes partition dt of rows (a table's rows of a batch) as the
// object called name, and returns its size.
func (e *Encoder) WriteRows(ctx context.Context, rows schema.Rows, dt, name string) (int64, error) {
	t := rows.Table()
	return e.writeObject(ctx, t.Name(), dt, name, func(out io.Writer, key string) error {
		return rows.WriteParquet(ctx, dt, key, newSink(out, t), e.opts[t.Index()], e.groupBytes)
	})
}

// WriteTable writes rows of table t (all of partition dt) as the object
// called name, and returns its size.
func WriteTable[T any](ctx context.Context, e *Encoder, t *schema.Table[T], dt, name string, rows []T) (int64, error) {
	return e.writeObject(ctx, t.Name(), dt, name, func(out io.Writer, key string) error {
		return t.WriteParquet(ctx, key, [][]T{rows}, newSink(out, t), e.opts[t.Index()], e.groupBytes)
	})
}

// writeObject writes the object name of table's partition dt: body writes
// its bytes, then the object is committed (aborted on any error). It returns
// the object's size; an object a compaction absorbed is not written, counts
// as written and has size 0 (its rows are in the lake; absorbed.go).
func (e *Encoder) writeObject(ctx context.Context, table, dt, name string, body func(w io.Writer, key string) error) (int64, error) {
	key, err := lake.ObjectKey(table, dt, name)
	if err != nil {
		return 0, err
	}
	obj, err := createGuarded(ctx, e.store, key, e.absorbed)
	if errors.Is(err, errAbsorbed) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	cw := &CountingWriter{W: obj}
	if err := body(cw, key); err != nil {
		obj.Abort()
		return 0, err
	}
	if err := obj.Commit(); err != nil {
		return 0, err
	}
	return cw.N, nil
}

// CountingWriter passes writes to W and counts their bytes in N: the size
// of an object as it is written.
type CountingWriter struct {
	W io.Writer
	N int64
}

func (c *CountingWriter) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}

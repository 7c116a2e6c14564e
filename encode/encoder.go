package encode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
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
	store objstore.Store
	// opts are the writer's options of each table (by schema's index),
	// groupBytes the input bytes of a row group.
	opts       [][]parquet.WriterOption
	groupBytes int
	absorbed   *AbsorbedCounts
}

// New returns an encoder writing to store.
func New(store objstore.Store, o Options) *Encoder {
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
	key, err := layout.ObjectKey(table, dt, name)
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

// The writers' side of compaction's exactly-once argument (package compact
// has the whole of it), kept here so that every writer gets it: the stream
// consumer, backfill and anything else that writes through an Encoder.
//
// A compaction that replaces a batch object records the object's key first
// (layout.AbsorbedKey, a marker outside the table) and only then deletes it. The
// same batch can be written again at any later time — a zombie worker that
// lost its lease uploading late, a shard replayed from before its checkpoint,
// a backfill re-run over the same input — and it would write the same name
// with the same rows (or a superset of logical duplicates), which are
// already in a compacted object. So before creating an object, a writer
// checks for its marker and, if there is one, does not write it (its rows are
// in the lake). After committing it, the writer checks again: a marker that
// appeared meanwhile means a compaction absorbed the name while the object
// was being written. Such an object is a deletion like any other, and every
// deletion of an absorbed name keeps the delete grace (package compact, "The
// delete grace"): a reader may be listing the partition the compaction just
// replaced, and this key may be where it finds those rows. A writer does not
// know the grace of the compaction that wrote the marker, only the bound
// every compaction keeps (MaxDeleteGrace), so it removes its object only
// when the marker is older than that; a younger marker, the usual case (it
// appeared while the object was written), leaves the object to compaction:
// the absorbing run deletes that key its grace after the marker, and any
// later run deletes it once the marker is older than its grace. What slips
// through otherwise — a writer killed between its commit and the second
// check — is removed the same way by the next compaction.
//
// Cost per object written: one Stat of the marker before and one after (a
// HEAD each on S3; BENCHMARKS.md has the measured figures), and nothing else
// unless a marker exists.

// MaxDeleteGrace bounds a compaction's delete grace (compact.Options): the
// grace a writer keeps before removing an object whose name a compaction
// absorbed while it was written. An hour outlasts any listing and most
// queries that read the objects they listed.
const MaxDeleteGrace = time.Hour

// AbsorbedSince reports whether a compaction absorbed the object at key (a
// table key), and since when: the marker's modification time rounded up to
// the next whole second, so never earlier than the marker was written (S3
// answers a HEAD with Last-Modified in whole seconds, truncated). The
// deletion of an absorbed name waits until this is older than the grace.
func AbsorbedSince(ctx context.Context, store objstore.Store, key string) (since time.Time, ok bool, err error) {
	marker, err := layout.AbsorbedKey(key)
	if err != nil {
		return time.Time{}, false, err
	}
	info, err := store.Stat(ctx, marker)
	switch {
	case err == nil:
		return info.Modified.Truncate(time.Second).Add(time.Second), true, nil
	case errors.Is(err, objstore.ErrNotExist):
		return time.Time{}, false, nil
	}
	return time.Time{}, false, fmt.Errorf("check whether %s was compacted: %w", key, err)
}

// AbsorbedCounts counts what the writers' marker checks did. The zero value
// is ready; a nil *AbsorbedCounts counts nothing.
type AbsorbedCounts struct {
	// Skipped: objects not written because a compaction had absorbed their
	// name (their rows are in a compacted object).
	Skipped atomic.Int64
	// Removed: objects removed right after their commit because a
	// compaction had absorbed their name more than MaxDeleteGrace before.
	Removed atomic.Int64
	// Left: objects committed while a compaction absorbed their name, left
	// for compaction to delete once the grace is over (see above).
	Left atomic.Int64
}

func (c *AbsorbedCounts) skipped() {
	if c != nil {
		c.Skipped.Add(1)
	}
}

func (c *AbsorbedCounts) removed() {
	if c != nil {
		c.Removed.Add(1)
	}
}

func (c *AbsorbedCounts) left() {
	if c != nil {
		c.Left.Add(1)
	}
}

// errAbsorbed is what createGuarded returns for an object that must not be
// written; the Encoder's writes turn it into "written, 0 bytes".
var errAbsorbed = errors.New("absorbed by a compaction")

// createGuarded creates the table object at key unless a compaction absorbed
// it (errAbsorbed), and returns a writer whose Commit checks again.
func createGuarded(ctx context.Context, store objstore.Store, key string, counts *AbsorbedCounts) (objstore.ObjectWriter, error) {
	_, done, err := AbsorbedSince(ctx, store, key)
	if err != nil {
		return nil, err
	}
	if done {
		counts.skipped()
		return nil, errAbsorbed
	}
	obj, err := store.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &guardedObject{ObjectWriter: obj, ctx: ctx, store: store, key: key, counts: counts}, nil
}

type guardedObject struct {
	objstore.ObjectWriter
	ctx    context.Context
	store  objstore.Store
	key    string
	counts *AbsorbedCounts
}

// Commit commits the object, then checks whether a compaction absorbed its
// name meanwhile: if the marker is older than MaxDeleteGrace the object is
// removed, otherwise it is left for compaction (see above). An error of the
// second check fails the commit: the batch is written again, which is
// harmless.
func (g *guardedObject) Commit() error {
	if err := g.ObjectWriter.Commit(); err != nil {
		return err
	}
	since, done, err := AbsorbedSince(g.ctx, g.store, g.key)
	if err != nil {
		return err
	}
	if !done {
		return nil
	}
	if time.Since(since) < MaxDeleteGrace {
		g.counts.left()
		return nil
	}
	if err := g.store.Delete(g.ctx, g.key); err != nil {
		return fmt.Errorf("remove %s, absorbed by a compaction while it was written: %w", g.key, err)
	}
	g.counts.removed()
	return nil
}

package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

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

// EncodeOptions configure Parquet files.
type EncodeOptions struct {
	// Codec is CodecZSTD or CodecSnappy; empty means DefaultCodec.
	Codec string
	// RowGroupRows bounds the rows per row group (default 10,000).
	RowGroupRows int64
	// RowGroupBytes bounds the input bytes per row group (default 4 MiB):
	// the writer holds a row group's values, their encoding and its
	// compressed pages until the row group is written, so this, not the
	// batch, bounds the encoder's memory, even for text that does not
	// compress.
	RowGroupBytes int64
	// Absorbed, if set, counts the objects the writers' marker checks kept
	// out of the lake (see AbsorbedCounts).
	Absorbed *AbsorbedCounts
}

// Validate checks the codec name.
func (o EncodeOptions) Validate() error {
	switch o.Codec {
	case "", CodecZSTD, CodecSnappy:
		return nil
	}
	return fmt.Errorf("unknown Parquet codec %q (want %s or %s)", o.Codec, CodecZSTD, CodecSnappy)
}

func (o EncodeOptions) codec() compress.Codec {
	if o.Codec == CodecSnappy {
		return snappyCodec{}
	}
	return newZstdCodec()
}

// WriterOptions are the Parquet settings of table's objects, for every
// writer of them (the Encoder, compaction): its schema, the codec, the row
// group bound, and no statistics on its big text columns.
func WriterOptions(table string, o EncodeOptions) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		schema.ParquetSchema(table),
		parquet.Compression(o.codec()),
		parquet.MaxRowsPerRowGroup(o.RowGroupRowsOrDefault()),
		parquet.CreatedBy("hublake", "1", ""),
		// Dictionaries pay off on repetitive text (control titles and
		// remediation, an insight's raw_detail repeated on each of its
		// results); past this size a column falls back to plain encoding.
		parquet.DictionaryMaxBytes(4 << 20),
	}
	for _, path := range schema.BigTextColumns(table) {
		opts = append(opts, parquet.SkipPageBounds(path...), parquet.SkipPageStatistics(path...))
	}
	return opts
}

// RowGroupRowsOrDefault is the bound on a row group's rows (see
// EncodeOptions.RowGroupRows).
func (o EncodeOptions) RowGroupRowsOrDefault() int64 {
	if o.RowGroupRows <= 0 {
		return 10_000
	}
	return o.RowGroupRows
}

// RowGroupBytesOrDefault is the bound on a row group's input bytes (see
// EncodeOptions.RowGroupBytes).
func (o EncodeOptions) RowGroupBytesOrDefault() int64 {
	if o.RowGroupBytes <= 0 {
		return 4 << 20
	}
	return o.RowGroupBytes
}

// tableWriter writes objects of one row type. Each object gets a fresh
// parquet-go writer: Reset does not reset the column writers' state
// (dictionaries, encodings), so a reused writer's output would depend on the
// objects it wrote before, and names are only deterministic if bytes are too.
type tableWriter[T any] struct {
	opts          []parquet.WriterOption
	rowGroupBytes int
	size          func(*T) int // a row's input bytes, roughly
}

func newTableWriter[T any](table string, o EncodeOptions, size func(*T) int) *tableWriter[T] {
	return &tableWriter[T]{opts: WriterOptions(table, o), rowGroupBytes: int(o.RowGroupBytesOrDefault()), size: size}
}

// writeChunks encodes rows (held in chunks, one after another) into w, the
// object at key.
func (t *tableWriter[T]) writeChunks(ctx context.Context, out io.Writer, key string, chunks [][]T) error {
	w := parquet.NewGenericWriter[T](out, t.opts...)
	// Rows go in runs that end at a row group's byte budget (or a chunk's
	// end); each full row group is written out (Flush) before the next one
	// is encoded.
	bytes := 0
	for _, rows := range chunks {
		for i := 0; i < len(rows); {
			if err := ctx.Err(); err != nil {
				return err
			}
			j := i
			for j < len(rows) && (j == i || bytes < t.rowGroupBytes) {
				bytes += t.size(&rows[j])
				j++
			}
			if _, err := w.Write(rows[i:j]); err != nil {
				return fmt.Errorf("encode %s: %w", key, err)
			}
			if bytes >= t.rowGroupBytes {
				if err := w.Flush(); err != nil {
					return fmt.Errorf("encode %s: %w", key, err)
				}
				bytes = 0
			}
			i = j
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return nil
}

// Encoder writes the tables' Parquet objects and the dead letters, each
// through the absorbed-name check (absorbed.go). It is safe for concurrent
// use.
type Encoder struct {
	store    Store
	writers  map[string]any // table name → *tableWriter[row type]
	absorbed *AbsorbedCounts
}

// NewEncoder returns an encoder writing to store.
func NewEncoder(store Store, o EncodeOptions) *Encoder {
	return &Encoder{store: store, absorbed: o.Absorbed, writers: map[string]any{
		schema.TableFindings: newTableWriter(schema.TableFindings, o, func(f *schema.Finding) int { return len(f.RawFinding) + len(f.Description) }),
		// An insight result's raw_detail is shared with the event's other
		// results (and dictionary-encoded); its own values are small.
		schema.TableInsightResults: newTableWriter(schema.TableInsightResults, o, func(r *schema.InsightResult) int { return 64 + len(r.ResultValue) }),
		schema.TableOCSFFindings:   newTableWriter(schema.TableOCSFFindings, o, func(f *schema.OCSFFinding) int { return len(f.RawFinding) + len(f.Description) }),
	}}
}

// writeObject writes the object name of table's partition dt: body writes
// its bytes, then the object is committed (aborted on any error). It returns
// the object's size; an object a compaction absorbed is not written, counts
// as written and has size 0 (its rows are in the lake; absorbed.go).
func (e *Encoder) writeObject(ctx context.Context, table, dt, name string, body func(w io.Writer, key string) error) (int64, error) {
	key, err := ObjectKey(table, dt, name)
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

// WriteRows writes rows of table (all of partition dt) as the object called
// name, and returns its size. T must be the table's row type.
func WriteRows[T any](ctx context.Context, e *Encoder, table, dt, name string, rows []T) (int64, error) {
	return WriteRowChunks(ctx, e, table, dt, name, [][]T{rows})
}

// WriteRowChunks is WriteRows for rows held in chunks, one after another.
func WriteRowChunks[T any](ctx context.Context, e *Encoder, table, dt, name string, chunks [][]T) (int64, error) {
	w, ok := e.writers[table].(*tableWriter[T])
	if !ok {
		var zero T
		return 0, fmt.Errorf("no Parquet writer for table %q with rows of type %T", table, zero)
	}
	return e.writeObject(ctx, table, dt, name, func(out io.Writer, key string) error {
		return w.writeChunks(ctx, out, key, chunks)
	})
}

// WriteFindings writes rows (all of partition dt) as object name.
func (e *Encoder) WriteFindings(ctx context.Context, dt, name string, rows []schema.Finding) (int64, error) {
	return WriteRows(ctx, e, schema.TableFindings, dt, name, rows)
}

// WriteInsights writes rows (all of partition dt) as object name.
func (e *Encoder) WriteInsights(ctx context.Context, dt, name string, rows []schema.InsightResult) (int64, error) {
	return WriteRows(ctx, e, schema.TableInsightResults, dt, name, rows)
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

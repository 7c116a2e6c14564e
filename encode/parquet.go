package encode

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

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
// cut at IndexBoundBytes, and none for the BigText columns.
func WriterOptions(table string, o Options) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		schema.ParquetSchema(table),
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
	for _, path := range schema.BigTextColumns(table) {
		opts = append(opts, parquet.SkipPageBounds(path...))
	}
	return opts
}

// The bounds a file gives (BENCHMARKS.md, "Page index and statistics"):
// every column has min/max in its ColumnIndex and row-group statistics except
// the table's BigText columns (JSON documents: their bounds would all read
// '{"…'). A byte array bound in the ColumnIndex is cut to IndexBoundBytes
// (a true, shorter bound: parquet-go cuts and increments bytes, the
// finisher makes text bounds valid UTF-8); a row group's byte array min/max
// are exact, and left out when longer than StatBoundBytes.
const (
	IndexBoundBytes = 64
	StatBoundBytes  = 512
)

func finishOptionsOf(table string) finishOptions {
	o := finishOptions{noBounds: map[string]bool{}, statBytes: StatBoundBytes}
	for _, path := range schema.BigTextColumns(table) {
		o.noBounds[strings.Join(path, ".")] = true
	}
	return o
}

// ParquetWriter writes one Parquet object of a table: parquet-go's writer,
// with opts (WriterOptions and any more), through the finisher.
type ParquetWriter[T any] struct {
	w      *parquet.GenericWriter[T]
	fin    *finisher
	out    *bufio.Writer
	scan   *batchScan // nil when T has no list of structs
	schema *parquet.Schema
	rows   []parquet.Row
	top    []int // the row's optional value-type fields
	// generic: a row went through parquet-go's reflective writer; rowPath:
	// every row goes through the row path (see Write).
	generic, rowPath bool
	// The row group's bound and the rows written since the last Flush.
	maxRows, groupRows int64
}

// NewParquetWriter returns a writer of one object of table into out.
func NewParquetWriter[T any](out io.Writer, table string, opts []parquet.WriterOption) *ParquetWriter[T] {
	// parquet-go writes unbuffered (WriteBufferSize -1), so that all of a
	// row group has reached the finisher when Flush returns; the buffer is
	// after the finisher.
	bw := bufio.NewWriterSize(out, 64<<10)
	fin := newFinisher(bw, finishOptionsOf(table))
	opts = append(slices.Clip(opts), parquet.WriteBufferSize(-1))
	p := &ParquetWriter[T]{w: parquet.NewGenericWriter[T](fin, opts...), fin: fin, out: bw}
	if cfg, err := parquet.NewWriterConfig(opts...); err == nil {
		p.maxRows = cfg.MaxRowsPerRowGroup
	}
	if t := reflect.TypeFor[T](); t.Kind() == reflect.Struct {
		p.scan = batchScanOf(t, false)
		p.top = optionalFields(t)
		p.schema = parquet.SchemaOf(reflect.New(t).Interface())
		p.rows = make([]parquet.Row, 1)
	}
	return p
}

// Write writes rows. parquet-go (v0.32.1) finds the NULLs of a batch of
// values of an optional value-type field (hublake's optional strings) with a
// bitmap whose scan is wrong (writeRowsFuncOfOptional): a run of y non-null
// values that starts at bit y ≥ 1 of a 64-value word and is followed only by
// nulls to the word's end is taken for a run to the word's end, and those
// NULLs are written as empty strings (badBitmap says when). The batches it
// scans are the rows of a Write (in chunks of 64 from its first row, cut
// where a row group fills), and the elements after the first of each list
// of structs. So rows go to its reflective writer in batches of at most 64
// that do not fill a row group and hold the pattern in none of the row's
// optional fields (safeBatch), and a row whose lists of structs hold it
// (batchScan.risky, rare) is shredded into values by the schema
// (Deconstruct) and written by the row path, which has no bitmap.
// parquet-go's reflective writer discards what the row path wrote before
// its own first write, so an object whose first row needs the row path
// takes it throughout. TestOptionalNullsSurviveBatching guards it.
func (p *ParquetWriter[T]) Write(rows []T) (int, error) {
	for i := 0; i < len(rows); {
		if p.rowPath || p.scan.risky(reflect.ValueOf(&rows[i]).Elem()) {
			if !p.generic {
				p.rowPath = true
			}
			p.rows = append(p.rows[:0], p.schema.Deconstruct(p.rows[0][:0], &rows[i]))
			if _, err := p.w.WriteRows(p.rows); err != nil {
				return i, err
			}
			p.wrote(1)
			i++
			continue
		}
		n := 1
		for n < min(64, len(rows)-i, p.groupLeft()) && !p.scan.risky(reflect.ValueOf(&rows[i+n]).Elem()) {
			n++
		}
		n = p.safeBatch(rows[i : i+n])
		p.generic = true
		if _, err := p.w.Write(rows[i : i+n]); err != nil {
			return i, err
		}
		p.wrote(n)
		i += n
	}
	return len(rows), nil
}

// groupLeft is how many rows the current row group takes before parquet-go
// starts a new one.
func (p *ParquetWriter[T]) groupLeft() int {
	if p.maxRows <= 0 {
		return math.MaxInt
	}
	return int(p.maxRows - p.groupRows%p.maxRows)
}

func (p *ParquetWriter[T]) wrote(n int) { p.groupRows += int64(n) }

// safeBatch returns how many of rows, from the first, parquet-go's
// null-bitmap scan takes right in every optional value-type field.
func (p *ParquetWriter[T]) safeBatch(rows []T) int {
	n := len(rows)
	words := make([]uint64, len(p.top))
	for k, f := range p.top {
		for r := range rows {
			if !reflect.ValueOf(&rows[r]).Elem().Field(f).IsZero() {
				words[k] |= 1 << r
			}
		}
	}
	// A shorter batch can hold a pattern a longer one does not (its tail
	// counts as NULLs): shorten until every field is safe.
	for changed := true; changed; {
		changed = false
		for _, w := range words {
			for n > 1 && badBitmap([]uint64{w & (1<<n - 1)}, n) {
				n--
				changed = true
			}
		}
	}
	return n
}

// batchScan finds, in a row, a list of structs whose elements after the
// first would take parquet-go's null-bitmap scan wrong (see
// ParquetWriter.Write).
type batchScan struct {
	optional []int // the struct's optional value-type fields
	fields   []scanField
}

type scanField struct {
	index int
	list  bool // a slice of structs, else a pointer to a struct
	elem  *batchScan
}

func batchScanOf(t reflect.Type, nested bool) *batchScan {
	var s batchScan
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("parquet")
		if !f.IsExported() || tag == "-" {
			continue
		}
		ft := f.Type
		isStruct := func(t reflect.Type) bool { return t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Time]() }
		switch {
		case ft.Kind() == reflect.Slice && isStruct(ft.Elem()):
			if e := batchScanOf(ft.Elem(), true); e != nil {
				s.fields = append(s.fields, scanField{index: i, list: true, elem: e})
			}
		case ft.Kind() == reflect.Pointer && isStruct(ft.Elem()):
			if e := batchScanOf(ft.Elem(), true); e != nil {
				s.fields = append(s.fields, scanField{index: i, elem: e})
			}
		case nested && ft == reflect.TypeFor[time.Time]() && slices.Contains(strings.Split(tag, ",")[1:], "optional"):
			panic(fmt.Sprintf("%s.%s: a nested optional time.Time is written as NULL by parquet-go; make it a *time.Time", t, f.Name))
		}
	}
	s.optional = optionalFields(t)
	if len(s.fields) == 0 && (!nested || len(s.optional) == 0) {
		return nil
	}
	return &s
}

// optionalFields are the indexes of t's optional fields of a value type
// (not a pointer, slice, map, interface or time.Time): the ones
// writeRowsFuncOfOptional writes with its null bitmap.
func optionalFields(t reflect.Type) []int {
	var out []int
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("parquet")
		if !f.IsExported() || tag == "-" || !slices.Contains(strings.Split(tag, ",")[1:], "optional") {
			continue
		}
		switch f.Type.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			continue
		}
		if f.Type != reflect.TypeFor[time.Time]() {
			out = append(out, i)
		}
	}
	return out
}

// risky reports whether v (a struct) holds a list of structs that would
// take the null-bitmap scan wrong.
func (s *batchScan) risky(v reflect.Value) bool {
	if s == nil {
		return false
	}
	for _, f := range s.fields {
		fv := v.Field(f.index)
		if !f.list {
			if !fv.IsNil() && f.elem.risky(fv.Elem()) {
				return true
			}
			continue
		}
		n := fv.Len()
		if n > 3 {
			words := make([]uint64, (n-1+63)/64)
			for _, o := range f.elem.optional {
				clear(words)
				for k := 1; k < n; k++ {
					if !fv.Index(k).Field(o).IsZero() {
						words[(k-1)/64] |= 1 << ((k - 1) % 64)
					}
				}
				if badBitmap(words, n-1) {
					return true
				}
			}
		}
		for k := range n {
			if f.elem.risky(fv.Index(k)) {
				return true
			}
		}
	}
	return false
}

// badBitmap reports whether parquet-go's scan of a batch of n values whose
// non-null ones are the bits of words goes wrong: a run of y ≥ 1 non-nulls
// starts at bit y of a word (bit y-1 null), bits y…2y-1 are set and all
// above are clear, and the batch has a value at bit 2y or above of that word.
func badBitmap(words []uint64, n int) bool {
	for x, w := range words {
		valid := min(64, n-64*x)
		for y := 1; y < 32 && 2*y < valid; y++ {
			if w>>(y-1)&1 == 0 && w>>y == 1<<y-1 {
				return true
			}
		}
	}
	return false
}

// WriteRows writes rows built by parquet-go (compaction's): the row path
// has neither defect of the reflective one.
func (p *ParquetWriter[T]) WriteRows(rows []parquet.Row) (int, error) { return p.w.WriteRows(rows) }

// Flush writes the buffered rows out as a row group (through to out, so
// that a writer counting out's bytes sees the object's size).
func (p *ParquetWriter[T]) Flush() error {
	p.groupRows = 0
	if err := p.w.Flush(); err != nil {
		return err
	}
	return p.out.Flush()
}

// Close writes the last row group and the file's page index and footer.
func (p *ParquetWriter[T]) Close() error {
	if err := p.w.Flush(); err != nil {
		return err
	}
	if err := p.fin.Tail(); err != nil {
		return err
	}
	if err := p.w.Close(); err != nil {
		return err
	}
	if err := p.fin.Finish(); err != nil {
		return err
	}
	return p.out.Flush()
}

// RowGroupRowsOrDefault is the bound on a row group's rows (see
// Options.RowGroupRows).
func (o Options) RowGroupRowsOrDefault() int64 {
	if o.RowGroupRows <= 0 {
		return 10_000
	}
	return o.RowGroupRows
}

// RowGroupBytesOrDefault is the bound on a row group's input bytes (see
// Options.RowGroupBytes).
func (o Options) RowGroupBytesOrDefault() int64 {
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
	table         string
	opts          []parquet.WriterOption
	rowGroupBytes int
	size          func(*T) int // a row's input bytes, roughly
}

func newTableWriter[T any](table string, o Options, size func(*T) int) *tableWriter[T] {
	return &tableWriter[T]{table: table, opts: WriterOptions(table, o), rowGroupBytes: int(o.RowGroupBytesOrDefault()), size: size}
}

// writeChunks encodes rows (held in chunks, one after another) into w, the
// object at key.
func (t *tableWriter[T]) writeChunks(ctx context.Context, out io.Writer, key string, chunks [][]T) error {
	w := NewParquetWriter[T](out, t.table, t.opts)
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
	store    lake.Store
	writers  map[string]any // table name → *tableWriter[row type]
	absorbed *AbsorbedCounts
}

// New returns an encoder writing to store.
func New(store lake.Store, o Options) *Encoder {
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

package schema

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

// ParquetSink is where a ParquetWriter writes one object: the encoder's
// finisher in front of it (encode/finish.go), which makes what the file
// says about its pages true. The writer calls Flush after each row group it
// writes out, Tail after its last row group and before its page index and
// footer, and Finish after them.
type ParquetSink interface {
	io.Writer
	Flush() error
	Tail() error
	Finish() error
}

// ParquetWriter writes one Parquet object of rows of type T into a sink:
// parquet-go's writer with opts (the encoder's WriterOptions and any more;
// writes unbuffered: see encode.NewParquetWriter), working around its
// defects below. It is the half of the encoder's Parquet writer that
// depends on the row type, here so that each Table can write its rows.
type ParquetWriter[T any] struct {
	w      *parquet.GenericWriter[T]
	sink   ParquetSink
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

// NewParquetWriter returns a writer of one object into sink.
func NewParquetWriter[T any](sink ParquetSink, opts []parquet.WriterOption) *ParquetWriter[T] {
	p := &ParquetWriter[T]{w: parquet.NewGenericWriter[T](sink, opts...), sink: sink}
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

// WriteRows writes rows built by parquet-go (compaction's): the row path
// has neither defect of the reflective one.
func (p *ParquetWriter[T]) WriteRows(rows []parquet.Row) (int, error) { return p.w.WriteRows(rows) }

// Flush writes the buffered rows out as a row group (through the sink, so
// that a writer counting the object's bytes sees its size).
func (p *ParquetWriter[T]) Flush() error {
	p.groupRows = 0
	if err := p.w.Flush(); err != nil {
		return err
	}
	return p.sink.Flush()
}

// Close writes the last row group and the file's page index and footer.
func (p *ParquetWriter[T]) Close() error {
	if err := p.w.Flush(); err != nil {
		return err
	}
	if err := p.sink.Tail(); err != nil {
		return err
	}
	if err := p.w.Close(); err != nil {
		return err
	}
	if err := p.sink.Finish(); err != nil {
		return err
	}
	return p.sink.Flush()
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

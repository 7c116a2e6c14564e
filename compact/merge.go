package compact

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/schema"
)

// The rows of a Parquet partition go through an external merge sort whose
// memory does not depend on the partition's size:
//
//  1. The inputs are read one after another, row group by row group; their
//     rows are copied into a buffer of at most Options.SortBuffer bytes,
//     which is sorted (stably: rows of equal keys keep their input order)
//     and spilled to a temporary file when full (spill.go).
//  2. The sorted runs are merged by a heap, at most mergeFanIn at a time
//     (more runs are first merged into longer ones), ties going to the
//     earlier run: the output order is that of one stable sort of all rows
//     in input order, so the same inputs always give the same bytes.
//  3. The merged rows are written into objects of at most the target size
//     (outputWriter), with the writer's Parquet settings.
//
// A table without sort keys skips 1 and 2: its rows stream from the inputs
// to the outputs in input order. A partition that fits in the buffer is
// never spilled.

const (
	mergeFanIn = 16
	// wholeRead: inputs up to this size are read into memory at once.
	wholeRead = 8 << 20
)

// rowSource yields rows in order, and io.EOF after the last.
type rowSource interface {
	next() (parquet.Row, error)
	close()
}

// keyedRow is an encoded row (spill.go) with its sort key values.
type keyedRow struct {
	enc []byte
	key []parquet.Value
}

// keyer extracts and compares sort keys.
type keyer []sortColumn

// key returns row's sort key values; with clone, they are copies that do not
// point into the row.
func (k keyer) key(row parquet.Row, clone bool) []parquet.Value {
	if len(k) == 0 {
		return nil
	}
	out := make([]parquet.Value, len(k))
	for i, c := range k {
		// Values are in column order; a top-level column has one value.
		j := sort.Search(len(row), func(j int) bool { return row[j].Column() >= c.index })
		if j < len(row) && row[j].Column() == c.index {
			out[i] = row[j]
			if clone { // the key outlives the row it was read from
				out[i] = out[i].Clone()
			}
		}
	}
	return out
}

func (k keyer) compare(a, b []parquet.Value) int {
	for i, c := range k {
		if d := c.compare(a[i], b[i]); d != 0 {
			return d
		}
	}
	return 0
}

// decoded is an input read ahead: its rows encoded (decodeInput), or, for a
// large input, the opened object to stream.
type decoded struct {
	obj  objstore.ReadObject
	rows []keyedRow
	buf  []byte // the rows' encodings
}

// decodeInFlight bounds the bytes of inputs decoded ahead of the sorter:
// their rows take about eight times their compressed size.
const decodeInFlight = 2 << 20

// decodeInput decodes a whole (small) input into encoded rows with their
// sort keys.
func decodeInput(obj objstore.ReadObject, key string, s *parquet.Schema, keys keyer) (*decoded, error) {
	d := &decoded{}
	var offs []int
	var rowKeys [][]parquet.Value
	_, err := forEachRow(obj, key, s, func(row parquet.Row) error {
		d.buf = appendRow(d.buf, row)
		offs = append(offs, len(d.buf))
		rowKeys = append(rowKeys, keys.key(row, true))
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.rows = make([]keyedRow, len(offs))
	start := 0
	for i, end := range offs {
		d.rows[i] = keyedRow{enc: d.buf[start:end:end], key: rowKeys[i]}
		start = end
	}
	return d, nil
}

// sorter is step 1: it buffers, sorts and spills.
type sorter struct {
	keys   keyer
	budget int64
	tmpDir string

	buf     []keyedRow
	arena   []byte // the current chunk encoded rows are copied into
	scratch []byte
	mem     int64
	runs    []rowSource // spilled runs, in input order
	spilled int         // runs spilled (for the summary)
}

const arenaChunk = 4 << 20

func (s *sorter) add(row parquet.Row) error {
	s.scratch = appendRow(s.scratch[:0], row)
	n := len(s.scratch)
	if cap(s.arena)-len(s.arena) < n {
		s.arena = make([]byte, 0, max(min(arenaChunk, s.budget/8), int64(n)))
		s.mem += int64(cap(s.arena))
	}
	start := len(s.arena)
	s.arena = append(s.arena, s.scratch...)
	key := s.keys.key(row, true)
	s.buf = append(s.buf, keyedRow{enc: s.arena[start:len(s.arena):len(s.arena)], key: key})
	s.mem += int64(48 + 24*len(key))
	for _, v := range key {
		if k := v.Kind(); !v.IsNull() && (k == parquet.ByteArray || k == parquet.FixedLenByteArray) {
			s.mem += int64(len(v.ByteArray()))
		}
	}
	if s.mem >= s.budget {
		return s.spill()
	}
	return nil
}

// adopt takes the rows of a decoded input (and their memory).
func (s *sorter) adopt(d *decoded) error {
	s.buf = append(s.buf, d.rows...)
	s.mem += int64(cap(d.buf)) + int64(len(d.rows))*int64(48+24*len(s.keys))
	for _, r := range d.rows {
		for _, v := range r.key {
			if k := v.Kind(); !v.IsNull() && (k == parquet.ByteArray || k == parquet.FixedLenByteArray) {
				s.mem += int64(len(v.ByteArray()))
			}
		}
	}
	if s.mem >= s.budget {
		return s.spill()
	}
	return nil
}

func (s *sorter) sortBuffer() {
	if len(s.keys) > 0 {
		slices.SortStableFunc(s.buf, func(a, b keyedRow) int { return s.keys.compare(a.key, b.key) })
	}
}

func (s *sorter) spill() error {
	s.sortBuffer()
	w, err := newSpill(s.tmpDir)
	if err != nil {
		return err
	}
	for _, r := range s.buf {
		if err := w.write(r.enc); err != nil {
			w.discard()
			return err
		}
	}
	rd, err := w.finish()
	if err != nil {
		return err
	}
	s.runs = append(s.runs, &spillRun{r: rd})
	s.spilled++
	s.buf, s.arena, s.mem = nil, nil, 0
	return nil
}

// finish returns all rows added, in order.
func (s *sorter) finish() (rowSource, error) {
	if len(s.runs) == 0 {
		s.sortBuffer()
		rows := s.buf
		s.buf, s.arena = nil, nil
		return &memRun{rows: rows}, nil
	}
	if len(s.buf) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	for len(s.runs) > mergeFanIn {
		m := newMerger(s.keys, s.runs[:mergeFanIn])
		w, err := newSpill(s.tmpDir)
		if err != nil {
			m.close()
			return nil, err
		}
		var enc []byte
		for {
			row, err := m.next()
			if err == io.EOF {
				break
			}
			if err == nil {
				enc = appendRow(enc[:0], row)
				err = w.write(enc)
			}
			if err != nil {
				m.close()
				w.discard()
				return nil, err
			}
		}
		m.close()
		rd, err := w.finish()
		if err != nil {
			return nil, err
		}
		// The merged run holds the earliest rows: it goes first.
		s.runs = append([]rowSource{&spillRun{r: rd}}, s.runs[mergeFanIn:]...)
	}
	runs := s.runs
	s.runs = nil
	return newMerger(s.keys, runs), nil
}

// discard removes what the sorter spilled (after an error).
func (s *sorter) discard() {
	for _, r := range s.runs {
		r.close()
	}
	s.runs, s.buf, s.arena = nil, nil, nil
}

// memRun is the sorted buffer, when nothing was spilled.
type memRun struct {
	rows []keyedRow
	i    int
}

func (m *memRun) next() (parquet.Row, error) {
	if m.i >= len(m.rows) {
		return nil, io.EOF
	}
	row, err := decodeRow(m.rows[m.i].enc)
	m.rows[m.i] = keyedRow{} // let the bytes go once written
	m.i++
	return row, err
}

func (m *memRun) close() { m.rows = nil }

// spillRun is a spilled run.
type spillRun struct{ r *spillReader }

func (s *spillRun) next() (parquet.Row, error) {
	b, err := s.r.next()
	if err != nil {
		return nil, err
	}
	return decodeRow(b)
}

func (s *spillRun) close() { s.r.close() }

// merger is step 2: a k-way merge of sorted runs.
type merger struct {
	keys keyer
	srcs []rowSource
	h    mergeHeap
	err  error
	init bool
}

func newMerger(keys keyer, srcs []rowSource) *merger {
	return &merger{keys: keys, srcs: srcs, h: mergeHeap{keys: keys}}
}

type mergeItem struct {
	row parquet.Row
	key []parquet.Value
	src int
}

type mergeHeap struct {
	keys  keyer
	items []mergeItem
}

func (h *mergeHeap) Len() int { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool {
	if d := h.keys.compare(h.items[i].key, h.items[j].key); d != 0 {
		return d < 0
	}
	return h.items[i].src < h.items[j].src
}
func (h *mergeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap) Push(x any)    { h.items = append(h.items, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return it
}

func (m *merger) pull(src int) error {
	row, err := m.srcs[src].next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	heap.Push(&m.h, mergeItem{row: row, key: m.keys.key(row, false), src: src})
	return nil
}

func (m *merger) next() (parquet.Row, error) {
	if m.err != nil {
		return nil, m.err
	}
	if !m.init {
		m.init = true
		for i := range m.srcs {
			if err := m.pull(i); err != nil {
				m.err = err
				return nil, err
			}
		}
	}
	if m.h.Len() == 0 {
		return nil, io.EOF
	}
	it := heap.Pop(&m.h).(mergeItem)
	if err := m.pull(it.src); err != nil {
		m.err = err
		return nil, err
	}
	return it.row, nil
}

func (m *merger) close() {
	for _, s := range m.srcs {
		s.close()
	}
	m.srcs = nil
}

// forEachRow calls fn with every row of the Parquet object at key, read
// with the table's schema s (an object written with an older schema, which
// lacks columns added since, is converted: the new columns are null). The
// rows passed to fn are only valid during the call. A damaged object is an
// error, never a panic.
func forEachRow(obj objstore.ReadObject, key string, s *parquet.Schema, fn func(parquet.Row) error) (rows int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s: %v", key, p)
		}
	}()
	var r io.ReaderAt = obj
	if obj.Size() <= wholeRead {
		// A batch object is small: one read instead of one per page.
		b := make([]byte, obj.Size())
		if _, err := obj.ReadAt(b, 0); err != nil && err != io.EOF {
			return 0, fmt.Errorf("read %s: %w", key, err)
		}
		r = bytes.NewReader(b)
	}
	f, err := parquet.OpenFile(r, obj.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
	}
	buf := make([]parquet.Row, 64)
	for _, rg := range f.RowGroups() {
		if !parquet.EqualNodes(rg.Schema(), s) {
			conv, err := parquet.Convert(s, rg.Schema())
			if err != nil {
				return rows, fmt.Errorf("read %s: its schema does not convert to the table's: %w", key, err)
			}
			rg = parquet.ConvertRowGroup(rg, conv)
		}
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(buf)
			for _, row := range buf[:n] {
				if ferr := fn(row); ferr != nil {
					rr.Close()
					return rows, ferr
				}
				rows++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rr.Close()
				return rows, fmt.Errorf("read %s: %w", key, err)
			}
		}
		if err := rr.Close(); err != nil {
			return rows, fmt.Errorf("read %s: %w", key, err)
		}
	}
	return rows, nil
}

// outputWriter is step 3: it writes rows into the run's objects
// (CompactedName(run, 0), (run, 1), ...), each closed once its size plus
// one more row group would pass the target, with row groups bounded as the
// writer bounds them (rows, and bytes of values).
type outputWriter struct {
	ctx        context.Context
	lake       objstore.Lake
	table      schema.AnyTable
	dt         string
	run        string
	opts       []parquet.WriterOption
	groupRows  int64
	groupBytes int64
	target     int64
	written    func(object) error // after each output's commit

	k       int
	obj     objstore.ObjectWriter
	cw      *encode.CountingWriter
	w       *schema.ParquetWriter[any]
	key     string
	pending []parquet.Row
	gRows   int64
	gBytes  int64
	groups  int64 // row groups in the current object
	lastRG  int64 // the largest row group so far (compressed)
	footer  int64 // footer bytes per row group (column chunk metadata, page indexes)
	rows    int64
	outRows int64
}

// footerPerGroup is the footer's size per row group assumed until an object
// has been closed: a row group of 127 columns adds about 20 KiB of column
// metadata and page indexes.
const footerPerGroup = 32 << 10

func (o *outputWriter) write(row parquet.Row) error {
	if o.w == nil {
		name := layout.CompactedName(o.run, o.k)
		key, err := layout.ObjectKey(o.table.Name(), o.dt, name)
		if err != nil {
			return err
		}
		obj, err := o.lake.Create(o.ctx, key)
		if err != nil {
			return err
		}
		o.obj, o.key, o.cw = obj, key, &encode.CountingWriter{W: obj}
		o.w = encode.NewParquetWriter[any](o.cw, o.table, o.opts)
		o.outRows = 0
	}
	o.pending = append(o.pending, row)
	o.gRows++
	o.gBytes += rowBytes(row)
	o.rows++
	o.outRows++
	if len(o.pending) >= 64 {
		if err := o.writePending(); err != nil {
			return err
		}
	}
	if o.gRows >= o.groupRows || o.gBytes >= o.groupBytes {
		return o.endGroup(false)
	}
	return nil
}

func (o *outputWriter) writePending() error {
	if _, err := o.w.WriteRows(o.pending); err != nil {
		return o.fail(fmt.Errorf("encode %s: %w", o.key, err))
	}
	clear(o.pending)
	o.pending = o.pending[:0]
	return nil
}

// endGroup writes the row group out, and the object too when it is full or
// last.
func (o *outputWriter) endGroup(last bool) error {
	if err := o.writePending(); err != nil {
		return err
	}
	before := o.cw.N
	if err := o.w.Flush(); err != nil {
		return o.fail(fmt.Errorf("encode %s: %w", o.key, err))
	}
	o.lastRG = max(o.lastRG, o.cw.N-before)
	o.gRows, o.gBytes = 0, 0
	o.groups++
	if o.footer == 0 {
		o.footer = footerPerGroup
	}
	if !last && o.cw.N+o.lastRG+(o.groups+1)*o.footer <= o.target {
		return nil
	}
	body := o.cw.N
	if err := o.w.Close(); err != nil {
		return o.fail(fmt.Errorf("encode %s: %w", o.key, err))
	}
	o.footer = max(o.footer, (o.cw.N-body)/o.groups+1)
	o.groups = 0
	if err := o.obj.Commit(); err != nil {
		o.w, o.obj = nil, nil
		return err
	}
	out := object{Key: o.key, Size: o.cw.N}
	o.w, o.obj = nil, nil
	o.k++
	return o.written(out)
}

// close writes what is left.
func (o *outputWriter) close() error {
	if o.w == nil {
		return nil
	}
	return o.endGroup(true)
}

func (o *outputWriter) fail(err error) error {
	if o.obj != nil {
		_ = o.obj.Abort()
	}
	o.w, o.obj = nil, nil
	return err
}

// abort abandons the object being written, if any.
func (o *outputWriter) abort() {
	if o.obj != nil {
		_ = o.obj.Abort()
		o.w, o.obj = nil, nil
	}
}

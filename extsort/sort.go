package extsort

import (
	"bytes"
	"container/heap"
	"fmt"
	"io"
	"slices"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/objstore"
)

const (
	// MergeFanIn is how many sorted runs a merge reads at once.
	MergeFanIn = 16
	// WholeRead: inputs up to this size are read into memory at once.
	WholeRead = 8 << 20
)

// Source yields rows in order, and io.EOF after the last.
type Source interface {
	Next() (parquet.Row, error)
	Close()
}

// keyedRow is an encoded row (spill.go) with its sort key values.
type keyedRow struct {
	enc []byte
	key []parquet.Value
}

// Decoded is an input read ahead: its rows encoded (DecodeInput), or, for a
// large input, the opened object to stream (Obj).
type Decoded struct {
	Obj  objstore.ReadObject
	rows []keyedRow
	buf  []byte // the rows' encodings
}

// Rows is how many rows a decoded input holds.
func (d *Decoded) Rows() int { return len(d.rows) }

// DecodeInFlight bounds the bytes of inputs decoded ahead of the sorter:
// their rows take about eight times their compressed size.
const DecodeInFlight = 2 << 20

// DecodeInput decodes a whole (small) input into encoded rows with their
// sort keys.
func DecodeInput(obj objstore.ReadObject, key string, s *parquet.Schema, keys Keyer) (*Decoded, error) {
	d := &Decoded{}
	var offs []int
	var rowKeys [][]parquet.Value
	_, err := ForEachRow(obj, key, s, func(row parquet.Row) error {
		d.buf = appendRow(d.buf, row)
		offs = append(offs, len(d.buf))
		rowKeys = append(rowKeys, keys.Key(row, true))
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

// Sorter is step 1: it buffers, sorts and spills. NewSorter makes one.
type Sorter struct {
	keys   Keyer
	budget int64
	tmpDir string

	buf     []keyedRow
	arena   []byte // the current chunk encoded rows are copied into
	scratch []byte
	mem     int64
	runs    []Source // spilled runs, in input order
	spilled int      // runs spilled (for the summary)
}

// NewSorter returns a sorter by keys that holds about budget bytes of rows
// in memory and spills sorted runs into tmpDir.
func NewSorter(keys Keyer, budget int64, tmpDir string) *Sorter {
	return &Sorter{keys: keys, budget: budget, tmpDir: tmpDir}
}

// Spilled is how many sorted runs the sorter spilled.
func (s *Sorter) Spilled() int { return s.spilled }

const arenaChunk = 4 << 20

// Add adds a row (copied: the row may be reused once Add returns).
func (s *Sorter) Add(row parquet.Row) error {
	s.scratch = appendRow(s.scratch[:0], row)
	n := len(s.scratch)
	if cap(s.arena)-len(s.arena) < n {
		s.arena = make([]byte, 0, max(min(arenaChunk, s.budget/8), int64(n)))
		s.mem += int64(cap(s.arena))
	}
	start := len(s.arena)
	s.arena = append(s.arena, s.scratch...)
	key := s.keys.Key(row, true)
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

// Adopt takes the rows of a decoded input (and their memory).
func (s *Sorter) Adopt(d *Decoded) error {
	s.buf = append(s.buf, d.rows...)
	s.mem += int64(cap(d.buf))
	for _, r := range d.rows {
		s.mem += int64(48 + 24*len(r.key))
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

func (s *Sorter) sortBuffer() {
	if s.keys != nil {
		slices.SortStableFunc(s.buf, func(a, b keyedRow) int { return s.keys.Compare(a.key, b.key) })
	}
}

func (s *Sorter) spill() error {
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

// Finish returns all rows added, in order; the source owns what was
// spilled (Close removes it).
func (s *Sorter) Finish() (Source, error) {
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
	for len(s.runs) > MergeFanIn {
		m := newMerger(s.keys, s.runs[:MergeFanIn])
		w, err := newSpill(s.tmpDir)
		if err != nil {
			m.Close()
			return nil, err
		}
		var enc []byte
		for {
			row, err := m.Next()
			if err == io.EOF {
				break
			}
			if err == nil {
				enc = appendRow(enc[:0], row)
				err = w.write(enc)
			}
			if err != nil {
				m.Close()
				w.discard()
				return nil, err
			}
		}
		m.Close()
		rd, err := w.finish()
		if err != nil {
			return nil, err
		}
		// The merged run holds the earliest rows: it goes first.
		s.runs = append([]Source{&spillRun{r: rd}}, s.runs[MergeFanIn:]...)
	}
	runs := s.runs
	s.runs = nil
	return newMerger(s.keys, runs), nil
}

// Discard removes what the sorter spilled (after an error).
func (s *Sorter) Discard() {
	for _, r := range s.runs {
		r.Close()
	}
	s.runs, s.buf, s.arena = nil, nil, nil
}

// memRun is the sorted buffer, when nothing was spilled.
type memRun struct {
	rows []keyedRow
	i    int
}

func (m *memRun) Next() (parquet.Row, error) {
	if m.i >= len(m.rows) {
		return nil, io.EOF
	}
	row, err := decodeRow(m.rows[m.i].enc)
	m.rows[m.i] = keyedRow{} // let the bytes go once written
	m.i++
	return row, err
}

func (m *memRun) Close() { m.rows = nil }

// spillRun is a spilled run.
type spillRun struct{ r *spillReader }

func (s *spillRun) Next() (parquet.Row, error) {
	b, err := s.r.next()
	if err != nil {
		return nil, err
	}
	return decodeRow(b)
}

func (s *spillRun) Close() { s.r.close() }

// merger is step 2: a k-way merge of sorted runs.
type merger struct {
	keys Keyer
	srcs []Source
	h    mergeHeap
	err  error
	init bool
}

func newMerger(keys Keyer, srcs []Source) *merger {
	return &merger{keys: keys, srcs: srcs, h: mergeHeap{keys: keys}}
}

type mergeItem struct {
	row parquet.Row
	key []parquet.Value
	src int
}

type mergeHeap struct {
	keys  Keyer
	items []mergeItem
}

func (h *mergeHeap) Len() int { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool {
	if d := h.keys.Compare(h.items[i].key, h.items[j].key); d != 0 {
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
	row, err := m.srcs[src].Next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	heap.Push(&m.h, mergeItem{row: row, key: m.keys.Key(row, false), src: src})
	return nil
}

func (m *merger) Next() (parquet.Row, error) {
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

func (m *merger) Close() {
	for _, s := range m.srcs {
		s.Close()
	}
	m.srcs = nil
}

// ForEachRow calls fn with every row of the Parquet object at key, read
// with the table's schema s (an object written with an older schema, which
// lacks columns added since, is converted: the new columns are null). The
// rows passed to fn are only valid during the call. A damaged object is an
// error, never a panic.
func ForEachRow(obj objstore.ReadObject, key string, s *parquet.Schema, fn func(parquet.Row) error) (rows int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read %s: %v", key, p)
		}
	}()
	var r io.ReaderAt = obj
	if obj.Size() <= WholeRead {
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

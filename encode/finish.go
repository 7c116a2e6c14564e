package encode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// What a hublake Parquet file says about itself (page headers, statistics,
// the page index) is written by the finisher below, from what parquet-go
// measured, so that all of it is true. parquet-go (v0.32.1) writes the pages
// and the values right, but not all it says about them is (issue 19):
//
//   - SkipPageBounds still writes a ColumnIndex, with min = max = "" on every
//     page: a reader pruning pages by it (Trino, hyparquet) skips every page
//     for an equality on such a column;
//   - without page statistics (or with SkipPageStatistics) every page header
//     says null_count 0, nulls or not; with them, a page header's deprecated
//     min/max carry the bytes of min_value/max_value, ordered as UTF-8, where
//     the format defines signed byte order for them, and a long text's page
//     min and max are copied whole into its header;
//   - an all-null page gets zero bytes, not byte[0], as its ColumnIndex
//     bounds; a zero double minimum is +0.0 where the format asks -0.0; a
//     ColumnIndex text bound is cut (ColumnIndexSizeLimit) inside a
//     character, and the maximum's incremented byte may not be UTF-8;
//     type_length is set on leaves that are not FIXED_LEN_BYTE_ARRAY.
//
// The finisher sits between parquet-go's writer (no page statistics, V2 data
// pages) and the object. Pages pass through it as they are written: each
// page header is rewritten to carry its null count (the V2 header's
// num_nulls). When the writer has written its last page (Flush), what
// follows (parquet-go's page index and footer) is held and replaced by the
// finisher's own: every offset moved by the new header sizes; a ColumnIndex
// from parquet-go's with byte[0] for null pages, -0.0/+0.0, text bounds made
// valid UTF-8 (a shorter prefix for a minimum, an incremented character for
// a maximum), the null counts of the pages and the boundary order the bounds
// actually have, or none for the columns whose bounds are of no use
// (noBounds: the table's columns without bounds); row-group min/max as parquet-go computed
// them (exact) where they are short enough, null counts from the pages; and
// type_length only where it means something. Page data, CRCs and the
// OffsetIndex's rows are untouched: the output is the file parquet-go wrote,
// saying only what is true of it. internal/pqconform checks every file the
// tests write against its decoded pages, with parquet-go and two
// independent readers.

// finishOptions are the finisher's choices.
type finishOptions struct {
	// noBounds lists the leaf column paths (joined with ".") that get no
	// min/max anywhere: no ColumnIndex, no row-group min/max.
	noBounds map[string]bool
	// statBytes bounds a row group's byte array min/max: a chunk whose
	// min or max is longer has none (they are exact, or absent).
	statBytes int
}

// page is one page as it went through the finisher.
type page struct {
	origOff, newOff int64
	origHdr, newHdr int64 // header sizes
	size            int64 // compressed body size
	data            bool  // a data page (else a dictionary page)
	numValues       int64
	numNulls        int64
}

// finisher is an io.Writer that rewrites the Parquet stream parquet-go
// writes through it (see above). Tail must be called after the writer's last
// Flush and before its Close, and Finish after Close.
type finisher struct {
	out    io.Writer
	opts   finishOptions
	off    int64 // bytes received
	newOff int64 // bytes written to out
	magic  bool  // the leading "PAR1" has been seen
	buf    []byte
	body   int64 // bytes of the current page body still to pass
	tail   bool
	rest   []byte // the page index and footer, once tail is set
	pages  []page
	hdr    format.PageHeader
	enc    bytes.Buffer
	err    error
}

func newFinisher(out io.Writer, o finishOptions) *finisher {
	return &finisher{out: out, opts: o}
}

func (f *finisher) emit(p []byte) error {
	if f.err != nil {
		return f.err
	}
	n, err := f.out.Write(p)
	f.newOff += int64(n)
	if err != nil {
		f.err = err
	}
	return err
}

// Write takes the bytes parquet-go writes.
func (f *finisher) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n := len(p)
	for len(p) > 0 {
		if f.tail {
			f.rest = append(f.rest, p...)
			break
		}
		if f.body > 0 {
			k := min(int64(len(p)), f.body)
			if err := f.emit(p[:k]); err != nil {
				return 0, err
			}
			f.body -= k
			f.off += k
			p = p[k:]
			continue
		}
		// A page header (or the magic) starts here; it may be split across
		// writes.
		var in []byte
		if len(f.buf) > 0 {
			f.buf = append(f.buf, p...)
			in, p = f.buf, nil
		} else {
			in, p = p, nil
		}
		used, err := f.headers(in)
		if err != nil {
			f.err = err
			return 0, err
		}
		left := in[used:]
		if len(left) > 0 && f.body == 0 && !f.tail {
			// An incomplete header: wait for the rest.
			f.buf = append(f.buf[:0], left...)
		} else {
			f.buf = f.buf[:0]
			p = left
		}
	}
	return n, nil
}

// headers consumes the magic and complete page headers (and the body bytes
// that follow them in b) and returns how much of b it used. It stops at the
// first incomplete header or when a body continues past b.
func (f *finisher) headers(b []byte) (int, error) {
	used := 0
	for used < len(b) && f.body == 0 {
		if !f.magic {
			if len(b)-used < 4 {
				return used, nil
			}
			if string(b[used:used+4]) != "PAR1" {
				return 0, errors.New("parquet finisher: no PAR1 magic")
			}
			if err := f.emit(b[used : used+4]); err != nil {
				return 0, err
			}
			f.magic = true
			f.off += 4
			used += 4
			continue
		}
		n, ok, err := f.header(b[used:])
		if err != nil || !ok {
			return used, err
		}
		used += n
		k := min(int64(len(b)-used), f.body)
		if err := f.emit(b[used : used+int(k)]); err != nil {
			return 0, err
		}
		f.body -= k
		f.off += k
		used += int(k)
	}
	return used, nil
}

// header decodes one page header at the start of b, writes its rewrite and
// records the page. ok is false when b holds only part of the header.
func (f *finisher) header(b []byte) (n int, ok bool, err error) {
	f.hdr = format.PageHeader{}
	r := new(thrift.CompactProtocol).NewReaderFromBytes(b)
	if err := thrift.NewDecoder(r).Decode(&f.hdr); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("parquet finisher: page header at %d: %w", f.off, err)
	}
	n = r.BytesRead()
	h := &f.hdr
	pg := page{origOff: f.off, origHdr: int64(n), size: int64(h.CompressedPageSize), newOff: f.newOff}
	var stats *format.Statistics
	switch h.Type {
	case format.DataPageV2:
		v := &h.DataPageHeaderV2.V
		pg.data, pg.numValues, pg.numNulls = true, int64(v.NumValues), int64(v.NumNulls)
		stats = &v.Statistics
	case format.DictionaryPage:
	default:
		// hublake writes V2 data pages (WriterOptions): their headers carry
		// the null count the finisher needs.
		return 0, false, fmt.Errorf("parquet finisher: unexpected page type %v at %d", h.Type, f.off)
	}
	if stats != nil {
		// The page header keeps only the null count (parquet-go leaves it 0
		// without page statistics): min/max live in the ColumnIndex.
		*stats = format.Statistics{NullCount: pg.numNulls}
	}
	f.enc.Reset()
	if err := thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&f.enc)).Encode(h); err != nil {
		return 0, false, fmt.Errorf("parquet finisher: page header at %d: %w", f.off, err)
	}
	pg.newHdr = int64(f.enc.Len())
	if err := f.emit(f.enc.Bytes()); err != nil {
		return 0, false, err
	}
	f.pages = append(f.pages, pg)
	f.off += int64(n)
	f.body = pg.size
	return n, true, nil
}

// Tail marks the end of the pages: what is written from now on is
// parquet-go's page index and footer.
func (f *finisher) Tail() error {
	if f.err != nil {
		return f.err
	}
	if f.body != 0 || len(f.buf) != 0 {
		return fmt.Errorf("parquet finisher: tail in the middle of a page (%d body bytes, %d header bytes pending)", f.body, len(f.buf))
	}
	f.tail = true
	return nil
}

// Finish replaces the page index and footer parquet-go wrote with the
// finisher's and writes them.
func (f *finisher) Finish() error {
	if f.err != nil {
		return f.err
	}
	if !f.tail {
		return errors.New("parquet finisher: Finish before Tail")
	}
	out, err := f.finish()
	if err != nil {
		f.err = err
		return err
	}
	return f.emit(out)
}

// leafInfo is what the finisher needs of a leaf column.
type leafInfo struct {
	path     string
	typ      format.Type
	str      bool // a UTF-8 string (STRING or UTF8)
	unsigned bool // an unsigned integer
}

func leaves(schema []format.SchemaElement) []leafInfo {
	var out []leafInfo
	var walk func(i int, prefix string) int
	walk = func(i int, prefix string) int {
		e := &schema[i]
		name := e.Name
		if prefix != "" {
			name = prefix + "." + name
		}
		n, _ := e.NumChildren.Get()
		if n == 0 {
			typ, _ := e.Type.Get()
			ct, hasCT := e.ConvertedType.Get()
			l := leafInfo{path: name, typ: typ}
			switch v := e.LogicalType.Value.(type) {
			case *format.StringType, *format.EnumType, *format.JsonType:
				l.str = true
			case *format.IntType:
				l.unsigned = !v.IsSigned
			}
			if hasCT && (ct == deprecated.UTF8 || ct == deprecated.Enum || ct == deprecated.Json) {
				l.str = true
			}
			if hasCT && (ct == deprecated.Uint8 || ct == deprecated.Uint16 || ct == deprecated.Uint32 || ct == deprecated.Uint64) {
				l.unsigned = true
			}
			out = append(out, l)
			return i + 1
		}
		j := i + 1
		for range n {
			j = walk(j, name)
		}
		return j
	}
	for j, n := 1, 0; j < len(schema); n++ {
		root, _ := schema[0].NumChildren.Get()
		if n >= int(root) {
			break
		}
		j = walk(j, "")
	}
	return out
}

func (f *finisher) finish() ([]byte, error) {
	b := f.rest
	if !f.magic {
		// A file without rows: parquet-go wrote its magic with the footer.
		if len(b) < 4 || string(b[:4]) != "PAR1" {
			return nil, errors.New("parquet finisher: no PAR1 magic")
		}
		if err := f.emit(b[:4]); err != nil {
			return nil, err
		}
		f.magic, f.off, b = true, f.off+4, b[4:]
	}
	if len(b) < 12 || string(b[len(b)-4:]) != "PAR1" {
		return nil, errors.New("parquet finisher: no footer")
	}
	footerLen := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	if footerLen > len(b)-8 {
		return nil, errors.New("parquet finisher: footer longer than the tail")
	}
	footer := b[len(b)-8-footerLen : len(b)-8]
	indexes := b[:len(b)-8-footerLen]
	indexBase := f.off // the original offset of indexes[0]
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		return nil, fmt.Errorf("parquet finisher: footer: %w", err)
	}
	cols := leaves(md.Schema)
	for i := range md.Schema {
		if t, ok := md.Schema[i].Type.Get(); ok && t != format.FixedLenByteArray {
			md.Schema[i].TypeLength.Reset()
		}
	}
	// Pages by original offset, and what an original offset becomes.
	byOff := make(map[int64]int, len(f.pages))
	for i, p := range f.pages {
		byOff[p.origOff] = i
	}
	moved := func(off int64) (int64, error) {
		i, ok := byOff[off]
		if !ok {
			return 0, fmt.Errorf("parquet finisher: no page starts at offset %d", off)
		}
		return f.pages[i].newOff, nil
	}
	var colIdx, offIdx [][]byte // encoded, per chunk in footer order
	enc := func(v any) ([]byte, error) { return thrift.Marshal(new(thrift.CompactProtocol), v) }
	next := 0 // the first page of the next chunk
	for g := range md.RowGroups {
		rg := &md.RowGroups[g]
		if len(rg.Columns) != len(cols) {
			return nil, fmt.Errorf("parquet finisher: row group %d has %d columns, the schema %d", g, len(rg.Columns), len(cols))
		}
		var groupDelta int64
		for c := range rg.Columns {
			cc := &rg.Columns[c]
			meta := &cc.MetaData
			start := meta.DataPageOffset
			if meta.DictionaryPageOffset > 0 && meta.DictionaryPageOffset < start {
				start = meta.DictionaryPageOffset
			}
			if next >= len(f.pages) || f.pages[next].origOff != start {
				return nil, fmt.Errorf("parquet finisher: column chunk %d/%d does not start at the next page", g, c)
			}
			var chunk []page
			var size, delta int64
			for size < meta.TotalCompressedSize && next < len(f.pages) {
				p := f.pages[next]
				chunk = append(chunk, p)
				size += p.origHdr + p.size
				delta += p.newHdr - p.origHdr
				next++
			}
			if size != meta.TotalCompressedSize {
				return nil, fmt.Errorf("parquet finisher: column chunk %d/%d: pages hold %d bytes, the footer says %d", g, c, size, meta.TotalCompressedSize)
			}
			var err error
			if meta.DataPageOffset, err = moved(meta.DataPageOffset); err != nil {
				return nil, err
			}
			if meta.DictionaryPageOffset > 0 {
				if meta.DictionaryPageOffset, err = moved(meta.DictionaryPageOffset); err != nil {
					return nil, err
				}
			}
			if cc.FileOffset > 0 {
				if cc.FileOffset, err = moved(cc.FileOffset); err != nil {
					return nil, err
				}
			}
			meta.TotalCompressedSize += delta
			meta.TotalUncompressedSize += delta
			groupDelta += delta

			var data []page
			for _, p := range chunk {
				if p.data {
					data = append(data, p)
				}
			}
			// The OffsetIndex: parquet-go's, with the pages' new places.
			var oi format.OffsetIndex
			if cc.OffsetIndexLength == 0 {
				return nil, fmt.Errorf("parquet finisher: column chunk %d/%d has no offset index", g, c)
			}
			if err := thrift.Unmarshal(new(thrift.CompactProtocol), slice(indexes, cc.OffsetIndexOffset-indexBase, int64(cc.OffsetIndexLength)), &oi); err != nil {
				return nil, fmt.Errorf("parquet finisher: offset index %d/%d: %w", g, c, err)
			}
			if len(oi.PageLocations) != len(data) {
				return nil, fmt.Errorf("parquet finisher: offset index %d/%d lists %d pages, the chunk has %d", g, c, len(oi.PageLocations), len(data))
			}
			for i := range oi.PageLocations {
				loc := &oi.PageLocations[i]
				if loc.Offset != data[i].origOff {
					return nil, fmt.Errorf("parquet finisher: offset index %d/%d page %d at %d, the page is at %d", g, c, i, loc.Offset, data[i].origOff)
				}
				loc.Offset = data[i].newOff
				loc.CompressedPageSize = int32(data[i].newHdr + data[i].size)
			}
			ob, err := enc(&oi)
			if err != nil {
				return nil, err
			}
			offIdx = append(offIdx, ob)

			// The ColumnIndex and the statistics, from the page bounds.
			var pgi *format.ColumnIndex
			if cc.ColumnIndexLength > 0 {
				pgi = new(format.ColumnIndex)
				if err := thrift.Unmarshal(new(thrift.CompactProtocol), slice(indexes, cc.ColumnIndexOffset-indexBase, int64(cc.ColumnIndexLength)), pgi); err != nil {
					return nil, fmt.Errorf("parquet finisher: column index %d/%d: %w", g, c, err)
				}
			}
			ci, stats := f.bounds(cols[c], data, pgi, &meta.Statistics)
			meta.Statistics = stats
			var cb []byte
			if ci != nil {
				if cb, err = enc(ci); err != nil {
					return nil, err
				}
			}
			colIdx = append(colIdx, cb)
		}
		if rg.FileOffset > 0 {
			var err error
			if rg.FileOffset, err = moved(rg.FileOffset); err != nil {
				return nil, err
			}
		}
		rg.TotalCompressedSize += groupDelta
		rg.TotalByteSize += groupDelta
	}
	if next != len(f.pages) {
		return nil, fmt.Errorf("parquet finisher: %d pages belong to no column chunk", len(f.pages)-next)
	}
	// The page index (column indexes, then offset indexes, as parquet-go
	// lays them out), the footer, its length and the magic.
	var out bytes.Buffer
	at := func() int64 { return f.newOff + int64(out.Len()) }
	k := 0
	for g := range md.RowGroups {
		for c := range md.RowGroups[g].Columns {
			cc := &md.RowGroups[g].Columns[c]
			cc.ColumnIndexOffset, cc.ColumnIndexLength = 0, 0
			if colIdx[k] != nil {
				cc.ColumnIndexOffset, cc.ColumnIndexLength = at(), int32(len(colIdx[k]))
				out.Write(colIdx[k])
			}
			k++
		}
	}
	k = 0
	for g := range md.RowGroups {
		for c := range md.RowGroups[g].Columns {
			cc := &md.RowGroups[g].Columns[c]
			cc.OffsetIndexOffset, cc.OffsetIndexLength = at(), int32(len(offIdx[k]))
			out.Write(offIdx[k])
			k++
		}
	}
	fb, err := enc(&md)
	if err != nil {
		return nil, fmt.Errorf("parquet finisher: footer: %w", err)
	}
	out.Write(fb)
	out.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(fb))))
	out.WriteString("PAR1")
	return out.Bytes(), nil
}

func slice(b []byte, off, n int64) []byte {
	if off < 0 || n < 0 || off+n > int64(len(b)) {
		return nil
	}
	return b[off : off+n]
}

// bounds builds the ColumnIndex (nil for none) and the statistics of a
// column chunk from its data pages, parquet-go's ColumnIndex pgi (nil if
// none) and its statistics pgs. parquet-go's page bounds are true but for
// what the finisher fixes: text bounds cut inside a character (it cuts
// bytes, at ColumnIndexSizeLimit), zero-byte bounds on null pages, the sign
// of zero doubles; and a column with SkipPageBounds (a column without bounds) gets none.
func (f *finisher) bounds(col leafInfo, data []page, pgi *format.ColumnIndex, pgs *format.Statistics) (*format.ColumnIndex, format.Statistics) {
	var stats format.Statistics
	for _, p := range data {
		stats.NullCount += p.numNulls
	}
	if f.opts.noBounds[col.path] || pgi == nil || len(pgi.NullPages) != len(data) || len(pgi.MinValues) != len(data) || len(pgi.MaxValues) != len(data) {
		return nil, stats
	}
	ci := &format.ColumnIndex{
		NullPages:                make([]bool, len(data)),
		MinValues:                make([][]byte, len(data)),
		MaxValues:                make([][]byte, len(data)),
		NullCounts:               make([]int64, len(data)),
		RepetitionLevelHistogram: pgi.RepetitionLevelHistogram,
		DefinitionLevelHistogram: pgi.DefinitionLevelHistogram,
	}
	asc, desc := true, true
	var prevMin, prevMax []byte
	for i, p := range data {
		ci.NullCounts[i] = p.numNulls
		if null := p.numNulls >= p.numValues; null != pgi.NullPages[i] {
			return nil, stats // parquet-go and the page disagree: say nothing
		} else if null {
			ci.NullPages[i] = true
			ci.MinValues[i], ci.MaxValues[i] = []byte{}, []byte{}
			continue
		}
		lo, hi := pgi.MinValues[i], pgi.MaxValues[i]
		switch {
		case col.typ == format.Double || col.typ == format.Float:
			lo, hi = zeroSigns(lo, hi)
		case col.str:
			lo, hi = validMin(lo), validMax(hi)
			if hi == nil {
				return nil, stats
			}
		}
		if !validBound(col, lo) || !validBound(col, hi) {
			return nil, stats
		}
		ci.MinValues[i], ci.MaxValues[i] = lo, hi
		if prevMin != nil {
			if c := compareBound(col, lo, prevMin); c < 0 {
				asc = false
			} else if c > 0 {
				desc = false
			}
			if c := compareBound(col, hi, prevMax); c < 0 {
				asc = false
			} else if c > 0 {
				desc = false
			}
		}
		prevMin, prevMax = lo, hi
	}
	switch {
	case asc:
		ci.BoundaryOrder = format.Ascending
	case desc:
		ci.BoundaryOrder = format.Descending
	default:
		ci.BoundaryOrder = format.Unordered
	}
	// The row group's min/max: parquet-go's, exact; left out when text is
	// longer than statBytes.
	if lo, hi := pgs.MinValue, pgs.MaxValue; lo != nil && hi != nil && validBound(col, lo) && validBound(col, hi) &&
		(!isBytes(col.typ) || len(lo) <= f.opts.statBytes && len(hi) <= f.opts.statBytes) {
		if col.typ == format.Double || col.typ == format.Float {
			lo, hi = zeroSigns(lo, hi)
		}
		stats.MinValue, stats.MaxValue = lo, hi
	}
	return ci, stats
}

// validBound reports whether b is a plain-encoded value of col's type.
func validBound(col leafInfo, b []byte) bool {
	switch col.typ {
	case format.Boolean:
		return len(b) == 1
	case format.Int32, format.Float:
		return len(b) == 4
	case format.Int64, format.Double:
		return len(b) == 8
	}
	return b != nil
}

func isBytes(t format.Type) bool { return t == format.ByteArray || t == format.FixedLenByteArray }

// zeroSigns applies the format's rule for zero bounds of floating point
// columns: a zero minimum is -0.0 and a zero maximum +0.0, so that a reader
// comparing bounds by their bits still brackets both zeros.
func zeroSigns(lo, hi []byte) ([]byte, []byte) {
	switch {
	case len(lo) == 8 && math.Float64frombits(binary.LittleEndian.Uint64(lo)) == 0:
		lo = binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Copysign(0, -1)))
	case len(lo) == 4 && math.Float32frombits(binary.LittleEndian.Uint32(lo)) == 0:
		lo = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(math.Copysign(0, -1))))
	}
	switch {
	case len(hi) == 8 && math.Float64frombits(binary.LittleEndian.Uint64(hi)) == 0:
		hi = binary.LittleEndian.AppendUint64(nil, 0)
	case len(hi) == 4 && math.Float32frombits(binary.LittleEndian.Uint32(hi)) == 0:
		hi = binary.LittleEndian.AppendUint32(nil, 0)
	}
	return lo, hi
}

// compareBound compares two plain-encoded bounds in the column's order.
func compareBound(col leafInfo, a, b []byte) int {
	switch col.typ {
	case format.Boolean:
		return cmpOrdered(a[0], b[0])
	case format.Int32:
		x, y := binary.LittleEndian.Uint32(a), binary.LittleEndian.Uint32(b)
		if col.unsigned {
			return cmpOrdered(x, y)
		}
		return cmpOrdered(int32(x), int32(y))
	case format.Int64:
		x, y := binary.LittleEndian.Uint64(a), binary.LittleEndian.Uint64(b)
		if col.unsigned {
			return cmpOrdered(x, y)
		}
		return cmpOrdered(int64(x), int64(y))
	case format.Float:
		return cmpOrdered(math.Float32frombits(binary.LittleEndian.Uint32(a)), math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case format.Double:
		return cmpOrdered(math.Float64frombits(binary.LittleEndian.Uint64(a)), math.Float64frombits(binary.LittleEndian.Uint64(b)))
	}
	return bytes.Compare(a, b)
}

func cmpOrdered[T int32 | int64 | uint32 | uint64 | uint8 | float32 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// validMin returns a lower bound of the text bound b that is valid UTF-8:
// b, or b without the character it was cut inside.
func validMin(b []byte) []byte {
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return b
}

// validMax returns an upper bound of the text bound b that is valid UTF-8:
// b itself, or (when b was cut, and maybe incremented, inside a character)
// its longest valid prefix with the last character incremented, which is
// above every text that starts with that prefix. nil when there is none.
func validMax(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	p := validMin(b)
	for len(p) > 0 {
		r, size := utf8.DecodeLastRune(p)
		p = p[:len(p)-size]
		for r++; r <= utf8.MaxRune; r++ {
			if utf8.ValidRune(r) {
				return utf8.AppendRune(bytes.Clone(p), r)
			}
		}
	}
	return nil
}

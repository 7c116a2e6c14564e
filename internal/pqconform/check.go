// Package pqconform holds Parquet files to what they say about themselves.
// Trino (Athena) trusts a file's row-group statistics and its page index
// (ColumnIndex, OffsetIndex) to skip data, DuckDB mostly does not, so a
// read-back with DuckDB cannot see a lying index. CheckFile decodes every page
// of a file and holds each against its page header, its ColumnIndex and
// OffsetIndex entries and its row group's statistics, with the orderings the
// format defines (unsigned bytes for text, signed for the deprecated min/max,
// -0.0/+0.0 for doubles, byte[0] bounds for null pages); it checks the schema's
// type_length and that declared sorting columns are true. Readers (readers.go)
// reads every file with two independent readers, hyparquet and arrow-rs
// (parquet-wasm), compares their rows, and looks up present values by
// equality with hyparquet's page-index pruning, which must find every row.
// It is imported by tests only.
package pqconform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// leaf is a leaf column as the footer's schema describes it.
type leaf struct {
	path     string
	typ      format.Type
	str      bool // STRING/UTF8/ENUM/JSON: bounds must be valid UTF-8
	unsigned bool
	maxDef   int
	maxRep   int
}

func leavesOf(schema []format.SchemaElement) ([]leaf, []string) {
	var out []leaf
	var problems []string
	var walk func(i int, prefix string, def, rep int) int
	walk = func(i int, prefix string, def, rep int) int {
		e := &schema[i]
		name := e.Name
		if prefix != "" {
			name = prefix + "." + name
		}
		if r, ok := e.RepetitionType.Get(); ok {
			switch r {
			case format.Optional:
				def++
			case format.Repeated:
				def++
				rep++
			}
		}
		typ, hasType := e.Type.Get()
		if tl, ok := e.TypeLength.Get(); ok && (!hasType || typ != format.FixedLenByteArray) {
			problems = append(problems, fmt.Sprintf("schema: %s: type_length %d on a %v leaf (only FIXED_LEN_BYTE_ARRAY has one)", name, tl, typ))
		}
		n, _ := e.NumChildren.Get()
		if n == 0 {
			l := leaf{path: name, typ: typ, maxDef: def, maxRep: rep}
			switch v := e.LogicalType.Value.(type) {
			case *format.StringType, *format.EnumType, *format.JsonType:
				l.str = true
			case *format.IntType:
				l.unsigned = !v.IsSigned
			}
			if ct, ok := e.ConvertedType.Get(); ok {
				switch ct {
				case deprecated.UTF8, deprecated.Enum, deprecated.Json:
					l.str = true
				case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32, deprecated.Uint64:
					l.unsigned = true
				}
			}
			out = append(out, l)
			return i + 1
		}
		j := i + 1
		for range n {
			j = walk(j, name, def, rep)
		}
		return j
	}
	root, _ := schema[0].NumChildren.Get()
	for j, k := 1, 0; k < int(root); k++ {
		j = walk(j, "", 0, 0)
	}
	return out, problems
}

// Options says what else a file must say.
type Options struct {
	// Sorted: the file must declare sorting_columns (a compacted object).
	Sorted bool
}

// pageFacts is what a decoded data page holds.
type pageFacts struct {
	values, nulls, rows int64
	min, max            parquet.Value // of the non-null values; null if none
	defHist, repHist    []int64
}

// Facts are the shape of a file Check read.
type Facts struct {
	RowGroups       int
	MultiPageChunks int // column chunks of more than one data page
}

// Check reads a Parquet file's bytes and returns every statement of it that
// is not true of its data (none for a true file).
func Check(data []byte, o Options) (Facts, []string, error) {
	var facts Facts
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return facts, nil, fmt.Errorf("open: %w", err)
	}
	md := f.Metadata()
	cols, problems := leavesOf(md.Schema)
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(cols) != len(f.Schema().Columns()) {
		return facts, nil, fmt.Errorf("the footer's schema has %d leaves, parquet-go sees %d", len(cols), len(f.Schema().Columns()))
	}
	facts.RowGroups = len(f.RowGroups())
	for g, rg := range f.RowGroups() {
		mrg := &md.RowGroups[g]
		var firstValues [][]parquet.Value // per column, per row (top-level non-repeated columns)
		for c, chunk := range rg.ColumnChunks() {
			col := cols[c]
			cc := &mrg.Columns[c]
			where := fmt.Sprintf("row group %d column %s", g, col.path)
			headers, err := walkHeaders(data, cc)
			if err != nil {
				bad("%s: %v", where, err)
				continue
			}
			pages, rowValues, err := decodePages(chunk, col, cc.MetaData.NumValues)
			if err != nil {
				bad("%s: decode: %v", where, err)
				continue
			}
			if col.maxRep == 0 {
				firstValues = append(firstValues, rowValues)
			} else {
				firstValues = append(firstValues, nil)
			}
			var dataHeaders []header
			for _, h := range headers {
				if h.data {
					dataHeaders = append(dataHeaders, h)
				}
			}
			if len(dataHeaders) != len(pages) {
				bad("%s: %d data page headers, %d decoded pages", where, len(dataHeaders), len(pages))
				continue
			}
			if len(pages) > 1 {
				facts.MultiPageChunks++
			}
			checkPageHeaders(col, where, dataHeaders, pages, bad)
			checkOffsetIndex(data, col, where, cc, dataHeaders, pages, bad)
			checkColumnIndex(data, col, where, cc, pages, bad)
			checkChunkStats(col, where, &cc.MetaData, pages, bad)
		}
		checkSorting(mrg, g, cols, firstValues, o, bad)
	}
	return facts, problems, nil
}

// header is a page header and where it is.
type header struct {
	off, size int64 // header offset; header plus compressed body size
	data      bool
	h         format.PageHeader
}

func walkHeaders(data []byte, cc *format.ColumnChunk) ([]header, error) {
	meta := &cc.MetaData
	start := meta.DataPageOffset
	if meta.DictionaryPageOffset > 0 && meta.DictionaryPageOffset < start {
		start = meta.DictionaryPageOffset
	}
	end := start + meta.TotalCompressedSize
	if start < 4 || end > int64(len(data)) {
		return nil, fmt.Errorf("chunk [%d, %d) outside the file", start, end)
	}
	var out []header
	for off := start; off < end; {
		r := new(thrift.CompactProtocol).NewReaderFromBytes(data[off:end])
		var h header
		if err := thrift.NewDecoder(r).Decode(&h.h); err != nil {
			return nil, fmt.Errorf("page header at %d: %w", off, err)
		}
		h.off = off
		h.size = int64(r.BytesRead()) + int64(h.h.CompressedPageSize)
		h.data = h.h.Type == format.DataPage || h.h.Type == format.DataPageV2
		out = append(out, h)
		off += h.size
		if off > end {
			return nil, fmt.Errorf("page at %d runs past the chunk's end %d", h.off, end)
		}
	}
	return out, nil
}

// decodePages decodes every data page of a chunk with parquet-go, and
// returns, for a non-repeated column, its value in each row.
func decodePages(chunk parquet.ColumnChunk, col leaf, numValues int64) ([]pageFacts, []parquet.Value, error) {
	pages := chunk.Pages()
	defer pages.Close()
	var out []pageFacts
	var rowValues []parquet.Value
	var buf []parquet.Value
	var total int64
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		n := p.NumValues()
		buf = slices.Grow(buf[:0], int(n))[:n]
		k, err := p.Values().ReadValues(buf)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, err
		}
		if int64(k) != n {
			return nil, nil, fmt.Errorf("page of %d values read %d", n, k)
		}
		pf := pageFacts{values: n, defHist: make([]int64, col.maxDef+1), repHist: make([]int64, col.maxRep+1)}
		for _, v := range buf[:k] {
			pf.defHist[v.DefinitionLevel()]++
			pf.repHist[v.RepetitionLevel()]++
			if v.RepetitionLevel() == 0 {
				pf.rows++
			}
			if v.DefinitionLevel() < col.maxDef {
				pf.nulls++
				if col.maxRep == 0 {
					rowValues = append(rowValues, parquet.Value{})
				}
				continue
			}
			v = v.Clone()
			if col.maxRep == 0 {
				rowValues = append(rowValues, v)
			}
			if pf.min.IsNull() || compareValues(col, v, pf.min) < 0 {
				pf.min = v
			}
			if pf.max.IsNull() || compareValues(col, v, pf.max) > 0 {
				pf.max = v
			}
		}
		total += n
		out = append(out, pf)
		parquet.Release(p)
	}
	if total != numValues {
		return nil, nil, fmt.Errorf("pages hold %d values, the chunk's metadata says %d", total, numValues)
	}
	return out, rowValues, nil
}

func compareValues(col leaf, a, b parquet.Value) int {
	switch col.typ {
	case format.Boolean:
		return cmpBool(a.Boolean(), b.Boolean())
	case format.Int32:
		if col.unsigned {
			return cmp3(uint32(a.Int32()), uint32(b.Int32()))
		}
		return cmp3(a.Int32(), b.Int32())
	case format.Int64:
		if col.unsigned {
			return cmp3(uint64(a.Int64()), uint64(b.Int64()))
		}
		return cmp3(a.Int64(), b.Int64())
	case format.Float:
		return cmp3(a.Float(), b.Float())
	case format.Double:
		return cmp3(a.Double(), b.Double())
	}
	return bytes.Compare(a.ByteArray(), b.ByteArray())
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func cmp3[T int | int32 | int64 | uint32 | uint64 | float32 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// bound decodes a plain-encoded bound of col's type.
func bound(col leaf, b []byte) (parquet.Value, error) {
	size := map[format.Type]int{format.Boolean: 1, format.Int32: 4, format.Int64: 8, format.Float: 4, format.Double: 8}
	if n, ok := size[col.typ]; ok && len(b) != n {
		return parquet.Value{}, fmt.Errorf("a %v bound of %d bytes", col.typ, len(b))
	}
	switch col.typ {
	case format.Boolean:
		return parquet.BooleanValue(b[0] != 0), nil
	case format.Int32:
		return parquet.Int32Value(int32(binary.LittleEndian.Uint32(b))), nil
	case format.Int64:
		return parquet.Int64Value(int64(binary.LittleEndian.Uint64(b))), nil
	case format.Float:
		return parquet.FloatValue(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
	case format.Double:
		return parquet.DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(b))), nil
	}
	return parquet.ByteArrayValue(b), nil
}

// checkBounds reports lo/hi (plain-encoded) that do not bracket [min, max]
// in the column's order, and breaches of the format's rules for bounds:
// valid UTF-8 text, -0.0 for a zero double minimum, +0.0 for a zero maximum.
func checkBounds(col leaf, where string, lo, hi []byte, min, max parquet.Value, bad func(string, ...any)) {
	l, err := bound(col, lo)
	if err != nil {
		bad("%s: min: %v", where, err)
		return
	}
	h, err := bound(col, hi)
	if err != nil {
		bad("%s: max: %v", where, err)
		return
	}
	if compareValues(col, l, min) > 0 {
		bad("%s: min %s is above the smallest value %s", where, show(l), show(min))
	}
	if compareValues(col, h, max) < 0 {
		bad("%s: max %s is below the largest value %s", where, show(h), show(max))
	}
	if col.str && (!utf8.Valid(lo) || !utf8.Valid(hi)) {
		bad("%s: bounds %q/%q are not valid UTF-8", where, lo, hi)
	}
	if col.typ == format.Double || col.typ == format.Float {
		if l.Double() == 0 && !math.Signbit(l.Double()) || col.typ == format.Float && l.Float() == 0 && !math.Signbit(float64(l.Float())) {
			bad("%s: a zero minimum must be written -0.0", where)
		}
		if h.Double() == 0 && math.Signbit(h.Double()) || col.typ == format.Float && h.Float() == 0 && math.Signbit(float64(h.Float())) {
			bad("%s: a zero maximum must be written +0.0", where)
		}
	}
}

// checkSignedBounds holds the deprecated min/max, defined in signed order,
// to the values.
func checkSignedBounds(col leaf, where string, lo, hi []byte, values func(func(parquet.Value)), bad func(string, ...any)) {
	if lo == nil && hi == nil {
		return
	}
	if col.typ != format.ByteArray && col.typ != format.FixedLenByteArray && !col.unsigned {
		// Signed order is the column's order: the bounds were checked as such.
		return
	}
	signed := func(a, b []byte) int {
		for i := 0; i < len(a) && i < len(b); i++ {
			if a[i] != b[i] {
				return cmp3(int32(int8(a[i])), int32(int8(b[i])))
			}
		}
		return cmp3(len(a), len(b))
	}
	values(func(v parquet.Value) {
		b := v.Bytes()
		if lo != nil && signed(lo, b) > 0 || hi != nil && signed(hi, b) < 0 {
			bad("%s: deprecated min/max %q/%q do not bracket %q in signed byte order", where, lo, hi, b)
		}
	})
}

func show(v parquet.Value) string {
	if v.Kind() == parquet.ByteArray || v.Kind() == parquet.FixedLenByteArray {
		b := v.ByteArray()
		if len(b) > 80 {
			return fmt.Sprintf("%q…", b[:80])
		}
		return fmt.Sprintf("%q", b)
	}
	return v.String()
}

func checkPageHeaders(col leaf, where string, hs []header, facts []pageFacts, bad func(string, ...any)) {
	for i, h := range hs {
		pf := facts[i]
		w := fmt.Sprintf("%s page %d header", where, i)
		var st *format.Statistics
		switch h.h.Type {
		case format.DataPageV2:
			v := &h.h.DataPageHeaderV2.V
			if int64(v.NumValues) != pf.values || int64(v.NumNulls) != pf.nulls || int64(v.NumRows) != pf.rows {
				bad("%s: values/nulls/rows %d/%d/%d, the page holds %d/%d/%d", w, v.NumValues, v.NumNulls, v.NumRows, pf.values, pf.nulls, pf.rows)
			}
			st = &v.Statistics
		case format.DataPage:
			v := &h.h.DataPageHeader.V
			if int64(v.NumValues) != pf.values {
				bad("%s: num_values %d, the page holds %d", w, v.NumValues, pf.values)
			}
			st = &v.Statistics
		}
		// The encoders always write the statistics struct with null_count
		// (thrift writezero), so a present struct means a counted page.
		if st.NullCount != pf.nulls {
			bad("%s: null_count %d, the page holds %d nulls", w, st.NullCount, pf.nulls)
		}
		if (st.MinValue != nil || st.MaxValue != nil) && pf.min.IsNull() {
			bad("%s: min/max on a page without values", w)
		} else if st.MinValue != nil && st.MaxValue != nil {
			checkBounds(col, w+" min_value/max_value", st.MinValue, st.MaxValue, pf.min, pf.max, bad)
		}
		if st.Min != nil || st.Max != nil {
			if pf.min.IsNull() {
				bad("%s: deprecated min/max on a page without values", w)
			} else {
				checkSignedBounds(col, w, st.Min, st.Max, func(f func(parquet.Value)) { f(pf.min); f(pf.max) }, bad)
				if col.typ != format.ByteArray && col.typ != format.FixedLenByteArray && !col.unsigned && st.Min != nil && st.Max != nil {
					checkBounds(col, w+" deprecated min/max", st.Min, st.Max, pf.min, pf.max, bad)
				}
			}
		}
	}
}

func checkOffsetIndex(data []byte, col leaf, where string, cc *format.ColumnChunk, hs []header, facts []pageFacts, bad func(string, ...any)) {
	if cc.OffsetIndexLength == 0 {
		bad("%s: no OffsetIndex", where)
		return
	}
	var oi format.OffsetIndex
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), sub(data, cc.OffsetIndexOffset, int64(cc.OffsetIndexLength)), &oi); err != nil {
		bad("%s: OffsetIndex: %v", where, err)
		return
	}
	if len(oi.PageLocations) != len(hs) {
		bad("%s: OffsetIndex lists %d pages, the chunk has %d data pages", where, len(oi.PageLocations), len(hs))
		return
	}
	var row int64
	for i, loc := range oi.PageLocations {
		if loc.Offset != hs[i].off || int64(loc.CompressedPageSize) != hs[i].size || loc.FirstRowIndex != row {
			bad("%s: OffsetIndex page %d: offset/size/first row %d/%d/%d, the page is %d/%d/%d", where, i, loc.Offset, loc.CompressedPageSize, loc.FirstRowIndex, hs[i].off, hs[i].size, row)
		}
		row += facts[i].rows
	}
}

func sub(b []byte, off, n int64) []byte {
	if off < 0 || n < 0 || off+n > int64(len(b)) {
		return nil
	}
	return b[off : off+n]
}

func checkColumnIndex(data []byte, col leaf, where string, cc *format.ColumnChunk, facts []pageFacts, bad func(string, ...any)) {
	if cc.ColumnIndexLength == 0 {
		return // absent: says nothing
	}
	var ci format.ColumnIndex
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), sub(data, cc.ColumnIndexOffset, int64(cc.ColumnIndexLength)), &ci); err != nil {
		bad("%s: ColumnIndex: %v", where, err)
		return
	}
	n := len(facts)
	if len(ci.NullPages) != n || len(ci.MinValues) != n || len(ci.MaxValues) != n || ci.NullCounts != nil && len(ci.NullCounts) != n {
		bad("%s: ColumnIndex has %d/%d/%d/%d entries for %d pages", where, len(ci.NullPages), len(ci.MinValues), len(ci.MaxValues), len(ci.NullCounts), n)
		return
	}
	var prevMin, prevMax parquet.Value
	asc, desc := true, true
	for i, pf := range facts {
		w := fmt.Sprintf("%s ColumnIndex page %d", where, i)
		if ci.NullCounts != nil && ci.NullCounts[i] != pf.nulls {
			bad("%s: null_count %d, the page holds %d nulls", w, ci.NullCounts[i], pf.nulls)
		}
		allNull := pf.min.IsNull()
		if ci.NullPages[i] != allNull {
			bad("%s: null_page %v, the page holds %d values of which %d null", w, ci.NullPages[i], pf.values, pf.nulls)
		}
		if ci.NullPages[i] {
			if len(ci.MinValues[i]) != 0 || len(ci.MaxValues[i]) != 0 {
				bad("%s: a null page's bounds must be byte[0], not %x/%x", w, ci.MinValues[i], ci.MaxValues[i])
			}
			continue
		}
		if allNull {
			continue
		}
		checkBounds(col, w, ci.MinValues[i], ci.MaxValues[i], pf.min, pf.max, bad)
		lo, err1 := bound(col, ci.MinValues[i])
		hi, err2 := bound(col, ci.MaxValues[i])
		if err1 != nil || err2 != nil {
			continue
		}
		if !prevMin.IsNull() {
			if c := compareValues(col, lo, prevMin); c < 0 {
				asc = false
			} else if c > 0 {
				desc = false
			}
			if c := compareValues(col, hi, prevMax); c < 0 {
				asc = false
			} else if c > 0 {
				desc = false
			}
		}
		prevMin, prevMax = lo, hi
	}
	switch ci.BoundaryOrder {
	case format.Ascending:
		if !asc {
			bad("%s: ColumnIndex says ASCENDING, the bounds are not", where)
		}
	case format.Descending:
		if !desc {
			bad("%s: ColumnIndex says DESCENDING, the bounds are not", where)
		}
	}
	if h := ci.DefinitionLevelHistogram; h != nil {
		checkHistogram(where+" ColumnIndex definition levels", h, facts, func(p pageFacts) []int64 { return p.defHist }, bad)
	}
	if h := ci.RepetitionLevelHistogram; h != nil {
		checkHistogram(where+" ColumnIndex repetition levels", h, facts, func(p pageFacts) []int64 { return p.repHist }, bad)
	}
}

func checkHistogram(where string, h []int64, facts []pageFacts, of func(pageFacts) []int64, bad func(string, ...any)) {
	var want []int64
	for _, p := range facts {
		want = append(want, of(p)...)
	}
	if !slices.Equal(h, want) {
		bad("%s: histogram %v, the pages hold %v", where, h, want)
	}
}

func checkChunkStats(col leaf, where string, meta *format.ColumnMetaData, facts []pageFacts, bad func(string, ...any)) {
	st := &meta.Statistics
	var nulls int64
	var min, max parquet.Value
	for _, p := range facts {
		nulls += p.nulls
		if !p.min.IsNull() && (min.IsNull() || compareValues(col, p.min, min) < 0) {
			min = p.min
		}
		if !p.max.IsNull() && (max.IsNull() || compareValues(col, p.max, max) > 0) {
			max = p.max
		}
	}
	w := where + " statistics"
	if st.NullCount != nulls {
		bad("%s: null_count %d, the chunk holds %d nulls", w, st.NullCount, nulls)
	}
	if st.MinValue != nil || st.MaxValue != nil {
		if min.IsNull() {
			bad("%s: min/max on a chunk without values", w)
		} else if st.MinValue == nil || st.MaxValue == nil {
			bad("%s: only one of min_value/max_value", w)
		} else {
			checkBounds(col, w, st.MinValue, st.MaxValue, min, max, bad)
		}
	}
	if st.Min != nil || st.Max != nil {
		if min.IsNull() {
			bad("%s: deprecated min/max on a chunk without values", w)
		} else {
			checkSignedBounds(col, w, st.Min, st.Max, func(f func(parquet.Value)) { f(min); f(max) }, bad)
		}
	}
}

// checkSorting holds a row group's declared sorting columns to its rows.
func checkSorting(rg *format.RowGroup, g int, cols []leaf, values [][]parquet.Value, o Options, bad func(string, ...any)) {
	if o.Sorted && len(rg.SortingColumns) == 0 {
		bad("row group %d: declares no sorting_columns (a compacted object is sorted)", g)
	}
	if len(rg.SortingColumns) == 0 {
		return
	}
	for _, sc := range rg.SortingColumns {
		if int(sc.ColumnIdx) >= len(cols) || values[sc.ColumnIdx] == nil {
			bad("row group %d: sorting column %d is not a top-level column", g, sc.ColumnIdx)
			return
		}
	}
	rows := len(values[rg.SortingColumns[0].ColumnIdx])
	for r := 1; r < rows; r++ {
		for _, sc := range rg.SortingColumns {
			col := cols[sc.ColumnIdx]
			a, b := values[sc.ColumnIdx][r-1], values[sc.ColumnIdx][r]
			var c int
			switch {
			case a.IsNull() && b.IsNull():
				c = 0
			case a.IsNull() || b.IsNull():
				c = 1
				if a.IsNull() == sc.NullsFirst {
					c = -1
				}
			default:
				c = compareValues(col, a, b)
				if sc.Descending {
					c = -c
				}
			}
			if c < 0 {
				break
			}
			if c > 0 {
				bad("row group %d: rows %d and %d are out of the declared order on %s", g, r-1, r, col.path)
				return
			}
		}
	}
}

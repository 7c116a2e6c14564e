package schema

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// Table names, as they appear in object keys and DDL.
const (
	TableFindings       = "findings"
	TableInsightResults = "insight_results"
	TableOCSFFindings   = "ocsf_findings"
	// TableDeadLetters holds what could not become a row: gzipped JSON
	// lines (DeadLetterColumns), not a Parquet table, so it has no Table
	// declaration; the layout and the DDL know it by this name.
	TableDeadLetters = "dead_letters"
)

// The lake's Parquet tables, one declaration each: everything that differs
// from one table to another is here, and the code that handles rows (the
// batcher's buffers, dedup and flushes, the encoder, compaction, stats,
// metrics, summaries, the DDL) iterates Tables. A new table is its row type,
// its rows in Output (its decoder's), and one declaration below, added to
// tables.
var (
	// Findings is findings: one ASFF finding in one delivery.
	Findings = &Table[Finding]{
		name:  TableFindings,
		title: "findings",
		noBounds: [][]string{
			{"raw_finding"}, {"resources", "list", "element", "details_json"},
		},
		// Measured on a generated day with the typical queries of docs/tables.md
		// (BENCHMARKS.md, "Sort keys").
		sortKeys:  []string{"severity_label", "product_name", "compliance_security_control_id", "aws_account_id", "updated_at"},
		takeOrder: 0,
		newest:    findingsNewest,
		rows:      func(o *Output) *[]Finding { return &o.Findings },
		date:      func(f *Finding) string { return f.Date },
		time:      func(f *Finding) time.Time { return firstTime(f.EventTime, f.UpdatedAt) },
		keys: eachRow(func(k *Keyer, f *Finding) DedupKey {
			return k.Finding(f.EventDetailType, f.ActionARN, f.RawFinding)
		}),
		size: func(f *Finding) int { return len(f.RawFinding) + len(f.Description) },
	}
	// InsightResults is insight_results: one result of one insight event.
	InsightResults = &Table[InsightResult]{
		name:     TableInsightResults,
		title:    "insight results",
		noBounds: [][]string{{"raw_detail"}},
		// An insight's results stay together (they share the event's
		// raw_detail, which then compresses as in the writer's objects).
		sortKeys:  []string{"insight_arn", "event_time"},
		takeOrder: 2,
		rows:      func(o *Output) *[]InsightResult { return &o.Insights },
		date:      func(r *InsightResult) string { return r.Date },
		time:      func(r *InsightResult) time.Time { return r.EventTime },
		keys:      insightKeys,
		// A result's raw_detail is shared with the event's other results
		// (and dictionary-encoded); its own values are small.
		size: func(r *InsightResult) int { return 64 + len(r.ResultValue) },
	}
	// OCSFFindings is ocsf_findings: one OCSF finding in one delivery.
	OCSFFindings = &Table[OCSFFinding]{
		name:  TableOCSFFindings,
		title: "OCSF findings",
		noBounds: [][]string{
			{"raw_finding"}, {"evidences_json"}, {"unmapped_json"}, {"resources", "list", "element", "data_json"},
		},
		// As findings, in OCSF's names.
		sortKeys:  []string{"severity", "product_name", "compliance_control", "account_uid", "modified_time"},
		takeOrder: 1,
		newest:    ocsfNewest,
		rows:      func(o *Output) *[]OCSFFinding { return &o.OCSF },
		date:      func(f *OCSFFinding) string { return f.Date },
		time:      func(f *OCSFFinding) time.Time { return firstTime(f.EventTime, f.Time, f.ModifiedTime) },
		// Keyed like ASFF findings: BatchUpdateFindingsV2 and automation
		// rules change status, severity and comment without moving time or
		// modified_time, and such a change is new content.
		keys: eachRow(func(k *Keyer, f *OCSFFinding) DedupKey {
			return k.Finding(f.EventDetailType, "", f.RawFinding)
		}),
		size: func(f *OCSFFinding) int { return len(f.RawFinding) + len(f.Description) },
	}

	// tables is the list Tables returns: the order of the DDL, of flushes,
	// metrics and summaries.
	tables = []AnyTable{Findings, InsightResults, OCSFFindings}
	// takeOrder is tables by their take order (see Table.takeOrder).
	takeOrder []AnyTable
)

func init() {
	for i, t := range tables {
		t.init(i)
	}
	takeOrder = slices.SortedStableFunc(slices.Values(tables), func(a, b AnyTable) int { return cmp.Compare(a.take(), b.take()) })
}

// Table declares one Parquet table of the lake: its name and the facts
// about it, and the functions of its row type T that the generic code
// needs. Its values are the declarations above; AnyTable is the view of one
// without its row type.
type Table[T any] struct {
	// name is the table's directory under the lake root and its name in
	// Athena and Glue; title names its rows in summaries ("OCSF findings").
	name, title string
	// noBounds lists the columns whose values are JSON documents: bounds
	// on them would all read '{"…' and help no query, so files give them
	// none (no ColumnIndex, no row-group min/max; null counts only). Every
	// other column has true bounds (encode's finisher; BENCHMARKS.md, "Page
	// index and statistics"). Paths are Parquet column paths.
	noBounds [][]string
	// sortKeys are the columns compacted objects are sorted by (nil: input
	// order, which is still correct, only less prunable). Sorting lets
	// Athena (and DuckDB) skip row groups by their min/max statistics, so
	// the keys are columns that have them (not noBounds), low-cardinality
	// ones first.
	sortKeys []string
	// takeOrder is where the table's rows come when the pipeline takes a
	// unit's rows, lowest first: the order of their dedup keys in the
	// source's dedup window, and of the tables UnitTime looks at. It is
	// not the order of tables only because ASFF findings, OCSF findings
	// and insight results were taken in that order before the tables were
	// declared here, and keeping it keeps every cut and dedup decision.
	takeOrder int
	// newest picks one row per finding (nil: the table has no latest view
	// and no current-state table): see Newest.
	newest *Newest
	// rows are the table's rows in a decoder's output.
	rows func(*Output) *[]T
	// date is a row's partition (dt).
	date func(*T) string
	// time is the time a row counts at for windows when its unit has no
	// record time (see UnitTime): its event's time, else the time that
	// placed it.
	time func(*T) time.Time
	// keys appends the dedup keys of one unit's rows to dst.
	keys func(k *Keyer, rows []T, dst []DedupKey) []DedupKey
	// size is a row's input bytes, roughly: the encoder cuts row groups by
	// it (Options.RowGroupBytes).
	size func(*T) int

	index  int
	schema *parquet.Schema
}

// AnyTable is a Table of any row type: every list of the lake's Parquet
// tables is one of AnyTable, in the order of Tables.
type AnyTable interface {
	// Name is the table's directory under the lake root and its name in
	// Athena and Glue.
	Name() string
	// Title names the table's rows in summaries.
	Title() string
	// Index is the table's place in Tables.
	Index() int
	// Schema is the Parquet schema of the table's files: the one the
	// writer uses and the one the DDL is derived from.
	Schema() *parquet.Schema
	// NoBounds are the columns that get no min/max (see Table.noBounds).
	NoBounds() [][]string
	// SortKeys are compaction's sort keys (see Table.sortKeys).
	SortKeys() []string
	// Newest picks one row per finding; nil for a table that holds no
	// findings (see Newest).
	Newest() *Newest
	// NewRows returns an empty buffer of the table's rows of a batch.
	NewRows() Rows
	// AppendKeys appends the dedup keys of the table's rows in out (one
	// unit's) to dst.
	AppendKeys(k *Keyer, out *Output, dst []DedupKey) []DedupKey
	// FirstTime returns the time of the table's first row in out (see
	// UnitTime); false when out has none of its rows.
	FirstTime(out *Output) (time.Time, bool)

	init(index int)
	take() int
	// empty empties the table's rows in out, keeping their memory
	// (Output.Reset).
	empty(out *Output)
}

func (t *Table[T]) Name() string            { return t.name }
func (t *Table[T]) Title() string           { return t.title }
func (t *Table[T]) Index() int              { return t.index }
func (t *Table[T]) Schema() *parquet.Schema { return t.schema }
func (t *Table[T]) NoBounds() [][]string    { return t.noBounds }
func (t *Table[T]) SortKeys() []string      { return t.sortKeys }
func (t *Table[T]) Newest() *Newest         { return t.newest }
func (t *Table[T]) take() int               { return t.takeOrder }

func (t *Table[T]) init(index int) {
	var zero T
	t.index, t.schema = index, parquet.SchemaOf(zero)
}

func (t *Table[T]) NewRows() Rows { return &tableRows[T]{table: t, parts: map[string]*rowChunks[T]{}} }

func (t *Table[T]) AppendKeys(k *Keyer, out *Output, dst []DedupKey) []DedupKey {
	return t.keys(k, *t.rows(out), dst)
}

func (t *Table[T]) FirstTime(out *Output) (time.Time, bool) {
	rows := *t.rows(out)
	if len(rows) == 0 {
		return time.Time{}, false
	}
	return t.time(&rows[0]), true
}

func (t *Table[T]) empty(out *Output) {
	rows := t.rows(out)
	clear(*rows)
	*rows = (*rows)[:0]
}

// WriteParquet writes rows (held in chunks, one after another) as one
// Parquet object through sink, with the writer's options opts. Rows go in
// runs that end at a row group's budget of groupBytes of input (the size of
// each row) or a chunk's end; each full row group is written out (Flush)
// before the next one is encoded. key names the object in errors.
//
// Each object gets a fresh parquet-go writer: Reset does not reset the
// column writers' state (dictionaries, encodings), so a reused writer's
// output would depend on the objects it wrote before, and names are only
// deterministic if bytes are too.
func (t *Table[T]) WriteParquet(ctx context.Context, key string, chunks [][]T, sink ParquetSink, opts []parquet.WriterOption, groupBytes int) error {
	w := NewParquetWriter[T](sink, opts)
	bytes := 0
	for _, rows := range chunks {
		for i := 0; i < len(rows); {
			if err := ctx.Err(); err != nil {
				return err
			}
			j := i
			for j < len(rows) && (j == i || bytes < groupBytes) {
				bytes += t.size(&rows[j])
				j++
			}
			if _, err := w.Write(rows[i:j]); err != nil {
				return fmt.Errorf("encode %s: %w", key, err)
			}
			if bytes >= groupBytes {
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

// Rows holds one table's rows of a batch, by partition (AnyTable.NewRows).
type Rows interface {
	// Table is the table whose rows these are.
	Table() AnyTable
	// Add appends the table's rows of out (one unit's; keys[i] is row i's
	// dedup key) whose keys isNew reports new, each to its partition, and
	// returns how many it dropped as duplicates.
	Add(out *Output, keys []DedupKey, isNew func(DedupKey) bool) (dropped int64)
	// Len is the number of rows held.
	Len() int64
	// Dates are the partitions held, in order.
	Dates() []string
	// WriteParquet writes partition dt's rows as one object (Table's
	// WriteParquet).
	WriteParquet(ctx context.Context, dt, key string, sink ParquetSink, opts []parquet.WriterOption, groupBytes int) error
}

// tableRows holds one table's rows of a batch by partition, in chunks of up
// to rowChunk rows: appending never moves the rows already there (a row is
// about a kilobyte, and a growing slice copied each one several times).
type tableRows[T any] struct {
	table *Table[T]
	parts map[string]*rowChunks[T]
	n     int64
}

type rowChunks[T any] struct {
	chunks [][]T
}

const rowChunk = 256

func (r *tableRows[T]) Table() AnyTable { return r.table }

func (r *tableRows[T]) Add(out *Output, keys []DedupKey, isNew func(DedupKey) bool) (dropped int64) {
	rows := *r.table.rows(out)
	for i := range rows {
		if !isNew(keys[i]) {
			dropped++
			continue
		}
		row := &rows[i]
		r.add(r.table.date(row), row)
	}
	return dropped
}

func (r *tableRows[T]) add(dt string, row *T) {
	c := r.parts[dt]
	if c == nil {
		c = &rowChunks[T]{}
		r.parts[dt] = c
	}
	if k := len(c.chunks); k == 0 || len(c.chunks[k-1]) == cap(c.chunks[k-1]) {
		// Chunks grow from a few rows (a batch may touch thousands of
		// partitions with a row or two each) to rowChunk.
		size := 4
		if k > 0 {
			size = min(2*cap(c.chunks[k-1]), rowChunk)
		}
		c.chunks = append(c.chunks, make([]T, 0, size))
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, *row)
	r.n++
}

func (r *tableRows[T]) Len() int64 { return r.n }

func (r *tableRows[T]) Dates() []string { return slices.Sorted(maps.Keys(r.parts)) }

func (r *tableRows[T]) WriteParquet(ctx context.Context, dt, key string, sink ParquetSink, opts []parquet.WriterOption, groupBytes int) error {
	return r.table.WriteParquet(ctx, key, r.parts[dt].chunks, sink, opts, groupBytes)
}

// Tables returns the lake's Parquet tables, in a stable order (that of the
// DDL, flushes, metrics and summaries).
func Tables() []AnyTable { return tables }

// TakeOrder returns Tables in their take order (see Table.takeOrder): the
// order in which the pipeline takes a unit's rows.
func TakeOrder() []AnyTable { return takeOrder }

// TableNames returns the names of Tables.
func TableNames() []string {
	var out []string
	for _, t := range tables {
		out = append(out, t.Name())
	}
	return out
}

// AllTableNames returns the names of every table that has objects in the
// lake: Tables, and the dead letters last.
func AllTableNames() []string { return append(TableNames(), TableDeadLetters) }

// Lookup returns the Parquet table called name.
func Lookup(name string) (AnyTable, bool) {
	i := slices.IndexFunc(tables, func(t AnyTable) bool { return t.Name() == name })
	if i < 0 {
		return nil, false
	}
	return tables[i], true
}

// ParquetSchema returns the Parquet schema of a Parquet table. It panics on
// a name that is not one (a programming error).
func ParquetSchema(table string) *parquet.Schema {
	t, ok := Lookup(table)
	if !ok {
		panic("schema: unknown table " + table)
	}
	return t.Schema()
}

// UnitTime is the time a unit without a record time counts at for windows:
// the time of its first row, taking the tables in their take order (zero
// when it has no row).
func UnitTime(out *Output) time.Time {
	for _, t := range takeOrder {
		if at, ok := t.FirstTime(out); ok {
			return at
		}
	}
	return time.Time{}
}

// firstTime returns the first of times that is not zero (zero if none is).
func firstTime(times ...time.Time) time.Time {
	for _, t := range times {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// The dt partition range: Athena's partition projection reads 2015-01-01
// (Security Hub did not exist before) to one day after now, and a row whose
// date lies outside it is not usable (Athena would never read it). Every
// bound in the code derives from these two values.
const (
	// PartitionRangeStart is the first dt, as the projection writes it.
	PartitionRangeStart = "2015-01-01"
	// PartitionRangeAhead is how far after now (or after a record's arrival
	// in the stream) the last dt lies.
	PartitionRangeAhead = 24 * time.Hour
	// UndatedPartition is the dt of dead letters that carry no usable time
	// at all (for example a line of a file that is not JSON). It is outside
	// the projection range on purpose: such records are not table rows.
	UndatedPartition = "1970-01-01"
)

// NotAfter returns the last acceptable partition time for data read at t
// (see Origin.NotAfter).
func NotAfter(t time.Time) time.Time { return t.UTC().Add(PartitionRangeAhead) }

// ProjectionRange is the projection.dt.range table property.
func ProjectionRange() string {
	return PartitionRangeStart + ",NOW+" + strconv.Itoa(int(PartitionRangeAhead/(24*time.Hour))) + "DAYS"
}

// DedupKey identifies a delivery of a row: what makes two rows one
// delivered twice (docs/tables.md, "Deduplication"). Each table declares its
// rows' (Table's keys): for a finding, the event kind, the custom action and
// the finding's bytes. It is not (Id, UpdatedAt): BatchUpdateFindings changes
// workflow and notes without changing UpdatedAt, and those changes must
// reach the table. SHA-256, truncated to 128 bits, because a producer that
// can write a finding must not be able to make hublake drop someone else's
// finding as a "duplicate" by colliding with it.
type DedupKey [16]byte

// Keyer computes dedup keys with a hasher it reuses; each goroutine that
// decodes units has its own.
type Keyer struct{ h hash.Hash }

// NewKeyer returns a Keyer.
func NewKeyer() *Keyer { return &Keyer{h: sha256.New()} }

// Finding is the key of a finding delivered by an event of kind, for the
// custom action action ("" for none), with the bytes raw.
func (k *Keyer) Finding(kind, action, raw string) DedupKey {
	h := k.h
	h.Reset()
	h.Write(stringBytes(kind))
	h.Write([]byte{0})
	h.Write(stringBytes(action))
	h.Write([]byte{0})
	h.Write(stringBytes(raw))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return DedupKey(sum[:16])
}

// stringBytes views s as bytes without copying; the hash only reads them.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// insightKey identifies an insight result: its event's detail and its
// position in it.
func insightKey(detailSum [sha256.Size]byte, index int32) DedupKey {
	var b [sha256.Size + 4]byte
	copy(b[:], detailSum[:])
	binary.BigEndian.PutUint32(b[sha256.Size:], uint32(index))
	sum := sha256.Sum256(b[:])
	return DedupKey(sum[:16])
}

// insightKeys appends the keys of one unit's insight results to dst: each
// is its event's detail and its position in it, the detail hashed once for
// the results that share it (they point at the same bytes; a unit's
// results, not across units, whose bytes may be other bytes at the same
// address).
func insightKeys(_ *Keyer, rows []InsightResult, dst []DedupKey) []DedupKey {
	var detailSum [sha256.Size]byte
	var detailPtr *byte
	for i := range rows {
		r := &rows[i]
		if p := unsafe.StringData(r.RawDetail); p != detailPtr || i == 0 {
			detailPtr, detailSum = p, sha256.Sum256(unsafe.Slice(p, len(r.RawDetail)))
		}
		dst = append(dst, insightKey(detailSum, r.ResultIndex))
	}
	return dst
}

// eachRow makes a table's keys function of one row's key.
func eachRow[T any](key func(k *Keyer, row *T) DedupKey) func(*Keyer, []T, []DedupKey) []DedupKey {
	return func(k *Keyer, rows []T, dst []DedupKey) []DedupKey {
		for i := range rows {
			dst = append(dst, key(k, &rows[i]))
		}
		return dst
	}
}

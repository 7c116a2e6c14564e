// Package extsort sorts the rows of Parquet tables whatever their number, in
// a memory that does not depend on it, and writes them into objects of a
// target size with the writer's Parquet settings: the external merge sort of
// compaction (package compact) and of the current-state tables (package
// current).
//
//  1. The inputs are read one after another, row group by row group
//     (ForEachRow, or DecodeInput ahead of time for small ones: Prefetch);
//     their rows are copied into a Sorter's buffer of at most its budget,
//     which is sorted (stably: rows of equal keys keep their input order)
//     and spilled to a temporary file when full (spill.go).
//  2. The sorted runs are merged by a heap, at most MergeFanIn at a time
//     (more runs are first merged into longer ones), ties going to the
//     earlier run: the output order is that of one stable sort of all rows
//     in input order, so the same inputs always give the same bytes.
//  3. The merged rows are written into objects of at most a target size
//     (OutputWriter), with the writer's Parquet settings.
//
// A Keyer decides the order: Columns, a table's sort keys ascending with
// NULLs last (compaction's), or one of a caller's own. A sort that fits in
// the buffer is never spilled.
package extsort

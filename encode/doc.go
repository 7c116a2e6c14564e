// Package encode writes a batch's objects into a lake.Store: Parquet files
// (parquet.go: the writer's options and its workarounds of parquet-go;
// finish.go: what a file says about itself; zstd.go, snappy.go: the codecs)
// and dead letters (deadletter.go: gzipped JSON lines), each named by the
// lake's layout, counted, committed or aborted, and guarded by the writers'
// absorbed-name check (absorbed.go, compaction's side of exactly once).
package encode

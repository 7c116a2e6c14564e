// Package encode writes a batch's objects into an objstore.Store: the
// Encoder (encoder.go: the Parquet writer's options, the object named by the
// lake's layout, counted, committed or aborted, and guarded by the writers'
// absorbed-name check, compaction's side of exactly once), what a Parquet
// file says about itself (finish.go), the codecs (zstd.go, snappy.go) and
// dead letters (deadletter.go: gzipped JSON lines). The half of the Parquet
// writer that depends on a table's row type is schema's.
package encode

// Package schema is what the lake's data is: pure functions and types, no
// I/O.
//
//   - Decode turns the bytes of one unit (a Kinesis record, a line or value
//     of a file) into rows and dead letters: the EventBridge envelope of
//     every Security Hub detail-type, {"Findings": [...]} documents, bare
//     findings and arrays (decode.go, envelope.go), each finding flattened
//     into a typed row that keeps its exact input bytes (asff.go,
//     flatten.go). It never panics and never fails: what cannot be a row is
//     a dead letter with a reason, and a value of the wrong type is NULL
//     (flex.go has the tolerant number, text and time types).
//   - The row types (rows.go) are the single truth for the tables: their
//     Parquet tags give the files' schema, and the Athena DDL and Glue
//     columns (ddl.go) are derived from that schema, so files and DDL
//     cannot drift.
//   - The table registry (table.go) declares each Parquet table once: its
//     name, row type, columns without bounds, sort keys, dedup keys,
//     partition date and the rest that the pipeline, the encoder,
//     compaction, metrics and the DDL iterate; parquet.go is the half of
//     the Parquet writer that depends on a row type. table.go also holds
//     the dt partition range.
//
// The contract the tables implement is docs/tables.md.
package schema

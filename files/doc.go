// Package files is backfill's source: the inputs (local files and
// directories, S3 prefixes, stdin; listed as a stream, split into parts,
// largest first within a look-ahead window; the destination lake never read
// back: inputs.go), their reading (sizes, formats by content, layers of
// compression, ZIP members, failed inputs: read.go), their splitting into
// units (eachPiece over units.Splitter) and the pool of workers that runs
// each stream through its own pipeline.Batcher (files.go).
package files

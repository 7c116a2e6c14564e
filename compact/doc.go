// Package compact replaces the many small objects that batches write into a
// partition (every shard cuts a batch a minute) with as few objects as a
// target size allows, holding exactly the same rows, sorted so that query
// engines can skip row groups, and written with the writer's Parquet
// settings (sinks.WriterOptions). It is `hublake compact`.
//
// # The lake's guarantee, kept
//
// Every record is in the lake exactly once because a batch's objects are
// named after where the batch came from, and a replay of the batch writes
// the same names with the same rows (ARCHITECTURE.md, "Exactly once"). A
// compaction deletes names, so it must make sure that a deleted name can
// never bring its rows back, whatever the delay: a worker that lost its lease
// may upload late, a shard may be replayed from before its checkpoint, a
// backfill may be re-run over the same input weeks later. It does this with
// absorbed-name markers, a protocol per partition, and a lock.
//
// Markers. Before a run deletes an input object, it writes a marker for it
// outside the table (sinks.AbsorbedKey: _hublake/absorbed/<table>/dt=<D>/
// <name><ext>, never deleted). Every writer checks for the marker before
// writing an object and skips the write if it exists — the rows are already
// in a compacted object, since the same name is the same batch, with the
// same rows or a superset of logical duplicates — and checks again after
// committing, removing its object if the marker appeared meanwhile
// (sinks/absorbed.go). An object that slips through anyway (a writer killed
// between its commit and the second check, or a write that bypassed the
// check) is deleted by the next run that visits the partition, which deletes
// every object that has a marker, whatever its age. So an absorbed name is
// at most briefly in the lake twice, and never for good.
//
// The protocol, per partition (table, dt), under the partition's lock:
//
//  1. Recover: a run that a crash interrupted left its manifest
//     (_hublake/compactions/<table>/dt=<D>/<run>.json). A pending run is
//     rolled back: every object of its name is deleted, then the manifest
//     (its inputs were never touched). A committed run is finished: steps
//     7–8.
//  2. List and classify: batch objects; compacted objects (the outputs of
//     finished runs' manifests); a live writer's temporary file (left alone;
//     a dead writer's is removed first, see sinks.Dir.CleanTemp); anything
//     else is reported and kept, never read, never deleted. Objects with a
//     marker, batch or compacted, are deleted (above: a late write, or an
//     input an interrupted run had not deleted yet).
//  3. Choose the inputs: batch objects older than Options.OlderThan, and in
//     a recent partition compacted objects smaller than half the target.
//     Nothing to do (a partition compacted and untouched since): stop.
//  4. Read every input and sort its rows into local temporary files
//     (merge.go): a damaged input fails the run before the lake is touched.
//  5. Write the manifest, state pending, naming the inputs. Then write the
//     outputs, compacted-<run>-<k>. The run id is a digest of the inputs and
//     settings, so the same inputs give the same names and bytes.
//  6. Commit: the manifest, state committed, with the outputs. From here the
//     run is only ever finished, never undone.
//  7. Write the markers of every input; then mark the manifest done.
//  8. Delete the inputs, Options.DeleteGrace later (deleter: a reader that
//     was listing the partition while the outputs appeared still finds the
//     inputs). After step 7 nothing else is left to do: an input still there
//     has a marker, and whoever finds it deletes it.
//
// Done manifests are forgotten once a later run absorbed all their outputs;
// markers are never deleted.
//
// Every step is idempotent and recovery knows where to resume, so a run
// killed anywhere (the integration tests kill the real binary at each named
// point of Options.CrashHook) converges when the next one runs: no row is
// lost (inputs are deleted only after the outputs and their markers are
// durable), no row is there twice once it completes (a pending run's outputs
// are deleted; a committed run's inputs are). Readers never miss a row:
// outputs are visible before any input goes. They may see a row twice,
// between an output's commit and its input's deletion (DeleteGrace and the
// deletes; after a crash, until the next run); findings_latest and
// ocsf_findings_latest stay right, since two identical rows rank one above
// the other and the views keep one.
//
// The lock makes two compactions of the same lake (an overlapping schedule,
// a run by hand) safe: a partition is visited by one run at a time, the
// other skips it. On S3 the lock is an object created with If-None-Match,
// renewed and released with If-Match on its ETag, and taken over with
// If-Match once its holder let it expire; a run renews it conditionally
// right before committing, so a run that was paused past its lock's
// lifetime stops before changing anything it cannot undo. In a directory it
// is flock(2), which the kernel releases when the holder dies.
//
// Writers and compaction share a partition safely too: a batch object that
// appears while a run works is simply not one of its inputs, and the one
// that is rewritten while it is an input (a replay) holds the same rows.
//
// Nothing escapes the lake: every key compaction reads, writes or deletes is
// a key of sinks' layout (sinks.CheckKey, sinks.CheckPrefix), and every key a
// manifest names must be of its own partition (manifest.validate).
//
// # Memory
//
// A partition is never held in memory: rows go through an external merge
// sort (merge.go) whose buffer is Options.SortBuffer, at most a few inputs
// are decoded ahead of it (decodeInFlight), at most mergeFanIn sorted runs
// are read at once, and the Parquet writer holds one row group. The live
// heap does not depend on the partition's size (TestCompactMemoryBound;
// peak RSS on a day of a four-shard stream in BENCHMARKS.md).
package compact

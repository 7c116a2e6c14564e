// Package compact replaces the many small objects that batches write into a
// partition (every shard cuts a batch a minute) with as few objects as a
// target size allows, holding exactly the same rows, sorted so that query
// engines can skip row groups, and written with the writer's Parquet
// settings (encode.WriterOptions). It is `hublake compact`.
//
// # The lake's guarantee, kept
//
// Every record is in the lake exactly once because a batch's objects are
// named after where the batch came from, and a replay of the batch writes
// the same names with the same rows (docs/design.md, claim 3). A
// compaction deletes names, so it must make sure that a deleted name can
// never bring its rows back, whatever the delay: a worker that lost its lease
// may upload late, a shard may be replayed from before its checkpoint, a
// backfill may be re-run over the same input weeks later. It does this with
// absorbed-name markers, a protocol per partition, and a lock.
//
// Markers. Before a run deletes an input object, it writes a marker for it
// outside the table (layout.AbsorbedKey: _hublake/absorbed/<table>/dt=<D>/
// <name><ext>, never deleted). Every writer checks for the marker before
// writing an object and skips the write if it exists — the rows are already
// in a compacted object, since the same name is the same batch, with the
// same rows or a superset of logical duplicates — and checks again after
// committing: if the marker appeared meanwhile, its object is a deletion
// like any other (below, "The delete grace"), left to compaction unless the
// marker is old (encode/encoder.go). An object that slips through anyway (a
// writer killed between its commit and the second check, or a write that
// bypassed the check) is deleted by the next run that visits the partition,
// which deletes every object that has a marker once the marker is older
// than the grace. So an absorbed name is in the lake twice only until a
// compaction runs, and never for good.
//
// The protocol, per partition (table, dt), under the partition's lock:
//
//  1. Recover: a run that a crash interrupted left its manifest
//     (_hublake/compactions/<table>/dt=<D>/<run>.json). A pending run is
//     rolled back: every object of its name is deleted (its inputs were
//     never touched), then the manifest is replaced by a record of the
//     rollback (<run>.rolled-back.json). A committed run is finished: steps
//     7–8 — unless one of its outputs is missing from the partition: a
//     committed run's outputs leave only once a later run absorbed them,
//     and only a done run's outputs can be absorbed, so missing outputs
//     mean a commit PUT held up on the way that landed after the run had
//     been rolled back; finishing it would delete inputs whose rows are in
//     no output, so it is rolled back again, its inputs kept. An output of a rolled-back run that appears after the rollback
//     (an upload the dead process had sent, held up on the way: S3 may
//     still store it minutes later) is deleted by whoever visits the
//     partition while the record lasts: an hour, more than the 15 minutes
//     after which S3 refuses a signed request, and the survey visits every
//     partition with a record. A run that fails (not killed) rolls itself
//     back the same way.
//  2. List and classify: batch objects; compacted objects (the outputs of
//     finished runs' manifests); a live writer's temporary file (left alone;
//     a dead writer's is removed first, see dirlake.Lake.CleanTemp); anything
//     else is reported and kept, never read, never deleted. Objects with a
//     marker, batch or compacted (named by a manifest or not), are deleted
//     once the grace allows (above: a late write, or an input an
//     interrupted or concurrent run had not deleted yet), and are no
//     inputs.
//  3. Choose the inputs: batch objects older than Options.OlderThan, and in
//     a recent partition compacted objects smaller than half the target.
//     Nothing to do (a partition compacted and untouched since): stop.
//  4. Read every input and sort its rows into local temporary files
//     (package extsort): a damaged input fails the run before the lake is touched.
//  5. Write the manifest, state pending, naming the inputs. Then write the
//     outputs, compacted-<run>-<k>. The run id is a digest of the inputs and
//     settings, so the same inputs give the same names and bytes.
//  6. Commit: the manifest, state committed, with the outputs. From here the
//     run is only ever finished, never undone.
//  7. Write the markers of every input; then mark the manifest done.
//  8. Delete the inputs, Options.DeleteGrace after their markers (the
//     deleter, while the run goes on with other partitions). After step 7
//     nothing else is left to do: an input still there has a marker, and
//     whoever finds it deletes it, keeping the grace.
//
// Done manifests are forgotten once a later run absorbed all their outputs
// and they are deleted (not while they wait for their grace: an output no
// manifest names would look like a stranger's object); markers are never
// deleted.
//
// Every step is idempotent and recovery knows where to resume, so a run
// killed anywhere (the integration tests kill the real binary at each named
// point of Options.CrashHook) converges when the next one runs: no row is
// lost (inputs are deleted only after the outputs and their markers are
// durable), no row is there twice once it completes (a pending run's outputs
// are deleted; a committed run's inputs are). Readers never miss a row (next
// section). They may see a row twice, between an output's commit and its
// input's deletion (the grace and the deletes; after a crash, until the next
// run); findings_latest and ocsf_findings_latest stay right, since two
// identical rows rank one above the other and the views keep one.
//
// # The delete grace
//
// The rule: an absorbed name is deleted only once its marker is at least
// Options.DeleteGrace (g, --delete-grace) old, whoever deletes it — the run
// that replaced it, a later or concurrent run that finds it (a run may visit
// a partition the moment another released its lock, its deletes still
// waiting), a run that recovers one a crash interrupted, a writer whose
// object's name was absorbed while it wrote it. A marker is written after
// the commit of the run that absorbed the name, so the rows of a deleted
// object have been in the partition, in that run's outputs, for at least g.
// The only other deletes of table objects are of a pending run's outputs,
// rolled back: their rows never left the run's inputs.
//
// How a deleter knows a marker's age: the run that wrote the markers counts
// g from when the last of them was written, on its own clock; anyone else
// reads the marker's modification time (encode.AbsorbedSince: S3's
// Last-Modified, which a HEAD gives in whole seconds, so rounded up to the
// next second; a directory's mtime) and compares it with its clock. S3's
// clock and the hosts' (NTP) agree to milliseconds; a skew counts against
// g. A run that finds names whose marker is younger than g (a concurrent or
// just-killed run's inputs, a writer's late object) does not leave them for
// the next run, which may be an hour away: it queues them in its deleter,
// deletes them when their grace is over while it compacts the next
// partitions, and waits for the last ones before it ends (at most g and a
// second). They are no inputs meanwhile. A writer cannot know the grace of
// the compaction that wrote the marker, so it deletes only when the marker
// is older than encode.MaxDeleteGrace (an hour), the bound every compaction's
// grace must keep, and otherwise leaves the object to compaction; g is
// refused above that bound.
//
// What it buys readers, precisely: a listing of a partition (or of a whole
// table) that begins at T and ends before T + g returns, for every row that
// was in the partition at T, at least one object holding it. So a row, once
// visible, is in every later listing that lasts less than g, however the
// listing is paged (S3: 1,000 keys a page, a compacted-* page before the
// batch objects' page) and however compactions overlap, fail or are killed.
// Why: follow a row from an object that held it at T, X₀ (not a pending
// run's output: its inputs hold the row too), to the outputs of
// the run that absorbed X₀, X₁, and so on; each was committed after the one
// before. Let X be the last of them committed before T. It was not deleted
// before T (its successor's commit precedes the deletion by at least g, and
// would then precede T). Were it deleted before the listing reached its key,
// before T + g, its successor would have been committed before T: X would not
// be the last. So the listing returns X (S3 listings are strongly
// consistent). A listing that takes longer than g, or a reader that opens an
// object later than g after it listed it (a long query), can find an object
// gone: a larger grace (up to an hour) covers longer readers, at the price of
// rows seen twice for longer.
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
// a key of the lake's layout (layout.CheckKey, layout.CheckPrefix), and every key a
// manifest names must be of its own partition (manifest.validate).
//
// # Memory
//
// A partition is never held in memory: rows go through an external merge
// sort (package extsort) whose buffer is Options.SortBuffer, at most a few inputs
// are decoded ahead of it (extsort.DecodeInFlight), at most extsort.MergeFanIn sorted runs
// are read at once, and the Parquet writer holds one row group. The live
// heap does not depend on the partition's size (TestCompactMemoryBound;
// peak RSS on a day of a four-shard stream in BENCHMARKS.md).
package compact

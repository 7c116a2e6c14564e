// Package current maintains the current-state tables, findings_current and
// ocsf_findings_current: one row per finding, the very row the latest views
// (findings_latest, ocsf_findings_latest) pick over the whole history, at
// the cost of what changed since the last refresh instead of the history's.
// It is `hublake current`, and keeps docs/design.md, claims 15 (a current
// table holds exactly the rows its latest view picks), 16 (a reader sees
// one committed snapshot) and 17 (a refresh keeps the grace, and leaves
// exactly the committed snapshot).
//
// # What a current table holds
//
// The history table's columns (its row type, its Parquet schema, the
// writer's settings, ZSTD by default), one row per finding: the first of
// the finding's rows by schema.Newest — the views' key and order, then the
// tiebreak source DESC, finding_index DESC, which is unique per row of the
// history, so the pick is the same in every engine and every run — unless
// retention drops it (Retention: Security Hub's rules by default; the row
// that decides is the newest, so an expired finding's older rows never come
// back). The dt partition column is not a column of the files: a current
// table has no partitions.
//
// # Layout, and how readers find the committed snapshot
//
//	<root>/<table>_current/_symlink_format_manifest/manifest   the committed snapshot: its objects' URLs, one a line
//	<root>/<table>_current/snapshot=<id>/part-<k>.parquet      a snapshot's objects, sorted by the table's sort keys
//	<root>/_hublake/current/<table>/<id>.json                  a refresh's manifest (state, objects, incremental state)
//	<root>/_hublake/locks/current/<table>                      the refresh's lock (compaction's lock code)
//
// Athena (Trino, Hive, Spark) reads the table through Hive's
// SymlinkTextInputFormat with the Parquet SerDe, LOCATION
// <root>/<table>_current/_symlink_format_manifest/: the engine reads the
// manifest when it plans a query, then the objects it lists (Delta Lake's
// manifests for Presto, Trino and Athena are exactly this, one manifest
// object under _symlink_format_manifest/ listing full paths:
// https://docs.delta.io/presto-integration). The refresh commits a
// snapshot with one PUT of that object: S3 replaces an object atomically and
// reads after a write are strongly consistent, so a query planned before
// the PUT reads the previous snapshot, one planned after it the new one,
// never a mix and never nothing; no Glue call, no Glue permission, and the
// table's location never changes. Any other reader (DuckDB, a script)
// reads the manifest and then the objects it lists (on a directory lake,
// absolute paths).
//
// # The refresh, per table
//
//  1. Survey, read only and without the lock: the refresh manifests (the
//     committed snapshot is the committed or done one with the latest
//     commit time), one listing of the history table, one of the current
//     table. Nothing to do — no history object the snapshot has not read,
//     no kept row due to expire (the manifest records the earliest expiry),
//     the same settings, no refresh left unfinished, nothing under the
//     current table but the snapshot — and the refresh stops having written
//     nothing, not even its lock.
//  2. Lock the table (a second refresh skips it and says so), read the
//     manifests again and recover: a pending refresh is rolled back (its
//     snapshot's objects deleted, then its manifest: no symlink manifest
//     ever named them); a committed one not done is finished (steps 6–8),
//     unless its snapshot's objects are not all there: a committed
//     refresh's objects leave only once a later snapshot replaced it, so
//     that is a commit PUT held up on the way that landed after the refresh
//     had been rolled back, and it is rolled back again (finishing it would
//     point readers at objects that are gone).
//  3. Read the previous snapshot's objects and the history objects it has
//     not read (the committed manifest keeps, per partition, the names it
//     has read with their ETags: object names are content-derived, so a
//     name read is a content read; a late event into an old partition is a
//     new name, and an object written again with other bytes, a replayed
//     batch holding a logical duplicate more, a new ETag). A
//     compacted object whose compaction (compact.RunInputs) replaced only
//     objects already read holds exactly their rows and is skipped. Reading
//     a row twice is harmless: newest-of is idempotent. A history object
//     gone between the listing and its read (a compaction finished
//     meanwhile, having committed its replacement first) makes the refresh
//     list its partition again and read what is new there.
//  4. Sort every row read by finding, newest first (extsort: bounded
//     memory, spilled runs), keep the first row of each finding unless
//     retention drops it, and sort those by the table's sort keys.
//  5. Write the manifest, state pending (crash point "after-manifest"),
//     then the snapshot's objects, part-0000… of --target-size
//     ("after-object"). The id is a digest of the table, the settings, the
//     previous snapshot, the refresh's clock and the history objects read,
//     so a refresh done again writes the same names and bytes, and never
//     its predecessor's.
//  6. Commit: the lock is renewed (on S3 a conditional write: a holder
//     that lost it stops here), then the manifest, state committed, with
//     the objects, the row count, the earliest expiry and the new
//     incremental state: the names and ETags of the history objects as
//     listed that the snapshot holds (names no longer listed drop out, so the state is
//     as large as the lake's object count) ("after-commit"). From here on
//     the refresh is only ever finished, never undone.
//  7. The readers' commit: the PUT of the symlink manifest
//     ("after-symlink").
//  8. Once --delete-grace has passed since that PUT, delete everything under
//     the current table that is not the committed snapshot or its manifest
//     (the previous snapshot, and anything a rolled-back refresh's upload
//     left) ("between-deletes"); delete the older refresh manifests
//     ("before-done"); mark the manifest done. The refresh waits for the
//     grace before it returns, so when it has returned the objects under
//     <table>_current/ are exactly the committed snapshot and its manifest.
//
// Every step is idempotent and recovery knows where to resume, so a
// refresh killed anywhere (the tests of the real binary kill it at each
// crash point, CrashPoints) converges when the next one runs. Readers
// never see a partial snapshot (the symlink manifest names only committed
// objects) and never lose one mid-query for less than the grace.
//
// # The grace
//
// A query planned on the previous manifest reads the previous snapshot's
// objects for as long as it runs: they stay DefaultDeleteGrace (10
// minutes) after the new manifest's PUT, far longer than the seconds a
// query of a current table takes; a longer query planned before the
// commit fails with a missing object (a re-run reads the new snapshot),
// never with a wrong answer. A recovered refresh counts the grace from the
// symlink manifest's Last-Modified (rounded up to the second).
//
// # Writers and compaction meanwhile
//
// A consumer's or a backfill's object that appears during a refresh is not
// in its listing and is read by the next refresh. Compaction deletes a
// history object only after its compacted replacement is committed and the
// compaction's grace has passed: an object listed and then gone is re-read
// through its partition's new listing (step 3), and one compacted after a
// refresh read it is skipped by the next (step 3). Nothing a refresh reads,
// writes or deletes is outside the lake's layout (layout.CheckKey,
// layout.CheckPrefix), and every key a refresh manifest names is checked
// against its table and snapshot (manifest.validate).
//
// # Memory
//
// Neither the live set nor the history is ever held in memory: both sorts
// spill to --temp-dir beyond their buffer, inputs are decoded a few at a
// time, a merge reads at most extsort.MergeFanIn runs, and the Parquet
// writer holds one row group (MemoryBudget). What grows with the lake is
// the incremental state: the names of the history's objects, about a
// hundred bytes each.
package current

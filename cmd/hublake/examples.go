package main

// The examples of each command's help (kong prints a command's Help()
// below its summary). TestHelpHasExamples runs `hublake help <command>` for
// every command.

func (backfillCmd) Help() string {
	return `Examples:

  hublake backfill --out ./lake findings.json.gz exports/
  hublake backfill --out s3://my-lake/lake s3://my-archive/firehose/2026/
  aws securityhub get-findings | hublake backfill --out ./lake -
  hublake backfill --part 0/4 --out s3://my-lake/lake s3://my-archive/   # one of 4 machines

The exit status is 0 when every input was read to its end (bad records are
dead letters, not failures), 1 when an input or the lake failed.`
}

func (consumeCmd) Help() string {
	return `Examples:

  hublake consume --stream security-hub --app hublake --out s3://my-lake/lake
  HUBLAKE_STREAM=security-hub HUBLAKE_APP=hublake HUBLAKE_OUT=s3://my-lake/lake hublake consume

Check the configuration first with the same flags: hublake check consume ...
On SIGTERM the consumer flushes and checkpoints what it holds and exits 0.`
}

func (compactCmd) Help() string {
	return `Examples:

  hublake compact --out s3://my-lake/lake
  hublake compact --out ./lake --table findings --older-than 0s

The lake must exist: compaction never creates one.`
}

func (currentCmd) Help() string {
	return `Examples:

  hublake current --out s3://my-lake/lake
  hublake current --out ./lake --table findings --retention none

Athena reads each current table through its symlink manifest
(<table>_current/_symlink_format_manifest/manifest: the committed snapshot's
objects, one a line; hublake ddl prints the tables); any other reader reads
that list. The lake must exist. A second refresh while one runs skips the
table it holds and says so. With --emf, one line per table: namespace hublake,
dimension Table, metrics CurrentSnapshotAgeSeconds, CurrentRows and
CurrentRefreshErrors.`
}

func (publishCmd) Help() string {
	return `Examples:

  hublake publish --stream security-hub events.json
  hublake publish --stream test --kinesis-endpoint http://127.0.0.1:4568 --create 2 corpus/

Its flags are read from HUBLAKE_PUBLISH_* (not the consumer's HUBLAKE_*).`
}

func (ddlCmd) Help() string {
	return `Examples:

  hublake ddl --location s3://my-lake/lake --database security > lake.sql
  hublake ddl --format cloudformation --table dead_letters --indent 10

Its flags are read from HUBLAKE_DDL_*.`
}

func (genCmd) Help() string {
	return `Examples:

  hublake gen --events 3000 --out corpus
  hublake gen --bytes 1GiB --gzip --out corpus
  hublake gen --events 100 --out - | hublake backfill --out ./lake -

Its flags are read from HUBLAKE_GEN_* (HUBLAKE_GEN_OUT, not the lake's HUBLAKE_OUT).`
}

func (healthcheckCmd) Help() string {
	return `Examples:

  hublake healthcheck                                   # in the consumer's container
  hublake healthcheck --url http://10.0.1.7:8977/healthz`
}

#!/usr/bin/env bash
# make demo: the main job end to end on the local stack. Starts kinesis-mock,
# dynalite and versitygw; starts `hublake consume`; publishes a generated set
# of realistic Security Hub events (all four detail-types: the three ASFF ones
# and the OCSF feed's Findings Imported V2, duplicates, a few broken records)
# as EventBridge rules would; waits until every record is durable in the
# lake; compacts it (hublake compact) and builds the current-state tables
# (hublake current); queries the lake with DuckDB (the tables, the views
# hublake ddl prints: findings_latest, ocsf_findings_latest, findings_all,
# and the current tables findings_current, ocsf_findings_current and the
# view findings_all_current against the latest views); stops everything.
# The lake ends up in ./lake (the bucket "lake" of the local S3 server).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/hublake
DEMO=$ROOT/.demo
export STACK_DIR=$ROOT/.stack
export AWS_ACCESS_KEY_ID=000000000000 AWS_SECRET_ACCESS_KEY=hublake-local-secret AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
KINESIS=http://127.0.0.1:${KINESIS_PORT:-4568}
DYNAMODB=http://127.0.0.1:${DYNAMODB_PORT:-4569}
S3=http://127.0.0.1:${S3_PORT:-7070}
METRICS=127.0.0.1:${METRICS_PORT:-9099}
STREAM=securityhub-events
EVENTS=${DEMO_EVENTS:-3000}

consumer=
cleanup() {
  [ -n "$consumer" ] && kill "$consumer" 2>/dev/null && wait "$consumer" 2>/dev/null || true
  scripts/stack.sh stop >/dev/null
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
metric() { curl -fsS "http://$METRICS/metrics" 2>/dev/null | awk -v m="$1" '$1 == m {print $2}' | head -1; }

step "starting the local stack (Kinesis, DynamoDB, S3 on 127.0.0.1)"
scripts/stack.sh stop >/dev/null 2>&1 || true
rm -rf "$DEMO" "$STACK_DIR" lake
mkdir -p "$DEMO" "$STACK_DIR/s3" lake
ln -s "$ROOT/lake" "$STACK_DIR/s3/lake"   # bucket "lake" is ./lake
scripts/stack.sh start

step "generating $EVENTS realistic Security Hub events, 30% of new findings from the OCSF feed (seeded, so every run is the same)"
"$BIN" gen --events "$EVENTS" --days 14 --accounts 12 --bad-ratio 0.005 --file-bytes 4MiB --out "$DEMO/events" --log-level warn

step "creating the Kinesis stream and starting hublake consume"
"$BIN" publish --stream "$STREAM" --kinesis-endpoint "$KINESIS" --create 2 --log-level warn /dev/null >/dev/null
"$BIN" consume --stream "$STREAM" --app hublake-demo --out s3://lake --worker-id demo-worker \
  --kinesis-endpoint "$KINESIS" --dynamodb-endpoint "$DYNAMODB" --s3-endpoint "$S3" \
  --flush-window 5s --shard-sync 1s --metrics-addr "$METRICS" --log-level warn &
consumer=$!

step "publishing the events as an EventBridge rule target does (one record per event, key = event id)"
out=$("$BIN" publish --stream "$STREAM" --kinesis-endpoint "$KINESIS" --log-level warn "$DEMO/events")
echo "$out"
published=$(echo "$out" | awk '{print $2}')

step "waiting until every record is durable in the lake"
for i in $(seq 1 240); do
  read_n=$(metric hublake_records_total); buffered=$(metric hublake_buffered_records)
  if [ "${read_n:-0}" = "$published" ] && [ "${buffered:-1}" = "0" ]; then break; fi
  [ "$i" = 240 ] && { echo "timed out: read ${read_n:-0} of $published records, ${buffered:-?} buffered" >&2; exit 1; }
  sleep 0.5
done
echo "read $read_n records; findings $(metric 'hublake_rows_written_total{table="findings"}'), insight results $(metric 'hublake_rows_written_total{table="insight_results"}')," \
  "duplicates dropped $(metric hublake_duplicates_total), dead letters $(metric hublake_dead_letters_total)," \
  "objects $(metric hublake_objects_written_total)"

step "compacting the lake (hublake compact: few large sorted objects per partition, the consumer still running)"
"$BIN" compact --out s3://lake --s3-endpoint "$S3" --older-than 0s --delete-grace 2s --progress none --log-level warn

# The generated events are dated in the past (seeded, so every run is the
# same), further back than Security Hub keeps findings: --retention none
# keeps every finding, so each current table is its latest view's rows.
step "building the current-state tables (hublake current: one row per finding, the row the latest view picks)"
"$BIN" current --out s3://lake --s3-endpoint "$S3" --retention none --progress none --log-level warn
for t in findings_current ocsf_findings_current; do
  echo "$t: $(wc -l < "lake/$t/_symlink_format_manifest/manifest") object(s) in the committed snapshot (lake/$t/_symlink_format_manifest/manifest)"
done

step "the lake, read with DuckDB as Athena would (./lake; the current tables through their manifests)"
go run ./internal/tools/lakequery -lake lake -s3-root s3://lake

step "stopping (SIGTERM: the consumer flushes, checkpoints and exits 0)"
kill -TERM "$consumer"; wait "$consumer"; consumer=
echo "consumer exited 0; Athena DDL for this lake (tables, current tables, views): bin/hublake ddl --location s3://your-bucket/prefix"

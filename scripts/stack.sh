#!/usr/bin/env bash
# The local stack on 127.0.0.1: kinesis-mock (npm kinesis-local), dynalite
# (DynamoDB, for the KCL lease table) and versitygw (S3, posix backend).
#   scripts/stack.sh start|stop|status
# Ports: KINESIS_PORT (4568; kinesis-mock also opens KINESIS_TLS_PORT, 4567),
# DYNAMODB_PORT (4569), S3_PORT (7070). State, logs and pid files: STACK_DIR
# (.stack). S3 buckets are directories under $STACK_DIR/s3. Credentials:
# access key 000000000000 (kinesis-mock takes the account from it), secret
# hublake-local-secret, region us-east-1. Note: kinesis-mock binds all
# interfaces (it has no option to bind 127.0.0.1 only).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=${TOOLS:-$ROOT/.tools}
STACK_DIR=${STACK_DIR:-$ROOT/.stack}
KINESIS_PORT=${KINESIS_PORT:-4568}
KINESIS_TLS_PORT=${KINESIS_TLS_PORT:-4567}
DYNAMODB_PORT=${DYNAMODB_PORT:-4569}
S3_PORT=${S3_PORT:-7070}
ACCESS_KEY=000000000000
SECRET_KEY=hublake-local-secret

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 300); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "stack: $name did not come up on port $port; see $STACK_DIR/$name.log" >&2
  return 1
}

start_one() {
  local name=$1; shift
  if [ -f "$STACK_DIR/$name.pid" ] && kill -0 "$(cat "$STACK_DIR/$name.pid")" 2>/dev/null; then
    echo "stack: $name already running"; return 0
  fi
  setsid "$@" >"$STACK_DIR/$name.log" 2>&1 < /dev/null &
  echo $! >"$STACK_DIR/$name.pid"
}

case "${1:-}" in
start)
  for t in "$TOOLS/node_modules/kinesis-local/main.js" "$TOOLS/node_modules/dynalite/cli.js" "$TOOLS/bin/versitygw"; do
    [ -e "$t" ] || { echo "stack: $t missing; run 'make tools'" >&2; exit 1; }
  done
  mkdir -p "$STACK_DIR/s3" "$STACK_DIR/versitygw-meta"
  kdir=$TOOLS/node_modules/kinesis-local
  start_one kinesis env KINESIS_MOCK_PLAIN_PORT="$KINESIS_PORT" KINESIS_MOCK_TLS_PORT="$KINESIS_TLS_PORT" \
    KINESIS_MOCK_CERT_PATH="$kdir/server.json" AWS_REGION=us-east-1 LOG_LEVEL=WARN CREATE_STREAM_DURATION=100ms \
    node "$kdir/main.js"
  start_one dynamodb env NODE_PATH="$TOOLS/node_modules" node "$ROOT/scripts/dynalite.js" --host 127.0.0.1 --port "$DYNAMODB_PORT"
  start_one s3 "$TOOLS/bin/versitygw" --access "$ACCESS_KEY" --secret "$SECRET_KEY" --region us-east-1 \
    --port "127.0.0.1:$S3_PORT" --quiet posix --sidecar "$STACK_DIR/versitygw-meta" --bucketlinks "$STACK_DIR/s3"
  wait_port "$KINESIS_PORT" kinesis
  wait_port "$DYNAMODB_PORT" dynamodb
  wait_port "$S3_PORT" s3
  echo "stack: kinesis http://127.0.0.1:$KINESIS_PORT  dynamodb http://127.0.0.1:$DYNAMODB_PORT  s3 http://127.0.0.1:$S3_PORT (buckets in $STACK_DIR/s3)"
  ;;
stop)
  for name in s3 dynamodb kinesis; do
    if [ -f "$STACK_DIR/$name.pid" ]; then
      pid=$(cat "$STACK_DIR/$name.pid")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      rm -f "$STACK_DIR/$name.pid"
    fi
  done
  echo "stack: stopped"
  ;;
status)
  for name in kinesis dynamodb s3; do
    if [ -f "$STACK_DIR/$name.pid" ] && kill -0 "$(cat "$STACK_DIR/$name.pid")" 2>/dev/null; then
      echo "$name: running (pid $(cat "$STACK_DIR/$name.pid"))"
    else
      echo "$name: stopped"
    fi
  done
  ;;
*)
  echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

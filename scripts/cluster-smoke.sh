#!/usr/bin/env bash
# Runs `make cluster` as the README shows it (on ports of its own, so that a
# dev stack may run beside it), waits for its banner, checks the API, the
# Temporal UI and an event's delivery through two worker processes, then
# stops it with Ctrl-C (SIGINT) and checks that no process is left behind.
# .ci/run calls it after `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
export DEV_DATA_DIR=$dir/data HTTP_ADDR=127.0.0.1:18480 TEMPORAL_PORT=17733 \
  TEMPORAL_UI_ADDR=127.0.0.1:18433 METRICS_ADDR=127.0.0.1:18490 \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/webhooks_cluster_smoke?sslmode=disable"
unset TEMPORAL_ADDRESS
api=http://$HTTP_ADDR/api/v1
fail() { echo "cluster-smoke: $*" >&2; tail -n 40 "$dir/out" >&2 || true; exit 1; }

# A fresh service database; Temporal's databases are make cluster's own and
# keep their workflows, so the event id is new on every run (a known one
# would be answered as a duplicate, SPEC 5, and delivered no second time).
psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS webhooks_cluster_smoke WITH (FORCE)' postgres
event_id="smoke-$(date +%s%N)"

setsid make cluster >"$dir/out" 2>&1 &
pid=$!
trap 'kill -KILL -- -$pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  grep -q "cluster is up" "$dir/out" && break
  kill -0 $pid 2>/dev/null || fail "make cluster exited before it was up"
  sleep 1
done
grep -q "cluster is up" "$dir/out" || fail "make cluster was not up within 10 minutes"

# A webhook to a port where nothing listens, and an event: a worker process
# makes the attempt (a refused connection) and logs it.
auth=demo:demo-key-for-local-use-only
curl -sf -u $auth -H 'Content-Type: application/json' \
  -d '{"id":"smoke","matchingEvents":["PhoneNumber.optedIn"],"url":"http://127.0.0.1:18499/hook"}' \
  "$api/webhooks" >/dev/null || fail "create webhook"
curl -sf -u ingest:ingest-key-for-local-use-only -H 'Content-Type: application/json' \
  -d '{"clientId":"demo","event":{"name":"PhoneNumber.optedIn","eventId":"'"$event_id"'","phoneNumber":"+15550001","triggerType":"Manual"}}' \
  "$api/events" >/dev/null || fail "ingest"
for _ in $(seq 1 60); do
  curl -sf -u $auth "$api/webhooks/smoke/deliveries" | grep -q '"attempt":1' && break
  sleep 1
done
curl -sf -u $auth "$api/webhooks/smoke/deliveries" | grep -q '"attempt":1' || fail "no attempt in the delivery log"
curl -sf "http://$TEMPORAL_UI_ADDR/" >/dev/null || fail "Temporal UI"

kill -INT -- -$pid
for _ in $(seq 1 60); do
  kill -0 $pid 2>/dev/null || break
  sleep 1
done
kill -0 $pid 2>/dev/null && fail "make cluster still running 60 s after Ctrl-C"
if pgrep -f "$DEV_DATA_DIR" >/dev/null; then fail "processes left behind: $(pgrep -af "$DEV_DATA_DIR")"; fi
for port in 18480 17733 18433 18490 18491 18492; do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && fail "port $port still served after Ctrl-C"
done
trap - EXIT
psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS webhooks_cluster_smoke WITH (FORCE)' postgres
rm -rf "$dir"
echo "cluster-smoke: make cluster came up, delivered through its workers and stopped cleanly"

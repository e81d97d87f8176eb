#!/usr/bin/env bash
# `npm run test:parallel`: `npm test`'s passes, side by side: the suite on SQLite in two halves (test:sqlite:clients, the
# integration and federation tests; test:sqlite:modules, the rest) and the tests whose outcome
# depends on the storage engine again on PostgreSQL (test:pgsql). Each test server has its own
# port and data folder, each mocha process its own PostgreSQL cluster (test/helpers/postgres.ts)
# and each cluster test its own Redis, so the passes share nothing. Most of a pass's time is
# spent waiting on sockets and child processes, so three of them fill a 2-core machine better
# than one: 16.5 minutes on this project's 2-core machine, against 26 one after the other
# (2026-12-08). Under that contention a test takes longer than alone (hence .mocharc.json's
# 30 s per test), and a few timing-sensitive tests still time out now and then: `npm test` and
# CI run the passes one after the other. Each line is prefixed with its pass; every pass runs to its end, so one run
# shows every failure, and the exit code is non-zero when any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

run() {
  local lane=$1
  local start=$SECONDS
  npm run --silent "test:$lane" 2>&1 | sed -u "s/^/[$lane] /"
  local rc=$?
  echo "[$lane] exit $rc after $((SECONDS - start)) s"
  return $rc
}

pids=()
for lane in sqlite:clients sqlite:modules pgsql; do
  run "$lane" &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do
  wait "$pid" || rc=1
done
exit $rc

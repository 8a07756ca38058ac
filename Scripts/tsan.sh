#!/usr/bin/env bash
# The concurrent code under ThreadSanitizer: the trial runner (threads and shards), the SBML
# population, the calibration's particle workers, the dose-finding simulation, the multi-start
# fit and the server's job queue, each through a test that runs it on several threads.
#
#   Scripts/tsan.sh            build (into .build/tsan) and run them; exit 1 on any report
#
# TSan's reports go to standard error; `halt_on_error=1` makes the first race fail the run.
# Scripts/tsan-suppressions.txt lists the third-party reports suppressed, with the reason.
# -DTSAN_VISIBLE_LOCKS backs the package's lock wrapper (Parallel's `Shared`) by a pthread mutex,
# which TSan intercepts: Synchronization's `Mutex` waits on a futex inside the uninstrumented
# standard library when contended, so TSan would miss its happens-before edge and report the
# accesses it guards (seen in CI: OrderedRowWriter.deliver under two writers).
set -euo pipefail
cd "$(dirname "$0")/.."
FILTER='threadsAndShardsGiveTheSameTrial|PopulationTests/threadCountIndependence|calibrationIsReproducible|shardsGiveTheUnshardedResult|sameSeedIsBitIdenticalAndThreadCountDoesNotMatter|commonRandomNumbers|FitTests/threadIndependence|TrialAPITests|queueIsBounded'
LOG="$(mktemp)"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/Scripts/tsan-suppressions.txt"
status=0
swift test --sanitize=thread -Xswiftc -DTSAN_VISIBLE_LOCKS --scratch-path .build/tsan --filter "$FILTER" 2>&1 | tee "$LOG" | grep -E "✔|✘|WARNING: ThreadSanitizer|Test run|error:" || true
status=${PIPESTATUS[0]}
races=$(grep -c "WARNING: ThreadSanitizer" "$LOG" || true)
tests=$(grep -Eo "Test run with [0-9]+ tests" "$LOG" | grep -Eo "[0-9]+" | tail -1 || true)
echo "tsan: ${tests:-0} tests, $races reports, exit $status"
if [ "$races" -ne 0 ] || [ "$status" -ne 0 ]; then
  grep -A30 "WARNING: ThreadSanitizer" "$LOG" | head -80 >&2 || true
  exit 1
fi

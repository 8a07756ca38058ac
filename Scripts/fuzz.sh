#!/usr/bin/env bash
# libFuzzer runs of CARTSim's input readers (Linux, the Swift toolchain's -sanitize=fuzzer).
#
#   Scripts/fuzz.sh --list              the target names
#   Scripts/fuzz.sh NAME SECONDS        fuzz one target; prints `fuzz NAME: N runs, K crashes`
#   Scripts/fuzz.sh --all SECONDS       every target in turn
#
# The binary (Fuzz/, built with -sanitize=fuzzer,address into .build/fuzz) feeds the bytes to
# one reader: a reader passes when it returns or throws its own error for any input; a trap,
# an address error, a stack overflow or an input slower than 20 s is a crash. The corpus
# (.build/fuzz/corpus/NAME) is seeded from Examples and ../shared and grows across runs; a
# crashing input is saved as .build/fuzz/crashes/NAME-crash-<hash> (rerun it with
# `CARTSIM_FUZZ_TARGET=NAME .build/fuzz/release/cartsim-fuzz FILE`). Exit status 1 on a crash.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="$ROOT/../shared"
WORK="$ROOT/.build/fuzz"
TARGETS=(scenario trial-spec sbml mathml covariate-csv patients-csv accrued-csv petab-table petab-formula petab-yaml nlme-control-stream nlme-json nlme-dataset)

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

[ $# -ge 1 ] || usage
if [ "$1" = "--list" ]; then printf '%s\n' "${TARGETS[@]}"; exit 0; fi

build() {
  swift build -c release --package-path "$ROOT/Fuzz" --scratch-path "$WORK" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld >&2
}

# Seed inputs for a target, copied into its corpus folder the first time.
seed() {
  local name=$1 dir=$2
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || return 0
  case $name in
    scenario) cp "$ROOT"/Examples/heros*.json "$dir"/ ; rm -f "$dir"/heros-trial*.json ;;
    trial-spec) cp "$ROOT"/Examples/*trial*.json "$dir"/ 2>/dev/null || true ;;
    sbml) find "$SHARED/sbml-test-suite" -name '*-sbml-l3v2.xml' 2>/dev/null | sort | awk 'NR % 25 == 1' | head -60 |
            while read -r f; do cp "$f" "$dir/$(basename "$f")"; done
          cp "$ROOT/Examples/fit/model_cartmath.xml" "$dir"/ ;;
    mathml) find "$SHARED/sbml-test-suite" -name '*-sbml-l3v2.xml' 2>/dev/null | sort | awk 'NR % 40 == 1' | head -40 |
              while read -r f; do
                python3 - "$f" "$dir" <<'PY'
import re, sys, os, hashlib
text = open(sys.argv[1]).read()
for m in re.findall(r'<math[^>]*>(.*?)</math>', text, re.S)[:3]:
    open(os.path.join(sys.argv[2], hashlib.sha1(m.encode()).hexdigest()[:12]), "w").write(m)
PY
              done ;;
    covariate-csv) find "$ROOT/Examples" "$ROOT/Tests" -name '*.csv' -size -64k | head -20 | while read -r f; do cp "$f" "$dir/"; done
                   printf 'age_years,weight_kg,her2_level\n12,40,high\n30,70,low\n' > "$dir/minimal.csv" ;;
    patients-csv) printf 'arm,id,status\n' > "$dir/header" ;;  # the binary adds a real one (CARTSIM_FUZZ_SEED_DIR)
    accrued-csv) printf 'dose,patients,dlts\n1,3,0\n2,3,1\n2,3,0\n' > "$dir/cohorts.csv"
                 printf 'dlts,dose,patients,note\n0,1,3,a\n1,2,6,b\n' > "$dir/totals.csv" ;;
    petab-table) find "$SHARED/petab-test-suite" "$ROOT/Examples/fit" -name '*.tsv' -size -64k 2>/dev/null | head -60 |
                   while read -r f; do cp "$f" "$dir/$(echo "$f" | md5sum | cut -c1-8)-$(basename "$f")"; done ;;
    petab-formula) find "$SHARED/petab-test-suite" -name '_observables.tsv' 2>/dev/null | head -30 | while read -r f; do
                     tail -n +2 "$f" | cut -f3,4 | tr '\t' '\n'; done | sort -u | head -60 | nl -nrz | while read -r n f; do printf '%s' "$f" > "$dir/$n"; done ;;
    petab-yaml) find "$SHARED/petab-test-suite" "$SHARED/petab-benchmarks" "$ROOT/Examples/fit" -name '*.yaml' 2>/dev/null | head -40 |
                  while read -r f; do cp "$f" "$dir/$(echo "$f" | md5sum | cut -c1-8)-$(basename "$f")"; done ;;
    nlme-control-stream) cp "$ROOT"/Examples/nlme/*.mod "$dir"/ ;;
    nlme-json) cp "$ROOT"/Examples/nlme/*.json "$dir"/ ;;
    nlme-dataset) printf 'ID TIME AMT RATE II ADDL SS CMT EVID MDV DV CENS WT\n1 0 100 0 12 3 0 1 1 1 0 0 70\n1 1 0 0 0 0 0 1 0 0 5.2 0 70\n1 50 0 0 0 0 0 1 0 0 0.1 1 70\n' > "$dir/reserved.txt"
                  cp "$ROOT"/Examples/nlme/*.csv "$dir"/ ;;
  esac
  # libFuzzer needs at least one input.
  [ -n "$(ls -A "$dir")" ] || printf '{}' > "$dir/empty"
}

run() {
  local name=$1 seconds=$2
  local corpus="$WORK/corpus/$name" crashes="$WORK/crashes" log="$WORK/logs/$name.log"
  mkdir -p "$crashes" "$WORK/logs"
  seed "$name" "$corpus"
  local status=0
  # No leak report at exit (Foundation's XML parser keeps its error strings) and no Swift
  # backtracer (ASan would report its reads of the stack); a trap is still a crash.
  ASAN_OPTIONS="detect_leaks=0" SWIFT_BACKTRACE="enable=no" CARTSIM_FUZZ_TARGET="$name" CARTSIM_FUZZ_SEED_DIR="$corpus" "$WORK/release/cartsim-fuzz" "$corpus" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=65536 -detect_leaks=0 \
    -print_final_stats=1 -artifact_prefix="$crashes/$name-" > "$log" 2>&1 || status=$?
  local runs
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)
  [ -n "$runs" ] || runs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  local found=0
  if [ $status -ne 0 ]; then
    found=1
    echo "--- $name: libFuzzer exit $status; the end of its log ($log):" >&2
    tail -40 "$log" >&2
    grep -Eo "Test unit written to .*" "$log" >&2 || true
  fi
  echo "fuzz $name: ${runs:-0} runs, $found crashes"
  return $found
}

case $1 in
  --all)
    [ $# -eq 2 ] || usage
    build
    failed=0
    for t in "${TARGETS[@]}"; do run "$t" "$2" || failed=1; done
    exit $failed ;;
  *)
    [ $# -eq 2 ] || usage
    printf '%s\n' "${TARGETS[@]}" | grep -qx "$1" || { echo "unknown fuzz target '$1' (Scripts/fuzz.sh --list)" >&2; exit 2; }
    [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 86400 ] || { echo "SECONDS must be 1…86400" >&2; exit 2; }
    build
    run "$1" "$2" ;;
esac

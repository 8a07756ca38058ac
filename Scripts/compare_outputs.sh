#!/usr/bin/env bash
# Runs the same trials, populations, dose-finding studies, calibration, sensitivity analysis,
# fit and SBML Test Suite with two cartsim binaries and compares every output file byte for
# byte (timings excepted: `seconds` and `wall_seconds` in the JSON files, the run time in the
# calibration's HTML reports).
# Used to show that a refactoring leaves the results unchanged:
#   git worktree add /tmp/before REV && (cd /tmp/before && swift build -c release --product cartsim)
#   Scripts/compare_outputs.sh /tmp/before/.build/release/cartsim .build/release/cartsim
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 CARTSIM_BEFORE CARTSIM_AFTER" >&2; exit 2; }
WORK="$(mktemp -d)"
ACC="$WORK/accrued.csv"
printf 'dose,patients,dlts\n1,3,0\n2,3,1\n2,3,0\n' > "$ACC"

outputs() {
  local B="$1" O="$2"
  mkdir -p "$O"
  "$B" trial --out "$O/trial" --quiet --threads 2 >/dev/null 2>&1
  "$B" trial Examples/heros-trial.json --patients 50 --threads 1 --out "$O/trial1" --quiet >/dev/null 2>&1
  "$B" simulate --out "$O/sim" > /dev/null
  "$B" population --sbml ../shared/biomodels-oncology/cases/BIOMD0000000733/BIOMD0000000733-sbml.xml --n 50 --omega 0.2 \
    --duration 100 --steps 50 --seed 3 --threads 2 --out "$O/pop" >/dev/null 2>&1
  "$B" design oc --design boin --target 0.3 --p-true 0.05,0.1,0.3,0.5 --trials 500 --json > "$O/oc_boin.json"
  "$B" design oc --design crm --target 0.25 --skeleton 0.05,0.12,0.25,0.4,0.55 --p-true 0.05,0.1,0.2,0.35,0.5 --trials 300 \
    --crm-startup --p-response 0.1,0.2,0.3,0.4,0.5 > "$O/oc_crm.txt"
  "$B" design oc --design 3+3 --target 0.3 --p-true 0.05,0.1,0.3,0.5 --exact --json > "$O/oc_33_exact.json"
  "$B" design oc --design mtpi2 --target 0.3 --p-true 0.05,0.1,0.3,0.5 --trials 300 > "$O/oc_mtpi2.txt"
  "$B" design compare --target 0.3 --p-true 0.05,0.1,0.3,0.5 --trials 300 --skeleton 0.1,0.2,0.3,0.4 --svg "$O/cmp.svg" > "$O/cmp.txt"
  "$B" design compare --target 0.3 --p-true 0.05,0.1,0.3,0.5 --trials 300 --skeleton 0.1,0.2,0.3,0.4 --json > "$O/cmp.json"
  "$B" design boundaries --target 0.3 > "$O/bnd.txt"
  "$B" design boundaries --target 0.25 --cohorts 8 --json > "$O/bnd.json"
  for d in boin crm 3+3 mtpi2; do
    "$B" design next --design $d --target 0.3 --skeleton 0.1,0.2,0.3,0.4 --data "$ACC" > "$O/next_$d.txt"
    "$B" design next --design $d --target 0.3 --skeleton 0.1,0.2,0.3,0.4 --data "$ACC" --json > "$O/next_$d.json"
  done
  "$B" design oc --design boin --target 0.3 --from-model Examples/heros-trial.json --dose-levels 1e6,1e7,1e8 \
    --model-patients 20 --trials 100 --json > "$O/oc_model.json" 2>/dev/null
  "$B" calibrate --particles 8 --patients 4 --rounds 2 --out "$O/cal" --quiet >/dev/null 2>&1
  "$B" sensitivity --samples 4 --patients 3 --bootstrap 50 --out "$O/sens" --quiet >/dev/null 2>&1
  "$B" fit Examples/fit/cartmath.yaml --starts 4 --seed 1 --out "$O/fit" --quiet >/dev/null 2>&1
  "$B" profile Examples/fit/cartmath.yaml --from "$O/fit/fit.json" --quiet >/dev/null 2>&1
  "$B" sbml test ../shared/sbml-test-suite/cases --threads 2 2>/dev/null > "$O/sbml-test.txt"
  # Timings are the only fields that may differ between runs.
  find "$O" -name '*.json' -exec sed -i -E 's/"(seconds|wall_seconds)" ?: [0-9.e+-]+/"\1": -/' {} +
  find "$O" -name '*.html' -exec sed -i -E 's/(seed [0-9]+), [0-9.]+ s\./\1, - s./' {} +
}

outputs "$1" "$WORK/before"
outputs "$2" "$WORK/after"
files=$(cd "$WORK/before" && find . -type f | wc -l)
if diff -r "$WORK/before" "$WORK/after" > "$WORK/diff.txt"; then
  echo "identical: $files files ($(tail -1 "$WORK/after/sbml-test.txt") in the SBML Test Suite); outputs in $WORK"
else
  echo "DIFFERENT (see $WORK/diff.txt):"; head -40 "$WORK/diff.txt"; exit 1
fi

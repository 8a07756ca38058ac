#!/usr/bin/env bash
# `cartsim nlme fit` with sensitivities (η-derivatives on jets, the analytic FOCE/FOCE-I outer
# gradient, the covariance step from gradients) against the same fit with
# `--finite-differences`, on the examples and on a simulated two-compartment study:
#
#   Scripts/bench/nlme_gradient.sh [--repeat N] [--des]        # builds cartsim (release) first
#   CARTSIM_BIN=.build/release/cartsim Scripts/bench/nlme_gradient.sh --repeat 3
#
# Problems: Examples/nlme/pheno.mod (ADVAN1), indometh.mod ($PRED), cart-stein-pred.mod ($PRED,
# M3), pheno-sbml.json and heros-ck.json (SBML models: sensitivities on the jets of the SBML
# program), and an ADVAN4 TRANS4 model (two compartments, first-order absorption, 40 subjects, oral
# doses every 12 h and an infusion) whose data `cartsim nlme simulate --seed 1` draws from the
# model's initial estimates; with --des also cart-stein.mod ($DES, about 100 s with differences).
# Each fit runs with --threads 1 --npde-samples 0, N times per mode (default 3), alternating the
# modes. Reported: the median of fit.json's `seconds` (estimation and covariance step), both
# OFVs, and the largest relative difference of the standard errors.
# Writes Scripts/bench/results/nlme_gradient.json and nlme_gradient.md and prints the table.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -n "${CARTSIM_BIN:-}" && "$CARTSIM_BIN" == */* && "$CARTSIM_BIN" != /* ]]; then
  CARTSIM_BIN="$PWD/$CARTSIM_BIN"
fi
cd "$ROOT"

usage() { echo "usage: [CARTSIM_BIN=path/to/cartsim] Scripts/bench/nlme_gradient.sh [--repeat N] [--des]"; }
REPEAT=3
DES=0
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) [ $# -ge 2 ] || { usage >&2; exit 2; }; REPEAT="$2"; shift 2 ;;
    --des) DES=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { echo "nlme_gradient: --repeat needs a positive integer, not '$REPEAT'" >&2; exit 2; }

if [ -n "${CARTSIM_BIN:-}" ]; then
  BIN="$CARTSIM_BIN"
else
  swift build -c release --product cartsim >&2
  BIN="$ROOT/.build/release/cartsim"
fi
[ -x "$BIN" ] || { echo "nlme_gradient: no cartsim binary at $BIN" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# The two-compartment study: a design, the model, its simulated data, the fitting stream.
python3 - "$WORK/design.csv" <<'EOF'
import sys
rows = ["ID,TIME,AMT,RATE,ADDL,II,CMT,EVID,DV,WT"]
for i in range(1, 41):
    wt = 50 + 4 * (i % 7)
    rows.append(f"{i},0,500,0,2,12,1,1,0,{wt}")
    rows += [f"{i},{t},0,0,0,0,2,0,0,{wt}" for t in (0.5, 1, 2, 4, 8, 12.5, 26, 30, 36)]
    rows.append(f"{i},48,200,100,0,0,2,1,0,{wt}")
    rows += [f"{i},{t},0,0,0,0,2,0,0,{wt}" for t in (49, 50, 54)]
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
EOF
write_model() {  # $1 input line, $2 data file
  cat <<EOF
\$PROBLEM two compartments with first-order absorption (simulated study)
\$INPUT $1
\$DATA $2 IGNORE=@
\$SUBROUTINES ADVAN4 TRANS4
\$PK
CL = THETA(1)*EXP(ETA(1))*(WT/70)**0.75
V2 = THETA(2)*EXP(ETA(2))
Q = THETA(3)
V3 = THETA(4)
KA = THETA(5)*EXP(ETA(3))
S2 = V2
\$ERROR
Y = F + F*EPS(1) + EPS(2)
\$THETA (0, 4) (0, 30) (0, 2) (0, 60) (0, 1.2)
\$OMEGA 0.1 0.08 0.2
\$SIGMA 0.02 0.01 FIX
\$ESTIMATION METHOD=1 INTERACTION
\$COVARIANCE
EOF
}
write_model "ID TIME AMT RATE ADDL II CMT EVID DV WT" design.csv > "$WORK/design.mod"
"$BIN" nlme simulate "$WORK/design.mod" --seed 1 --out "$WORK/advan4.csv" > /dev/null
write_model "REP=DROP ID TIME AMT RATE ADDL II CMT EVID DV WT CENS=DROP" advan4.csv > "$WORK/advan4.mod"

PROBLEMS=("pheno:Examples/nlme/pheno.mod" "indometh:Examples/nlme/indometh.mod"
  "cart-stein-pred:Examples/nlme/cart-stein-pred.mod" "advan4:$WORK/advan4.mod"
  "pheno-sbml:Examples/nlme/pheno-sbml.json" "heros-ck:Examples/nlme/heros-ck.json")
[ "$DES" = 1 ] && PROBLEMS+=("cart-stein:Examples/nlme/cart-stein.mod")

for round in $(seq 1 "$REPEAT"); do
  echo "nlme_gradient: round $round of $REPEAT" >&2
  for entry in "${PROBLEMS[@]}"; do
    name="${entry%%:*}"
    model="${entry#*:}"
    for mode in sensitivities differences; do
      flag=()
      [ "$mode" = differences ] && flag=(--finite-differences)
      out="$WORK/runs/$name/$mode/$round"
      mkdir -p "$(dirname "$out")"
      "$BIN" nlme fit "$model" --threads 1 --npde-samples 0 --quiet "${flag[@]}" --out "$out" > "$out.log" 2>&1
      echo "  $name $mode: $(grep -m1 OFV "$out.log" || true)" >&2
    done
  done
done

SOURCE="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
python3 - "$WORK/runs" "$REPEAT" "$SOURCE" "$(nproc)" "$ROOT/Scripts/bench/results" "$DES" <<'EOF'
import json, os, statistics, sys, datetime, platform
runs, repeat, source, cores, results, des = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6] == "1"
labels = {
    "pheno": "pheno (ADVAN1, 59 subjects, 6 parameters)",
    "indometh": "Indometh ($PRED, 6 subjects, 8 parameters)",
    "cart-stein-pred": "CAR T, closed form ($PRED, M3, 60 subjects, 9 parameters)",
    "advan4": "two compartments, absorption (ADVAN4 TRANS4, 40 subjects, 9 parameters)",
    "pheno-sbml": "pheno, SBML (one-compartment.xml, 59 subjects, 6 parameters)",
    "heros-ck": "HEROS model, SBML (built-in, 6 subjects, 4 parameters)",
    "cart-stein": "CAR T, $DES (ADVAN6, M3, 60 subjects, 9 parameters)",
}
rows = []
for name in labels:
    d = os.path.join(runs, name)
    if not os.path.isdir(d):
        continue
    fits = {}
    for mode in ("sensitivities", "differences"):
        fits[mode] = [json.load(open(os.path.join(d, mode, str(r), "fit.json"))) for r in range(1, repeat + 1)]
    s, f = fits["sensitivities"][0], fits["differences"][0]
    def ses(x):
        out = []
        for key in ("theta", "omega", "sigma"):
            out += [v for v in (x.get("se") or {}).get(key) or [] if v]
        return out
    a, b = ses(s), ses(f)
    rows.append({
        "problem": name, "label": labels[name],
        "seconds_sensitivities": statistics.median(x["seconds"] for x in fits["sensitivities"]),
        "seconds_differences": statistics.median(x["seconds"] for x in fits["differences"]),
        "ofv_sensitivities": s["ofv"], "ofv_differences": f["ofv"],
        "status_sensitivities": s["status"], "status_differences": f["status"],
        "covariance_sensitivities": s.get("covariance_status", ""), "covariance_differences": f.get("covariance_status", ""),
        "max_se_difference": max((abs(x - y) / abs(y) for x, y in zip(a, b)), default=None) if len(a) == len(b) else None,
    })
doc = {"date": datetime.date.today().isoformat(), "source": source, "cores": cores, "repeat": repeat,
       "machine": platform.processor() or platform.machine(), "rows": rows}
os.makedirs(results, exist_ok=True)
json.dump(doc, open(os.path.join(results, "nlme_gradient.json"), "w"), indent=1)
lines = [
    "# `cartsim nlme fit`: sensitivities against finite differences", "",
    f"Median of {repeat} fits per mode, `--threads 1 --npde-samples 0`; {doc['date']}, {cores} cores, cartsim source {source}. "
    f"Made by `Scripts/bench/nlme_gradient.sh --repeat {repeat}{' --des' if des else ''}`. Seconds are fit.json's `seconds` "
    "(estimation and covariance step). Sensitivities: η-derivatives on jets, the analytic FOCE-I gradient, S from the subjects' "
    "gradients and R from differences of the gradient. Differences: `--finite-differences`.", "",
    "| problem | sensitivities (s) | differences (s) | speed-up | OFV, sensitivities | OFV, differences | largest SE difference |",
    "|---|---:|---:|---:|---:|---:|---:|",
]
for r in rows:
    se = "–" if r["max_se_difference"] is None else f"{100 * r['max_se_difference']:.2f}%"
    lines.append(f"| {r['label']} | {r['seconds_sensitivities']:.3f} | {r['seconds_differences']:.3f} | "
                 f"{r['seconds_differences'] / r['seconds_sensitivities']:.1f}× | {r['ofv_sensitivities']:.6f} | {r['ofv_differences']:.6f} | {se} |")
lines += ["", "Statuses, sensitivities / differences (where R is not positive definite, as for Indometh and heros-ck with a variance at 0, "
          "the standard errors mean nothing and their difference neither):", ""]
lines += [f"- {r['problem']}: {r['status_sensitivities']}; {r['covariance_sensitivities']} / {r['status_differences']}; "
          f"{r['covariance_differences']}" for r in rows]
open(os.path.join(results, "nlme_gradient.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
print("wrote Scripts/bench/results/nlme_gradient.json and nlme_gradient.md")
EOF

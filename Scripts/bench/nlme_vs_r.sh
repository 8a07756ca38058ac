#!/usr/bin/env bash
# `cartsim nlme fit` against R nlme: seconds per fit and the objective each reaches, on the two
# problems of Examples/nlme (pheno.mod, indometh.mod) and the same data in R (nlme_vs_r.R):
#
#   Scripts/bench/nlme_vs_r.sh [--repeat N]                   # builds cartsim (release) first
#   CARTSIM_BIN=.build/release/cartsim Scripts/bench/nlme_vs_r.sh --repeat 3    # uses that binary
#
# Each of the N rounds fits every problem once with R nlme (one Rscript process; the clock runs
# inside R around nlme() only, after one untimed fit, so R start-up, loading nlme and reading the
# data are not counted) and once with `cartsim nlme fit --threads 1` and `--threads 2`, both with
# `--npde-samples 0`. For cartsim both its own `seconds` from fit.json (estimation and covariance
# step; no NPDE simulations) and the wall time of the whole process (start-up, reading, the fit,
# sdtab.csv, $TABLE files and plots) are reported. The rounds alternate between the tools, so that a
# busy spell of the machine falls on both. Reported: the median over the rounds, and each tool's
# objective in NONMEM's convention (-2 log L without n log(2 pi); for R -2 logLik - n log(2 pi)).
#
# The pheno models differ: R fits nlme's phenoModel (Pinheiro & Bates 2000 §6.4: no weight or Apgar
# covariates, additive error), the control stream has both covariates and proportional error. The
# Indometh model is the same in both (Pinheiro & Bates §6.2).
#
# Writes Scripts/bench/results/nlme_vs_r.json and nlme_vs_r.md and prints the table.
# Needs R with nlme (Debian: r-base-core r-cran-nlme) and python3; missing Debian packages are
# installed with apt-get (as root, or with `sudo -n` if that works). Run it on an idle machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# a relative CARTSIM_BIN is relative to where the script was started from
if [[ -n "${CARTSIM_BIN:-}" && "$CARTSIM_BIN" == */* && "$CARTSIM_BIN" != /* ]]; then
  CARTSIM_BIN="$PWD/$CARTSIM_BIN"
fi
cd "$ROOT"

usage() {
  echo "usage: [CARTSIM_BIN=path/to/cartsim] Scripts/bench/nlme_vs_r.sh [--repeat N]  (N fits per tool and problem, default 5)"
}

REPEAT=5
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) [ $# -ge 2 ] || { usage >&2; exit 2; }; REPEAT="$2"; shift 2 ;;
    --repeat=*) REPEAT="${1#--repeat=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { echo "nlme_vs_r: --repeat needs a positive integer, not '$REPEAT'" >&2; exit 2; }

# R's recommended packages (r-recommended, r-base-dev, ...) are not needed, only nlme.
# shellcheck source=apt_install.sh
source "$ROOT/Scripts/bench/apt_install.sh"

# 1. R with nlme, and python3 (which writes the results)
Rscript -e 'library(nlme)' >/dev/null 2>&1 || apt_install nlme_vs_r --no-install-recommends -- r-base-core r-cran-nlme
command -v python3 >/dev/null 2>&1 || apt_install nlme_vs_r --no-install-recommends -- python3

# 2. The cartsim binary: CARTSIM_BIN, or a release build of the package
if [ -n "${CARTSIM_BIN:-}" ]; then
  BIN="$CARTSIM_BIN"
  BIN_LABEL="CARTSIM_BIN"
else
  swift build -c release --product cartsim
  BIN="$ROOT/.build/release/cartsim"
  BIN_LABEL=".build/release/cartsim (swift build -c release --product cartsim)"
fi
[ -x "$BIN" ] || { echo "nlme_vs_r: no executable cartsim at $BIN" >&2; exit 1; }

PROBLEMS=(pheno indometh)  # Examples/nlme/<problem>.mod; nlme_vs_r.R knows the same names
THREADS=(1 2)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/cartsim" Scripts/bench/results
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"

# Seconds since the epoch with microseconds (bash >= 5 has EPOCHREALTIME).
now() {
  if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi
}

# 3. The rounds. R's lines go to r.jsonl; each cartsim run leaves its folder (fit.json, log) and a
#    line "problem threads round exit-code start end" in cartsim.tsv.
for ((k = 1; k <= REPEAT; k++)); do
  echo "nlme_vs_r: round $k of $REPEAT" >&2
  # nlme is single-threaded; the variables keep an OpenBLAS, if R uses one, on one thread too
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 Rscript Scripts/bench/nlme_vs_r.R --repeat 1 >>"$WORK/r.jsonl"
  for problem in "${PROBLEMS[@]}"; do
    for threads in "${THREADS[@]}"; do
      out="$WORK/cartsim/$problem-t$threads-$k"
      start="$(now)"
      if "$BIN" nlme fit "Examples/nlme/$problem.mod" --threads "$threads" --npde-samples 0 --out "$out" \
        >"$out.log" 2>&1; then rc=0; else rc=$?; fi
      end="$(now)"
      echo "$problem $threads $k $rc $start $end" >>"$WORK/cartsim.tsv"
      if [ "$rc" -ne 0 ]; then
        echo "nlme_vs_r: cartsim failed on $problem (--threads $threads, exit $rc):" >&2
        cat "$out.log" >&2
      else
        echo "cartsim $problem --threads $threads: $(head -1 "$out.log")" >&2
      fi
    done
  done
done

# 4. Medians, the JSON record and the markdown table.
python3 - "$WORK" "$REPEAT" "$BIN_LABEL" "$("$BIN" --version 2>/dev/null || echo unknown)" \
  "$(git describe --always --dirty 2>/dev/null || echo unknown)" "$LOAD_BEFORE" <<'PY'
import json
import os
import platform
import statistics
import sys
import time

work, repeat, bin_label, cartsim_version, commit, load_before = sys.argv[1:]
repeat = int(repeat)

# What each problem is; how the two tools' models differ, in short for the table and in full below it.
PROBLEMS = {
    "pheno": (
        "pheno: phenobarbital, 59 neonates, 155 concentrations",
        "Not the same model: R has no weight or Apgar covariates and additive error; OFVs not comparable",
        "R fits fm1Pheno.nlme (Pinheiro & Bates §6.4, nlme's phenoModel): log CL and log V with diagonal "
        "random effects, no covariates, additive error, start (−5, 0). cartsim fits Examples/nlme/pheno.mod: "
        "CL and V proportional to weight, V shifted for Apgar < 5, exponential random effects, proportional "
        "error, FOCE-I. The data are the same (Examples/nlme/pheno.csv, checked against nlme::Phenobarb)."),
    "indometh": (
        "Indometh: indomethacin, 6 subjects, 66 concentrations",
        "Same model; R starts from nlsList() fits, cartsim from nlme's estimates rounded",
        "Both fit fm2Indom.nlme (Pinheiro & Bates §6.2) = Examples/nlme/indometh.mod: biexponential, diagonal "
        "random effects on A1, lrc1, A2, additive error. R starts from nlsList() fits (inside the timed call); "
        "cartsim (FOCE-I, equal to FOCE with additive error) from the control stream's initial estimates, "
        "which are nlme's estimates rounded. nlme's Lindstrom–Bates iterations stop short of the FOCE "
        "maximum, OFV −233.5294 on the boundary sd(lrc1) = 0 (../shared/estimation/indometh/reference.md)."),
}
THREADS = [1, 2]

# R: one session line and one fit line per problem from each round's Rscript process.
r_session, r_fits = None, {p: [] for p in PROBLEMS}
with open(os.path.join(work, "r.jsonl")) as f:
    for line in f:
        d = json.loads(line)
        if d["kind"] == "session":
            r_session = r_session or {k: v for k, v in d.items() if k != "kind"}
        else:
            r_fits[d["problem"]].append(d)

# cartsim: the wall clock from cartsim.tsv, everything else from each run's fit.json.
runs = {(p, t): [] for p in PROBLEMS for t in THREADS}
with open(os.path.join(work, "cartsim.tsv")) as f:
    for line in f:
        problem, threads, k, rc, start, end = line.split()
        run = {"round": int(k), "exit_code": int(rc), "wall_seconds": float(end) - float(start)}
        path = os.path.join(work, "cartsim", f"{problem}-t{threads}-{k}", "fit.json")
        if run["exit_code"] == 0 and os.path.exists(path):
            with open(path) as g:
                fit = json.load(g)
            for key in ("seconds", "ofv", "ofv_with_constant", "method", "status", "minimization_successful",
                        "evaluations", "covariance_status", "theta", "omega", "sigma"):
                run[key] = fit.get(key)
        runs[(problem, int(threads))].append(run)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    values = [v for v in values if v is not None]
    return max(values) - min(values) if values else None


rows = []
for name, (label, short_note, note) in PROBLEMS.items():
    ok = [d for d in r_fits[name] if "error" not in d]
    r = {"seconds": [d["seconds"] for d in r_fits[name]],
         "median_seconds": median([d["seconds"] for d in ok]),
         "min_seconds": min([d["seconds"] for d in ok], default=None),
         "failures": [d["error"] for d in r_fits[name] if "error" in d],
         "warnings": sorted({w for d in r_fits[name] for w in d["warnings"]})}
    if ok:
        first = ok[0]
        r.update({k: first[k] for k in ("n_obs", "logLik", "ofv", "fixed", "random_sd", "residual_sd", "iterations")})
        r["ofv_spread"] = spread([d["ofv"] for d in ok])
    row = {"problem": name, "label": label, "model_difference": short_note, "model_notes": note,
           "r_nlme": r, "cartsim": {}}
    for t in THREADS:
        c_runs = runs[(name, t)]
        done = [c for c in c_runs if "seconds" in c]
        c = {"median_seconds": median([c["seconds"] for c in done]),
             "median_wall_seconds": median([c["wall_seconds"] for c in done]),
             "min_seconds": min([c["seconds"] for c in done], default=None),
             "min_wall_seconds": min([c["wall_seconds"] for c in done], default=None),
             "failures": len(c_runs) - len(done), "runs": c_runs}
        if done:
            c.update({k: done[0][k] for k in ("ofv", "method", "status", "evaluations", "covariance_status")})
            c["ofv_spread"] = spread([d["ofv"] for d in done])
        row["cartsim"][f"threads_{t}"] = c
    rows.append(row)


def cell_seconds(s, wall=None, failures=0):
    if s is None:
        return "failed"
    text = f"{s:.3f}" + (f" (wall {wall:.3f})" if wall is not None else "")
    return text + (f", {failures} of {repeat} failed" if failures else "")


def cell_ofv(*values):
    """The OFV; two values when the runs with 1 and 2 threads disagree (they should not)."""
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if max(values) - min(values) > 1e-6:
        return " / ".join(f"{v:.4f}" for v in values)
    return f"{values[0]:.4f}"


cpu = platform.processor() or platform.machine()
try:
    with open("/proc/cpuinfo") as f:
        cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
except (OSError, StopIteration):
    pass
date = time.strftime("%Y-%m-%d")
rs = r_session or {}

md = [
    "# `cartsim nlme fit` against R nlme",
    "",
    f"Seconds per fit, median of {repeat} run{'s' if repeat > 1 else ''}; {date}, {cpu}, {os.cpu_count()} cores "
    f"(load average before the runs: {load_before}); every run, and the fastest, in nlme_vs_r.json. "
    f"Made by `Scripts/bench/nlme_vs_r.sh --repeat {repeat}`.",
    "",
    f"- R nlme: {rs.get('R', '?')}, nlme {rs.get('nlme', '?')}, BLAS {rs.get('blas', '?')}; maximum likelihood "
    "(`method = \"ML\"`, Lindstrom–Bates), one thread. Timed inside R around the `nlme()` call only (R start-up, "
    "loading nlme and the data are not counted; one untimed fit first). nlme's standard errors come out of the "
    "fit itself; there is no separate covariance step.",
    f"- cartsim {cartsim_version} (source {commit}): `cartsim nlme fit MODEL.mod --threads T --npde-samples 0`. "
    "The number is fit.json's `seconds`: estimation plus covariance step (sandwich), without NPDE simulations; "
    "in parentheses the wall time of the whole process (start-up, reading, the fit, sdtab.csv, $TABLE files, plots).",
    "- OFV in NONMEM's convention, −2 log L without n·log 2π; for R −2·logLik − n·log(2π).",
    "",
    "| problem | model difference | R nlme (s) | cartsim (s), 1 thread | cartsim (s), 2 threads | R OFV | cartsim OFV |",
    "|---|---|---:|---:|---:|---:|---:|",
]
for row in rows:
    r, c1, c2 = row["r_nlme"], row["cartsim"]["threads_1"], row["cartsim"]["threads_2"]
    md.append("| " + " | ".join([
        row["label"], row["model_difference"],
        cell_seconds(r["median_seconds"], failures=len(r["failures"])),
        cell_seconds(c1["median_seconds"], c1["median_wall_seconds"], c1["failures"]),
        cell_seconds(c2["median_seconds"], c2["median_wall_seconds"], c2["failures"]),
        cell_ofv(r.get("ofv")), cell_ofv(c1.get("ofv"), c2.get("ofv"))]) + " |")
md += ["", "Models and runs:", ""]
for row in rows:
    r, c = row["r_nlme"], row["cartsim"]["threads_1"]
    text = f"- {row['problem']}: {row['model_notes']} R nlme: "
    text += f"{r['iterations']} iterations" if "iterations" in r else "did not fit"
    if r["failures"]:
        text += f"; {len(r['failures'])} of {repeat} fits failed: {r['failures'][0]}"
    if r["warnings"]:
        text += "; warnings: " + "; ".join(r["warnings"])
    if "status" in c:
        text += f". cartsim {c['method']}: {c['status']}, {c['evaluations']} evaluations"
        if c.get("covariance_status"):
            text += f", {c['covariance_status']}"
    else:
        text += ". cartsim failed"
    md.append(text + ".")

doc = {
    "command_line": f"Scripts/bench/nlme_vs_r.sh --repeat {repeat}",
    "date": date,
    "machine": {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
                "load_average_before": load_before},
    "repeat": repeat,
    "r": rs,
    "cartsim": {"binary": bin_label, "version": cartsim_version, "source": commit,
                "options": "--threads T --npde-samples 0"},
    "ofv_convention": "NONMEM: -2 log L without n log(2 pi); R: -2 logLik - n log(2 pi)",
    "rows": rows,
    "table_markdown": "\n".join(md),
}
os.makedirs("Scripts/bench/results", exist_ok=True)
with open("Scripts/bench/results/nlme_vs_r.json", "w") as f:
    json.dump(doc, f, indent=1, ensure_ascii=False)
    f.write("\n")
with open("Scripts/bench/results/nlme_vs_r.md", "w") as f:
    f.write("\n".join(md) + "\n")
print("\n".join(md))
print("\nwrote Scripts/bench/results/nlme_vs_r.json and nlme_vs_r.md", file=sys.stderr)
PY

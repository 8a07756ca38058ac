#!/usr/bin/env python3
"""Forward sensitivities against the adjoint method: wall time of one objective evaluation with
its gradient, as the number of parameters grows.

Problems: the two PEtab benchmark problems of ../shared/petab-benchmarks (Boehm: 8 states, 9
parameters; Fujita: 9 states, 19 parameters) and generated chains of N species
(X_0 -> X_1 -> ... -> X_{N-1}, each X_i also cleared by saturable degradation), with 3N - 1
estimated parameters (k_i, d_i, K_i on log10 scale) and every fourth species observed at ten times.
For each problem and method, `cartsim petab simulate PROBLEM --gradient METHOD --repeat R` reports
the median time of R evaluations at the nominal parameters; the script also reports how far the two
gradients are apart (max |adjoint - forward| / max |forward|).

Then whole fits: for each of --fit-sizes, the chain's data are replaced by its simulation at the
nominal parameters plus normal noise (sd 0.1, seed 1), and `cartsim fit --starts S --seed 0
--threads 2` runs with each method (forward: Fisher information / BFGS hybrid; adjoint: BFGS).

    swift build -c release --product cartsim
    python3 Scripts/bench/adjoint_gradient.py [--sizes 5,10,20,40,80] [--repeat 5] \
        [--fit-sizes 40] [--fit-starts 2] [--out Scripts/bench/results/adjoint_gradient.json]

Uses only the Python standard library; one core (the evaluation is single-threaded).
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "petab-benchmarks")


def chain_problem(n, folder):
    """Writes the chain problem with n species into folder; returns the yaml path."""
    species, reactions, params = [], [], []
    for i in range(n):
        species.append(
            f'<species id="X{i}" compartment="c" initialAmount="{10 if i == 0 else 0}" '
            'hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>')
        params += [(f"d{i}", 0.05 + 0.01 * (i % 5)), (f"K{i}", 1.0 + 0.1 * (i % 3))]
        reactions.append(
            f'<reaction id="clear{i}" reversible="false"><listOfReactants>'
            f'<speciesReference species="X{i}" stoichiometry="1" constant="true"/></listOfReactants>'
            '<kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><divide/>'
            f'<apply><times/><ci>d{i}</ci><ci>X{i}</ci></apply><apply><plus/><ci>K{i}</ci><ci>X{i}</ci></apply>'
            '</apply></math></kineticLaw></reaction>')
        if i + 1 < n:
            params.append((f"k{i}", 0.5 + 0.1 * (i % 4)))
            reactions.append(
                f'<reaction id="step{i}" reversible="false"><listOfReactants>'
                f'<speciesReference species="X{i}" stoichiometry="1" constant="true"/></listOfReactants>'
                f'<listOfProducts><speciesReference species="X{i + 1}" stoichiometry="1" constant="true"/></listOfProducts>'
                '<kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/>'
                f'<ci>k{i}</ci><ci>X{i}</ci></apply></math></kineticLaw></reaction>')
    parameter_xml = "".join(f'<parameter id="{p}" value="{v}" constant="true"/>' for p, v in params)
    sbml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">'
        f'<model id="chain{n}"><listOfCompartments><compartment id="c" size="1" constant="true"/></listOfCompartments>'
        f'<listOfSpecies>{"".join(species)}</listOfSpecies><listOfParameters>{parameter_xml}</listOfParameters>'
        f'<listOfReactions>{"".join(reactions)}</listOfReactions></model></sbml>\n')
    observed = sorted(set(range(0, n, 4)) | {n - 1})
    files = {
        "model.xml": sbml,
        "conditions.tsv": "conditionId\nc0\n",
        "observables.tsv": "observableId\tobservableFormula\tnoiseFormula\tnoiseDistribution\n"
        + "".join(f"obs{i}\tX{i}\t0.1\tnormal\n" for i in observed),
        "measurements.tsv": "observableId\tsimulationConditionId\ttime\tmeasurement\n"
        + "".join(f"obs{i}\tc0\t{t}\t{1 + 0.05 * ((i + t) % 7)}\n" for i in observed for t in range(1, 11)),
        "parameters.tsv": "parameterId\tparameterScale\tlowerBound\tupperBound\tnominalValue\testimate\n"
        + "".join(f"{p}\tlog10\t{v / 100}\t{v * 100}\t{v}\t1\n" for p, v in params),
        "problem.yaml": "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n"
        "  - condition_files: [conditions.tsv]\n    measurement_files: [measurements.tsv]\n"
        "    observable_files: [observables.tsv]\n    sbml_files: [model.xml]\n",
    }
    for name, text in files.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)
    return os.path.join(folder, "problem.yaml"), len(params)


def simulated_data(cartsim, problem, work, seed=1):
    """Replaces the problem's measurements by its simulation at the nominal parameters plus noise."""
    import csv
    import random
    out = os.path.join(work, "nominal")
    subprocess.run([cartsim, "petab", "simulate", problem, "--out", out], check=True, stdout=subprocess.DEVNULL)
    rng = random.Random(seed)
    with open(os.path.join(out, "simulations.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    with open(os.path.join(os.path.dirname(problem), "measurements.tsv"), "w") as f:
        f.write("observableId\tsimulationConditionId\ttime\tmeasurement\n")
        for r in rows:
            f.write(f"{r['observableId']}\t{r['simulationConditionId']}\t{r['time']}\t"
                    f"{float(r['simulation']) + rng.gauss(0, 0.1)}\n")


def fit(cartsim, problem, method, starts, work):
    out = os.path.join(work, f"fit-{method}")
    began = time.time()
    subprocess.run(
        [cartsim, "fit", problem, "--starts", str(starts), "--seed", "0", "--threads", "2",
         "--sensitivities", method, "--out", out, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    seconds = time.time() - began
    with open(os.path.join(out, "fit.json")) as f:
        doc = json.load(f)
    return {"seconds": seconds, "best_nllh": doc["best_nllh"],
            "gradient_evaluations": sum(s["gradient_evaluations"] for s in doc["starts"])}


def gradient(cartsim, problem, method, repeats, work):
    out = os.path.join(work, f"out-{method}")
    subprocess.run(
        [cartsim, "petab", "simulate", problem, "--out", out, "--gradient", method, "--repeat", str(repeats)],
        check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "result.json")) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cartsim", default=os.path.join(ROOT, ".build", "release", "cartsim"))
    ap.add_argument("--sizes", default="5,10,20,40,80", help="chain lengths (species)")
    ap.add_argument("--repeat", type=int, default=5, help="evaluations per method; the median is reported")
    ap.add_argument("--fit-sizes", default="40", help="chain lengths to fit with both methods (empty: none)")
    ap.add_argument("--fit-starts", type=int, default=2)
    ap.add_argument("--out", help="write the results as JSON here (and a markdown table beside it)")
    args = ap.parse_args()
    if not os.access(args.cartsim, os.X_OK):
        sys.exit(f"adjoint_gradient: no executable {args.cartsim} (swift build -c release --product cartsim)")

    problems = []
    for name, states in (("Boehm_JProteomeRes2014", 8), ("Fujita_SciSignal2010", 9)):
        problems.append((name, states, None, os.path.join(SHARED, name, f"{name}.yaml")))
    rows, fits = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",") if s]:
            folder = os.path.join(tmp, f"chain{n}")
            os.makedirs(folder)
            path, count = chain_problem(n, folder)
            problems.append((f"chain, {n} species", n, count, path))
        for name, states, count, path in problems:
            work = tempfile.mkdtemp(dir=tmp)
            fwd = gradient(args.cartsim, path, "forward", args.repeat, work)
            adj = gradient(args.cartsim, path, "adjoint", args.repeat, work)
            gf, ga = fwd["gradient"], adj["gradient"]
            scale = max(abs(v) for v in gf.values()) or 1
            rows.append({
                "problem": name, "states": states, "parameters": count or len(gf),
                "forward_seconds": fwd["gradient_seconds"], "adjoint_seconds": adj["gradient_seconds"],
                "speedup": fwd["gradient_seconds"] / adj["gradient_seconds"],
                "max_relative_difference": max(abs(ga[k] - gf[k]) for k in gf) / scale,
            })
            r = rows[-1]
            print(f"{name}: {r['parameters']} parameters, forward {1e3 * r['forward_seconds']:.2f} ms, "
                  f"adjoint {1e3 * r['adjoint_seconds']:.2f} ms ({r['speedup']:.2f}x), "
                  f"difference {r['max_relative_difference']:.1e}", flush=True)
        for n in [int(s) for s in args.fit_sizes.split(",") if s]:
            folder = os.path.join(tmp, f"fit-chain{n}")
            os.makedirs(folder)
            path, count = chain_problem(n, folder)
            simulated_data(args.cartsim, path, folder)
            row = {"problem": f"chain, {n} species, simulated data", "parameters": count, "starts": args.fit_starts}
            for method in ("forward", "adjoint"):
                row[method] = fit(args.cartsim, path, method, args.fit_starts, folder)
            fits.append(row)
            print(f"fit {row['problem']}: " + ", ".join(
                f"{m} {row[m]['seconds']:.1f} s, best nllh {row[m]['best_nllh']:.4f}, "
                f"{row[m]['gradient_evaluations']} gradients" for m in ("forward", "adjoint")), flush=True)

    table = ["| problem | states | parameters | forward (ms) | adjoint (ms) | forward / adjoint | max gradient difference |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        table.append(f"| {r['problem']} | {r['states']} | {r['parameters']} | {1e3 * r['forward_seconds']:.2f} | "
                     f"{1e3 * r['adjoint_seconds']:.2f} | {r['speedup']:.2f}× | {r['max_relative_difference']:.1e} |")
    if fits:
        table += ["", "| fit | parameters | starts | forward: s, best nllh, gradients | adjoint: s, best nllh, gradients |",
                  "|---|---:|---:|---|---|"]
        for r in fits:
            cells = [f"{r[m]['seconds']:.1f} s, {r[m]['best_nllh']:.3f}, {r[m]['gradient_evaluations']}"
                     for m in ("forward", "adjoint")]
            table.append(f"| {r['problem']} | {r['parameters']} | {r['starts']} | {cells[0]} | {cells[1]} |")
    print("\n".join(table))
    if args.out:
        doc = {"command_line": "python3 Scripts/bench/adjoint_gradient.py " + " ".join(sys.argv[1:]),
               "date": time.strftime("%Y-%m-%d"), "machine": platform.machine() + ", " + platform.processor(),
               "cpus": os.cpu_count(), "repeat": args.repeat, "rows": rows, "fits": fits, "table_markdown": "\n".join(table)}
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1)
        with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
            f.write("\n".join(table) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Do the coverage study's simulator and CARTSim's own simulation give the same data, and how low
is FOCE-I's σ² at the truth on one design?

The coverage study (nlme_coverage.py) simulates its studies with Scripts/nlme/simulate_stein.py,
an implementation independent of CARTSim. This script takes one of those studies' designs (seed
--design-seed: its patients, sample times and limit) and simulates --replicates datasets on it from
the true parameters in two ways:

- python: simulate_stein's model (its concentration function, η and ε drawn with NumPy);
- cartsim: `cartsim nlme simulate MODEL --data DESIGN --from TRUTH --replicates R`.

It compares the two sets of simulated values (before censoring): per observation their mean and
SD, and over the pairs of observations of one patient their covariance, as z-scores of the
differences. Then it fits the first --fits datasets of each set with `cartsim nlme fit` (from the
control stream's start values, censored values by M3) and reports the mean estimate of σ² and of
the IIV variances with their Monte Carlo standard errors.

    python3 Scripts/bench/nlme_simulator_check.py --replicates 2000 --fits 100
"""

import argparse
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Scripts", "nlme"))
import simulate_stein  # noqa: E402


def truth_fit_json(path):
    """A fit.json holding the true parameters, for `--from`."""
    t = simulate_stein.true_parameters()
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"theta": t["theta"], "omega": t["omega"], "sigma": t["sigma"]}, f)


def python_values(design, replicates, seed):
    """Simulated log values (replicates × observations) of simulate_stein's model on the design."""
    rng = np.random.default_rng(seed)
    subjects = {}
    for r in design:
        subjects.setdefault(r["ID"], []).append(r)
    out = []
    for _ in range(replicates):
        ys = []
        for recs in subjects.values():
            eta = {k: rng.normal(0.0, math.sqrt(v)) for k, v in simulate_stein.OMEGA.items()}
            p = {k: simulate_stein.TRUTH[k] * math.exp(eta.get(k, 0.0)) for k in simulate_stein.MODEL_ORDER}
            times = [float(r["TIME"]) for r in recs if r["EVID"] == "0"]
            c = simulate_stein.concentration(times, p["CMAX"], p["TMAX"], p["FOLDX"], p["ALPHA"], p["FB"], p["BETA"])
            ys += list(np.log(c) + rng.normal(0.0, simulate_stein.SIGMA_SD, size=len(times)))
        out.append(ys)
    return np.array(out)


def write_dataset(design, values, path):
    """The design with these values, censored below the limit (DV = LOG(LLOQ), CENS = 1)."""
    limit = math.log(simulate_stein.LLOQ)
    k = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("ID,TIME,DV,MDV,EVID,AMT,CMT,CENS,NTIME\n")
        for r in design:
            if r["EVID"] != "0":
                f.write(f"{r['ID']},{r['TIME']},0,1,1,0,1,0,0\n")
                continue
            y = values[k]
            k += 1
            censored = y < limit
            f.write(f"{r['ID']},{r['TIME']},{(limit if censored else y):.6f},0,0,0,1,{int(censored)},{r['NTIME']}\n")


def fit_variances(args, model, data, out):
    """σ² and the IIV variances of a successful fit, or None."""
    p = subprocess.run(
        [args.cartsim, "nlme", "fit", model, "--data", data, "--npde-samples", "0", "--no-covariance", "--threads", str(args.threads),
         "--out", out, "--quiet"],
        capture_output=True, text=True)
    path = os.path.join(out, "fit.json")
    if p.returncode != 0 or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        fit = json.load(f)
    if not fit["minimization_successful"]:
        return None
    return [fit["sigma"][0], fit["omega"][0], fit["omega"][2], fit["omega"][5]]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--design-seed", type=int, default=1, help="the coverage study's seed whose design is used (default 1)")
    ap.add_argument("--replicates", type=int, default=2000, help="datasets simulated each way (default 2000)")
    ap.add_argument("--fits", type=int, default=100, help="datasets of each way fitted (default 100)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default=os.path.join(ROOT, "Examples", "nlme", "cart-stein-pred.mod"))
    ap.add_argument("--cartsim", default=os.path.join(ROOT, ".build", "release", "cartsim"))
    a = ap.parse_args(argv)
    if not (1 <= a.fits <= a.replicates <= 100_000):
        ap.error("need 1 ≤ --fits ≤ --replicates ≤ 100000")
    if not os.access(a.cartsim, os.X_OK):
        ap.error(f"no executable cartsim at {a.cartsim} (swift build -c release --product cartsim)")
    work = tempfile.mkdtemp(prefix="cartsim-simulator-check-")
    try:
        rows, _, _ = simulate_stein.simulate(a.design_seed, 60)
        design_path = os.path.join(work, "design.csv")
        simulate_stein.write_csv(rows, design_path)
        with open(design_path, encoding="utf-8") as f:
            design = list(csv.DictReader(f))
        truth = os.path.join(work, "truth.json")
        truth_fit_json(truth)
        sim_path = os.path.join(work, "cartsim.csv")
        subprocess.run(
            [a.cartsim, "nlme", "simulate", a.model, "--data", design_path, "--from", truth, "--replicates", str(a.replicates),
             "--threads", str(a.threads), "--out", sim_path], check=True, capture_output=True)
        with open(sim_path, encoding="utf-8") as f:
            sims = [r for r in csv.DictReader(f) if r["EVID"] == "0"]
        cartsim = np.array([float(r["DV"]) for r in sims]).reshape(a.replicates, -1)
        python = python_values(design, a.replicates, seed=1_000_003)
        r = a.replicates
        m1, m2, s1, s2 = python.mean(0), cartsim.mean(0), python.std(0, ddof=1), cartsim.std(0, ddof=1)
        z_mean = (m1 - m2) / np.sqrt((s1**2 + s2**2) / r)
        z_sd = (s1 - s2) / np.sqrt((s1**2 + s2**2) / (2 * r))
        ids = [x["ID"] for x in design if x["EVID"] == "0"]
        c1, c2 = np.cov(python.T), np.cov(cartsim.T)
        pairs = [(j, k) for j in range(len(ids)) for k in range(j + 1, len(ids)) if ids[j] == ids[k]]
        # The SE of a covariance estimate: √((σ_jj σ_kk + σ_jk²)/(R − 1)) for normal values.
        z_cov = [(c1[j, k] - c2[j, k]) / math.sqrt(sum((c[j, j] * c[k, k] + c[j, k] ** 2) / (r - 1) for c in (c1, c2))) for j, k in pairs]
        print(f"design: seed {a.design_seed}, {len(ids)} observations; {r} datasets simulated each way")
        print(f"per-observation mean, python − cartsim: z mean {z_mean.mean():+.3f}, largest |z| {abs(z_mean).max():.2f}")
        print(f"per-observation SD: z mean {z_sd.mean():+.3f}, largest |z| {abs(z_sd).max():.2f}")
        print(f"within-patient covariances ({len(pairs)}): z mean {statistics.fmean(z_cov):+.3f}, largest |z| {max(map(abs, z_cov)):.2f}")
        model = os.path.join(work, os.path.basename(a.model))
        shutil.copyfile(a.model, model)
        names = ["SIGMA(1,1)", "OMEGA(1,1)", "OMEGA(2,2)", "OMEGA(3,3)"]
        true = [simulate_stein.true_parameters()["sigma"][0], 0.65, 0.4, 0.5]
        for label, values in (("python", python), ("cartsim", cartsim)):
            fits = []
            for i in range(a.fits):
                data = os.path.join(work, f"{label}{i}.csv")
                write_dataset(design, values[i], data)
                v = fit_variances(a, model, data, os.path.join(work, f"{label}{i}"))
                if v:
                    fits.append(v)
            line = f"{label}: {len(fits)} of {a.fits} fits successful;"
            for k, name in enumerate(names):
                est = [f[k] for f in fits]
                mean = statistics.fmean(est)
                se = statistics.stdev(est) / math.sqrt(len(est))
                line += f" {name} {100 * (mean / true[k] - 1):+.1f}% (±{100 * se / true[k]:.1f}%)"
            print(line, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

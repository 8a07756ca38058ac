"""Calculation verification of the trial endpoints: runs the HEROS trial (Examples/) with every
arm's solver tolerance set to each of several values and compares the same virtual patients'
endpoints with those at the tightest tolerance.

    swift build -c release --product cartsim
    python3 Scripts/bench/tolerance_study.py [--patients 200] [--rtols 1e-4,1e-6,1e-8]

Prints, per tolerance and arm, how many patients' categorical endpoints (best response, CRS
grade, DLT, infusions given, expanded infusions) differ from the tightest run, and the largest
relative difference of Cmax and persistence."""
import argparse, csv, json, os, shutil, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ap = argparse.ArgumentParser()
ap.add_argument("--patients", type=int, default=200)
ap.add_argument("--rtols", default="1e-4,1e-6,1e-8")
ap.add_argument("--bin", default=os.path.join(root, ".build", "release", "cartsim"))
args = ap.parse_args()
rtols = [float(x) for x in args.rtols.split(",")]
tight = min(rtols)
work = tempfile.mkdtemp(prefix="cartsim-tolerance-")
runs = {}
try:
    for rtol in rtols:
        d = os.path.join(work, f"rtol{rtol:g}")
        os.makedirs(d)
        for f in os.listdir(os.path.join(root, "Examples")):
            if not f.endswith(".json"):
                continue
            s = json.load(open(os.path.join(root, "Examples", f)))
            if "simulation" in s:
                s["simulation"]["rtol"] = rtol
            json.dump(s, open(os.path.join(d, f), "w"))
        out = os.path.join(d, "out")
        subprocess.run([args.bin, "trial", os.path.join(d, "heros-trial.json"), "--patients", str(args.patients),
                        "--out", out, "--quiet"], check=True, stdout=subprocess.DEVNULL)
        runs[rtol] = list(csv.DictReader(open(os.path.join(out, "patients.csv"))))
    ref = runs[tight]
    cats = ["best_response", "crs_grade", "dlt", "infusions", "expanded_infusions"]
    print(f"{args.patients} patients per arm; reference rtol {tight:g}")
    print("| rtol | arm | patients with any categorical endpoint changed | best response | CRS grade | DLT | infusions | max rel. diff Cmax | max rel. diff persistence |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rtol in rtols:
        if rtol == tight:
            continue
        arms = sorted(set(r["arm"] for r in ref), key=[r["arm"] for r in ref].index)
        for arm in arms:
            a = [r for r in runs[rtol] if r["arm"] == arm]
            b = [r for r in ref if r["arm"] == arm]
            changed = sum(any(x[c] != y[c] for c in cats) for x, y in zip(a, b))
            per = {c: sum(x[c] != y[c] for x, y in zip(a, b)) for c in cats}
            def rel(col):
                m = 0.0
                for x, y in zip(a, b):
                    if x[col] and y[col] and float(y[col]) != 0:
                        m = max(m, abs(float(x[col]) - float(y[col])) / abs(float(y[col])))
                return m
            print(f"| {rtol:g} | {arm} | {changed} of {len(a)} | {per['best_response']} | {per['crs_grade']} | {per['dlt']} | {per['infusions']} | {rel('cmax_cells_per_uL'):.1e} | {rel('car_t_persistence_days'):.1e} |")
finally:
    shutil.rmtree(work, ignore_errors=True)

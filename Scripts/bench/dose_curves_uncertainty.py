"""Dose-toxicity and dose-response curves of the calibrated HEROS model with their parameter
uncertainty: `cartsim design --from-model` run once per posterior particle (each run gives all
its virtual patients that particle's typical values), then the median and central 90% over the
particles, beside the posterior-predictive curve (every patient its own particle).

    swift build -c release --product cartsim
    python3 Scripts/bench/dose_curves_uncertainty.py [--particles 20] [--patients 100]
        [--arm "HEROS 2.0 cohort C"] [--doses 1e7,3e7,1e8,3e8,1e9] [--basis car_t_cells_per_m2]"""
import argparse, json, os, re, shutil, statistics, subprocess, tempfile

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ap = argparse.ArgumentParser()
ap.add_argument("--particles", type=int, default=20)
ap.add_argument("--patients", type=int, default=100)
ap.add_argument("--arm", default="HEROS 2.0 cohort C")
ap.add_argument("--doses", default="1e7,3e7,1e8,3e8,1e9")
ap.add_argument("--basis", default="car_t_cells_per_m2")
ap.add_argument("--bin", default=os.path.join(root, ".build", "release", "cartsim"))
args = ap.parse_args()


def curves(spec_dir):
    out = subprocess.run([args.bin, "design", "oc", "--design", "boin", "--target", "0.25", "--from-model",
                          os.path.join(spec_dir, "heros-trial.json"), "--arm", args.arm, "--dose-levels", args.doses,
                          "--dose-basis", args.basis, "--model-patients", str(args.patients), "--cohort-size", "3",
                          "--cohorts", "2", "--trials", "10", "--seed", "1"], check=True, capture_output=True, text=True).stdout
    def row(name):
        line = next(l for l in out.splitlines() if l.startswith(name))
        return [float(x) for x in re.findall(r"[0-9.]+(?:e[-+]?[0-9]+)?", line[len(name):])]
    return row("P(DLT)"), row("P(response)")


work = tempfile.mkdtemp(prefix="cartsim-dose-curves-")
try:
    for f in os.listdir(os.path.join(root, "Examples")):
        shutil.copy(os.path.join(root, "Examples", f), work)
    calibration = json.load(open(os.path.join(work, "heros-calibration.json")))
    sample = calibration["posterior_sample"]["values"]
    marginal = curves(work)
    per = []
    step = max(1, len(sample) // args.particles)
    for j in range(0, min(len(sample), step * args.particles), step):
        c = dict(calibration)
        c["posterior_sample"] = {"names": calibration["posterior_sample"]["names"], "values": [sample[j]]}
        json.dump(c, open(os.path.join(work, "heros-calibration.json"), "w"))
        per.append(curves(work))
    doses = args.doses.split(",")
    print(f"{args.arm}, doses in {args.basis}; {len(per)} posterior particles x {args.patients} virtual patients per dose")
    print("| dose | P(DLT) posterior-predictive | P(DLT) median over particles (5-95%) | P(response) posterior-predictive | P(response) median (5-95%) |")
    print("|---|---|---|---|---|")
    for i, d in enumerate(doses):
        def q(k):
            xs = sorted(p[k][i] for p in per)
            return xs[int(0.05 * (len(xs) - 1))], statistics.median(xs), xs[int(round(0.95 * (len(xs) - 1)))]
        lo, med, hi = q(0)
        rlo, rmed, rhi = q(1)
        print(f"| {d} | {marginal[0][i]:.3f} | {med:.3f} ({lo:.3f}-{hi:.3f}) | {marginal[1][i]:.3f} | {rmed:.3f} ({rlo:.3f}-{rhi:.3f}) |")
finally:
    shutil.rmtree(work, ignore_errors=True)

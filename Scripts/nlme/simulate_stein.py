#!/usr/bin/env python3
"""Simulate one population CAR T cellular-kinetics study from the Stein et al. 2019 model.

The model (Stein et al. 2019, CPT:PSP 8:285-295; ../shared/reference/car-t-models.md section 1.1),
in transgene copies per microgram of genomic DNA, time in days:

    t < Tmax:   C(t) = Cmax * exp(rho * (t - Tmax)),  rho = ln(foldx) / Tmax
    t >= Tmax:  C(t) = (1 - FB) * Cmax * exp(-alpha * (t - Tmax)) + FB * Cmax * exp(-beta * (t - Tmax))

(the closed form of dE/dt = rho*E before Tmax, dE/dt = -alpha*E and dM/dt = k*E - beta*M with
k = FB*(alpha - beta) after it, E(0) = Cmax/foldx, M(Tmax) = 0, C = E + M). Log-normal inter-
individual variability on Cmax, alpha and FB; residual error additive on the log scale (SD 0.56).

This is an implementation independent of CARTSim (closed form, numpy only). It writes one study as a
NONMEM-style CSV with the columns ID,TIME,DV,MDV,EVID,AMT,CMT,CENS,NTIME:
- one record per patient at TIME 0 (EVID 1, AMT 0, MDV 1) where the system starts;
- observation records with DV = ln(copies/ug); a value below the assay's lower limit of
  quantification has CENS = 1 and DV = ln(LLOQ) (NONMEM's M3 convention).
The first line is a header (NM-TRAN's IGNORE=@ skips it). The same seed gives the same file.

    python3 Scripts/nlme/simulate_stein.py --seed 1 --subjects 60 --out Examples/nlme/cart-stein.csv
"""

import argparse
import math
import os
import sys

import numpy as np

# True values. Typical values, residual SD and the Cmax variance are Stein et al. 2019 Table 1 (as in
# ../shared/reference/car-t-models.md section 1.1, read from nlmixr2lib's encoding of the paper).
TRUTH = {
    "CMAX": 24000.0,  # peak, copies/ug (Stein 2019)
    "TMAX": 9.3,  # time of the peak, days (Stein 2019)
    "FOLDX": 3900.0,  # fold expansion Cmax/E(0) (Stein 2019)
    "ALPHA": 0.16,  # fast contraction, 1/day (Stein 2019)
    "FB": 0.0079,  # fraction of Cmax in the slow (memory) phase (Stein 2019)
    "BETA": 0.0032,  # slow decline, 1/day (Stein 2019)
}
# Variances of the log-normal random effects. Cmax keeps Stein's 0.65; alpha and FB get moderate
# variances (Stein: 0.91 and 0.80) so that 60 patients with 6-8 samples estimate them; Tmax, foldx and
# beta have no inter-individual variability in this design (see Scripts/bench/results/nlme_coverage_notes.md).
OMEGA = {"CMAX": 0.65, "ALPHA": 0.4, "FB": 0.5}
SIGMA_SD = 0.56  # residual SD on the log scale (Stein 2019)

# THETA of the control streams Examples/nlme/cart-stein.mod and cart-stein-pred.mod, in order: the
# model parameters, except that the fold expansion enters as its logarithm, THETA(3) = LOG(FOLDX)
# (the data inform log C, which is linear in LOG(FOLDX), so its estimate is close to normal).
THETA_ORDER = ["CMAX", "TMAX", "LFOLDX", "ALPHA", "FB", "BETA"]
MODEL_ORDER = ["CMAX", "TMAX", "FOLDX", "ALPHA", "FB", "BETA"]
ETA_ORDER = ["CMAX", "ALPHA", "FB"]

# Assay lower limit of quantification, copies/ug gDNA: chosen so that about a third of the values lie
# below it (33.6% on average over seeds 1-50, 28.1-38.9%).
LLOQ = 150.0

# The qPCR schedule, in days after infusion, split into the phases a patient's samples are drawn from:
# (nominal days, how many of them a patient gives). Early and middle counts are fixed; late gives 1-3.
EARLY = [1.0, 4.0, 7.0, 10.0, 14.0]  # expansion and peak: 3 of 5
MIDDLE = [21.0, 28.0, 56.0]  # contraction: 2 of 3
LATE = [90.0, 180.0, 270.0, 365.0]  # persistence: 1 to 3 of 4


def true_parameters():
    """THETA, the lower triangles of OMEGA and SIGMA as the control streams order them, with names."""
    n = len(ETA_ORDER)
    omega, omega_names = [], []
    for i in range(n):
        for j in range(i + 1):
            omega.append(OMEGA[ETA_ORDER[i]] if i == j else 0.0)
            omega_names.append(f"OMEGA({i + 1},{j + 1})" + (f" IIV {ETA_ORDER[i]}" if i == j else ""))
    return {
        "theta": [math.log(TRUTH["FOLDX"]) if k == "LFOLDX" else TRUTH[k] for k in THETA_ORDER],
        "theta_names": [f"THETA({k + 1}) {name}" for k, name in enumerate(THETA_ORDER)],
        "omega": omega,
        "omega_names": omega_names,
        "sigma": [round(SIGMA_SD**2, 12)],
        "sigma_names": ["SIGMA(1,1)"],
    }


def concentration(t, cmax, tmax, foldx, alpha, fb, beta):
    """C(t) of the Stein model, closed form (arrays broadcast)."""
    t = np.asarray(t, dtype=float)
    rho = math.log(foldx) / tmax
    s = t - tmax
    before = cmax * np.exp(rho * np.minimum(s, 0.0))
    after = (1.0 - fb) * cmax * np.exp(-alpha * np.maximum(s, 0.0)) + fb * cmax * np.exp(-beta * np.maximum(s, 0.0))
    return np.where(s < 0.0, before, after)


def window(day):
    """Half-width of the visit window: 10% of the nominal day, at most 7 days."""
    return min(0.1 * day, 7.0)


def schedule(rng):
    """Nominal days and actual times of one patient's samples."""
    early = rng.choice(len(EARLY), size=3, replace=False)
    middle = rng.choice(len(MIDDLE), size=2, replace=False)
    late = rng.choice(len(LATE), size=int(rng.integers(1, 4)), replace=False)
    days = sorted([EARLY[k] for k in early] + [MIDDLE[k] for k in middle] + [LATE[k] for k in late])
    times = [round(d + rng.uniform(-window(d), window(d)), 2) for d in days]
    return days, times


def simulate(seed, subjects, lloq=LLOQ):
    """Rows (ID, TIME, DV, MDV, EVID, AMT, CMT, CENS, NTIME) and the counts of observations and censored ones."""
    rng = np.random.default_rng(seed)
    rows = []
    n_obs = 0
    n_cens = 0
    for i in range(1, subjects + 1):
        eta = {k: rng.normal(0.0, math.sqrt(v)) for k, v in OMEGA.items()}
        p = {k: TRUTH[k] * math.exp(eta.get(k, 0.0)) for k in MODEL_ORDER}
        days, times = schedule(rng)
        c = concentration(times, p["CMAX"], p["TMAX"], p["FOLDX"], p["ALPHA"], p["FB"], p["BETA"])
        eps = rng.normal(0.0, SIGMA_SD, size=len(times))
        rows.append((i, 0.0, 0.0, 1, 1, 0.0, 1, 0, 0.0))
        for day, t, ci, e in zip(days, times, c, eps):
            y = math.log(ci) + e
            n_obs += 1
            if y < math.log(lloq):
                n_cens += 1
                rows.append((i, t, math.log(lloq), 0, 0, 0.0, 1, 1, day))
            else:
                rows.append((i, t, y, 0, 0, 0.0, 1, 0, day))
    return rows, n_obs, n_cens


def write_csv(rows, path):
    with open(path, "w", encoding="utf-8") as f:
        f.write("ID,TIME,DV,MDV,EVID,AMT,CMT,CENS,NTIME\n")
        for r in rows:
            f.write(f"{r[0]},{r[1]:.2f},{r[2]:.6f},{r[3]},{r[4]},{r[5]:g},{r[6]},{r[7]},{r[8]:g}\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--subjects", type=int, default=60, help="number of patients (default 60)")
    ap.add_argument("--lloq", type=float, default=LLOQ, help=f"assay limit, copies/ug (default {LLOQ:g})")
    ap.add_argument("--out", required=True, help="the CSV to write")
    a = ap.parse_args(argv)
    if a.subjects < 1:
        ap.error("--subjects must be at least 1")
    if a.lloq <= 0:
        ap.error("--lloq must be positive")
    rows, n_obs, n_cens = simulate(a.seed, a.subjects, a.lloq)
    folder = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(folder, exist_ok=True)
    write_csv(rows, a.out)
    print(
        f"seed {a.seed}: {a.subjects} patients, {n_obs} observations, {n_cens} below LLOQ {a.lloq:g} copies/ug "
        f"({100.0 * n_cens / n_obs:.1f}% censored); wrote {a.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Work–precision diagrams of cartsim's solvers, with libRoadRunner and SciPy as points of comparison.

Run it through work_precision.sh, which prepares a venv with the pinned packages. For each model
(a non-stiff and a stiff CAR T model, see `models`) and each tolerance rtol = 1e-3 … 1e-8
(atol 1e-12, the tolerance of the speed table in Guides/Solvers.md), the same virtual patients (log-normal parameters, omega 0.2, seed 1) run

- with each cartsim method (`cartsim population --threads 1 --method M`; time by its own timer,
  which leaves out loading and compiling the model),
- with libRoadRunner's CVODE (a Python loop that resets, sets every parameter and simulates; the
  loop of population_vs_roadrunner.py),
- with SciPy's `solve_ivp` (LSODA, BDF, Radau) on libRoadRunner's right-hand side, segment by
  segment between the model's time-triggered events, whose assignments are applied between
  segments; fewer patients, since every right-hand side passes through Python.

Error: the largest relative difference of the final values (all patients, all outputs, against
max(|reference|, 1e-6)) from a tight reference: cartsim Rodas4 at rtol 1e-10, atol 1e-14 for cartsim
and libRoadRunner, libRoadRunner at the same tolerances for SciPy (SciPy works on libRoadRunner's state vector);
the two references are compared and their difference is printed. Work: seconds per patient.

Writes Guides/images/work-precision-<model>.svg and Scripts/bench/results/work_precision.json, and
prints a markdown table per model.

    Scripts/bench/work_precision.sh [--patients 20] [--scipy-patients 3] [--quick]
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import roadrunner
from scipy.integrate import solve_ivp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from population_vs_roadrunner import (  # noqa: E402  (the shared cartsim and libRoadRunner loops)
    CARTSIM, ROOT, SHARED, Lazy, cartsim_population, finals_of, hos_species, max_rel, roadrunner_population)

METHODS = ["dp5", "rodas4", "rodas4p2", "bdf", "auto"]
FLOOR = 1e-6
# The tight references (libRoadRunner's CVODE fails on the HEROS infusions at rtol 1e-12).
REF_RTOL, REF_ATOL = 1e-10, 1e-14
ATOL = 1e-12


def models(work):
    """(name, SBML file, duration, output steps): the HEROS 2.0 cohort B patient (four
    infusions, non-stiff between them) and CARTmath on HDLM-2 (BIOMD0000001019, stiff)."""
    heros = os.path.join(work, "heros2-cohortB.xml")
    with open(heros, "w") as f:
        subprocess.run([CARTSIM, "sbml", "export", "heros", "--scenario", os.path.join(ROOT, "Examples", "heros2-cohortB.json")],
                       stdout=f, check=True)
    cartmath = os.path.join(SHARED, "biomodels-oncology", "cases", "BIOMD0000001019", "BIOMD0000001019-sbml.xml")
    return [("HEROS 2.0 cohort B", heros, 730.0, 730), ("CARTmath BIOMD0000001019", cartmath, 300.0, 300)]


# --- SciPy on libRoadRunner's right-hand side -------------------------------------------------

def time_events(model):
    """[(time, [(target, python expression)])] of the events triggered by `time >= T` (those at
    T = 0 only when their trigger is false initially, as SBML has them fire), by time, then by
    constant priority (higher first) and document order; None when the model has an event of
    another kind."""
    import libsbml
    m = libsbml.readSBML(model).getModel()
    out = []
    for e in m.getListOfEvents():
        trig = libsbml.formulaToL3String(e.getTrigger().getMath()).replace(" ", "")
        g = re.fullmatch(r"time(>=|>)([-+0-9.eE]+)", trig) or re.fullmatch(r"(geq|gt)\(time,([-+0-9.eE]+)\)", trig)
        if not g or e.isSetDelay():
            return None
        priority = 0.0
        if e.isSetPriority():
            try:
                priority = float(libsbml.formulaToL3String(e.getPriority().getMath()))
            except ValueError:
                return None
        te = float(g.group(2))
        if te == 0 and e.getTrigger().getInitialValue():
            continue
        assigns = [(a.getVariable(), libsbml.formulaToL3String(a.getMath()).replace("^", "**")) for a in e.getListOfEventAssignments()]
        out.append((te, -priority, len(out), assigns))
    # Simultaneous events: higher priority first, then document order.
    return [(te, assigns) for te, _, _, assigns in sorted(out, key=lambda x: x[:3])]


class _Names(Lazy):
    """Lazy's names for eval, with species read in the units SBML math uses (concentrations
    unless hasOnlySubstanceUnits)."""
    def __init__(self, values, r, concentration):
        super().__init__(values, r)
        self.concentration = concentration

    def __missing__(self, key):
        return self.r[f"[{key}]" if key in self.concentration else key]


def state_ids(r):
    """libRoadRunner's state vector: floating species amounts, then rate-rule variables."""
    return [r.model.getStateVectorId(i) for i in range(len(r.getRatesOfChange()))]


def scipy_population(model, header, rows, duration, method, rtol, atol, limit):
    """Final state vectors of the first `limit` patients, and seconds per patient; None when
    the model has events SciPy cannot be given here."""
    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    r = roadrunner.RoadRunner(model)
    events = time_events(model)
    if events is None:
        return None
    ids = state_ids(r)
    m = r.model
    conc = set(m.getFloatingSpeciesIds() + m.getBoundarySpeciesIds()) - hos_species(model)
    params = [(j, h[len("param_"):]) for j, h in enumerate(header) if h.startswith("param_")]
    finals, t0 = [], time.perf_counter()
    for row in rows[:limit]:
        r.resetAll()
        for j, p in params:
            r.setValue(p, float(row[j]))
        r.reset()

        def put(t, x):
            r.model.setTime(t)
            for i, v in zip(ids, x):
                r.setValue(i, float(v))

        def rhs(t, x):
            put(t, x)
            return np.array(r.getRatesOfChange())
        y, t, ok = np.array([r[i] for i in ids], dtype=float), 0.0, True
        for te, assigns in [e for e in events if e[0] <= duration] + [(duration, [])]:
            if te > t:
                sol = solve_ivp(rhs, (t, te), y, method=method, rtol=rtol, atol=atol)
                if not sol.success:
                    ok = False
                    break
                y, t = sol.y[:, -1], te
            if assigns:
                put(t, y)
                new = [(tg, eval(ex, {"__builtins__": {}}, _Names({"time": t}, r, conc))) for tg, ex in assigns]
                for tg, v in new:
                    r.setValue(f"[{tg}]" if tg in conc else tg, float(v))
                y = np.array([r[i] for i in ids], dtype=float)
        finals.append(list(y) if ok else [float("nan")] * len(ids))
    return finals, (time.perf_counter() - t0) / max(limit, 1)


def roadrunner_states(model, header, rows, duration, rtol, atol, limit):
    """Final state vectors by libRoadRunner (the SciPy points' reference)."""
    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    r = roadrunner.RoadRunner(model)
    r.integrator.relative_tolerance, r.integrator.absolute_tolerance = rtol, atol
    ids = state_ids(r)
    params = [(j, h[len("param_"):]) for j, h in enumerate(header) if h.startswith("param_")]
    out = []
    for row in rows[:limit]:
        r.resetAll()
        for j, p in params:
            r.setValue(p, float(row[j]))
        r.reset()
        try:
            r.simulate(0, duration, 2)
            out.append([r[i] for i in ids])
        except RuntimeError:
            out.append([float("nan")] * len(ids))
    return out


# --- the sweep --------------------------------------------------------------------------------

def sweep(name, model, duration, steps, args, work):
    rtols = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8][: 4 if args.quick else None]
    out = os.path.join(work, re.sub(r"\W+", "-", name))
    n = args.patients
    header, ref_rows, _, _, _ = cartsim_population(model, n, 0.2, 1, duration, steps, REF_RTOL, REF_ATOL, out + "-ref",
                                                   extra=("--method", "rodas4"))
    ref = finals_of(header, ref_rows)
    points = {}
    for method in METHODS:
        pts = []
        for rtol in rtols:
            best = 0.0
            for _ in range(args.repeats):
                h, rows, rate, _, _ = cartsim_population(model, n, 0.2, 1, duration, steps, rtol, ATOL, out,
                                                         extra=("--method", method))
                best = max(best, rate)
            failed = sum(1 for row in rows if row[1] not in ("Success", "Terminated"))
            pts.append({"rtol": rtol, "seconds": 1 / best, "error": max_rel(finals_of(h, rows), ref, FLOOR), "failed": failed})
        points[f"cartsim {method}"] = pts
        print(f"  {name}: cartsim {method} done", file=sys.stderr)
    rr = []
    rr_ref = None
    for rtol in rtols + [REF_RTOL]:
        outs, finals, rate = roadrunner_population(model, header, ref_rows, duration, steps, rtol, ATOL if rtol > REF_RTOL else REF_ATOL)
        if rtol == REF_RTOL:
            rr_ref = finals
        else:
            rr.append({"rtol": rtol, "seconds": 1 / rate, "error": max_rel(finals, ref, FLOOR),
                       "failed": sum(1 for f in finals if any(math.isnan(x) for x in f))})
    points["libRoadRunner CVODE"] = rr
    refs = max_rel(rr_ref, ref, FLOOR)
    print(f"  {name}: libRoadRunner done; references differ by {refs:.1e}", file=sys.stderr)
    scipy_ref = roadrunner_states(model, header, ref_rows, duration, REF_RTOL, REF_ATOL, args.scipy_patients)
    for method in ["LSODA", "BDF", "Radau"]:
        pts = []
        for rtol in rtols:
            res = scipy_population(model, header, ref_rows, duration, method, rtol, ATOL, args.scipy_patients)
            if res is None:
                break
            finals, sec = res
            pts.append({"rtol": rtol, "seconds": sec, "error": max_rel(finals, scipy_ref, FLOOR),
                        "failed": sum(1 for f in finals if any(math.isnan(x) for x in f))})
        if pts:
            points[f"SciPy {method}"] = pts
    print(f"  {name}: SciPy done", file=sys.stderr)
    return {"model": name, "duration": duration, "steps": steps, "patients": n, "scipy_patients": args.scipy_patients,
            "references_differ": refs, "points": points}


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 5))
    styles = {"cartsim dp5": "o-", "cartsim rodas4": "s-", "cartsim rodas4p2": "s--", "cartsim bdf": "D-", "cartsim auto": "^-",
              "libRoadRunner CVODE": "k*--", "SciPy LSODA": "x:", "SciPy BDF": "+:", "SciPy Radau": "v:"}
    for label, pts in result["points"].items():
        # Runs with failures, and errors above 1 (a wrong answer), are left off the chart.
        good = [p for p in pts if p["failed"] == 0 and 0 < p["error"] <= 1]
        off = len(pts) - len(good)
        if good:
            ax.loglog([p["error"] for p in good], [p["seconds"] for p in good], styles.get(label, "o-"),
                      label=label + (f" ({off} of {len(pts)} off the chart)" if off else ""))
        elif pts:
            ax.plot([], [], styles.get(label, "o-"), label=f"{label} (all {len(pts)} off the chart)")
    ax.set_xlabel("largest relative error of the final values (vs a tight reference)")
    ax.set_ylabel("seconds per patient (one core)")
    ax.set_title(f"Work–precision: {result['model']} ({result['duration']:g} days)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=20)
    ap.add_argument("--scipy-patients", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3, help="cartsim runs per point; the best counts")
    ap.add_argument("--quick", action="store_true", help="four tolerances, one repeat (a smoke run)")
    ap.add_argument("--out", default=os.path.join(ROOT, "Scripts", "bench", "results", "work_precision.json"),
                    help="the points as JSON; the tables go beside it as .md")
    args = ap.parse_args()
    if args.quick:
        args.repeats = 1
    if not os.access(CARTSIM, os.X_OK):
        sys.exit(f"build first: swift build -c release --product cartsim (no {CARTSIM})")
    work = tempfile.mkdtemp(prefix="work-precision-")
    results, tables = [], []
    for name, model, duration, steps in models(work):
        res = sweep(name, model, duration, steps, args, work)
        results.append(res)
        img = os.path.join(ROOT, "Guides", "images", "work-precision-" + re.sub(r"\W+", "-", name.lower()).strip("-") + ".svg")
        os.makedirs(os.path.dirname(img), exist_ok=True)
        plot(res, img)
        tables.append(f"### {name} ({duration:g} days, {res['patients']} patients; SciPy {res['scipy_patients']}); "
                      f"the two references differ by {res['references_differ']:.1e}\n")
        tables.append("| solver | " + " | ".join(f"rtol {p['rtol']:g}" for p in res["points"]["cartsim dp5"]) + " |")
        tables.append("|---|" + "---:|" * len(res["points"]["cartsim dp5"]))
        for label, pts in res["points"].items():
            cells = {p["rtol"]: (f"{p['error']:.1e} / {p['seconds'] * 1e3:.2f} ms" + (f" ({p['failed']} failed)" if p["failed"] else ""))
                     for p in pts}
            tables.append(f"| {label} | " + " | ".join(cells.get(p["rtol"], "—") for p in res["points"]["cartsim dp5"]) + " |")
        tables.append("")
    with open(args.out, "w") as f:
        json.dump({"command": " ".join(sys.argv), "results": results}, f, indent=1)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write("Cells: error / seconds per patient (one core).\n\n" + "\n".join(tables))
    print("\n".join(tables))


if __name__ == "__main__":
    main()

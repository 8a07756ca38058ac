#!/usr/bin/env python3
"""Multi-start fitting of two PEtab benchmark problems: pyPESTO + AMICI + fides against `cartsim fit`.

Problems (from the shared folder, `<package>/../shared/petab-benchmarks/`):
Boehm_JProteomeRes2014 (9 estimated parameters) and Fujita_SciSignal2010 (19).

Run it through the wrapper, which creates the venv `.build/bench-venv` and installs the pinned
pyPESTO/AMICI/fides/PEtab:

    swift build -c release --product cartsim
    Scripts/bench/petab_fit_benchmark.sh [--starts 20] [--seed 0] [--out results.json]
    Scripts/bench/petab_fit_benchmark.sh --skip-cartsim --out Scripts/bench/results/petab_fit_pypesto.json
    Scripts/bench/petab_fit_benchmark.sh --skip-pypesto --pypesto-json Scripts/bench/results/petab_fit_pypesto.json

pyPESTO side: `pypesto.petab.PetabImporter`, the AMICI model compiled once and cached under
`.build/bench-amici/<amici version>/` (compilation timed separately and not counted),
`pypesto.optimize.FidesOptimizer` with fides' default options and pyPESTO's default Hessian update
(HybridFixed: the FIM from AMICI's forward sensitivities at first, BFGS later), AMICI rtol = atol =
1e-8 (as in AMICI's benchmark test), forward sensitivities, a single process. Start points: pyPESTO's
default for PEtab problems (`PetabStartpoints`: uniform within the bounds on the parameter scale,
log10 here), drawn after `numpy.random.seed(seed)` for each problem.

CARTSim side: `cartsim fit PROBLEM.yaml --starts N --seed S --threads 1 --out DIR [--cartsim-args]`
(with cartsim's own defaults, e.g. its solver tolerances, unless --cartsim-args sets them), then
`DIR/fit.json` is read (`best_nllh`, `best_llh`, `parameters`, `starts[]` with `nllh`, `iterations`,
`function_evaluations`, `gradient_evaluations`, `exit_reason`, `seconds`). The two tools draw their
start points from different generators, so the starts are not the same points.

A start counts as converged if its final nllh is within TOL (0.01 for both problems) of the target:
the reference nllh at the published best fit (reference.yaml), or the best nllh found by any tool in
this run if that is lower. Seconds per converged start = total optimisation seconds (the sum of the
per-start times) / number of converged starts (inf if none).

The objective is the PEtab negative log-likelihood, with the 0.5*ln(2*pi*sigma^2) terms; the script
checks this by evaluating pyPESTO's objective at the nominal parameters against reference.yaml.
Solver accuracy matters at the 0.01 level on Fujita: at rtol = atol = 1e-8 AMICI gives -53.0934 at the
nominal parameters, 0.0096 below the reference -53.0838 (which AMICI reproduces to 5e-6 at 1e-12).
So the nominal point, every pyPESTO end point and CARTSim's best parameters are also re-evaluated with
AMICI at rtol = atol = --recheck-tol (1e-12).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

# one core: no BLAS/OpenMP threads, AMICI model compilation with one job
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("AMICI_PARALLEL_COMPILE", "1")
os.environ.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", "1")
# AMICI compiles models with the cmake and swig that pip installed into the venv's bin/
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.normpath(os.path.join(HERE, "..", ".."))

PROBLEMS = ["Boehm_JProteomeRes2014", "Fujita_SciSignal2010"]
# convergence tolerance in nllh per problem; Fujita's sources disagree by 0.0085 (AMICI vs D2D)
DEFAULT_TOL = {"Boehm_JProteomeRes2014": 0.01, "Fujita_SciSignal2010": 0.01}
# agreement of the objective at the nominal parameters suggested in petab-benchmarks/README.md
NOMINAL_TOL = {"Boehm_JProteomeRes2014": 1e-3, "Fujita_SciSignal2010": 1e-2}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=os.path.join(PACKAGE, "..", "shared"),
                    help="the shared folder holding petab-benchmarks/ (default: <package>/../shared)")
    ap.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated problem names")
    ap.add_argument("--starts", type=int, default=20, help="starts per problem and tool (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the start points (default 0)")
    ap.add_argument("--tol", type=float, default=None,
                    help="convergence tolerance in nllh for every problem (default 0.01 each)")
    ap.add_argument("--rtol", type=float, default=1e-8, help="AMICI relative tolerance (default 1e-8)")
    ap.add_argument("--atol", type=float, default=1e-8, help="AMICI absolute tolerance (default 1e-8)")
    ap.add_argument("--recheck-tol", type=float, default=1e-12,
                    help="also evaluate the nominal point, each pyPESTO end point and CARTSim's best "
                         "parameters with AMICI at rtol = atol = this (default 1e-12; 0: skip)")
    ap.add_argument("--amici-cache", default=os.path.join(PACKAGE, ".build", "bench-amici"),
                    help="where compiled AMICI models are kept (default <package>/.build/bench-amici)")
    ap.add_argument("--cartsim", default=os.path.join(PACKAGE, ".build", "release", "cartsim"),
                    help="the cartsim binary (default <package>/.build/release/cartsim)")
    ap.add_argument("--cartsim-workdir", default=os.path.join(PACKAGE, ".build", "bench-cartsim-fit"),
                    help="parent of the --out folders of `cartsim fit`")
    ap.add_argument("--cartsim-args", default="",
                    help="extra arguments for `cartsim fit`, e.g. \"--rtol 1e-8 --atol 1e-8\" (default: none)")
    ap.add_argument("--cartsim-timeout", type=float, default=3600, help="seconds per `cartsim fit` run")
    ap.add_argument("--skip-cartsim", action="store_true", help="run only the pyPESTO side")
    ap.add_argument("--skip-pypesto", action="store_true", help="run only the CARTSim side")
    ap.add_argument("--pypesto-json", default=None,
                    help="take the pyPESTO results from an earlier --out file instead of running pyPESTO")
    ap.add_argument("--check-only", action="store_true",
                    help="only compile/load the AMICI models and check the objective at the nominal parameters")
    ap.add_argument("--out", default=None, help="write everything to this JSON file")
    return ap.parse_args()


# ---------------------------------------------------------------------------------------------
# reference values

def read_reference(problem_dir, name):
    """nllh and chi2 from reference.yaml (top-level scalar keys only; no YAML library needed)."""
    ref = {}
    with open(os.path.join(problem_dir, "reference.yaml")) as f:
        for line in f:
            m = re.match(r"^(nllh|llh|chi2|llh_source|chi2_source):\s*(.+?)\s*$", line)
            if m:
                key, value = m.groups()
                ref[key] = value if key.endswith("_source") else float(value)
    if "nllh" not in ref:
        raise SystemExit(f"{problem_dir}/reference.yaml has no nllh")
    return ref


# ---------------------------------------------------------------------------------------------
# pyPESTO + AMICI + fides

def versions():
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": platform.python_version()}
    for pkg in ("pypesto", "amici", "fides", "petab", "numpy", "scipy", "sympy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def finite_or_none(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


class IterationRecorder:
    """Records fides' iteration count of each run (pyPESTO's result does not keep it)."""

    def __init__(self):
        import fides
        self.runs = []
        original = fides.Optimizer.minimize
        recorder = self

        def minimize(opt, *a, **k):
            try:
                return original(opt, *a, **k)
            finally:
                recorder.runs.append(int(opt.iteration))

        fides.Optimizer.minimize = minimize


def build_pypesto_problem(yaml_path, name, args, log):
    import amici
    import petab.v1 as petab
    import pypesto.petab

    petab_problem = petab.Problem.from_yaml(yaml_path)
    output_folder = os.path.join(args.amici_cache, amici.__version__, name)
    importer = pypesto.petab.PetabImporter(petab_problem, output_folder=output_folder, model_name=name)
    creator = importer.create_objective_creator()

    t0 = time.perf_counter()
    must_compile = creator._must_compile(force_compile=False)
    model = creator.create_model(verbose=False)
    compile_seconds = time.perf_counter() - t0
    log(f"  AMICI model {'compiled' if must_compile else 'loaded from cache'} in {compile_seconds:.1f} s "
        f"({output_folder})")

    import amici.sim.sundials as asd
    solver = model.create_solver()
    solver.set_relative_tolerance(args.rtol)
    solver.set_absolute_tolerance(args.atol)
    solver.set_sensitivity_method(asd.SensitivityMethod.forward)
    objective = creator.create_objective(model=model, solver=solver)
    problem = importer.create_problem(objective=objective)
    return petab_problem, problem, {
        "amici_model_dir": os.path.relpath(output_folder, PACKAGE),
        "compiled_now": bool(must_compile),
        "compile_or_load_seconds": compile_seconds,
    }


def objective_at_tolerance(problem, x_full, tol):
    """pyPESTO/AMICI nllh at the full parameter vector x_full (scaled), with rtol = atol = tol."""
    import numpy as np
    solver = problem.objective.amici_solver
    rtol, atol = solver.get_relative_tolerance(), solver.get_absolute_tolerance()
    solver.set_relative_tolerance(tol)
    solver.set_absolute_tolerance(tol)
    try:
        return finite_or_none(problem.objective(problem.get_reduced_vector(np.asarray(x_full, dtype=float)),
                                                sensi_orders=(0,)))
    finally:
        solver.set_relative_tolerance(rtol)
        solver.set_absolute_tolerance(atol)


def nominal_check(name, petab_problem, problem, ref, log, recheck_tol=0.0):
    """pyPESTO's objective at the nominal parameters, against the reference nllh and chi2.

    Also computes sum over the data points of 0.5*ln(2*pi*sigma^2) from AMICI's sigmas and checks
    that fval = chi2/2 + that sum, i.e. that pyPESTO's fval is the PEtab nllh with the
    normalisation terms (the convention of reference.yaml) and not chi2/2.
    """
    import numpy as np
    x = problem.get_reduced_vector(np.asarray(petab_problem.x_nominal_scaled, dtype=float))
    ret = problem.objective(x, sensi_orders=(0,), return_dict=True)
    fval = float(ret["fval"])
    rdatas = ret["rdatas"]
    chi2 = sum(float(r.chi2) for r in rdatas)
    normalisation, n_data = 0.0, 0
    for rdata, edata in zip(rdatas, problem.objective.edatas, strict=True):
        sigma = np.asarray(rdata.sigmay, dtype=float)
        measured = np.isfinite(np.asarray(edata.get_measurements(), dtype=float).reshape(sigma.shape))
        normalisation += 0.5 * float(np.sum(np.log(2 * np.pi * sigma[measured] ** 2)))
        n_data += int(measured.sum())
    consistent = abs(fval - (chi2 / 2 + normalisation)) <= 1e-8 * max(1.0, abs(fval))
    tol = NOMINAL_TOL.get(name, 1e-2)
    check = {
        "fval": fval,
        "reference_nllh": ref["nllh"],
        "fval_minus_reference": fval - ref["nllh"],
        "agreement_tolerance": tol,
        "agrees_with_reference": bool(abs(fval - ref["nllh"]) <= tol),
        "chi2": chi2,
        "reference_chi2": ref.get("chi2"),
        "data_points": n_data,
        "sum_half_ln_2pi_sigma2": normalisation,
        "fval_equals_chi2_half_plus_normalisation": bool(consistent),
    }
    if recheck_tol:
        check["recheck_tol"] = recheck_tol
        check["fval_recheck"] = objective_at_tolerance(problem, petab_problem.x_nominal_scaled, recheck_tol)
    log(f"  nominal check: pyPESTO fval {fval:.10g}, reference nllh {ref['nllh']:.10g} "
        f"(difference {fval - ref['nllh']:+.2e}, {'within' if check['agrees_with_reference'] else 'NOT within'} "
        f"{tol:g}); chi2 {chi2:.8g} (reference {ref.get('chi2')}); over {n_data} data points "
        f"sum 0.5*ln(2*pi*sigma^2) = {normalisation:.8g}, and fval {'=' if consistent else '!='} "
        f"chi2/2 + that sum: pyPESTO's fval {'is' if consistent else 'is NOT'} the nllh with the "
        f"normalisation terms")
    if recheck_tol and check["fval_recheck"] is not None:
        log(f"  at rtol = atol = {recheck_tol:g}: fval {check['fval_recheck']:.10g} "
            f"(difference to the reference {check['fval_recheck'] - ref['nllh']:+.2e})")
    return check


def run_pypesto(name, yaml_path, ref, args, recorder, log):
    import numpy as np
    import petab.v1 as petab
    import pypesto.optimize as optimize
    import fides

    log(f"[pyPESTO] {name}")
    import logging
    import amici.sim.sundials  # noqa: F401  (sets up AMICI's log handler)
    for logger_name in ("amici", "pypesto", "petab", "fides"):
        logging.getLogger(logger_name).setLevel(logging.WARNING)
        for handler in logging.getLogger(logger_name).handlers:  # AMICI's modules set DEBUG themselves
            handler.setLevel(logging.WARNING)
    t_setup = time.perf_counter()
    petab_problem, problem, setup = build_pypesto_problem(yaml_path, name, args, log)
    setup["setup_seconds_including_compile"] = time.perf_counter() - t_setup
    check = nominal_check(name, petab_problem, problem, ref, log, args.recheck_tol)
    if args.check_only:
        return {"setup": setup, "nominal_check": check}, (petab_problem, problem)

    optimizer = optimize.FidesOptimizer(verbose=logging.WARNING)  # fides defaults, default Hessian update
    np.random.seed(args.seed)
    n_runs_before = len(recorder.runs)
    t0 = time.perf_counter()
    result = optimize.minimize(
        problem=problem, optimizer=optimizer, n_starts=args.starts,
        engine=None,  # SingleCoreEngine
        progress_bar=False,
        options=optimize.OptimizeOptions(allow_failed_starts=True),
    )
    wall = time.perf_counter() - t0
    iterations = recorder.runs[n_runs_before:]
    if len(iterations) != args.starts:  # a start failed before fides ran: cannot match them up
        iterations = []

    scales = [petab_problem.parameter_df.loc[x_id, petab.PARAMETER_SCALE] for x_id in problem.x_names]
    starts = []
    for r in result.optimize_result.list:
        idx = int(r.id)
        x = np.asarray(r.x, dtype=float) if r.x is not None else None
        starts.append({
            "start": idx,
            "nllh": finite_or_none(r.fval),
            "seconds": float(r.time),
            "iterations": iterations[idx] if idx < len(iterations) else None,
            "function_evaluations": int(r.n_fval),
            "gradient_evaluations": int(r.n_grad),
            "hessian_evaluations": int(r.n_hess),
            "exit_reason": str(r.message),
            "exitflag": int(r.exitflag) if r.exitflag is not None else None,
            "x0_scaled": [float(v) for v in np.asarray(r.x0, dtype=float)] if r.x0 is not None else None,
            "x_scaled": [float(v) for v in x] if x is not None else None,
        })
    starts.sort(key=lambda s: s["start"])
    if args.recheck_tol:
        for s in starts:
            s["nllh_recheck"] = (objective_at_tolerance(problem, s["x_scaled"], args.recheck_tol)
                                 if s["x_scaled"] is not None and s["nllh"] is not None else None)
    best = min((s for s in starts if s["nllh"] is not None), key=lambda s: s["nllh"], default=None)
    best_parameters = None
    if best is not None:
        best_parameters = {
            x_id: float(petab.unscale(v, scale))
            for x_id, v, scale in zip(problem.x_names, best["x_scaled"], scales)
        }
    out = {
        "setup": setup,
        "nominal_check": check,
        "optimizer": {
            "name": "fides.Optimizer via pypesto.optimize.FidesOptimizer",
            "hessian_update": "default -> HybridFixed (FIM, then BFGS)" if problem.objective.has_hess
            else "default -> BFGS",
            "options": {str(k.value if hasattr(k, "value") else k): (v.value if hasattr(v, "value") else v)
                        for k, v in fides.constants.DEFAULT_OPTIONS.items()},
            "sensitivities": "forward",
            "rtol": args.rtol, "atol": args.atol,
            "engine": "SingleCoreEngine",
            "startpoints": "pypesto PetabStartpoints (uniform within bounds on the parameter scale), "
                           f"numpy.random.seed({args.seed})",
        },
        "x_names": list(problem.x_names),
        "x_free_names": [problem.x_names[i] for i in problem.x_free_indices],
        "wall_seconds": wall,
        "recheck_tol": args.recheck_tol or None,
        "starts": starts,
        "best_parameters": best_parameters,
    }
    log(f"  {len(starts)} starts in {wall:.1f} s, best nllh {best['nllh'] if best else None}")
    return out, (petab_problem, problem)


def evaluate_with_amici(petab_problem, problem, parameters, tol):
    """pyPESTO/AMICI nllh at a parameter set given as id -> linear value (fixed ones: nominal)."""
    import petab.v1 as petab
    df = petab_problem.parameter_df
    x = []
    for x_id in problem.x_names:
        lin = parameters.get(x_id, df.loc[x_id, petab.NOMINAL_VALUE])
        x.append(petab.scale(float(lin), df.loc[x_id, petab.PARAMETER_SCALE]))
    return objective_at_tolerance(problem, x, tol)


# ---------------------------------------------------------------------------------------------
# CARTSim

def run_cartsim(name, yaml_path, args, log):
    log(f"[CARTSim] {name}")
    out_dir = os.path.join(args.cartsim_workdir, name)
    os.makedirs(out_dir, exist_ok=True)
    fit_json = os.path.join(out_dir, "fit.json")
    if os.path.exists(fit_json):
        os.remove(fit_json)
    cmd = [args.cartsim, "fit", yaml_path, "--starts", str(args.starts), "--seed", str(args.seed),
           "--threads", "1", "--out", out_dir, *shlex.split(args.cartsim_args)]
    log("  " + shlex.join(cmd))
    # Recorded relative to the package, so that results name no path of the machine.
    shown = shlex.join(os.path.relpath(c, PACKAGE) if os.path.isabs(c) else c for c in cmd)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.cartsim_timeout)
    except subprocess.TimeoutExpired:
        return {"command": shown, "error": f"timed out after {args.cartsim_timeout} s"}
    wall = time.perf_counter() - t0
    res = {"command": shown, "wall_seconds": wall, "returncode": p.returncode,
           "out_dir": os.path.relpath(out_dir, PACKAGE)}
    if p.returncode != 0 or not os.path.exists(fit_json):
        res["error"] = f"exit code {p.returncode}, fit.json {'present' if os.path.exists(fit_json) else 'missing'}"
        res["stderr_tail"] = p.stderr[-2000:]
        log(f"  failed: {res['error']}\n{p.stderr[-800:]}")
        return res
    with open(fit_json) as f:
        fit = json.load(f)
    starts = []
    for i, s in enumerate(fit.get("starts", [])):
        starts.append({
            "start": s.get("start", i),
            "nllh": finite_or_none(s.get("nllh")),
            "seconds": float(s.get("seconds") or 0.0),
            "iterations": s.get("iterations"),
            "function_evaluations": s.get("function_evaluations"),
            "gradient_evaluations": s.get("gradient_evaluations"),
            "exit_reason": s.get("exit_reason"),
            "converged_by_cartsim": s.get("converged"),
        })
    best_nllh = fit.get("best_nllh")
    if best_nllh is None and fit.get("best_llh") is not None:
        best_nllh = -fit["best_llh"]
    res.update({"best_nllh_reported": finite_or_none(best_nllh), "best_llh_reported": fit.get("best_llh"),
                "best_parameters": fit.get("parameters"), "starts_at_best_reported": fit.get("starts_at_best"),
                "optimizer": fit.get("optimizer"), "hessian": fit.get("hessian"), "starts": starts})
    log(f"  {len(starts)} starts in {wall:.1f} s wall, best nllh {best_nllh}")
    return res


# ---------------------------------------------------------------------------------------------
# metrics and report

def metrics(starts, target, tol, wall_seconds=None):
    values = [s["nllh"] for s in starts]
    finite = [v for v in values if v is not None]
    converged = [v for v in finite if v <= target + tol]
    total = sum(s["seconds"] for s in starts)
    fevals = [s["function_evaluations"] for s in starts if s.get("function_evaluations") is not None]
    return {
        "starts": len(starts),
        "failed_starts": len(values) - len(finite),
        "best_nllh": min(finite) if finite else None,
        "converged": len(converged),
        "converged_fraction": len(converged) / len(starts) if starts else 0.0,
        "total_optimisation_seconds": total,
        "mean_seconds_per_start": total / len(starts) if starts else None,
        "seconds_per_converged_start": total / len(converged) if converged else math.inf,
        "median_function_evaluations": statistics.median(fevals) if fevals else None,
        "wall_seconds": wall_seconds,
    }


def json_safe(o):
    """inf/nan -> the strings "inf", "-inf", "nan" (strict JSON has no such numbers)."""
    if isinstance(o, float) and not math.isfinite(o):
        return "nan" if math.isnan(o) else ("inf" if o > 0 else "-inf")
    if isinstance(o, dict):
        return {k: json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_safe(v) for v in o]
    return o


def fmt(x, spec):
    if x is None:
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return format(x, spec)


def main():
    args = parse_args()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    names = [n.strip() for n in args.problems.split(",") if n.strip()]
    bench_dir = os.path.abspath(os.path.join(args.shared, "petab-benchmarks"))

    run_pypesto_side = not args.skip_pypesto and args.pypesto_json is None
    previous = None
    if args.pypesto_json:
        with open(args.pypesto_json) as f:
            previous = json.load(f)
    report = {
        # relative to the package root, so that no path of this machine is recorded
        "command_line": shlex.join([os.path.relpath(sys.executable, PACKAGE),
                                    os.path.relpath(os.path.abspath(sys.argv[0]), PACKAGE), *sys.argv[1:]]),
        "argv": sys.argv[1:],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.machine(),
                    "cpu_count": os.cpu_count()},
        "settings": {"starts": args.starts, "seed": args.seed, "rtol": args.rtol, "atol": args.atol},
        "versions": versions() if run_pypesto_side else (previous or {}).get("versions", {}),
        "pypesto_results_from": args.pypesto_json,
        "pypesto_settings": (previous or {}).get("settings") if args.pypesto_json else None,
        "convergence_rule": "final nllh <= target + tol; target = reference nllh, or the best nllh "
                            "found by any tool in this report if that is lower",
        "problems": {},
    }
    recorder = IterationRecorder() if run_pypesto_side else None

    cartsim_available = os.path.isfile(args.cartsim) and os.access(args.cartsim, os.X_OK)
    if not args.skip_cartsim and not cartsim_available:
        log(f"CARTSim side skipped: no executable at {args.cartsim} "
            f"(build it with `swift build -c release --product cartsim`, or pass --cartsim PATH)")

    for name in names:
        problem_dir = os.path.join(bench_dir, name)
        yaml_path = os.path.join(problem_dir, f"{name}.yaml")
        ref = read_reference(problem_dir, name)
        tol = args.tol if args.tol is not None else DEFAULT_TOL.get(name, 0.01)
        entry = {"yaml": os.path.relpath(yaml_path, PACKAGE), "reference": ref, "tol": tol, "tools": {}}
        objects = None
        if run_pypesto_side:
            entry["tools"]["pypesto"], objects = run_pypesto(name, yaml_path, ref, args, recorder, log)
        elif previous is not None and name in previous.get("problems", {}):
            prev = previous["problems"][name]["tools"].get("pypesto")
            if prev is not None:
                entry["tools"]["pypesto"] = prev
        if not args.skip_cartsim and cartsim_available and not args.check_only:
            entry["tools"]["cartsim"] = run_cartsim(name, yaml_path, args, log)
            cs = entry["tools"]["cartsim"]
            if cs.get("best_parameters"):
                try:
                    if objects is None:
                        # pyPESTO's side was not run: build its objective (the compiled AMICI model
                        # is cached) only to re-evaluate CARTSim's best parameters independently.
                        petab_problem, problem, _ = build_pypesto_problem(yaml_path, name, args, log)
                        objects = (petab_problem, problem)
                    for key, solver_tol in (("", args.rtol), ("_recheck", args.recheck_tol)):
                        if solver_tol:
                            value = evaluate_with_amici(*objects, cs["best_parameters"], solver_tol)
                            cs["best_parameters_nllh_by_amici" + key] = value
                            log(f"  CARTSim's best parameters evaluated by pyPESTO/AMICI at tolerance "
                                f"{solver_tol:g}: "
                                f"nllh {value}")
                except Exception as e:  # noqa: BLE001
                    cs["best_parameters_nllh_by_amici_error"] = repr(e)

        # common target over all tools
        bests = [min((s["nllh"] for s in t.get("starts", []) if s["nllh"] is not None), default=math.inf)
                 for t in entry["tools"].values()]
        overall = min(bests, default=math.inf)
        if overall < ref["nllh"]:
            target, source = overall, "best found (lower than the reference)"
        else:
            target, source = ref["nllh"], "reference nllh (reference.yaml)"
        entry["target"], entry["target_source"] = target, source
        for tool in entry["tools"].values():
            if "starts" in tool:
                tool["metrics"] = metrics(tool["starts"], target, tol, tool.get("wall_seconds"))
        report["problems"][name] = entry

    # table
    lines = [
        "| problem | tool | starts | best nllh | best − reference | converged (≤ target + tol) | "
        "total optimisation s | s / start | s / converged start | wall s | median f-evals |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in report["problems"].items():
        for tool_name, tool in entry["tools"].items():
            label = {"pypesto": "pyPESTO+AMICI+fides", "cartsim": "cartsim fit"}[tool_name]
            m = tool.get("metrics")
            if m is None and "error" not in tool:
                continue
            if m is None:
                lines.append(f"| {name} | {label} | failed: {tool.get('error')} | | | | | | | | |")
                continue
            delta = m["best_nllh"] - entry["reference"]["nllh"] if m["best_nllh"] is not None else None
            lines.append(
                f"| {name} | {label} | {m['starts']} | {fmt(m['best_nllh'], '.6f')} | {fmt(delta, '+.2e')} | "
                f"{m['converged']}/{m['starts']} ({m['converged_fraction']:.0%}) | "
                f"{m['total_optimisation_seconds']:.1f} | {fmt(m['mean_seconds_per_start'], '.2f')} | "
                f"{fmt(m['seconds_per_converged_start'], '.2f')} | {fmt(m['wall_seconds'], '.1f')} | "
                f"{fmt(m['median_function_evaluations'], 'g')} |")
    notes = [f"- {name}: reference nllh {e['reference']['nllh']:.10g}, tol {e['tol']}, target "
             f"{e['target']:.10g} ({e['target_source']})" for name, e in report["problems"].items()]
    for name, e in report["problems"].items():
        pp = e["tools"].get("pypesto", {})
        rechecked = [s.get("nllh_recheck") for s in pp.get("starts", []) if s.get("nllh_recheck") is not None]
        if "fval_recheck" in pp.get("nominal_check", {}):
            notes.append(f"- {name}: AMICI at the nominal parameters: {pp['nominal_check']['fval']:.8g} at "
                         f"rtol = atol = {args.rtol:g}, {pp['nominal_check']['fval_recheck']:.8g} at "
                         f"{pp['nominal_check']['recheck_tol']:g}")
        if rechecked:
            notes.append(f"- {name}: pyPESTO's best end point re-evaluated at rtol = atol = "
                         f"{pp['recheck_tol']:g}: {min(rechecked):.8g}")
        cs = e["tools"].get("cartsim", {})
        if cs.get("best_parameters_nllh_by_amici") is not None:
            notes.append(f"- {name}: CARTSim's best parameters evaluated by AMICI: "
                         f"{cs['best_parameters_nllh_by_amici']:.8g} (CARTSim reported "
                         f"{cs.get('best_nllh_reported')})"
                         + (f", {cs['best_parameters_nllh_by_amici_recheck']:.8g} at {args.recheck_tol:g}"
                            if cs.get("best_parameters_nllh_by_amici_recheck") is not None else ""))
    table = "\n".join(lines + [""] + notes)
    report["table_markdown"] = table
    print()
    print(table)
    if report["versions"]:
        print("\nversions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))

    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(json_safe(report), f, indent=1, default=str, allow_nan=False)
            f.write("\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generate the synthetic data of the CARTmath PEtab example (Examples/fit/).

Model: CARTmath, HDLM-2 parameter set (Barros et al. 2021, Cancers 13(12):2941,
doi:10.3390/cancers13122941; BioModels BIOMD0000001019). Effector CAR T cells Ct,
memory CAR T cells Cm and tumour cells T in NSG mice, time in days:

    dCt/dt = phi*Ct - pi*Ct + theta*T*Cm - alpha*T*Ct
    dCm/dt = epsilon*Ct - theta*T*Cm - mu*Cm
    dT/dt  = rho*T*(1 - beta*T) - gamma*Ct*T

(SBML ids: `pi` is the effector death rate, `rho` the tumour growth rate, `beta` the
inverse carrying capacity.) The tumour is implanted at day 0 (T(0) = 2e6 cells) and
the CAR T cells are infused at day 45 by the SBML event `event1` (Ct := car_t_dose).

What it does, in order (all files beside this script):
  1. model_cartmath.xml: made from the BioModels file when ../../../shared is present
     (the one edit: event1 assigns the new constant parameter `car_t_dose`, default
     2e6 = the published dose, instead of the literal 2000000); otherwise the
     committed copy is used. The script checks the equations, events and parameter
     values it assumes against that file.
  2. Simulates the three dose arms with the true parameters (the BioModels values)
     using the equations above, scipy solve_ivp (Radau, analytic Jacobian,
     rtol 1e-10, atol 1e-12 cells), stopping at day 45 to apply the infusion.
  3. Keeps the scheduled samples whose true value is at least LLOQ cells, adds
     Gaussian noise on the log10 scale (numpy default_rng(SEED)): m = 10^(log10(y) + sigma*z),
     y the observable (Ct + Cm + 1 or T + 1: one cell added so that the log stays finite
     when a population dies out in a fit; negligible at the sampled values >= 1e3 cells).
  4. Writes conditions.tsv, observables.tsv, parameters.tsv, measurements.tsv,
     truth.tsv and reference.yaml: chi2 and log-likelihood at the true parameters
     (PEtab 1.0 conventions, from the measurement values as written), and the
     maximum-likelihood estimate found by least squares started at the truth.
  5. Prints the true parameters and a local identifiability check: the Fisher
     information of the design at the true parameters (finite-difference
     sensitivities of the log10 observables to the log10 parameters).
  6. If python libroadrunner is installed, simulates model_cartmath.xml with it as
     a cross-check of the SBML edit and of the hand-written equations; if the
     `petab` package (PEtab 1.0 library, `pip install "petab<0.6"`) is installed,
     lints the problem and recomputes chi2 and llh with petab.calculate_*.
     Both are optional; neither changes any output file.

Usage (from the package root): python3 Examples/fit/make_data.py [--no-checks]
(--no-checks skips steps 5 and 6; the files written are the same.)
Requires numpy and scipy. Rerunning rewrites the same files byte for byte.
"""

import importlib.metadata
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

HERE = Path(__file__).resolve().parent
BIOMODELS_SBML = (HERE.parents[2] / "shared" / "biomodels-oncology" / "cases" / "BIOMD0000001019"
                  / "BIOMD0000001019-sbml.xml")
MODEL = HERE / "model_cartmath.xml"

SEED = 20210612          # numpy default_rng seed for the measurement noise
RTOL, ATOL = 1e-10, 1e-12
INFUSION_DAY = 45.0      # SBML event1
RECHALLENGE_DAY = 250.0  # SBML event2 (T := 1e6), after the last sample: never reached
LLOQ = 1e3               # cells; samples whose true value is below are not reported

# Dose arms: condition id, name, CAR T cells infused at day 45 (SBML parameter car_t_dose).
CONDITIONS = [
    ("dose_250k", "2.5e5 CAR T cells at day 45 (too few: effectors exhausted, tumour escapes)", 2.5e5),
    ("dose_500k", "5e5 CAR T cells at day 45 (tumour controlled at a low level)", 5e5),
    ("dose_2M", "2e6 CAR T cells at day 45 (published protocol: tumour eliminated)", 2e6),
]

# Observables: id, name, formula, transformation, noise formula, noise parameter, sampling days.
OBSERVABLES = [
    ("car_t_total", "CAR T cells, effector + memory, plus one cell", "Ct + Cm + 1", "log10",
     "noiseParameter1_car_t_total", "sigma_car_t",
     [46, 47, 48, 50, 52, 55, 60, 67, 74, 81, 90, 100]),
    ("tumour_cells", "tumour cells, plus one cell", "T + 1", "log10",
     "noiseParameter1_tumour_cells", "sigma_tumour",
     [7, 14, 21, 28, 35, 42, 46, 48, 51, 55, 60, 70, 85, 100]),
]

# PEtab parameter table. Kinetic values are read from the SBML (and checked against
# these literals); noise parameters are on the log10 scale of the observables.
# id, name, scale, lower, upper, true value, estimate
PARAMETERS = [
    ("phi", "effector CAR T expansion rate (1/d)", "log10", 1e-3, 3.0, 0.265, 1),
    ("pi", "effector CAR T death rate (1/d); rho in the paper", "log10", 3.5e-3, 35.0, 0.35, 0),
    ("epsilon", "memory CAR T formation rate (1/d)", "log10", 1.5e-3, 15.0, 0.15, 0),
    ("theta", "memory to effector conversion on tumour contact (1/(cell d))", "log10", 6e-8, 6e-4, 6e-6, 0),
    ("alpha", "tumour-induced inhibition of effector CAR T (1/(cell d))", "log10", 1e-10, 1e-5, 4.5e-8, 1),
    ("mu", "memory CAR T death rate (1/d)", "log10", 5e-5, 0.5, 5e-3, 0),
    ("rho", "tumour growth rate (1/d); r in the paper", "log10", 1e-3, 1.0, 0.05650026, 1),
    ("beta", "inverse tumour carrying capacity (1/cell); b in the paper", "log10", 1.404029e-14, 1.404029e-10,
     1.404029e-12, 0),
    ("gamma", "tumour killing rate by effector CAR T (1/(cell d))", "log10", 1e-8, 1e-4, 3.715843e-6, 1),
    ("sigma_car_t", "noise SD of log10 CAR T counts", "log10", 1e-3, 10.0, 0.15, 1),
    ("sigma_tumour", "noise SD of log10 tumour counts", "log10", 1e-3, 10.0, 0.2, 1),
]
KINETIC = ["phi", "pi", "epsilon", "theta", "alpha", "mu", "rho", "beta", "gamma"]
T0 = 2e6                 # species T initialConcentration (compartment size 1)

SBML_NS = "{http://www.sbml.org/sbml/level3/version1/core}"
MML = "{http://www.w3.org/1998/Math/MathML}"


def fmt(x):
    """Shortest repr that round-trips (Python's float repr), without a trailing '.0'."""
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s


# --------------------------------------------------------------------------
# 1. The SBML file
# --------------------------------------------------------------------------

def make_model():
    """model_cartmath.xml = BioModels file with event1's Ct := 2000000 replaced by
    Ct := car_t_dose (a new constant parameter, 2e6). Bytes (CRLF endings) kept."""
    if not BIOMODELS_SBML.exists():
        print("note: %s not found; using the committed %s" % (BIOMODELS_SBML, MODEL.name))
        return
    src = BIOMODELS_SBML.read_bytes()
    old_assign = b"<cn> 2000000 </cn>"
    assert src.count(old_assign) == 1, "expected one literal 2000000 (event1)"
    out = src.replace(old_assign, b"<ci> car_t_dose </ci>")
    anchor = b"    </listOfParameters>"
    assert out.count(anchor) == 1
    new_param = (b'      <parameter id="car_t_dose" name="CAR T cells infused at day 45 (event1)" '
                 b'value="2000000" units="substance" constant="true"/>\r\n')
    out = out.replace(anchor, new_param + anchor)
    if not MODEL.exists() or MODEL.read_bytes() != out:
        MODEL.write_bytes(out)
        print("wrote %s" % MODEL.name)


def check_model():
    """Return the parameter values of model_cartmath.xml after checking the parts of
    the file that the hand-written simulator assumes."""
    root = ET.parse(MODEL).getroot()
    m = root.find(SBML_NS + "model")
    params = {p.get("id"): float(p.get("value")) for p in m.iter(SBML_NS + "parameter")}
    for pid, _, _, _, _, true, _ in PARAMETERS:
        if pid in KINETIC:
            assert params[pid] == true, (pid, params[pid], true)
    assert params["car_t_dose"] == 2e6
    species = {s.get("id"): s for s in m.iter(SBML_NS + "species")}
    assert sorted(species) == ["Cm", "Ct", "T"]
    assert float(species["T"].get("initialConcentration")) == T0
    assert float(species["Ct"].get("initialConcentration")) == 0.0
    assert float(species["Cm"].get("initialConcentration")) == 0.0
    comps = list(m.iter(SBML_NS + "compartment"))
    assert len(comps) == 1 and float(comps[0].get("size")) == 1.0
    for tag in ("rateRule", "assignmentRule", "algebraicRule", "initialAssignment"):
        assert not list(m.iter(SBML_NS + tag)), tag
    events = []
    for ev in m.iter(SBML_NS + "event"):
        ops = list(ev.find(SBML_NS + "trigger").find(MML + "math").find(MML + "apply"))
        assert ops[0].tag == MML + "geq" and ops[1].get("definitionURL", "").endswith("/time")
        (ea,) = list(ev.iter(SBML_NS + "eventAssignment"))
        (val,) = list(ea.find(MML + "math"))
        events.append((float(ops[2].text), ea.get("variable"), val.tag.split("}")[1], val.text.strip()))
    assert sorted(events) == [(INFUSION_DAY, "Ct", "ci", "car_t_dose"),
                              (RECHALLENGE_DAY, "T", "cn", "1000000")], events
    # Reactions: (reactant or product species, kinetic law parameters) as the equations above.
    laws = {}
    for r in m.iter(SBML_NS + "reaction"):
        sub = [s.get("species") for s in r.iter(SBML_NS + "speciesReference")]
        names = [c.text.strip() for c in r.find(SBML_NS + "kineticLaw").iter(MML + "ci")]
        laws[r.get("id")] = (sub, names)
    assert len(laws) == 8, sorted(laws)
    return params


# --------------------------------------------------------------------------
# 2. Simulation (independent of CARTSim)
# --------------------------------------------------------------------------

def rhs(t, y, p):
    ct, cm, tu = y
    return [p["phi"] * ct - p["pi"] * ct + p["theta"] * tu * cm - p["alpha"] * tu * ct,
            p["epsilon"] * ct - p["theta"] * tu * cm - p["mu"] * cm,
            p["rho"] * tu * (1.0 - p["beta"] * tu) - p["gamma"] * ct * tu]


def jac(t, y, p):
    ct, cm, tu = y
    return [[p["phi"] - p["pi"] - p["alpha"] * tu, p["theta"] * tu, p["theta"] * cm - p["alpha"] * ct],
            [p["epsilon"], -p["theta"] * tu - p["mu"], -p["theta"] * cm],
            [-p["gamma"] * tu, 0.0, p["rho"] * (1.0 - 2.0 * p["beta"] * tu) - p["gamma"] * ct]]


def simulate(p, dose, times, method="Radau"):
    """States (Ct, Cm, T) at the given times (none equal to the infusion day).
    Radau with the analytic Jacobian makes the data and the reference values; LSODA
    (about 40 times faster here, same tolerances, agreeing to ~4e-9) is used for the
    repeated simulations of the identifiability check and the maximum-likelihood fit."""
    times = np.asarray(sorted(set(times)), dtype=float)
    assert not np.any(times == INFUSION_DAY) and times.max() < RECHALLENGE_DAY
    out = {}
    pre = times[times < INFUSION_DAY]
    s1 = solve_ivp(rhs, (0.0, INFUSION_DAY), [0.0, 0.0, T0], method=method, jac=jac, args=(p,),
                   rtol=RTOL, atol=ATOL, t_eval=np.append(pre, INFUSION_DAY))
    assert s1.success, s1.message
    for i, t in enumerate(pre):
        out[t] = s1.y[:, i]
    # Before the infusion Ct = Cm = 0 exactly; the integrator keeps them at 0.
    y = np.array([dose, 0.0, s1.y[2, -1]])
    post = times[times > INFUSION_DAY]
    s2 = solve_ivp(rhs, (INFUSION_DAY, post.max()), y, method=method, jac=jac, args=(p,),
                   rtol=RTOL, atol=ATOL, t_eval=post)
    assert s2.success, s2.message
    for i, t in enumerate(post):
        out[t] = s2.y[:, i]
    return out


def observable(obs_id, x):
    """The observable formulas (the '+ 1' cell keeps the log finite when a population
    has died out, or is slightly negative from integration error)."""
    return (x[0] + x[1] if obs_id == "car_t_total" else x[2]) + 1.0


# --------------------------------------------------------------------------
# 3.-4. Data and tables
# --------------------------------------------------------------------------

def write_tsv(name, header, rows):
    text = "\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows)
    path = HERE / name
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
        print("wrote %s" % name)


def design(p):
    """Scheduled samples kept (true value >= LLOQ): [(obs, cond, dose, t, y_true)]."""
    rows = []
    for cid, _, dose in CONDITIONS:
        days = sorted({d for o in OBSERVABLES for d in o[6]})
        x = simulate(p, dose, days)
        for oid, *_, sched in OBSERVABLES:
            for t in sched:
                y = observable(oid, x[float(t)])
                if y >= LLOQ:
                    rows.append((oid, cid, dose, float(t), y))
    return rows


def nllh_terms(m, y, sigma):
    """PEtab 1.0, normal noise on the log10 scale: residual r and -log density."""
    r = (math.log10(m) - math.log10(y)) / sigma
    return r, 0.5 * math.log(2 * math.pi * sigma ** 2) + 0.5 * r * r + math.log(m * math.log(10))


# --------------------------------------------------------------------------
# 5. Identifiability (local, Fisher information at the truth)
# --------------------------------------------------------------------------

def log_obs_vector(p, rows):
    cache = {}
    for cid, _, dose in CONDITIONS:
        ts = [t for (_, c, _, t, _) in rows if c == cid]
        cache[cid] = simulate(p, dose, ts, method="LSODA")
    return np.array([math.log10(observable(o, cache[c][t])) for (o, c, _, t, _) in rows])


def identifiability(p, rows, sigmas):
    h = 1e-4   # central differences in log10 parameters
    S = []
    for k in KINETIC:
        up, dn = dict(p), dict(p)
        up[k] *= 10 ** h
        dn[k] *= 10 ** -h
        S.append((log_obs_vector(up, rows) - log_obs_vector(dn, rows)) / (2 * h))
    S = np.array(S).T
    w = np.array([1.0 / sigmas[o] for (o, *_rest) in rows])
    Sw = S * w[:, None]
    sv = np.linalg.svd(Sw, compute_uv=False)
    print("\nLocal identifiability at the true parameters (d log10 y / d log10 p, weighted by 1/sigma):")
    print("  singular values, all 9 kinetic parameters: " + " ".join("%.3g" % s for s in sv))
    print("  rank at 1e-6 of the largest: %d of 9" % int(np.sum(sv > 1e-6 * sv[0])))
    # phi and pi enter only as phi - pi: columns are exactly proportional.
    c = np.corrcoef(S[:, KINETIC.index("phi")], S[:, KINETIC.index("pi")])[0, 1]
    print("  correlation of the phi and pi sensitivities: %.6f (only phi - pi is identifiable)" % c)
    print("  largest |d log10 y / d log10 beta|: %.2g (beta is not identifiable from these data)"
          % np.abs(S[:, KINETIC.index("beta")]).max())
    est = [q[0] for q in PARAMETERS if q[6] == 1 and q[0] in KINETIC]
    idx = [KINETIC.index(k) for k in est]
    F = Sw[:, idx].T @ Sw[:, idx]
    cov = np.linalg.inv(F)
    se = np.sqrt(np.diag(cov))
    corr = cov / np.outer(se, se)
    print("  estimated kinetic parameters %s: condition number of the FIM %.3g" % (est, np.linalg.cond(F)))
    for k, s in zip(est, se):
        print("    %-6s standard error %.3f decades (log10 scale)" % (k, s))
    off = np.abs(corr - np.eye(len(est)))
    i, j = np.unravel_index(off.argmax(), off.shape)
    print("    largest |correlation|: %.3f (%s, %s)" % (off[i, j], est[i], est[j]))
    wider = [k for k in KINETIC if k not in ("pi", "beta")]
    idx = [KINETIC.index(k) for k in wider]
    se = np.sqrt(np.diag(np.linalg.inv(Sw[:, idx].T @ Sw[:, idx])))
    print("  if all 7 kinetic parameters except pi and beta were estimated, standard errors (decades):")
    print("    " + ", ".join("%s %.3f" % (k, v) for k, v in zip(wider, se)))
    for o, sig in sigmas.items():
        n = sum(1 for r in rows if r[0] == o)
        # normal likelihood: Fisher information of log10(sigma) is 2 n (ln 10)^2
        print("    sigma for %-12s standard error %.3f decades (n = %d)" % (o, 1 / math.sqrt(2 * n) / math.log(10), n))


# --------------------------------------------------------------------------
# Maximum-likelihood estimate (for reference.yaml: what a fit should reach)
# --------------------------------------------------------------------------

def fit_mle(rows, measured):
    """Maximise the likelihood over the estimated parameters, starting at the truth.
    The kinetic parameters (log10) are fitted by least squares with the noise SDs held;
    the SDs are then set to their closed-form optimum sqrt(mean r^2) per observable and
    the two steps repeated to a fixed point, which is a stationary point of the joint
    likelihood. Returns ({parameterId: value}, chi2, llh) at the estimate."""
    from scipy.optimize import least_squares
    est = [q for q in PARAMETERS if q[6] == 1 and q[0] in KINETIC]
    lo = np.log10([q[3] for q in est])
    hi = np.log10([q[4] for q in est])
    x = np.log10([q[5] for q in est])
    obs_ids = [r[0] for r in rows]
    noise_id = {o[0]: o[5] for o in OBSERVABLES}
    sig = {o[0]: next(q[5] for q in PARAMETERS if q[0] == o[5]) for o in OBSERVABLES}
    logm = np.log10(measured)

    def params(x):
        p = dict(TRUE)
        p.update({q[0]: 10 ** v for q, v in zip(est, x)})
        return p

    def resid(x, sig):
        w = np.array([1.0 / sig[o] for o in obs_ids])
        try:
            return (log_obs_vector(params(x), rows) - logm) * w
        except (AssertionError, ValueError):
            return np.full(len(rows), 1e3)

    for _ in range(100):
        sol = least_squares(resid, x, args=(sig,), bounds=(lo, hi), diff_step=1e-6,
                            xtol=1e-12, ftol=1e-12, gtol=1e-12)
        x = sol.x
        r = log_obs_vector(params(x), rows) - logm
        new = {o: math.sqrt(np.mean([ri * ri for ri, oo in zip(r, obs_ids) if oo == o])) for o in sig}
        done = max(abs(new[o] / sig[o] - 1) for o in sig) < 1e-10
        sig = new
        if done:
            break
    p = params(x)
    sims = {cid: simulate(p, dose, [t for (_, c, _, t, _) in rows if c == cid]) for cid, _, dose in CONDITIONS}
    chi2 = nllh = 0.0
    for (o, c, _, t, _), m in zip(rows, measured):
        ri, term = nllh_terms(m, observable(o, sims[c][t]), sig[o])
        chi2 += ri * ri
        nllh += term
    values = {q[0]: p[q[0]] for q in est}
    values.update({noise_id[o]: sig[o] for o in sig})
    return values, chi2, -nllh


# --------------------------------------------------------------------------
# 6. Optional cross-checks
# --------------------------------------------------------------------------

def roadrunner_check(rows):
    try:
        import roadrunner
        roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
    except ImportError:
        print("\n(libroadrunner not installed: SBML cross-check skipped)")
        return
    worst = 0.0
    for cid, _, dose in CONDITIONS:
        rr = roadrunner.RoadRunner(str(MODEL))
        rr.integrator.relative_tolerance = 1e-12
        rr.integrator.absolute_tolerance = 1e-12
        rr["car_t_dose"] = dose
        ts = sorted({t for (_, c, _, t, _) in rows if c == cid})
        grid = sorted(set([0.0] + ts))
        rr.selections = ["time", "[Ct]", "[Cm]", "[T]"]
        res = rr.simulate(times=grid)
        got = {row[0]: row[1:] for row in res}
        for (o, c, _, t, y) in rows:
            if c != cid:
                continue
            x = got[t]
            v = observable(o, x)
            worst = max(worst, abs(v - y) / abs(y))
    print("\nlibroadrunner %s on %s: largest relative difference from scipy over the samples: %.2g"
          % (roadrunner.__version__, MODEL.name, worst))
    assert worst < 1e-6, worst


def petab_check(chi2, llh):
    import warnings
    try:
        import pandas as pd
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd.options.future.infer_string = False   # petab 0.5 predates pandas 3's string dtype
    except (ImportError, AttributeError, KeyError):
        pass
    try:
        import petab.v1 as petab
    except ImportError:
        try:
            import petab
        except ImportError:
            print("(petab not installed: PEtab lint and petab.calculate cross-check skipped)")
            return
    import logging
    logging.getLogger("petab").setLevel(logging.ERROR)
    problem = petab.Problem.from_yaml(str(HERE / "cartmath.yaml"))
    bad = petab.lint_problem(problem)
    print("petab %s lint: %s" % (importlib.metadata.version("petab"), "errors" if bad else "ok"))
    mdf = problem.measurement_df
    sim = mdf.copy()
    sims = {}
    for cid, _, dose in CONDITIONS:
        sims[cid] = simulate(TRUE, dose, mdf[mdf.simulationConditionId == cid].time.tolist())
    sim = sim.rename(columns={"measurement": "simulation"})
    sim["simulation"] = [observable(o, sims[c][float(t)]) for o, c, t in
                         zip(mdf.observableId, mdf.simulationConditionId, mdf.time)]
    c2 = petab.calculate_chi2(mdf, sim, problem.observable_df, problem.parameter_df)
    ll = petab.calculate_llh(mdf, sim, problem.observable_df, problem.parameter_df)
    print("petab.calculate_chi2 %.12g (ours %.12g), petab.calculate_llh %.12g (ours %.12g)" % (c2, chi2, ll, llh))
    assert not bad
    assert abs(c2 - chi2) <= 1e-9 * abs(chi2) and abs(ll - llh) <= 1e-9 * abs(llh)


# --------------------------------------------------------------------------

TRUE = {}


def main():
    make_model()
    sbml_params = check_model()
    TRUE.update({k: sbml_params[k] for k in KINETIC})
    sigmas = {o[0]: next(q[5] for q in PARAMETERS if q[0] == o[5]) for o in OBSERVABLES}

    write_tsv("conditions.tsv", ["conditionId", "conditionName", "car_t_dose"],
              [(c, n, fmt(d)) for c, n, d in CONDITIONS])
    write_tsv("observables.tsv",
              ["observableId", "observableName", "observableFormula", "observableTransformation",
               "noiseFormula", "noiseDistribution"],
              [(o[0], o[1], o[2], o[3], o[4], "normal") for o in OBSERVABLES])
    write_tsv("parameters.tsv",
              ["parameterId", "parameterName", "parameterScale", "lowerBound", "upperBound",
               "nominalValue", "estimate"],
              [(i, n, s, fmt(lo), fmt(hi), fmt(v), str(e)) for i, n, s, lo, hi, v, e in PARAMETERS])
    write_tsv("truth.tsv", ["parameterId", "trueValue"], [(q[0], fmt(q[5])) for q in PARAMETERS])

    rows = design(TRUE)
    rng = np.random.default_rng(SEED)
    noise_param = {o[0]: o[5] for o in OBSERVABLES}
    meas, measured = [], []
    chi2 = nllh = 0.0
    for (o, c, _, t, y) in rows:
        z = rng.standard_normal()
        m = float("%.10g" % 10 ** (math.log10(y) + sigmas[o] * z))   # the value as written
        r, term = nllh_terms(m, y, sigmas[o])
        chi2 += r * r
        nllh += term
        meas.append((o, c, fmt(t), "%.10g" % m, "", noise_param[o]))
        measured.append(m)
    write_tsv("measurements.tsv",
              ["observableId", "simulationConditionId", "time", "measurement", "observableParameters",
               "noiseParameters"], meas)
    ref = ("# chi2 and log-likelihood of measurements.tsv at the true (nominal) parameters,\n"
           "# PEtab 1.0 conventions: chi2 = sum r^2, r = (log10 m - log10 y)/sigma;\n"
           "# llh = -sum(0.5 ln(2 pi sigma^2) + 0.5 r^2 + ln(m ln 10)). Written by make_data.py.\n"
           "chi2: %s\nllh: %s\nnllh: %s\nn_measurements: %d\n"
           "computed_by: \"Examples/fit/make_data.py: scipy %s solve_ivp Radau, rtol %g, atol %g, "
           "hand-written CARTmath equations checked against model_cartmath.xml\"\n"
           % (fmt(chi2), fmt(-nllh), fmt(nllh), len(meas), __import__("scipy").__version__, RTOL, ATOL))
    mle, mle_chi2, mle_llh = fit_mle(rows, measured)
    ref += ("# Maximum-likelihood estimate of the estimated parameters (linear scale), found by\n"
            "# least squares started at the truth (make_data.py, fit_mle); values to 6 digits.\n"
            "# A fit should reach llh >= mle_llh - 1e-3.\n"
            "mle_chi2: %.6f\nmle_llh: %.6f\nmle:\n" % (mle_chi2, mle_llh)
            + "".join("  %s: %.6g\n" % (k, v) for k, v in mle.items()))
    path = HERE / "reference.yaml"
    if not path.exists() or path.read_text() != ref:
        path.write_text(ref)
        print("wrote reference.yaml")

    print("\nTrue parameters (BioModels BIOMD0000001019 values; noise SDs on the log10 scale):")
    for pid, name, _, lo, hi, v, e in PARAMETERS:
        print("  %-13s %-14s %s, bounds [%s, %s]" % (pid, fmt(v), "estimated" if e else "fixed    ",
                                                      fmt(lo), fmt(hi)))
    print("\n%d measurements:" % len(meas))
    for cid, _, dose in CONDITIONS:
        for o in OBSERVABLES:
            ts = [t for (oo, c, _, t, _) in rows if c == cid and oo == o[0]]
            print("  %-10s %-13s %2d samples, days %s" % (cid, o[0], len(ts), " ".join(fmt(t) for t in ts)))
    print("\nAt the true parameters: chi2 = %.12g, llh = %.12g" % (chi2, -nllh))

    if "--no-checks" not in sys.argv:
        identifiability(TRUE, rows, sigmas)
        roadrunner_check(rows)
        petab_check(chi2, -nllh)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Coverage study of `cartsim nlme fit` on simulated CAR T cellular-kinetics studies (Stein model).

For replicate r = 1..R the study is simulated with seed r by Scripts/nlme/simulate_stein.py (an
implementation independent of CARTSim) into a folder of its own, next to a copy of the control
stream, and fitted:

    cartsim nlme fit MODEL --data DATA --npde-samples 0 --out DIR [--threads T] [--method M]

From DIR/fit.json (THETA in order, OMEGA and SIGMA lower triangles, their SEs, null where fixed)
it reports per estimated parameter: the true value, the mean estimate, the relative bias and
relative RMSE, and how many 95% intervals estimate ± 1.96·SE hold the true value; plus how many
fits failed and the median seconds per fit. Writes Scripts/bench/results/nlme_coverage.json and
nlme_coverage.md (or --out-json/--out-md).

    python3 Scripts/bench/nlme_coverage.py                              # 50 replicates, cart-stein.mod
    python3 Scripts/bench/nlme_coverage.py --model Examples/nlme/cart-stein-pred.mod --replicates 5
    python3 Scripts/bench/nlme_coverage.py --check                      # replicate 1: truth recovered?

With --profile each successful fit is followed by `cartsim nlme profile MODEL --data DATA --from
fit.json --at NAME=TRUE ...`: the objective with one parameter held at its true value and the others
estimated again. The profile-likelihood interval {value: OFV(value) − OFV(fit) < χ²₁(0.95) = 3.84}
holds the truth exactly when that rise is below 3.84, so these re-fits count its coverage without
locating every interval's ends (test inversion); the table gets a column for it.

With --bootstrap B each successful fit is followed by `cartsim nlme bootstrap MODEL --data DATA
--from fit.json --samples B` (with --parametric: `--parametric`, the samples simulated from the
fit's estimates), and the table gets the coverage of its percentile, basic and normal intervals.

--check fits replicate 1 only (the study of Examples/nlme/cart-stein.csv) and passes when the
minimisation succeeded, the covariance step gave SEs, and every estimated parameter lies within
3 SE of its true value (exit 1 otherwise).

Statistics are over the successful replicates: minimisation successful and SEs from a covariance
step whose R matrix is positive definite. A replicate whose cartsim run fails, or that stops unsuccessfully, counts as failed and is
listed with its status. With --work DIR the replicate folders are kept there and a rerun reuses
every fit.json it finds (a long study can be resumed); without it they go to a temporary folder.
"""

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Scripts", "nlme"))
import simulate_stein  # noqa: E402

Z95 = 1.959963984540054
CHI2_95 = 3.841458820694124  # χ²₁(0.95): a profile-likelihood interval's threshold on OFV
CHECK_SE = 3.0  # --check: every estimate within this many SEs of the truth


def rel(path):
    """A path relative to the package root when it lies inside it (no machine paths in results)."""
    p = os.path.abspath(path)
    try:
        r = os.path.relpath(p, ROOT)
    except ValueError:
        return os.path.basename(p)
    return r if not r.startswith("..") else os.path.join("…", os.path.basename(p))


def parameter_table():
    """(name in fit.json's parameter_names, label, shape, index in the shape, true value)."""
    t = simulate_stein.true_parameters()
    out = []
    for k, v in enumerate(t["theta"]):
        out.append((f"THETA({k + 1})", t["theta_names"][k], "theta", k, v))
    n = len(simulate_stein.ETA_ORDER)
    idx = 0
    for i in range(n):
        for j in range(i + 1):
            out.append((f"OMEGA({i + 1},{j + 1})", t["omega_names"][idx], "omega", idx, t["omega"][idx]))
            idx += 1
    out.append(("SIGMA(1,1)", "SIGMA(1,1) residual (log scale)", "sigma", 0, t["sigma"][0]))
    return out


def run_replicate(r, args, work):
    """Simulates and fits replicate r; returns its record (fit.json's numbers, or the failure)."""
    d = os.path.join(work, f"rep{r:03d}")
    os.makedirs(d, exist_ok=True)
    model = os.path.join(d, os.path.basename(args.model))
    data = os.path.join(d, "cart-stein.csv")
    out = os.path.join(d, "fit")
    rows, n_obs, n_cens = simulate_stein.simulate(r, args.subjects, args.lloq)
    simulate_stein.write_csv(rows, data)
    shutil.copyfile(args.model, model)
    rec = {"replicate": r, "seed": r, "observations": n_obs, "censored": n_cens, "censored_fraction": n_cens / n_obs}
    fit_json = os.path.join(out, "fit.json")
    wall = None
    if not (args.work and os.path.exists(fit_json)):
        cmd = [args.cartsim, "nlme", "fit", model, "--data", data, "--npde-samples", "0", "--out", out]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if args.method:
            cmd += ["--method", args.method]
        start = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.monotonic() - start
        with open(os.path.join(d, "cartsim.log"), "w", encoding="utf-8") as f:
            f.write(p.stdout + p.stderr)
        if p.returncode != 0:
            rec.update(ok=False, status=f"cartsim exit {p.returncode}: {(p.stderr or p.stdout).strip()[-500:]}", wall_seconds=wall)
            return rec
    if not os.path.exists(fit_json):
        rec.update(ok=False, status="no fit.json", wall_seconds=wall)
        return rec
    with open(fit_json, encoding="utf-8") as f:
        fit = json.load(f)
    se = fit.get("se")
    rec.update(
        ofv=fit["ofv"],
        method=fit.get("method"),
        status=fit["status"],
        minimization_successful=fit["minimization_successful"],
        covariance_status=fit.get("covariance_status"),
        evaluations=fit.get("evaluations"),
        seconds=fit["seconds"],
        wall_seconds=wall,
        parameter_names=fit.get("parameter_names", []),
        theta=fit["theta"],
        omega=fit["omega"],
        sigma=fit["sigma"],
        se=se,
        eta_shrinkage=fit.get("eta_shrinkage"),
    )
    # Successful: minimisation successful and SEs from a covariance step whose R is positive definite.
    rec["ok"] = bool(fit["minimization_successful"]) and se is not None and "not positive definite" not in (fit.get("covariance_status") or "")
    if args.profile and rec["ok"]:
        rec.update(profile_at_truth(d, model, data, fit_json, rec["parameter_names"], args))
    if args.bootstrap and rec["ok"]:
        rec.update(bootstrap_intervals(d, model, data, fit_json, args))
    return rec


def refit_document(command, extra, d, folder, document, model, data, fit_json, args):
    """Runs `cartsim nlme COMMAND MODEL --data DATA --from fit.json EXTRA` into d/folder (reused
    with --work) and returns its JSON document, or a status string when it failed."""
    out = os.path.join(d, folder)
    doc_path = os.path.join(out, document)
    if not (args.work and os.path.exists(doc_path)):
        cmd = [args.cartsim, "nlme", command, model, "--data", data, "--from", fit_json] + extra + ["--out", out, "--quiet"]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if args.method:
            cmd += ["--method", args.method]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0 or not os.path.exists(doc_path):
            return f"cartsim nlme {command} exit {p.returncode}: {(p.stderr or p.stdout).strip()[-500:]}"
    with open(doc_path, encoding="utf-8") as f:
        return json.load(f)


def bootstrap_intervals(d, model, data, fit_json, args):
    """The percentile, basic and normal intervals of `cartsim nlme bootstrap`."""
    extra = ["--samples", str(args.bootstrap)] + (["--parametric"] if args.parametric else [])
    folder = f"{'parametric' if args.parametric else 'bootstrap'}{args.bootstrap}"
    doc = refit_document("bootstrap", extra, d, folder, "bootstrap.json", model, data, fit_json, args)
    if isinstance(doc, str):
        return {"bootstrap_status": doc}
    return {
        "bootstrap_seconds": doc["seconds"],
        "bootstrap_successful": doc["successful"],
        "bootstrap": {
            i["parameter"]: {
                k: i.get(k) for k in ("percentile_lower", "percentile_upper", "basic_lower", "basic_upper", "normal_lower", "normal_upper")
            }
            for i in doc["intervals"]
        },
    }


def profile_at_truth(d, model, data, fit_json, names, args):
    """OFV(truth) − OFV(fit) per estimated parameter, by `cartsim nlme profile --at`."""
    truths = {name: truth for name, _, _, _, truth in parameter_table()}
    extra = [a for name in names for a in ("--at", f"{name}={truths[name]!r}")]
    doc = refit_document("profile", extra, d, "profile", "profiles.json", model, data, fit_json, args)
    if isinstance(doc, str):
        return {"profile_status": doc}
    return {
        "profile_seconds": doc["seconds"],
        "profile_delta": {p["parameter"]: p["points"][0]["delta"] for p in doc["profiles"]},
        "profile_converged": {p["parameter"]: p["points"][0]["converged"] for p in doc["profiles"]},
    }


def reference_delta(x, name):
    """The rise at the truth above the lowest objective known for the study: the fit's, or a
    re-fit's where one ended below it (the fit stopped at a local optimum)."""
    return x["profile_delta"][name] - min(0.0, min(x["profile_delta"].values()))


def summarise(records, table):
    """Per estimated parameter: truth, mean, relative bias, relative RMSE, coverage."""
    good = [x for x in records if x.get("ok")]
    estimated = set()
    for x in records:
        estimated.update(x.get("parameter_names") or [])
    rows = []
    for name, label, shape, k, truth in table:
        if estimated and name not in estimated:
            continue
        est = [x[shape][k] for x in good]
        ses = [x["se"][shape][k] for x in good]
        pairs = [(e, s) for e, s in zip(est, ses) if e is not None and s is not None and math.isfinite(s)]
        n = len(est)
        if n == 0:
            rows.append({"parameter": label, "name": name, "true": truth, "n": 0})
            continue
        mean = statistics.fmean(est)
        rmse = math.sqrt(statistics.fmean([(e - truth) ** 2 for e in est]))
        covered = sum(abs(e - truth) <= Z95 * s for e, s in pairs)
        # A variance's interval on the log scale (the delta method on log ω²: SE/ω̂²), as R nlme's
        # intervals() gives for variance components; it follows the right skew of their estimates.
        variance = name == "SIGMA(1,1)" or (name.startswith("OMEGA(") and name[6:-1].split(",")[0] == name[6:-1].split(",")[1])
        log_pairs = [(e, s) for e, s in pairs if e > 0] if variance else []
        log_covered = sum(abs(math.log(e) - math.log(truth)) <= Z95 * s / e for e, s in log_pairs)
        deltas = [reference_delta(x, name) for x in good if name in x.get("profile_delta", {})]
        boots = [x["bootstrap"][name] for x in good if name in x.get("bootstrap", {})]
        rows.append(
            {
                "parameter": label,
                "name": name,
                "true": truth,
                "n": n,
                "mean_estimate": mean,
                "relative_bias": (mean - truth) / truth,
                "relative_rmse": rmse / truth,
                "mean_se": statistics.fmean([s for _, s in pairs]) if pairs else None,
                "sd_estimates": statistics.stdev(est) if n > 1 else None,
                "covered": covered,
                "with_se": len(pairs),
                "coverage": covered / len(pairs) if pairs else None,
                "log_covered": log_covered if variance else None,
                "log_with_se": len(log_pairs) if variance else None,
                "percentile_covered": sum(b["percentile_lower"] <= truth <= b["percentile_upper"] for b in boots),
                "basic_covered": sum(b["basic_lower"] <= truth <= b["basic_upper"] for b in boots),
                "normal_covered": sum(
                    b["normal_lower"] is not None and b["normal_lower"] <= truth <= b["normal_upper"] for b in boots
                ),
                "bootstrap_n": len(boots),
                "profile_covered": sum(dl < CHI2_95 for dl in deltas),
                "profile_n": len(deltas),
                "profile_coverage": sum(dl < CHI2_95 for dl in deltas) / len(deltas) if deltas else None,
            }
        )
    return rows


def fmt(v, digits=4):
    if v is None:
        return "–"
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def markdown(result):
    s = result["summary"]
    lines = [
        "# Coverage of `cartsim nlme fit`: simulated CAR T cellular-kinetics studies (Stein model)",
        "",
        f"{result['replicates']} replicates; {result['date']}, {result['machine']['cpu']}, "
        f"{result['machine']['cpu_count']} cores. Made by `{result['command_line']}`.",
        "",
        f"- Model: `{result['model']}`, method {result['method'] or 'of the control stream'}; "
        f"data simulated by `Scripts/nlme/simulate_stein.py --seed r --subjects {result['subjects']}` "
        f"(r = 1…{result['replicates']}), LLOQ {result['lloq']:g} copies/µg.",
        f"- cartsim {result['cartsim']['version']} (source {result['cartsim']['source']}): "
        f"`cartsim nlme fit MODEL --data DATA --npde-samples 0"
        f"{' --threads ' + str(result['threads']) if result['threads'] else ''}"
        f"{' --method ' + result['method'] if result['method'] else ''}`.",
        f"- Censored (below LLOQ): {100 * s['censored_fraction_mean']:.1f}% of observations on average "
        f"(range {100 * s['censored_fraction_min']:.1f}–{100 * s['censored_fraction_max']:.1f}%), "
        f"{s['observations_mean']:.0f} observations per study.",
        f"- Successful fits: {s['successful']} of "
        f"{result['replicates']}; failed or unsuccessful: {s['failed']}. Median seconds per fit "
        f"(fit.json `seconds`: estimation and covariance step): {fmt(s['median_seconds'], 3)}"
        f"{'; median wall time ' + fmt(s['median_wall_seconds'], 3) + ' s' if s['median_wall_seconds'] else ''}.",
        "- Statistics over the successful fits (minimisation successful, covariance step with R positive definite). Relative bias = (mean estimate − true)/true; relative RMSE = "
        "√mean((estimate − true)²)/true; coverage: how many intervals estimate ± 1.96·SE (sandwich) hold the true value; "
        "for a variance also on the log scale, exp(log estimate ± 1.96·SE/estimate).",
        "",
    ]
    profiled = any(row.get("profile_n") for row in result["parameters"])
    booted = any(row.get("bootstrap_n") for row in result["parameters"])
    if profiled:
        lines[-2] += (
            " Profile coverage: how many profile-likelihood intervals (OFV within χ²₁(0.95) = 3.84 of the fit's, "
            "`cartsim nlme profile`) hold the true value, counted by re-fitting with the parameter held at it"
            f" (median {fmt(result['summary'].get('median_profile_seconds'), 3)} s per study for all parameters)."
        )
    if booted:
        lines[-2] += (
            f" Bootstrap: `cartsim nlme bootstrap --samples {result['bootstrap_samples']}"
            f"{' --parametric' if result.get('parametric') else ''}` per study (median "
            f"{fmt(result['summary'].get('median_bootstrap_seconds'), 3)} s; "
            + ("samples simulated from the study's estimates" if result.get("parametric") else "subjects resampled")
            + "); percentile interval = 2.5th to 97.5th percentile "
            "of the bootstrap estimates, basic = 2·estimate − those percentiles, normal = estimate − bias ± 1.96·bootstrap SE."
        )
    lines += [
        "",
        "| parameter | true | mean estimate | relative bias | relative RMSE | mean SE | SD of estimates | 95% coverage (Wald) | Wald, log scale |"
        + (" profile coverage |" if profiled else "")
        + (" bootstrap percentile | bootstrap basic | bootstrap normal |" if booted else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if profiled else "") + ("---:|---:|---:|" if booted else ""),
    ]
    for row in result["parameters"]:
        if row["n"] == 0:
            lines.append(
                f"| {row['parameter']} | {fmt(row['true'])} | – | – | – | – | – | – | – |" + (" – |" if profiled else "") + (" – | – | – |" if booted else "")
            )
            continue
        cov = f"{row['covered']}/{row['with_se']} ({100 * row['coverage']:.0f}%)" if row["coverage"] is not None else "–"
        log_cov = (
            f"{row['log_covered']}/{row['log_with_se']} ({100 * row['log_covered'] / row['log_with_se']:.0f}%)" if row.get("log_with_se") else "–"
        )
        lines.append(
            f"| {row['parameter']} | {fmt(row['true'])} | {fmt(row['mean_estimate'])} | "
            f"{100 * row['relative_bias']:+.1f}% | {100 * row['relative_rmse']:.1f}% | {fmt(row['mean_se'], 3)} | "
            f"{fmt(row['sd_estimates'], 3)} | {cov} | {log_cov} |"
            + (
                f" {row['profile_covered']}/{row['profile_n']} ({100 * row['profile_coverage']:.0f}%) |"
                if profiled and row.get("profile_n")
                else (" – |" if profiled else "")
            )
            + (
                f" {row['percentile_covered']}/{row['bootstrap_n']} ({100 * row['percentile_covered'] / row['bootstrap_n']:.0f}%) |"
                f" {row['basic_covered']}/{row['bootstrap_n']} ({100 * row['basic_covered'] / row['bootstrap_n']:.0f}%) |"
                f" {row['normal_covered']}/{row['bootstrap_n']} ({100 * row['normal_covered'] / row['bootstrap_n']:.0f}%) |"
                if booted and row.get("bootstrap_n")
                else (" – | – | – |" if booted else "")
            )
        )
    if profiled:
        deltas = [dl for x in result["runs"] for dl in x.get("profile_delta", {}).values()]
        below = [dl for dl in deltas if dl < -0.05]
        lines += [
            "",
            f"Profile re-fits that ended below the fit's objective by more than 0.05 (the fit short of the optimum): "
            f"{len(below)} of {len(deltas)}" + (f", by at most {-min(below):.3f}" if below else "")
            + f", in {sum(1 for x in result['runs'] if min(x.get('profile_delta', {}).values(), default=0) < -0.05)} studies."
            + (" The profile coverage counts the rise above the lowest objective found for the study." if below else ""),
        ]
        for x in result["runs"]:
            if x.get("profile_status"):
                lines.append(f"- replicate {x['replicate']}: profile: {x['profile_status']}")
    for x in result["runs"]:
        if x.get("bootstrap_status"):
            lines.append(f"- replicate {x['replicate']}: bootstrap: {x['bootstrap_status']}")
    failed = [x for x in result["runs"] if not x.get("ok")]
    if failed:
        lines += ["", "Failed or unsuccessful replicates:", ""]
        for x in failed:
            cov = f"; covariance: {x['covariance_status']}" if x.get("covariance_status") else ""
            lines.append(f"- replicate {x['replicate']}: {x.get('status')}{cov}")
    return "\n".join(lines) + "\n"


def cartsim_version(binary):
    try:
        return subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def git_source():
    try:
        p = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        return p.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def check(rec, table):
    """The one-replicate check: successful, SEs, every estimate within CHECK_SE SEs of the truth."""
    if rec.get("ofv") is None:
        print(f"check FAILED: replicate 1: {rec.get('status')}")
        return False
    passed = bool(rec.get("ok"))
    print(f"replicate 1 ({rec['method']}): OFV {rec['ofv']:.4f}, {rec['status']}; covariance: {rec.get('covariance_status')}; {rec['seconds']:.1f} s")
    print(f"{'parameter':34s} {'true':>10s} {'estimate':>10s} {'SE':>10s} {'(est-true)/SE':>13s} {'rel. error':>10s}")
    for name, label, shape, k, truth in table:
        if name not in rec["parameter_names"]:
            continue
        e = rec[shape][k]
        s = rec["se"][shape][k] if rec.get("se") else None
        z = (e - truth) / s if s else None
        ok = z is not None and abs(z) <= CHECK_SE
        passed &= ok
        zs = f"{z:+13.2f}" if z is not None else f"{'–':>13s}"
        ss = f"{s:10.3g}" if s is not None else f"{'–':>10s}"
        print(f"{label:34s} {truth:10.4g} {e:10.4g} {ss} {zs} {100 * (e - truth) / truth:+9.1f}%{'' if ok else '  <- outside'}")
    print(
        f"check {'passed' if passed else 'FAILED'}: minimisation successful, SEs from the covariance step, "
        f"every estimate within {CHECK_SE:g} SE of the truth"
    )
    return passed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicates", type=int, default=50, help="number of simulated studies (default 50)")
    ap.add_argument("--threads", type=int, default=None, help="--threads of cartsim (default: cartsim's, all cores)")
    ap.add_argument("--model", default=os.path.join(ROOT, "Examples", "nlme", "cart-stein.mod"), help="the control stream")
    ap.add_argument("--cartsim", default=os.path.join(ROOT, ".build", "release", "cartsim"), help="the cartsim binary")
    ap.add_argument("--method", default=None, help="--method of cartsim (default: the control stream's $ESTIMATION)")
    ap.add_argument("--subjects", type=int, default=60, help="patients per study (default 60)")
    ap.add_argument("--lloq", type=float, default=simulate_stein.LLOQ, help="assay limit, copies/ug")
    ap.add_argument("--work", default=None, help="keep the replicate folders here (and reuse their fit.json)")
    ap.add_argument("--check", action="store_true", help="fit replicate 1 only and check the truth is recovered")
    ap.add_argument("--profile", action="store_true", help="also count the coverage of profile-likelihood intervals")
    ap.add_argument("--bootstrap", type=int, default=0, metavar="B", help="also count the coverage of bootstrap intervals of B samples")
    ap.add_argument("--parametric", action="store_true", help="with --bootstrap: simulate the samples from each fit (parametric bootstrap)")
    ap.add_argument("--out-json", default=os.path.join(HERE, "results", "nlme_coverage.json"))
    ap.add_argument("--out-md", default=os.path.join(HERE, "results", "nlme_coverage.md"))
    args = ap.parse_args(argv)
    if args.replicates < 1:
        ap.error("--replicates must be at least 1")
    if not os.access(args.cartsim, os.X_OK):
        ap.error(f"no executable cartsim at {args.cartsim} (swift build -c release --product cartsim)")
    if not os.path.isfile(args.model):
        ap.error(f"no control stream {args.model}")
    table = parameter_table()
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="cartsim-nlme-coverage-")
    try:
        if args.check:
            return 0 if check(run_replicate(1, args, work), table) else 1
        records = []
        for r in range(1, args.replicates + 1):
            rec = run_replicate(r, args, work)
            records.append(rec)
            if rec.get("ofv") is not None:
                print(
                    f"replicate {r}: {100 * rec['censored_fraction']:.1f}% censored, OFV {rec['ofv']:.4f}, "
                    f"{rec['status']}; covariance: {rec.get('covariance_status')}; {rec['seconds']:.1f} s",
                    flush=True,
                )
            else:
                print(f"replicate {r}: FAILED: {rec['status']}", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    good = [x for x in records if x.get("ok")]
    secs = [x["seconds"] for x in records if x.get("seconds") is not None]
    walls = [x["wall_seconds"] for x in records if x.get("wall_seconds") is not None]
    psecs = [x["profile_seconds"] for x in records if x.get("profile_seconds") is not None]
    bsecs = [x["bootstrap_seconds"] for x in records if x.get("bootstrap_seconds") is not None]
    fractions = [x["censored_fraction"] for x in records]
    result = {
        "command_line": " ".join(["Scripts/bench/nlme_coverage.py"] + [rel(a) if os.path.isabs(a) else a for a in (argv or sys.argv[1:])]),
        "date": datetime.date.today().isoformat(),
        "machine": {"platform": platform.platform(), "cpu": cpu_name(), "cpu_count": os.cpu_count()},
        "cartsim": {"binary": rel(args.cartsim), "version": cartsim_version(args.cartsim), "source": git_source()},
        "model": rel(args.model),
        "method": args.method,
        "threads": args.threads,
        "replicates": args.replicates,
        "bootstrap_samples": args.bootstrap,
        "parametric": args.parametric,
        "subjects": args.subjects,
        "lloq": args.lloq,
        "truth": simulate_stein.true_parameters(),
        "summary": {
            "successful": len(good),
            "failed": len(records) - len(good),
            "median_seconds": statistics.median(secs) if secs else None,
            "median_wall_seconds": statistics.median(walls) if walls else None,
            "median_profile_seconds": statistics.median(psecs) if psecs else None,
            "median_bootstrap_seconds": statistics.median(bsecs) if bsecs else None,
            "censored_fraction_mean": statistics.fmean(fractions),
            "censored_fraction_min": min(fractions),
            "censored_fraction_max": max(fractions),
            "observations_mean": statistics.fmean([x["observations"] for x in records]),
        },
        "parameters": summarise(records, table),
        "runs": records,
    }
    for path in (args.out_json, args.out_md):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(args.out_json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    text = markdown(result)
    with open(args.out_md, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    print(f"wrote {rel(args.out_json)} and {rel(args.out_md)}")
    return 0


def cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    return " ".join(name.split()[:2]) if name.startswith("AMD") else name
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())

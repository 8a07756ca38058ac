"""Benchmark of the HEROS trial: patients per second per core, and peak memory as the number of
patients grows. Runs the release `cartsim trial` on the embedded HEROS trial (four arms) with
N/4 patients per arm, under /usr/bin/time -v, and prints a markdown table.

    swift build -c release --product cartsim
    python3 Scripts/bench/trial_scaling.py [--sizes 1000,10000,100000] [--threads 1]

Memory is the peak resident set size of the whole process. Throughput per core is patients per
second divided by the threads used; run it on an otherwise idle machine.
"""
import argparse, os, re, shutil, subprocess, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--sizes", default="1000,10000,100000")
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "../../.build/release/cartsim"))
args = ap.parse_args()

rows = []
for n in [int(x) for x in args.sizes.split(",")]:
    out = tempfile.mkdtemp(prefix="cartsim-bench-")
    cmd = ["/usr/bin/time", "-v", args.binary, "trial", "--patients", str(n // 4), "--threads", str(args.threads),
           "--out", out, "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", p.stderr)
    h, m, s = wall.groups()
    seconds = (int(h) if h else 0) * 3600 + int(m) * 60 + float(s)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    sim = re.search(r"(\d+) patients in ([\d.]+) s", p.stderr)
    simulated, sim_seconds = int(sim.group(1)), float(sim.group(2))
    csv_mb = os.path.getsize(os.path.join(out, "patients.csv")) / 2**20
    shutil.rmtree(out)
    rows.append((n, seconds, sim_seconds, simulated / sim_seconds, simulated / sim_seconds / args.threads, rss, csv_mb))
    print(f"{n} patients: {seconds:.1f} s, {rss:.0f} MB", flush=True)

print(f"\n| patients | wall s | simulation s | patients/s | per core ({args.threads} threads) | peak RSS MB | patients.csv MB |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]:.1f} | {r[2]:.1f} | {r[3]:.0f} | {r[4]:.0f} | {r[5]:.0f} | {r[6]:.1f} |")

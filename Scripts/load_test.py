#!/usr/bin/env python3
"""Short load test on loopback: many concurrent POST /api/simulate requests.

    python3 Scripts/load_test.py --url http://127.0.0.1:PORT [--requests 400] [--concurrency 16]
                                 [--max-seconds 60] [--token T]

Bounded in count (--requests) and time (--max-seconds: no new requests after it). Each request
simulates a HEROS scenario with a different dose, HER2 level and number of infusions (as the
explorer sends them). Prints throughput and latency percentiles; exit status 1 on any error."""
import argparse
import concurrent.futures
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    f, c = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--token")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    base = json.load(open(os.path.join(HERE, "..", "Examples", "heros2-cohortB.json")))
    rng = random.Random(6)
    bodies = []
    for i in range(args.requests):
        s = json.loads(json.dumps(base))
        s["car_t"]["dose"] = 10 ** rng.uniform(7, 9)
        s["car_t"]["number"] = rng.randint(1, 4)
        s["car_t"]["lymphodepletion_before"] = list(range(1, s["car_t"]["number"] + 1))
        # The example's dosing rule, kept for the infusions that remain.
        if s["car_t"]["number"] >= 2:
            s["car_t"]["conditions"] = [{"infusions": [2, s["car_t"]["number"]], "require": "SD_or_better"}]
        else:
            s["car_t"].pop("conditions", None)
        s["patient"]["her2_level"] = round(rng.uniform(0.2, 3), 2)
        bodies.append(json.dumps(s).encode())
    url = args.url.rstrip("/") + "/api/simulate?series=car_t_blood,sld,il6"
    headers = {"Content-Type": "application/json"}
    if args.token:
        headers["Authorization"] = "Bearer " + args.token
    deadline = time.monotonic() + args.max_seconds
    lock = threading.Lock()
    latencies, errors, skipped = [], [], 0

    def one(body):
        nonlocal skipped
        if time.monotonic() > deadline:
            with lock:
                skipped += 1
            return
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30) as r:
                payload = r.read()
                ok = r.status == 200 and b'"summary"' in payload
        except urllib.error.HTTPError as e:
            ok, payload = False, e.read()
        except Exception as e:  # connection errors count as errors
            ok, payload = False, str(e).encode()
        dt = time.perf_counter() - t0
        with lock:
            (latencies if ok else errors).append(dt if ok else payload[:200])

    # Warm-up (not counted).
    urllib.request.urlopen(urllib.request.Request(url, data=bodies[0], headers=headers), timeout=30).read()
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        list(pool.map(one, bodies))
    wall = time.perf_counter() - t0
    n = len(latencies)
    ms = [x * 1000 for x in latencies]
    result = {
        "requests": n + len(errors), "ok": n, "errors": len(errors), "skipped_after_time_limit": skipped,
        "concurrency": args.concurrency, "seconds": round(wall, 3), "throughput_per_s": round(n / wall, 1) if wall else 0,
        "latency_ms": {"p50": round(percentile(ms, 50), 1), "p90": round(percentile(ms, 90), 1),
                       "p99": round(percentile(ms, 99), 1), "max": round(max(ms), 1) if ms else None},
    }
    print(f"load test: {n} ok, {len(errors)} errors, {skipped} not sent (time limit) in {wall:.2f} s with {args.concurrency} "
          f"concurrent clients: {result['throughput_per_s']} requests/s; latency p50 {result['latency_ms']['p50']} ms, "
          f"p90 {result['latency_ms']['p90']} ms, p99 {result['latency_ms']['p99']} ms, max {result['latency_ms']['max']} ms")
    for e in errors[:5]:
        print("  error:", e)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    sys.exit(1 if errors or n == 0 else 0)


if __name__ == "__main__":
    main()

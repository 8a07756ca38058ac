#!/usr/bin/env python3
"""Load and abuse test of `cartsim serve` on loopback: valid load plus hostile clients.

    python3 Scripts/abuse_test.py --url http://127.0.0.1:PORT --pid SERVER_PID [--seconds 30]
        [--concurrency 8] [--slow-clients 20] [--idle-timeout 5] [--max-body 1048576]
        [--flood 200] [--max-memory-mib 1024] [--token T] [--json OUT.json]

While --concurrency clients send valid POST /api/simulate requests (built, as the explorer sends
them, from the server's embedded example scenario), these phases run one after another, each
answer checked against the expected behaviour (anything else is an "unexpected" answer):
  invalid       malformed JSON, wrong types, unknown and missing fields  -> 400 JSON error naming the field
  series        ?series= with a name repeated 100000, 1000 (then 15000) times -> 400/414/431, or a 200 no
                larger than with the name once
  oversized     bodies of 2x and 20x --max-body (declared and chunked)   -> 413 or closed by the server; no 5xx, no hang
  content-type  POSTs with text/plain, form or multipart bodies          -> 415 (application/json; charset=utf-8 -> 200)
  origin        Origin: http://evil.example on /api/simulate, /api/trials -> 403 (same-origin Origin -> 200/202)
  dropped       20 uploads cut off half-way (FIN or RST)                -> the server keeps answering /health
  slow-clients  --slow-clients sockets sending 1 byte/s, half of a header, half of a body (Content-Length
                1000)  -> each closed (or answered) by the server within --idle-timeout + 5 s, while
                the valid requests keep being served
  flood         --flood simultaneous POST /api/trials (a 2-patient trial) -> 202 or 503 with Retry-After, at least one 503
  hostile       horizon 1e300, output step 1e-300, 1e400, NaN, negative and huge values -> 400 JSON error
Every 2 s (and at the end) GET /health must answer 200 and the server process must exist; its
VmHWM/VmRSS (/proc/PID/status) are sampled, and a peak above --max-memory-mib is unexpected.
A crash (process gone, /health not answering) ends the test. Only loopback URLs are accepted;
the valid load stops after --seconds (or when the phases are done, if later; each phase has its
own time bound). Exit status 1 on a crash or any unexpected answer."""
import argparse
import http.client
import json
import select
import socket
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict

GRACE = 5.0  # seconds beyond --idle-timeout a slow client may stay open
BUDGET = 20.0  # seconds a phase may take (the slow-clients phase: --idle-timeout + GRACE)


def recv(sock):
    try:
        return sock.recv(4096)
    except OSError:
        return b""


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100
    f, c = int(k), min(int(k) + 1, len(xs) - 1)
    return round((xs[f] + (xs[c] - xs[f]) * (k - f)) * 1000, 1)


def latency(xs):
    return {"p50": percentile(xs, 50), "p90": percentile(xs, 90), "p99": percentile(xs, 99),
            "max": round(max(xs) * 1000, 1) if xs else None}


class Tester:
    def __init__(self, args):
        u = urllib.parse.urlsplit(args.url)
        if u.scheme != "http" or u.hostname not in ("127.0.0.1", "::1", "localhost"):
            sys.exit(f"abuse test: refusing {args.url}: only http:// on loopback (127.0.0.1, ::1, localhost)")
        self.args, self.host, self.port, self.netloc = args, u.hostname, u.port or 80, u.netloc
        self.auth = {"Authorization": "Bearer " + args.token} if args.token else {}
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.counts, self.unexpected = defaultdict(Counter), defaultdict(lambda: {"count": 0, "examples": []})
        self.valid, self.valid_slow, self.requests, self.slow_window = [], [], 0, False  # latencies (s)
        self.crash, self.hwm, self.rss, self.flood, self.slow = None, 0.0, 0.0, {}, {}
        self.current = "start"  # the phase (and case) running, named in a crash report
        self.json_ct = {"Content-Type": "application/json"}

    # ---- HTTP helpers (every socket has a timeout and is closed) ----

    def request(self, method, path, body=None, headers=None, timeout=10, limit=None):
        """(status, headers, body); status is "closed", "timeout", "refused" or "error" without an answer.
        With `limit`, a body whose Content-Length exceeds it is not read (returned as b"")."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={**self.auth, **(headers or {})})
            r = conn.getresponse()
            size = int(r.getheader("Content-Length") or -1)
            data = b"" if limit is not None and size > limit else r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()} | {"_size": max(size, len(data))}, data
        except socket.timeout:
            return "timeout", {}, b""
        except ConnectionRefusedError:
            return "refused", {}, b""
        except (ConnectionError, http.client.HTTPException) as e:
            return "closed", {}, repr(e).encode()
        except OSError as e:
            return "error", {}, repr(e).encode()
        finally:
            conn.close()
            with self.lock:
                self.requests += 1

    def connect(self, timeout=10):
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def head(self, path, length=None):
        """Request head of a JSON POST with this Content-Length (None: chunked)."""
        auth = "".join(f"{k}: {v}\r\n" for k, v in self.auth.items())
        size = f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
        return f"POST {path} HTTP/1.1\r\nHost: {self.netloc}\r\nContent-Type: application/json\r\n{auth}{size}\r\n".encode()

    def record(self, phase, case, status, ok, detail="", count=True):
        with self.lock:
            if count:
                self.counts[phase][str(status)] += 1
            if not ok:
                u = self.unexpected[f"{phase}: {case}"]
                u["count"] += 1
                if len(u["examples"]) < 3:
                    u["examples"].append(" ".join(detail.split())[:160])

    def judge(self, phase, case, res, want, field=None):
        """Checks an answer: status in `want`; a 400 must be a JSON error (naming `field` when given)."""
        status, _, body = res
        ok = status in want
        if ok and status == 400:
            try:
                err = json.loads(body)
                ok = "error" in err and (field is None or str(err.get("field", "")).startswith(field))
            except ValueError:
                ok = False
        self.record(phase, case, status, ok, f"expected {sorted(want)}{' naming ' + field if field else ''}, got {status}: "
                    + body[:200].decode("utf-8", "replace"))
        if status in ("closed", "refused", "timeout"):
            self.check_alive("after its answer" if self.current == f"{phase}: {case}" else f"after the answer to {phase}: {case}")
        return ok

    # ---- liveness and memory ----

    def memory(self):
        """Samples VmHWM/VmRSS; False when the process is gone (or a zombie)."""
        try:
            with open(f"/proc/{self.args.pid}/status") as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            return False
        if st.get("State", "").strip()[:1] in ("Z", "X"):
            return False
        kib = lambda k: float(st.get(k, "0 kB").split()[0]) / 1024
        self.hwm, self.rss = max(self.hwm, kib("VmHWM")), max(self.rss, kib("VmRSS"))
        return True

    def check_alive(self, when, wait=12.0):
        """Process present and /health 200 (retried for `wait` s: a crashing Swift process prints a
        backtrace for a few seconds first). Records a crash and stops the test otherwise."""
        if self.crash:
            return False
        end = time.monotonic() + wait
        while True:
            if not self.memory():
                why = "server process gone"
            else:
                status, _, _ = self.request("GET", "/health", timeout=5)
                if status == 200:
                    return True
                why = f"/health answered {status}"
            if time.monotonic() > end or self.stop.is_set():
                break
            time.sleep(1)
        if not self.memory():
            why = "server process gone"
        with self.lock:
            self.crash = self.crash or f"{why} during {self.current} (noticed {when})"
        self.stop.set()
        return False

    def each(self, phase, cases):
        """The cases of a phase, until the test stops or the phase has used its time budget."""
        for case in cases:
            if self.stop.is_set():
                return
            if time.monotonic() > self.phase_end:
                self.record(phase, "time budget", "", False, f"stopped after {BUDGET:g} s: answers too slow", count=False)
                return
            yield case

    def monitor(self):
        while not self.stop.wait(2):
            self.check_alive("by the health check", wait=6)

    # ---- valid load ----

    def valid_client(self, bodies, i, until):
        path = "/api/simulate?series=car_t_blood,sld,il6"
        while not self.stop.is_set() and not until():
            slow, t0 = self.slow_window, time.perf_counter()
            res = self.request("POST", path, bodies[i % len(bodies)], self.json_ct, timeout=30)
            dt = time.perf_counter() - t0
            ok = res[0] == 200 and b'"summary"' in res[2]
            if not ok and res[0] in ("closed", "refused") and not self.check_alive("by a valid request"):
                return  # the crash is reported, not each request it broke
            self.record("valid", "simulate", res[0], ok, f"expected 200 with a summary, got {res[0]}: {res[2][:150]!r}")
            if ok:
                with self.lock:
                    (self.valid_slow if slow else self.valid).append(dt)
            i += self.args.concurrency

    # ---- phases ----

    def phase_invalid(self):
        s = self.scenario
        cases = [("not JSON", b"{not json", None), ("empty body", b"", None), ("top-level array", b"[]", None),
                 ("invalid UTF-8", b'{"name": "\xff\xfe"}', None), ("nested 100000 deep", b"[" * 100000 + b"]" * 100000, None),
                 ("dose is a string", dict(s, car_t=dict(s["car_t"], dose="big")), "car_t.dose"),
                 ("patient is a string", dict(s, patient="x"), "patient"),
                 ("unknown top-level field", dict(s, bogus=1), "bogus"),
                 ("unknown nested field", dict(s, car_t=dict(s["car_t"], bogus=1)), "car_t.bogus"),
                 ("missing car_t", {k: v for k, v in s.items() if k != "car_t"}, "car_t")]
        for case, body, field in self.each("invalid", cases):
            body = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.judge("invalid", "simulate " + case, self.request("POST", "/api/simulate", body, self.json_ct), {400}, field)
        for case, body, field in [("arms is a number", dict(self.trial, arms=3), "arms"), ("unknown field", dict(self.trial, bogus=1), "bogus")]:
            self.judge("invalid", "trials " + case, self.request("POST", "/api/trials", json.dumps(body).encode(), self.json_ct), {400}, field)

    def phase_series(self):
        body = json.dumps(self.scenario).encode()
        once = self.request("POST", "/api/simulate?series=sld", body, self.json_ct)
        if not self.judge("series", "one name", once, {200}):
            return
        bound = once[1]["_size"] + 64  # compute_ms may differ in length
        for reps in self.each("series", (100000, 1000, 15000)):
            res = self.request("POST", "/api/simulate?series=" + ",".join(["sld"] * reps), body, self.json_ct, limit=bound)
            ok = res[0] in (400, 414, 431) or (res[0] == 200 and res[1]["_size"] <= bound)
            self.record("series", f"'sld' x {reps}", res[0], ok, f"expected 400/414/431 or 200 of at most {bound} bytes, "
                        f"got {res[0]} of {res[1].get('_size')} bytes")
            if res[0] in ("closed", "refused", "timeout") and not self.check_alive(f"after series x {reps}"):
                return
            if not ok:
                break  # a larger repetition would only cost more server memory

    def send_big(self, path, total, chunked, timeout=5):
        """Uploads `total` bytes; returns the answer's status code, or "closed", "hang" (cannot send) or "timeout"."""
        try:
            s = self.connect(timeout)
        except OSError:
            return "refused"
        try:
            s.sendall(self.head(path, None if chunked else total))
            piece = b'{"name": "' + b"x" * (65536 - 10)
            sent = 0
            while True:
                r, w, _ = select.select([s], [s] if sent < total else [], [], timeout)
                if not r and not w:
                    return "hang" if sent < total else "timeout"
                if r:
                    got = recv(s).split()
                    return int(got[1]) if len(got) > 1 and got[0].startswith(b"HTTP/1.") and got[1].isdigit() else "closed"
                n = min(len(piece), total - sent)
                data = (b"%x\r\n" % n + piece[:n] + b"\r\n" + (b"0\r\n\r\n" if sent + n >= total else b"")) if chunked else piece[:n]
                s.sendall(data)
                sent += n
        except OSError:
            return "closed"
        finally:
            s.close()

    def phase_oversized(self):
        m = self.args.max_body
        cases = [(path, case, size, chunked) for path in ("/api/simulate", "/api/trials") for case, size, chunked in
                 [("2x, Content-Length", 2 * m, False), ("20x, Content-Length", 20 * m, False), ("2x, chunked", 2 * m, True)]]
        for path, case, size, chunked in self.each("oversized", cases):
            status = self.send_big(path, size, chunked)
            self.record("oversized", f"{path} {case}", status, status in (413, "closed"),
                        f"expected 413 or a close by the server, got {status}")
            if status in ("closed", "hang", "timeout") and not self.check_alive(f"after oversized {path} {case}"):
                return

    def phase_content_type(self):
        spec, scen = json.dumps(self.trial).encode(), json.dumps(self.scenario).encode()
        cases = [(path, body, ctype) for path, body in [("/api/trials", spec), ("/api/simulate", scen), ("/api/scenarios", scen)]
                 for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x")]
        for path, body, ctype in self.each("content-type", cases):
            self.judge("content-type", f"{path} {ctype.split(';')[0]}", self.request("POST", path, body, {"Content-Type": ctype}), {415})
        self.judge("content-type", "/api/simulate application/json; charset=utf-8",
                   self.request("POST", "/api/simulate", scen, {"Content-Type": "application/json; charset=utf-8"}), {200})

    def phase_origin(self):
        spec, scen = json.dumps(self.trial).encode(), json.dumps(self.scenario).encode()
        cases = [(path, body, origin, want) for path, body, ok in [("/api/trials", spec, 202), ("/api/simulate", scen, 200)]
                 for origin, want in [("http://evil.example", {403}), (f"http://{self.netloc}", {ok})]]
        for path, body, origin, want in self.each("origin", cases):
            self.judge("origin", f"{path} Origin {origin}", self.request("POST", path, body, dict(self.json_ct, Origin=origin)), want)

    def phase_dropped(self):
        body = json.dumps(self.scenario).encode() * 20
        for i in self.each("dropped", range(20)):
            try:
                s = self.connect()
            except OSError:
                self.check_alive("connecting for a dropped upload")
                return
            try:
                s.sendall(self.head("/api/simulate" if i % 2 else "/api/trials", len(body)) + body[:len(body) // 2])
                if i % 4 < 2:  # half the time an abortive close (RST)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            finally:
                s.close()
            self.record("dropped", "half a body, then close", "sent", True)
        time.sleep(0.5)
        self.check_alive("after dropped uploads")

    def phase_slow_clients(self):
        limit, socks = self.args.idle_timeout + GRACE, []
        for i in range(self.args.slow_clients):
            try:
                s = self.connect(5)
            except OSError as e:
                self.record("slow-clients", "connect", "error", False, f"could not open slow client {i}: {e}")
                continue
            # Half send a header without end, half a head announcing 1000 bytes of body; then 1 byte/s.
            kind = "body trickle" if i % 2 else "header trickle"
            socks.append({"sock": s, "kind": kind, "t0": time.monotonic(), "closed": None})
            try:
                s.sendall(self.head("/api/simulate", 1000) if i % 2 else f"POST /api/simulate HTTP/1.1\r\nHost: {self.netloc}\r\nX-Slow: ".encode())
            except OSError:
                socks[-1].update(closed=0.0, how="closed")
            s.setblocking(False)
        self.slow_window = True
        t_start = next_byte = time.monotonic()
        try:
            while not self.stop.is_set() and time.monotonic() - t_start < limit:
                live = [c for c in socks if c["closed"] is None]
                if not live:
                    break
                if time.monotonic() >= next_byte:  # one byte a second on each open socket
                    next_byte += 1
                    for c in live:
                        try:
                            c["sock"].send(b"a")
                        except OSError:
                            c["closed"], c["how"] = time.monotonic() - c["t0"], "closed"
                wait = max(0.0, min(next_byte, t_start + limit) - time.monotonic())
                r, _, _ = select.select([c["sock"] for c in live if c["closed"] is None], [], [], wait)
                for c in live:
                    if c["sock"] in r and c["closed"] is None:
                        got = recv(c["sock"])
                        c["closed"] = time.monotonic() - c["t0"]
                        c["how"] = got.split(b"\r\n")[0].decode("latin-1") if got else "closed"
        finally:
            self.slow_window = False
            for c in socks:
                c["sock"].close()
        closed = sorted(c["closed"] for c in socks if c["closed"] is not None)
        for c in socks:
            ok = c["closed"] is not None and c["closed"] <= limit
            self.record("slow-clients", c["kind"], c.get("how", "still open"), ok,
                        f"still open after {limit:.0f} s (--idle-timeout {self.args.idle_timeout:g} + {GRACE:g} s)")
        self.slow = {"opened": len(socks), "closed_by_server": len(closed), "still_open": len(socks) - len(closed),
                     "close_seconds": {"min": round(closed[0], 2), "median": round(closed[len(closed) // 2], 2),
                                       "max": round(closed[-1], 2)} if closed else None,
                     "answers": dict(Counter(c.get("how", "still open") for c in socks))}
        if socks and not self.valid_slow and not self.stop.is_set():
            self.record("slow-clients", "valid requests served meanwhile", "", False, "no valid request was answered while the slow clients were open", count=False)

    def phase_flood(self):
        n, body = self.args.flood, json.dumps(self.trial).encode()
        barrier, results = threading.Barrier(n, timeout=20), []

        def one():
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
            results.append(self.request("POST", "/api/trials", body, self.json_ct, timeout=20))

        threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(45)
        for status, headers, text in results:
            ok = status == 202 or (status == 503 and "retry-after" in headers)
            self.record("flood", "POST /api/trials", status, ok, f"expected 202, or 503 with Retry-After, got {status} "
                        f"{'(no Retry-After)' if status == 503 else text[:120].decode('utf-8', 'replace')}")
        accepted = sum(1 for r in results if r[0] == 202)
        self.flood = {"sent": n, "accepted": accepted, "rejected_503": sum(1 for r in results if r[0] == 503)}
        if accepted == n:
            self.record("flood", "queue bound", "", False, f"all {n} simultaneous trials were accepted (202): no bound below {n}", count=False)
        self.check_alive("after the flood")

    def phase_hostile(self):
        s = self.scenario
        sim = lambda **kw: dict(s, simulation=dict(s["simulation"], **kw))
        car = lambda **kw: dict(s, car_t=dict(s["car_t"], **kw))
        text = json.dumps(s)
        dose = json.dumps(s["car_t"]["dose"])
        cases = [("dose 1e400", text.replace(f'"dose": {dose}', '"dose": 1e400'), None),
                 ("dose NaN", text.replace(f'"dose": {dose}', '"dose": NaN'), None),
                 ("dose -1e8", car(dose=-1e8), "car_t.dose"), ("dose 1e300", car(dose=1e300), "car_t.dose"),
                 ("number 1e9", car(number=1e9), "car_t.number"), ("interval -42", car(interval_days=-42), "car_t.interval_days"),
                 ("weight_kg 1e-300", dict(s, patient=dict(s["patient"], weight_kg=1e-300)), "patient.weight_kg"),
                 ("horizon_days -5", sim(horizon_days=-5), "simulation.horizon_days"),
                 ("rtol 1e-300", sim(rtol=1e-300), "simulation.rtol"),
                 ("horizon_days 1e300", sim(horizon_days=1e300), "simulation."),  # these two crash the server today
                 ("output_step_days 1e-300", sim(output_step_days=1e-300), "simulation.output_step_days")]
        for case, body, field in self.each("hostile", cases):
            body = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.current = "hostile: " + case
            self.judge("hostile", case, self.request("POST", "/api/simulate", body, self.json_ct), {400}, field)

    # ---- run ----

    def run(self):
        a = self.args
        if not self.check_alive("at the start", wait=5):
            sys.exit(f"abuse test: the server is not answering at {a.url} (pid {a.pid}): {self.crash}")
        status, _, text = self.request("GET", "/api/examples")
        if status != 200:
            sys.exit(f"abuse test: GET /api/examples answered {status} (a token needed?): {text[:200]!r}")
        examples = json.loads(text)["examples"]
        names = [e["name"] for e in examples]
        scen = "heros2-cohortB.json" if "heros2-cohortB.json" in names else next(e["name"] for e in examples if e["kind"] == "scenario")
        self.scenario = json.loads(self.request("GET", "/api/examples/" + scen)[2])
        trial = json.loads(self.request("GET", "/api/examples/" + next(e["name"] for e in examples if e["kind"] == "trial"))[2])
        arms = [x for x in trial["arms"] if "dose_levels" not in x] or trial["arms"]
        self.trial = dict(trial, arms=arms[:1], patients_per_arm=2, follow_up_days=90)
        bodies = []
        for i in range(64):  # as the explorer sends them: dose and HER2 level vary
            s = json.loads(json.dumps(self.scenario))
            s["car_t"]["dose"] = 10 ** (7 + 2 * (i * 37 % 64) / 63)
            s["patient"]["her2_level"] = round(0.2 + 2.8 * (i * 11 % 64) / 63, 2)
            bodies.append(json.dumps(s).encode())
        self.request("POST", "/api/simulate", bodies[0], self.json_ct)  # warm-up, not counted
        self.counts.clear()
        self.requests, t0, phases_done = 0, time.monotonic(), threading.Event()
        deadline = t0 + a.seconds
        until = lambda: time.monotonic() > deadline and phases_done.is_set()
        workers = [threading.Thread(target=self.valid_client, args=(bodies, i, until), daemon=True) for i in range(a.concurrency)]
        workers.append(threading.Thread(target=self.monitor, daemon=True))
        for w in workers:
            w.start()
        timings = {}
        latest = deadline + max(0, a.idle_timeout + GRACE + 20 - a.seconds) + 10  # no phase starts later
        for name in ("invalid", "series", "oversized", "content-type", "origin", "dropped", "slow-clients", "flood", "hostile"):
            if self.stop.is_set():
                break
            p0, self.current = time.monotonic(), "phase " + name
            self.phase_end = p0 + BUDGET
            if p0 > latest:
                self.record(name, "skipped", "", False, "not started: the earlier phases used the time", count=False)
                continue
            try:
                getattr(self, "phase_" + name.replace("-", "_"))()
            except Exception as e:  # a bug of this script or an answer it cannot read: reported, the test goes on
                self.record(name, "script error", "", False, f"{type(e).__name__}: {e}", count=False)
            timings[name] = round(time.monotonic() - p0, 2)
        phases_done.set()
        for w in workers[:-1]:
            w.join(max(1.0, deadline - time.monotonic() + 35))
        wall = time.monotonic() - t0
        if not self.crash:
            self.current = "the end"
            self.check_alive("at the end")
        self.stop.set()
        return self.report(wall, timings)

    def report(self, wall, timings):
        a = self.args
        result = {
            "url": a.url, "seconds": round(wall, 2), "requests": self.requests,
            "requests_per_s": round(self.requests / wall, 1) if wall else 0,
            "valid": {"ok": len(self.valid) + len(self.valid_slow), "concurrency": a.concurrency,
                      "latency_ms": latency(self.valid + self.valid_slow),
                      "during_slow_clients": {"ok": len(self.valid_slow), "latency_ms": latency(self.valid_slow)}},
            "status_counts": {p: dict(c) for p, c in self.counts.items()},
            "memory_mib": {"peak_vmhwm": round(self.hwm, 1), "max_vmrss_sampled": round(self.rss, 1), "limit": a.max_memory_mib},
            "crashes": 1 if self.crash else 0, "crash": self.crash,
            "unexpected": sum(u["count"] for u in self.unexpected.values()), "unexpected_by_kind": dict(self.unexpected),
            "flood": self.flood, "slow_clients": self.slow, "phase_seconds": timings,
        }
        if self.hwm > a.max_memory_mib:
            result["unexpected"] += 1
            result["unexpected_by_kind"]["memory: peak above limit"] = {"count": 1, "examples": [f"VmHWM {self.hwm:.0f} MiB > {a.max_memory_mib} MiB"]}
        v = result["valid"]
        print(f"abuse test: {self.requests} requests in {wall:.1f} s ({result['requests_per_s']} requests/s); "
              f"{v['ok']} valid simulations answered with {a.concurrency} clients")
        fmt = lambda l: " ".join(f"{k} {l[k]} ms" for k in ("p50", "p90", "p99", "max"))
        print(f"  valid latency: {fmt(v['latency_ms'])}")
        if self.slow.get("opened"):
            print(f"  valid latency while slow clients were open ({v['during_slow_clients']['ok']} requests): {fmt(v['during_slow_clients']['latency_ms'])}")
        print(f"  server memory: peak {self.hwm:.1f} MiB (VmHWM), max sampled RSS {self.rss:.1f} MiB, limit {a.max_memory_mib} MiB")
        for p, c in result["status_counts"].items():
            print(f"  {p:13} " + ", ".join(f"{k}: {n}" for k, n in sorted(c.items())) + (f"  ({timings[p]} s)" if p in timings else ""))
        if self.flood:
            print(f"  flood: {self.flood['accepted']} of {self.flood['sent']} trials accepted (202), {self.flood['rejected_503']} refused (503)")
        if self.slow.get("opened"):
            c = self.slow["close_seconds"]
            print(f"  slow clients: {self.slow['closed_by_server']} of {self.slow['opened']} closed by the server"
                  + (f" after min {c['min']} s, median {c['median']} s, max {c['max']} s" if c else "")
                  + f"; {self.slow['still_open']} still open after {a.idle_timeout + GRACE:g} s")
        print(f"  crashes: {result['crashes']}" + (f" — {self.crash}; testing stopped" if self.crash else ""))
        print(f"  unexpected answers: {result['unexpected']}")
        for kind, u in result["unexpected_by_kind"].items():
            print(f"    {u['count']:4} x {kind}: {u['examples'][0]}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=2)
        return 1 if self.crash or result["unexpected"] else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True, help="the server's process id (memory, crash detection)")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--slow-clients", type=int, default=20)
    ap.add_argument("--idle-timeout", type=float, default=5, help="the server's idle timeout for a connection (s)")
    ap.add_argument("--max-body", type=int, default=1 << 20, help="the server's --max-body (bytes)")
    ap.add_argument("--flood", type=int, default=200, help="simultaneous trial submissions")
    ap.add_argument("--max-memory-mib", type=float, default=1024, help="largest acceptable server VmHWM")
    ap.add_argument("--token")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args()
    if not (1 <= args.concurrency <= 64 and 0 <= args.slow_clients <= 200 and 1 <= args.flood <= 500 and args.seconds > 0):
        sys.exit("abuse test: bounds: --concurrency 1..64, --slow-clients 0..200, --flood 1..500, --seconds > 0")
    sys.exit(Tester(args).run())


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Real-browser test of the web app: headless Chromium driven by Selenium.

    python3 Scripts/browser_test.py --url http://127.0.0.1:PORT [--out DIR] [--token T]

Against a running `cartsim serve`, it
  1. opens the explorer, waits for the first simulation, changes the number of CAR T
     infusions and checks that the CAR T plot and the summary change;
  2. saves the scenario and checks the saved file is the JSON the command line reads;
  3. starts a small trial (the HEROS example, 20 patients per arm) from the Trials page,
     watches its progress to completion and opens its report;
  4. opens a model page;
  5. on the Dose finding page, compares the four designs (operating characteristics, chart,
     BOIN's decision table, PCS cross-checked against /api/design/oc), reports an invalid true
     curve with its field and computes a next-dose decision.
Screenshots go to DIR (default .build/ci-artifacts/browser), which is printed at the end.
Exit status 0 when every check passed."""
import argparse
import json
import os
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", default=".build/ci-artifacts/browser")
    ap.add_argument("--token")
    ap.add_argument("--patients", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    base = args.url.rstrip("/")

    opts = Options()
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1500,1250"]:
        opts.add_argument(a)
    for b in ["/usr/bin/chromium", "/usr/bin/chromium-browser"]:
        if os.path.exists(b):
            opts.binary_location = b
            break
    driver_path = next((p for p in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] if os.path.exists(p)), None)
    driver = webdriver.Chrome(options=opts, service=Service(driver_path) if driver_path else Service())
    checks = []

    def check(ok, what):
        checks.append((bool(ok), what))
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        return ok

    def shot(name):
        path = os.path.join(out, name)
        driver.save_screenshot(path)
        print(f"     screenshot {path}", flush=True)

    def wait(cond, timeout=30, what="condition"):
        try:
            return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: cond())
        except Exception:
            shot("failure-" + what.replace(" ", "-") + ".png")
            return None

    try:
        suffix = f"?token={args.token}" if args.token else ""
        # 1. Explorer.
        driver.get(base + "/" + suffix)
        seq = lambda: driver.find_element(By.ID, "status").get_attribute("data-seq")
        wait(lambda: seq(), 30, "first simulation")
        check(seq() is not None, "explorer: the first simulation is drawn")
        path0 = lambda: driver.find_element(By.CSS_SELECTOR, "#plot0 path.current").get_attribute("d")
        summary = lambda: {tr.get_attribute("data-key"): tr.find_elements(By.TAG_NAME, "td")[1].text
                           for tr in driver.find_elements(By.CSS_SELECTOR, "#summary tbody tr")}
        before_path, before_summary, before_seq = path0(), summary(), seq()
        check(len(before_path) > 100 and before_summary.get("crs_grade") not in (None, ""), "explorer: plot and summary present")
        shot("explorer-initial.png")
        # Change the number of infusions with the slider (3 → 1) and time the update.
        slider = driver.find_element(By.ID, "number")
        t0 = time.time()
        driver.execute_script("arguments[0].value = 1; arguments[0].dispatchEvent(new Event('input'));", slider)
        wait(lambda: seq() != before_seq and path0() != before_path, 10, "plot update")
        dt = time.time() - t0
        check(path0() != before_path, f"explorer: the CAR T plot changed after setting infusions to 1 ({dt * 1000:.0f} ms to redraw)")
        check(dt < 1.0, "explorer: updated within a second of the change")
        after = summary()
        check(after != before_summary, f"explorer: summary changed (CAR T persistence {before_summary.get('car_t_persistence_days')} → {after.get('car_t_persistence_days')} days)")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#plot0 path.prev")) == 1, "explorer: previous curve shown for comparison")
        shot("explorer-one-infusion.png")
        # An invalid change is reported with the field name and nothing is redrawn.
        interval = driver.find_element(By.ID, "interval")
        driver.execute_script("arguments[0].value = 3; arguments[0].dispatchEvent(new Event('input'));", slider)
        driver.execute_script("arguments[0].value = 500; arguments[0].dispatchEvent(new Event('input'));", slider)
        driver.execute_script("arguments[0].value = 2; arguments[0].dispatchEvent(new Event('input'));", slider)
        driver.execute_script("arguments[0].value = 5; arguments[0].dispatchEvent(new Event('input'));", interval)
        err = driver.find_element(By.ID, "error")
        wait(lambda: err.is_displayed(), 10, "validation error")
        check(err.is_displayed() and "car_t" in err.text, f"explorer: invalid interval reported with its field ({err.text[:90]}…)")
        shot("explorer-invalid.png")
        driver.execute_script("arguments[0].value = 42; arguments[0].dispatchEvent(new Event('input'));", interval)
        wait(lambda: not err.is_displayed(), 10, "error cleared")
        check(not err.is_displayed(), "explorer: the error clears when the scenario is valid again")
        # Save, and read the saved file back through the API.
        driver.find_element(By.ID, "name").clear()
        driver.find_element(By.ID, "name").send_keys("Browser test regimen")
        time.sleep(0.3)
        driver.find_element(By.ID, "save").click()
        link = wait(lambda: driver.find_elements(By.ID, "savedLink"), 10, "saved link")
        ok = bool(link)
        if ok:
            href = link[0].get_attribute("href")
            req = urllib.request.Request(href, headers={"Authorization": f"Bearer {args.token}"} if args.token else {})
            saved = json.load(urllib.request.urlopen(req))
            ok = saved.get("name") == "Browser test regimen" and saved["car_t"]["number"] == 2
        check(ok, "explorer: saved scenario is the JSON file the command line reads")

        # 2. Trials: start a small trial from the example and follow it to the report.
        driver.get(base + "/trials")
        patients = driver.find_element(By.ID, "patients")
        patients.clear()
        patients.send_keys(str(args.patients))
        driver.find_element(By.ID, "startBtn").click()
        wait(lambda: "/trials/" in driver.current_url, 20, "run page")
        check("/trials/" in driver.current_url, "trials: a run was started and its page opened")
        time.sleep(0.8)
        shot("trial-progress.png")
        status = lambda: (driver.find_elements(By.ID, "runStatus") or [None])[0]
        seen = set()
        def done():
            s = status()
            if s is not None:
                seen.add(s.text)
                return s.text in ("complete", "failed", "interrupted")
            return False
        wait(done, args.timeout, "trial completion")
        check(status() is not None and status().text == "complete", f"trials: the run completed (states seen: {sorted(seen)})")
        frame = wait(lambda: driver.find_elements(By.ID, "reportFrame"), 20, "report")
        time.sleep(1.5)
        shot("trial-report.png")
        if frame:
            driver.switch_to.frame(frame[0])
            check(len(driver.find_elements(By.TAG_NAME, "svg")) >= 6 and len(driver.find_elements(By.TAG_NAME, "table")) >= 2,
                  "trials: the report shows its plots and tables")
            driver.switch_to.default_content()
        else:
            check(False, "trials: the report is shown")
        driver.get(base + "/trials")
        wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr"), 10, "runs list")
        rows = driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
        check(any(r.get_attribute("data-status") == "complete" for r in rows), "trials: the run is listed as complete")
        shot("trials-list.png")

        # 3. Models.
        driver.get(base + "/models/heros")
        check(len(driver.find_elements(By.CSS_SELECTOR, "table.params tbody tr")) > 50, "models: HEROS parameter table")
        shot("model-heros.png")
        links = driver.find_elements(By.CSS_SELECTOR, "a[href='/models/heros/credibility']")
        check(len(links) > 0, "models: the HEROS page links the credibility report")
        if links:
            links[0].click()
            wait(lambda: "Context of use" in driver.page_source, 10, "credibility report")
            check("Validation" in driver.page_source and "held out" in driver.page_source, "credibility: validation with held-out targets")
            shot("credibility.png")

        # 4. Dose finding: compare the designs, BOIN's decision table, a next-dose decision.
        driver.get(base + "/design" + suffix)
        wait(lambda: driver.find_elements(By.ID, "design-run"), 10, "dose finding page")
        dseq = lambda: driver.find_element(By.ID, "design-status").get_attribute("data-seq")
        driver.find_element(By.ID, "design-run").click()
        wait(lambda: dseq(), args.timeout, "design run")
        check(dseq() is not None, "design: the operating characteristics were computed")
        designs = [th.get_attribute("data-design") for th in driver.find_elements(By.CSS_SELECTOR, "#design-oc thead th[data-design]")]
        check(len(designs) == 4, f"design: one column per checked design ({', '.join(designs)})")

        def oc_cells(key, design):
            return driver.find_elements(By.CSS_SELECTOR, f'#design-oc tr[data-key{key}] td[data-design="{design}"]')

        def number(text):
            try:
                return float(text)
            except ValueError:
                return None

        sums = {}
        for d in designs:
            values = [number(c.text) for c in oc_cells('^="sel-"', d) + oc_cells('="stop"', d)]
            sums[d] = sum(values) if values and None not in values else None
        check(len(sums) == 4 and all(s is not None and abs(s - 100) <= 0.5 for s in sums.values()),
              "design: selection % per dose + stopped sum to 100 for every design (" +
              ", ".join(f"{d} {s:.1f}" if s is not None else f"{d} ?" for d, s in sums.items()) + ")")
        check(len(driver.find_elements(By.CSS_SELECTOR, "#design-chart svg")) == 1, "design: the selection chart is shown")
        esc = driver.find_elements(By.CSS_SELECTOR, '#design-boundaries tr[data-key="escalate"] td')
        check(len(esc) > 0 and all(c.text.strip().isdigit() for c in esc),
              f"design: BOIN decision table has the escalation row ({' '.join(c.text for c in esc)})")
        driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, "design-status"))
        shot("design-oc.png")
        # The page's BOIN column is what /api/design/oc gives for the same settings.
        body = driver.execute_script("return window.cartsimDesign && window.cartsimDesign.lastBody")
        shown = number(oc_cells('="pcs"', "boin")[0].text) if oc_cells('="pcs"', "boin") else None
        ok, detail = False, "no request body on the page"
        if body:
            body = dict(body)
            body.pop("designs", None)
            body["design"] = "boin"
            headers = {"Content-Type": "application/json"}
            if args.token:
                headers["Authorization"] = f"Bearer {args.token}"
            req = urllib.request.Request(base + "/api/design/oc", data=json.dumps(body).encode(), headers=headers, method="POST")
            try:
                pcs = json.load(urllib.request.urlopen(req, timeout=args.timeout))["pcs"]
                ok = shown is not None and abs(pcs - shown) <= 0.05 + 1e-9
                detail = f"API {pcs:.1f}%, page {shown}"
            except Exception as e:
                detail = f"API error: {e}"
        check(ok, f"design: BOIN's PCS on the page equals /api/design/oc ({detail})")
        # An invalid true curve is reported with its field.
        ptrue = driver.find_element(By.ID, "design-ptrue")
        good = ptrue.get_attribute("value")
        ptrue.clear()
        ptrue.send_keys("0.1,abc")
        driver.find_element(By.ID, "design-run").click()
        derr = driver.find_element(By.ID, "design-error")
        wait(lambda: derr.is_displayed(), 60, "design validation error")
        check(derr.is_displayed() and "p_true" in derr.text, f"design: invalid p_true reported with its field ({derr.text[:90]}…)")
        ptrue.clear()
        ptrue.send_keys(good)
        # Next dose for the accrued data in the text box.
        driver.find_element(By.ID, "design-next-run").click()
        decision = lambda: " ".join(b.text for b in driver.find_elements(By.CSS_SELECTOR, "#design-next .decision b"))
        words = ("ESCALATE", "STAY", "DE-ESCALATE", "STOP")
        wait(lambda: decision().upper() in words, 30, "next dose")
        nxt = driver.find_element(By.ID, "design-next")
        check(decision().upper() in words, f"design: next-dose decision shown ({nxt.text.splitlines()[0] if nxt.text else 'nothing'})")
        driver.execute_script("arguments[0].scrollIntoView()", nxt)
        shot("design-next.png")
    finally:
        driver.quit()

    failed = [w for ok, w in checks if not ok]
    print(f"\nbrowser test: {len(checks) - len(failed)}/{len(checks)} checks passed; screenshots in {out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

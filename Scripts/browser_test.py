#!/usr/bin/env python3
"""Real-browser test of the web app: headless Chromium driven by Selenium.

    python3 Scripts/browser_test.py --url http://127.0.0.1:PORT [--out DIR] [--token T]

Against a running `cartsim serve`, it
  1. opens the explorer, waits for the first simulation, changes the number of CAR T
     infusions and checks that the CAR T plot and the summary change;
  2. saves the scenario and checks the saved file is the JSON the command line reads;
  3. starts a small trial (the HEROS example, 20 patients per arm) from the Trials page,
     watches its progress to completion and opens its report;
  4. opens a model page.
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
    finally:
        driver.quit()

    failed = [w for ok, w in checks if not ok]
    print(f"\nbrowser test: {len(checks) - len(failed)}/{len(checks)} checks passed; screenshots in {out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

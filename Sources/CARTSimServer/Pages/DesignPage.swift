import CARTModels

/// The Dose finding page (`/design`): phase I designs (BOIN, 3+3, CRM, mTPI-2) compared on the
/// same simulated patients, BOIN's decision table and a next-dose decision for accrued data.
/// Everything is computed by `/api/design/*`; the page only collects settings and draws tables.
extension Pages {
  static func design() -> String {
    let basisLabels: [DoseBasis: String] = [
      .totalTCellsPerM2: "total T cells/m²", .carTCellsPerM2: "CAR+ T cells/m²",
      .cells: "cells (absolute)",
    ]
    let bases = DoseBasis.allCases.map { "<option value=\"\($0.rawValue)\">\(basisLabels[$0] ?? $0.rawValue)</option>" }.joined()
    let body = """
      <style>
      .design-pair { display: flex; gap: 10px; } .design-pair > label { flex: 1; min-width: 0; }
      .design-designs label.check { display: inline-flex; margin: 4px 14px 4px 0; }
      .design-page textarea { width: 100%; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; padding: 4px 6px; }
      .design-page table.summary { margin: 4px 0 8px; }
      .design-page table.summary th[data-design], .design-page table.summary thead th:not(:first-child) { text-align: right; }
      .design-page tr.group td { background: #f3f5f8; color: #52606d; font-weight: 600; font-size: 13px; text-align: left; }
      .design-page tr.mtd td { background: #fff8e1; }
      .design-page td[title] { cursor: help; }
      #design-chart { margin: 10px 0; } #design-chart svg { width: 100%; max-width: 760px; height: auto; display: block; background: #fff; border: 1px solid #dde3ea; border-radius: 6px; }
      #design-next .decision { font-size: 16px; margin: 10px 0 6px; }
      #design-next .decision b { color: #17324d; }
      .design-page details { margin: 10px 0; } .design-page summary { cursor: pointer; font-weight: 600; font-size: 14px; }
      .design-page section.design-block { margin-bottom: 22px; }
      </style>
      <h1>Dose finding</h1>
      <p class="note">Operating characteristics of phase I designs — BOIN, 3+3, CRM and mTPI-2 — on the same simulated patients,
      BOIN's decision table and the next dose for a trial's accrued data (the <code>cartsim design</code> commands; see Guides/DoseFinding.md).
      The true dose–toxicity curve is entered, or derived from the mechanistic model for a trial example.</p>
      <div class="cols design-page">
      <form id="design-settings" class="panel" autocomplete="off" onsubmit="return false">
        <h2>Settings</h2>
        <fieldset class="design-designs"><legend>Designs</legend>
          <label class="check"><input id="design-use-boin" type="checkbox" name="design-designs" value="boin" checked> BOIN</label>
          <label class="check"><input id="design-use-3p3" type="checkbox" name="design-designs" value="3+3" checked> 3+3</label>
          <label class="check"><input id="design-use-crm" type="checkbox" name="design-designs" value="crm" checked> CRM</label>
          <label class="check"><input id="design-use-mtpi2" type="checkbox" name="design-designs" value="mtpi2" checked> mTPI-2</label>
        </fieldset>
        <label>Target DLT rate <input id="design-target" type="number" min="0.01" max="0.99" step="0.01" value="0.3"></label>
        <fieldset><legend>True curves</legend>
          <label class="radio"><input type="radio" name="design-source" value="enter" checked> Enter probabilities</label>
          <fieldset id="design-enter-fields">
            <label>True P(DLT) per dose <output id="design-dose-count"></output>
              <input id="design-ptrue" type="text" value="0.05,0.12,0.25,0.40,0.55"></label>
            <label>True P(response) per dose (optional) <input id="design-presponse" type="text" placeholder="e.g. 0.10,0.20,0.35,0.45,0.50"></label>
          </fieldset>
          <label class="radio"><input type="radio" name="design-source" value="model"> Derive from the model</label>
          <fieldset id="design-model-fields" disabled>
            <label>Trial example <select id="design-example"></select></label>
            <label>Arm (its regimen is given at each level) <select id="design-arm"></select></label>
            <label>Dose levels <input id="design-dose-levels" type="text" value="1e6,1e7,3e7,1e8,3e8"></label>
            <label>Dose basis <select id="design-dose-basis"><option value="">the arm's</option>\(bases)</select></label>
            <div class="design-pair">
              <label>Virtual patients per level <input id="design-model-patients" type="number" min="1" max="1000" step="1" value="100"></label>
              <label>Follow-up (days) <input id="design-follow-up" type="number" min="1" max="3650" placeholder="the spec's"></label>
            </div>
            <label>DLT definition <input id="design-dlt" type="text" placeholder="the spec's, e.g. crs>=3:28"></label>
          </fieldset>
        </fieldset>
        <fieldset><legend>Trial</legend>
          <div class="design-pair">
            <label>Cohort size <input id="design-cohort-size" type="number" min="1" step="1" value="3"></label>
            <label>Cohorts <input id="design-cohorts" type="number" min="1" step="1" value="10"></label>
          </div>
          <label>Start dose (1-based) <input id="design-start-dose" type="number" min="1" step="1" value="1"></label>
          <div class="design-pair">
            <label>Simulated trials <input id="design-trials" type="number" min="1" max="100000" step="1" value="1000"></label>
            <label>Seed <input id="design-seed" type="number" min="0" step="1" value="6"></label>
          </div>
        </fieldset>
        <fieldset><legend>CRM</legend>
          <label>Skeleton (prior P(DLT), one per dose) <input id="design-skeleton" type="text" value="0.05,0.12,0.25,0.40,0.55"></label>
          <label>Start-up sequence (dose per patient until the first DLT) <input id="design-start-sequence" type="text" placeholder="e.g. 1,1,1,2,2,2"></label>
        </fieldset>
        <details><summary>More settings</summary>
          <div class="design-pair">
            <label>CRM model <select id="design-crm-model"><option value="empiric" selected>empiric</option><option value="logistic">logistic</option></select></label>
            <label>CRM intercept <input id="design-intercept" type="number" step="any" placeholder="3"></label>
          </div>
          <div class="design-pair">
            <label>CRM prior SD of β <input id="design-prior-sd" type="number" min="0" step="any" placeholder="1.1576"></label>
            <label>CRM safety stop <input id="design-crm-safety" type="number" min="0" max="1" step="any" placeholder="0.9"></label>
          </div>
          <label class="check"><input id="design-crm-startup" type="checkbox"> CRM start-up: one dose up per cohort until the first DLT</label>
          <div class="design-pair">
            <label>Stop at n per dose <input id="design-n-earlystop" type="number" min="1" step="1" placeholder="none"></label>
            <label>Max sample size <input id="design-max-n" type="number" min="1" step="1" placeholder="cohorts × size"></label>
          </div>
          <div class="design-pair">
            <label>BOIN p_saf <input id="design-p-saf" type="number" min="0" max="1" step="any" placeholder="0.6 × target"></label>
            <label>BOIN p_tox <input id="design-p-tox" type="number" min="0" max="1" step="any" placeholder="1.4 × target"></label>
          </div>
          <label>Elimination certainty (BOIN, mTPI-2) <input id="design-cutoff-eli" type="number" min="0" max="1" step="any" placeholder="0.95"></label>
          <div class="design-pair">
            <label>mTPI-2 ε₁ <input id="design-epsilon1" type="number" min="0" step="any" placeholder="0.05"></label>
            <label>mTPI-2 ε₂ <input id="design-epsilon2" type="number" min="0" step="any" placeholder="0.05"></label>
          </div>
          <label class="check"><input id="design-deescalate" type="checkbox"> 3+3 de-escalation (Korn: expand the dose below a toxic dose to 6)</label>
          <label class="check"><input id="design-exact" type="checkbox"> exact operating characteristics (enumerate every cohort outcome)</label>
          <label>Exact: at most this many trial states <input id="design-max-states" type="number" min="1" step="1" placeholder="200000"></label>
        </details>
        <div class="buttons"><button id="design-run" type="button">Run</button></div>
        <p class="note">Empty fields take the <code>cartsim design</code> defaults. Every design sees the same simulated patients (common random numbers), so differences between columns are differences between the designs.</p>
      </form>
      <section class="grow">
        <div id="design-status" class="status">Choose the settings and press Run.</div>
        <div id="design-error" class="error" hidden></div>
        <section class="design-block">
          <h2>Operating characteristics</h2>
          <p id="design-oc-caption" class="note"></p>
          <table id="design-oc" class="summary"></table>
          <div id="design-curves-box" hidden>
            <h2>Curves derived from the model</h2>
            <p id="design-curves-caption" class="note"></p>
            <table id="design-curves" class="summary"></table>
          </div>
          <div id="design-chart"></div>
        </section>
        <section class="design-block">
          <h2>BOIN decision table</h2>
          <p id="design-boundaries-caption" class="note"></p>
          <table id="design-boundaries" class="summary"></table>
          <p class="note">Columns are the numbers of patients treated at the current dose; the counts are DLTs among them. The target, cohort size, cohorts, p_saf, p_tox and elimination certainty come from the settings.</p>
        </section>
        <section class="design-block">
          <h2>Next dose from accrued data</h2>
          <form id="design-next-form" class="panel" autocomplete="off" onsubmit="return false">
            <div class="design-pair">
              <label>Design <select id="design-next-design"><option value="boin" selected>BOIN</option><option value="3+3">3+3</option><option value="crm">CRM</option><option value="mtpi2">mTPI-2</option></select></label>
              <label>Number of doses <input id="design-next-doses" type="number" min="1" step="1"></label>
              <label>Current dose (optional) <input id="design-next-current" type="number" min="1" step="1" placeholder="last row's"></label>
            </div>
            <label>Accrued data (CSV: one row per dose, or per cohort in treatment order)
              <textarea id="design-data" rows="6" spellcheck="false">dose,patients,dlts
      1,3,0
      2,3,1
      </textarea></label>
            <div class="buttons"><button id="design-next-run" type="button">Next dose</button></div>
            <p class="note">The design's settings (target, cohort size, CRM skeleton, …) are those on the left.</p>
          </form>
          <div id="design-next"></div>
        </section>
      </section>
      </div>
      """
    return layout("Dose finding", active: "Dose finding", body, scripts: ["/assets/design.js"])
  }
}

extension Assets {
  static let designJS = #"""
    "use strict";
    (() => {
      const $ = id => document.getElementById(id);
      const LABELS = {"boin": "BOIN", "3+3": "3+3", "crm": "CRM", "mtpi2": "mTPI-2"};
      const BASES = {"total_t_cells_per_m2": "total T cells/m²", "car_t_cells_per_m2": "CAR+ T cells/m²", "cells": "cells (absolute)"};
      const DECISIONS = {"escalate": "ESCALATE", "stay": "STAY", "deescalate": "DE-ESCALATE", "de-escalate": "DE-ESCALATE", "stop": "STOP"};
      // [JSON key, element id, kind]; empty inputs are left out (the server's defaults apply).
      const SETTINGS = [
        ["target", "design-target", "num"], ["cohort_size", "design-cohort-size", "num"], ["cohorts", "design-cohorts", "num"],
        ["max_n", "design-max-n", "num"], ["start_dose", "design-start-dose", "num"], ["n_earlystop", "design-n-earlystop", "num"],
        ["skeleton", "design-skeleton", "list"], ["crm_model", "design-crm-model", "str"], ["intercept", "design-intercept", "num"],
        ["prior_sd", "design-prior-sd", "num"], ["crm_startup", "design-crm-startup", "bool"], ["start_sequence", "design-start-sequence", "list"],
        ["crm_safety", "design-crm-safety", "num"], ["deescalate", "design-deescalate", "bool"], ["epsilon1", "design-epsilon1", "num"],
        ["epsilon2", "design-epsilon2", "num"], ["cutoff_eli", "design-cutoff-eli", "num"], ["p_saf", "design-p-saf", "num"], ["p_tox", "design-p-tox", "num"],
      ];
      const RUN = [["trials", "design-trials", "num"], ["seed", "design-seed", "num"], ["exact", "design-exact", "bool"], ["max_states", "design-max-states", "num"]];
      const MODEL = [
        ["from_model", "design-example", "str"], ["arm", "design-arm", "str"], ["dose_levels", "design-dose-levels", "list"],
        ["model_patients", "design-model-patients", "num"], ["dose_basis", "design-dose-basis", "str"], ["dlt", "design-dlt", "str"],
        ["follow_up", "design-follow-up", "num"],
      ];
      const BOUNDARIES = [["target", "design-target", "num"], ["cohort_size", "design-cohort-size", "num"], ["cohorts", "design-cohorts", "num"],
                          ["p_saf", "design-p-saf", "num"], ["p_tox", "design-p-tox", "num"], ["cutoff_eli", "design-cutoff-eli", "num"]];
      const state = {lastBody: null};
      window.cartsimDesign = state;
      let runSeq = 0, boundSeq = 0, nextSeq = 0, dosesEdited = false;
      const errors = {examples: "", run: "", boundaries: "", next: ""};

      function showError(part, msg) {
        errors[part] = msg || "";
        const all = Object.values(errors).filter(Boolean), e = $("design-error");
        e.hidden = !all.length;
        e.textContent = all.join("\n");
      }
      function el(tag, attrs, text) {
        const e = document.createElement(tag);
        for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
        if (text !== undefined) e.textContent = text;
        return e;
      }
      const fmt = (v, d) => v === null || v === undefined ? "–" : typeof v === "number" ? (isFinite(v) ? v.toFixed(d) : "–") : String(v);
      const prob = v => v === null || v === undefined ? "–" : String(+v.toFixed(3));
      function level(x) {
        if (!(x >= 1000)) return String(x);
        const e = Math.floor(Math.log10(x)), m = x / Math.pow(10, e);
        return (Math.abs(m - Math.round(m)) < 1e-9 ? String(Math.round(m)) : String(+m.toFixed(2))) + "e" + e;
      }
      /// "0.1, 0.2 0.3" → [0.1, 0.2, 0.3]; a token that is not a number is sent as text so that
      /// the server names the field and the value in its error.
      function list(text) {
        return text.split(/[\s,;]+/).filter(t => t !== "").map(t => { const x = Number(t); return isFinite(x) ? x : t; });
      }
      function collect(fields, o) {
        for (const [key, id, kind] of fields) {
          const e = $(id);
          if (kind === "bool") { if (e.checked) o[key] = true; continue; }
          if (e.validity && e.validity.badInput) throw new Error(`${key}: not a number`);
          const v = e.value.trim();
          if (v === "") continue;
          o[key] = kind === "num" ? (isFinite(Number(v)) ? Number(v) : v) : kind === "list" ? list(v) : v;
        }
        return o;
      }
      const modelMode = () => document.querySelector("input[name=design-source]:checked").value === "model";
      function curves(o) {
        if (modelMode()) return collect(MODEL, o);
        const p = $("design-ptrue").value.trim(), q = $("design-presponse").value.trim();
        if (p) o.p_true = list(p);
        if (q) o.p_response = list(q);
        return o;
      }
      const doseCount = () => list(modelMode() ? $("design-dose-levels").value : $("design-ptrue").value).length;
      function refreshCount() {
        const n = doseCount();
        $("design-dose-count").textContent = n === 1 ? "1 dose" : n + " doses";
        if (!dosesEdited) $("design-next-doses").value = n || "";
        const m = modelMode();
        $("design-enter-fields").disabled = m;
        $("design-model-fields").disabled = !m;
      }

      function message(b, status) {
        if (!b || typeof b !== "object" || !b.message) return `HTTP ${status}`;
        return (b.field ? b.field + ": " : "") + String(b.message).replace(b.field + ": ", "");
      }
      async function request(url, body, asText) {
        const init = body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
        let r;
        try { r = await fetch(url, init); } catch (e) { throw new Error("network error: " + e); }
        const text = await r.text();
        let b = null;
        if (!asText || !r.ok) { try { b = JSON.parse(text); } catch (e) { if (r.ok) throw new Error("the server's answer is not JSON"); } }
        if (!r.ok) throw new Error(b ? message(b, r.status) : `HTTP ${r.status}: ${text.slice(0, 200)}`);
        return asText ? text : b;
      }

      // ---- operating characteristics
      async function run() {
        const designs = [...document.querySelectorAll("input[name=design-designs]:checked")].map(c => c.value);
        let body;
        try {
          if (!designs.length) throw new Error("designs: choose at least one design");
          body = collect(RUN, curves(collect(SETTINGS, {designs})));
        } catch (e) { showError("run", "Operating characteristics — " + e.message); return; }
        const my = ++runSeq, t0 = performance.now();
        state.lastBody = body;
        $("design-run").disabled = true;
        $("design-status").textContent = `computing ${designs.length} design${designs.length > 1 ? "s" : ""}` + (modelMode() ? " (deriving the curves from the model first)…" : "…");
        showError("run", "");
        const bounds = boundaries();
        try {
          const [res, svg] = await Promise.all([request("/api/design/compare", body), request("/api/design/compare?chart=svg", body, true)]);
          await bounds;
          if (my !== runSeq) return;
          renderOC(res);
          renderCurves(res.model_curves);
          renderChart(svg);
          const first = res.designs[0];
          $("design-status").textContent = `${res.designs.length} design${res.designs.length > 1 ? "s" : ""} · ` +
            (first.exact ? "exact enumeration" : `${first.trials} simulated trials each, seed ${first.seed}`) +
            ` · ${((performance.now() - t0) / 1000).toFixed(1)} s`;
          $("design-status").dataset.seq = String(my);
        } catch (e) {
          if (my !== runSeq) return;
          showError("run", "Operating characteristics — " + e.message);
          $("design-status").textContent = "not run: the settings are not valid";
        } finally {
          if (my === runSeq) $("design-run").disabled = false;
        }
      }

      function renderOC(res) {
        const ocs = res.designs, first = ocs[0], k = first.p_true.length, mtd = first.true_mtd, sim = !first.exact;
        const t = $("design-oc");
        t.innerHTML = "";
        const head = el("tr");
        head.appendChild(el("th", {}, ""));
        for (const oc of ocs) head.appendChild(el("th", {"data-design": oc.design}, LABELS[oc.design] || oc.design));
        t.appendChild(el("thead")).appendChild(head);
        const tb = t.appendChild(el("tbody"));
        const group = label => { const tr = el("tr", {class: "group"}); tr.appendChild(el("td", {colspan: ocs.length + 1}, label)); tb.appendChild(tr); };
        const row = (key, label, get, d, cls) => {
          const tr = el("tr", Object.assign({"data-key": key}, cls ? {class: cls} : {}));
          tr.appendChild(el("td", {}, label));
          for (const oc of ocs) {
            const [v, se] = get(oc), td = el("td", {"data-design": oc.design}, fmt(v, d));
            if (sim && typeof se === "number") td.title = `± ${se.toFixed(d === 1 ? 2 : 3)} (Monte Carlo SE)`;
            tr.appendChild(td);
          }
          tb.appendChild(tr);
        };
        const dose = i => `dose ${i + 1}${i + 1 === mtd ? "*" : ""}`;
        const pr = i => ` (p = ${prob(first.p_true[i])}${first.p_response ? ", q = " + prob(first.p_response[i]) : ""})`;
        group("Selected as MTD, % of trials");
        for (let i = 0; i < k; i++) row("sel-" + (i + 1), dose(i) + pr(i), oc => [oc.selection_percent[i], oc.selection_percent_se[i]], 1, i + 1 === mtd ? "mtd" : "");
        row("stop", "none (stopped, no MTD)", oc => [oc.stop_percent, oc.stop_percent_se], 1);
        group("Mean patients treated per dose");
        for (let i = 0; i < k; i++) row("patients-" + (i + 1), dose(i), oc => [oc.mean_patients[i], oc.mean_patients_se[i]], 2);
        group("Mean DLTs per dose");
        for (let i = 0; i < k; i++) row("dlts-" + (i + 1), dose(i), oc => [oc.mean_dlts[i], oc.mean_dlts_se[i]], 2);
        group("Per trial");
        row("pcs", "PCS: correct selection %", oc => [oc.pcs, oc.pcs_se], 1, "mtd");
        row("total-patients", "mean patients", oc => [oc.mean_total_patients, oc.mean_total_patients_se], 2);
        row("total-dlts", "mean DLTs", oc => [oc.mean_total_dlts, oc.mean_total_dlts_se], 2);
        row("overdose60", "overdose60 %: > 60% of patients above the MTD", oc => [oc.overdose60, oc.overdose60_se], 1);
        row("overdose80", "overdose80 %: > 80% of patients above the MTD", oc => [oc.overdose80, oc.overdose80_se], 1);
        if (ocs.every(oc => typeof oc.expected_responders === "number")) row("responders", "expected responders", oc => [oc.expected_responders, oc.expected_responders_se], 2);
        row("max-patients", "maximum sample size", oc => [oc.max_patients === null ? "3+3 rules" : oc.max_patients, null], 0);
        $("design-oc-caption").textContent = `Target ${first.target}; * true MTD = dose ${mtd} (true P(DLT) closest to the target). ` +
          (sim ? `${first.trials} simulated trials per design, seed ${first.seed}, the same simulated patients for every design; hover a value for its Monte Carlo standard error.`
               : "Exact: every cohort outcome enumerated with its probability (no Monte Carlo error).");
      }

      function renderCurves(c) {
        $("design-curves-box").hidden = !c;
        if (!c) return;
        const t = $("design-curves"), failures = (c.solver_failures || []).some(x => x > 0);
        t.innerHTML = "";
        const head = el("tr");
        for (const h of ["dose level", "P(DLT)", "95% interval", "P(response)", "95% interval"].concat(failures ? ["solver failures"] : [])) head.appendChild(el("th", {}, h));
        t.appendChild(el("thead")).appendChild(head);
        const tb = t.appendChild(el("tbody"));
        c.dose_levels.forEach((x, i) => {
          const tr = el("tr", {"data-key": "level-" + (i + 1)});
          const cells = [level(x), prob(c.p_dlt[i]), `${prob(c.p_dlt_lower_95[i])}–${prob(c.p_dlt_upper_95[i])}`,
                         prob(c.p_response[i]), `${prob(c.p_response_lower_95[i])}–${prob(c.p_response_upper_95[i])}`];
          if (failures) cells.push(String(c.solver_failures[i]));
          for (const v of cells) tr.appendChild(el("td", {}, v));
          tb.appendChild(tr);
        });
        $("design-curves-caption").textContent = `Arm “${c.arm}”, doses in ${BASES[c.dose_basis] || c.dose_basis}, ${c.patients_per_level} virtual patients per level (the same patients at every level); ` +
          `DLT: ${c.dlt_definition}; response: confirmed CR or PR (RECIST 1.1). Intervals are Clopper–Pearson over the virtual patients. These are the true curves of the simulated trials.`;
      }

      function renderChart(svg) {
        const box = $("design-chart");
        box.innerHTML = svg; // generated by the server
        const s = box.querySelector("svg");
        if (s && !s.getAttribute("viewBox") && s.getAttribute("width") && s.getAttribute("height")) {
          s.setAttribute("viewBox", `0 0 ${parseFloat(s.getAttribute("width"))} ${parseFloat(s.getAttribute("height"))}`);
        }
      }

      // ---- BOIN decision table
      async function boundaries() {
        const my = ++boundSeq;
        let body;
        try { body = collect(BOUNDARIES, {}); } catch (e) { showError("boundaries", "BOIN decision table — " + e.message); return; }
        try {
          const b = await request("/api/design/boundaries", body);
          if (my !== boundSeq) return;
          showError("boundaries", "");
          const t = $("design-boundaries");
          t.innerHTML = "";
          const head = el("tr", {"data-key": "n"});
          head.appendChild(el("th", {}, "Number of patients treated"));
          for (const n of b.n) head.appendChild(el("th", {}, String(n)));
          t.appendChild(el("thead")).appendChild(head);
          const tb = t.appendChild(el("tbody"));
          for (const [key, label, values] of [["escalate", "Escalate if # of DLTs ≤", b.escalate_if_dlts_le],
                                              ["deescalate", "De-escalate if # of DLTs ≥", b.deescalate_if_dlts_ge],
                                              ["eliminate", "Eliminate if # of DLTs ≥", b.eliminate_if_dlts_ge]]) {
            const tr = el("tr", {"data-key": key});
            tr.appendChild(el("th", {}, label));
            for (const v of values) tr.appendChild(el("td", {}, v === null || v === undefined ? "NA" : String(v)));
            tb.appendChild(tr);
          }
          $("design-boundaries-caption").textContent = `Target ${b.target}: λe = ${b.lambda_e.toFixed(4)}, λd = ${b.lambda_d.toFixed(4)}; ` +
            `a dose and all above are eliminated when Pr(P(DLT) > target | data) > ${b.cutoff_eli} (NA: never with so few patients).`;
        } catch (e) {
          if (my === boundSeq) showError("boundaries", "BOIN decision table — " + e.message);
        }
      }

      // ---- next dose
      async function next() {
        const my = ++nextSeq;
        let body;
        try {
          body = collect(SETTINGS, {design: $("design-next-design").value, data: $("design-data").value});
          collect([["doses", "design-next-doses", "num"], ["current", "design-next-current", "num"]], body);
          if (body.doses === undefined && doseCount()) body.doses = doseCount();
        } catch (e) { showError("next", "Next dose — " + e.message); return; }
        $("design-next-run").disabled = true;
        showError("next", "");
        try {
          const r = await request("/api/design/next", body);
          if (my === nextSeq) renderNext(r);
        } catch (e) {
          if (my !== nextSeq) return;
          $("design-next").innerHTML = "";
          showError("next", "Next dose — " + e.message);
        } finally {
          if (my === nextSeq) $("design-next-run").disabled = false;
        }
      }

      function renderNext(r) {
        const box = $("design-next"), k = r.patients.length;
        box.innerHTML = "";
        const p = el("p", {class: "decision", "data-decision": r.decision});
        p.appendChild(el("b", {}, DECISIONS[r.decision] || String(r.decision).toUpperCase()));
        const mtd = r.selected_mtd ? "dose " + r.selected_mtd : "none";
        p.appendChild(document.createTextNode(r.decision === "stop" ? ` — ${r.reason}; MTD: ${mtd}`
          : ` ${r.decision === "stay" ? "at" : "to"} dose ${r.next_dose} — ${r.reason}` + (r.selected_mtd ? ` (MTD on the data so far: ${mtd})` : "")));
        box.appendChild(p);
        box.appendChild(el("p", {class: "note"}, `${LABELS[r.design] || r.design}, target ${r.target}, current dose ${r.current_dose} of ${k}.`));
        const t = el("table", {class: "summary", id: "design-next-table"});
        const head = el("tr");
        head.appendChild(el("th", {}, "dose"));
        for (let i = 1; i <= k; i++) head.appendChild(el("th", {}, String(i) + (i === r.current_dose ? " (current)" : "")));
        t.appendChild(el("thead")).appendChild(head);
        const tb = t.appendChild(el("tbody"));
        const line = (key, label, values, f) => {
          const tr = el("tr", {"data-key": key});
          tr.appendChild(el("td", {}, label));
          for (const v of values) tr.appendChild(el("td", {}, f(v)));
          tb.appendChild(tr);
        };
        line("patients", "patients", r.patients, String);
        line("dlts", "DLTs", r.dlts, String);
        for (const name of Object.keys(r.estimates || {})) {
          const v = r.estimates[name];
          if (Array.isArray(v) && v.length === k) line("est-" + name, name, v, x => typeof x === "number" ? x.toFixed(3) : "–");
        }
        box.appendChild(t);
        const sc = Object.entries(r.scalars || {});
        if (sc.length) {
          box.appendChild(el("p", {class: "note"}, sc.map(([n, v]) => `${n} = ${typeof v !== "number" ? "NA" : Number.isInteger(v) ? v : v.toFixed(4)}`).join(" · ")));
        }
      }

      // ---- trial examples for "Derive from the model"
      async function loadArms() {
        const sel = $("design-arm"), name = $("design-example").value;
        sel.innerHTML = "";
        if (!name) return;
        try {
          const spec = await request("/api/examples/" + encodeURIComponent(name));
          for (const a of spec.arms || []) sel.appendChild(el("option", {value: a.name}, a.name));
          showError("examples", "");
        } catch (e) { showError("examples", "Trial example — " + e.message); }
      }
      async function loadExamples() {
        try {
          const r = await request("/api/examples");
          const sel = $("design-example");
          sel.innerHTML = "";
          for (const x of r.examples.filter(x => x.kind === "trial")) sel.appendChild(el("option", {value: x.name}, x.title && x.title !== x.name ? `${x.title} (${x.name})` : x.name));
          if ([...sel.options].some(o => o.value === "heros-trial.json")) sel.value = "heros-trial.json";
          await loadArms();
        } catch (e) { showError("examples", "Trial examples — " + e.message); }
      }

      for (const r of document.querySelectorAll("input[name=design-source]")) r.addEventListener("change", refreshCount);
      $("design-ptrue").addEventListener("input", refreshCount);
      $("design-dose-levels").addEventListener("input", refreshCount);
      $("design-next-doses").addEventListener("input", () => { dosesEdited = $("design-next-doses").value !== ""; });
      $("design-example").addEventListener("change", loadArms);
      $("design-run").addEventListener("click", run);
      $("design-next-run").addEventListener("click", next);
      for (const id of ["design-target", "design-cohort-size", "design-cohorts", "design-p-saf", "design-p-tox", "design-cutoff-eli"]) {
        $(id).addEventListener("change", boundaries);
      }
      refreshCount();
      loadExamples();
      boundaries();
    })();
    """#
}

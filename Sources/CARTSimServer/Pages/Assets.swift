/// The style sheet and the small hand-written scripts of the pages (no build step).
enum Assets {
  static let css = #"""
    * { box-sizing: border-box; }
    body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #1f2933; background: #f7f8fa; font-size: 15px; }
    header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #17324d; color: #fff; }
    header .brand { font-weight: 700; font-size: 18px; letter-spacing: .5px; }
    header nav a { color: #cfe0f2; text-decoration: none; margin-right: 16px; padding: 4px 2px; }
    header nav a.active { color: #fff; border-bottom: 2px solid #6fb1ff; }
    header .tagline { margin-left: auto; font-size: 12px; color: #9fb6cc; }
    main { padding: 16px 24px; max-width: 1500px; margin: 0 auto; }
    h1 { font-size: 22px; margin: 8px 0 16px; } h2 { font-size: 17px; margin: 16px 0 8px; }
    .panel { background: #fff; border: 1px solid #dde3ea; border-radius: 6px; padding: 12px 16px; }
    .explorer { display: grid; grid-template-columns: 340px 1fr; gap: 20px; align-items: start; }
    .cols { display: grid; grid-template-columns: 360px 1fr; gap: 20px; align-items: start; }
    form label { display: block; margin: 8px 0; font-size: 14px; }
    form label.check { display: flex; gap: 6px; align-items: baseline; }
    form input[type=text], form input[type=number], form select { width: 100%; padding: 4px 6px; font-size: 14px; }
    form input[type=range] { width: 100%; }
    label.check select { width: auto; }
    form label.radio { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
    figure table.summary { width: 100%; margin-top: 4px; }
    output { float: right; font-weight: 600; color: #17324d; }
    fieldset { border: 1px solid #e3e8ee; border-radius: 4px; margin: 10px 0; padding: 4px 10px 8px; }
    fieldset:disabled { opacity: .45; }
    legend { font-weight: 600; font-size: 13px; color: #52606d; }
    .buttons { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 10px; align-items: center; }
    button, .upload { background: #1f6fb2; color: #fff; border: 0; border-radius: 4px; padding: 6px 12px; font-size: 14px; cursor: pointer; margin: 0; }
    button.secondary { background: #52606d; }
    .upload input { display: none; }
    .plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; }
    figure { margin: 0; background: #fff; border: 1px solid #dde3ea; border-radius: 6px; padding: 6px 8px; }
    figcaption { font-weight: 600; font-size: 14px; margin: 2px 4px; }
    svg.plot { width: 100%; height: auto; display: block; }
    svg.plot text { font-size: 11px; fill: #52606d; }
    .status { color: #52606d; font-size: 13px; margin: 4px 0 8px; min-height: 18px; }
    .error { background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0; border-radius: 4px; padding: 8px 12px; margin: 8px 0; white-space: pre-wrap; }
    table { border-collapse: collapse; background: #fff; font-size: 14px; }
    th, td { border: 1px solid #dde3ea; padding: 4px 8px; text-align: left; vertical-align: top; }
    th { background: #eef2f6; }
    table.summary td:not(:first-child), td.num { text-align: right; font-variant-numeric: tabular-nums; }
    table.summary .prev { color: #7b8794; }
    table.runs { width: 100%; }
    .note { color: #616e7c; font-size: 13px; }
    .progress { background: #e3e8ee; border-radius: 4px; height: 14px; overflow: hidden; min-width: 120px; }
    .progress .bar { background: #2f9e6e; height: 100%; width: 0; transition: width .4s; }
    .badge { border-radius: 3px; padding: 1px 6px; font-size: 12px; }
    .badge.verified { background: #d9f2e6; color: #1c6b45; } .badge.assumed { background: #fff1d6; color: #8a5a00; }
    .badge.calibrated { background: #e0e8f7; color: #274b8a; }
    .st-complete { color: #1c6b45; font-weight: 600; } .st-failed { color: #8a1c1c; font-weight: 600; }
    .st-interrupted { color: #8a5a00; font-weight: 600; } .st-running, .st-queued { color: #1f6fb2; font-weight: 600; }
    ul.plain { list-style: none; padding-left: 0; font-size: 13px; } ul.plain li { margin: 3px 0; }
    .guide { background: #fff; border: 1px solid #dde3ea; border-radius: 6px; padding: 8px 20px; max-width: 1100px; }
    .guide pre { background: #f3f5f7; padding: 10px; overflow-x: auto; font-size: 12.5px; }
    .grow { min-width: 0; }
    iframe.report { width: 100%; height: 1400px; border: 1px solid #dde3ea; border-radius: 6px; background: #fff; }
    a { color: #1f6fb2; }
    """#

  /// `Plot.draw(svg, spec)`: a line plot in SVG with axes, log or linear y, markers and a
  /// dashed comparison curve.
  static let plotJS = #"""
    "use strict";
    const Plot = (() => {
      const W = 560, H = 260, L = 62, R = 14, T = 12, B = 34, NS = "http://www.w3.org/2000/svg";
      function el(name, attrs, text) {
        const e = document.createElementNS(NS, name);
        for (const k in attrs) e.setAttribute(k, attrs[k]);
        if (text !== undefined) e.textContent = text;
        return e;
      }
      function niceTicks(lo, hi, n) {
        const span = hi - lo || 1, step0 = span / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
        const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => span / s <= n) || 10 * mag;
        const out = [];
        for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(+v.toPrecision(12));
        return out;
      }
      function fmt(v) {
        if (v === 0) return "0";
        const a = Math.abs(v);
        if (a >= 1e4 || a < 1e-2) { const e = Math.floor(Math.log10(a)); const m = v / Math.pow(10, e); return (Math.abs(m - 1) < 1e-9 ? "" : m.toFixed(1) + "×") + "1e" + e; }
        return String(+v.toPrecision(4));
      }
      // spec: {times, values, prev, log, floor, unit, markers: [day], refs: [{y, label}]}
      function draw(svg, spec) {
        while (svg.firstChild) svg.removeChild(svg.firstChild);
        const t = spec.times, series = [spec.values].concat(spec.prev ? [spec.prev] : []);
        const x0 = t[0], x1 = t[t.length - 1];
        let lo = Infinity, hi = -Infinity;
        const floor = spec.log ? (spec.floor || 1e-3) : -Infinity;
        for (const s of series) for (const v of s) if (v !== null && isFinite(v)) { const w = Math.max(v, floor); if (w < lo) lo = w; if (w > hi) hi = w; }
        for (const r of spec.refs || []) { if (r.y > hi && r.y < hi * 3) hi = r.y; }
        if (!isFinite(lo)) { lo = spec.log ? 1e-3 : 0; hi = 1; }
        if (!spec.log && lo > 0 && lo < hi * 0.5) lo = 0;
        if (spec.log) { lo = Math.pow(10, Math.floor(Math.log10(lo))); hi = Math.pow(10, Math.ceil(Math.log10(hi))); if (hi / lo < 100) lo = hi / 100; }
        if (hi === lo) { hi = lo + 1; }
        if (!spec.log) hi = hi + 0.05 * (hi - lo);
        const fy = spec.log ? (v => T + (H - T - B) * (1 - (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))))
                            : (v => T + (H - T - B) * (1 - (v - lo) / (hi - lo)));
        const fx = v => L + (W - L - R) * (v - x0) / (x1 - x0 || 1);
        const g = el("g", {});
        svg.appendChild(g);
        // grid and y ticks
        const yt = spec.log ? (() => { const o = []; for (let e = Math.round(Math.log10(lo)); e <= Math.round(Math.log10(hi)); e++) o.push(Math.pow(10, e)); return o; })() : niceTicks(lo, hi, 5);
        const step = Math.max(1, Math.ceil(yt.length / 7));
        yt.forEach((v, i) => {
          if (i % step) return;
          const y = fy(v);
          g.appendChild(el("line", {x1: L, x2: W - R, y1: y, y2: y, stroke: "#e6eaef"}));
          g.appendChild(el("text", {x: L - 6, y: y + 4, "text-anchor": "end"}, fmt(v)));
        });
        for (const v of niceTicks(x0, x1, 8)) {
          const x = fx(v);
          g.appendChild(el("line", {x1: x, x2: x, y1: T, y2: H - B, stroke: "#f0f2f5"}));
          g.appendChild(el("text", {x: x, y: H - B + 15, "text-anchor": "middle"}, fmt(v)));
        }
        g.appendChild(el("text", {x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle"}, "day"));
        g.appendChild(el("text", {x: 12, y: (T + H - B) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(T + H - B) / 2})`}, spec.unit));
        g.appendChild(el("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#9aa5b1"}));
        for (const r of spec.refs || []) {
          if (r.y < lo || r.y > hi) continue;
          const y = fy(r.y);
          g.appendChild(el("line", {x1: L, x2: W - R, y1: y, y2: y, stroke: "#c98a2b", "stroke-dasharray": "2 3"}));
          g.appendChild(el("text", {x: W - R - 4, y: y - 3, "text-anchor": "end", fill: "#a86b12"}, r.label));
        }
        for (const d of spec.markers || []) {
          if (d < x0 || d > x1) continue;
          const x = fx(d);
          g.appendChild(el("line", {x1: x, x2: x, y1: T, y2: H - B, stroke: "#7e57c2", "stroke-width": 1, "stroke-dasharray": "4 3"}));
          g.appendChild(el("path", {d: `M${x - 4},${T} L${x + 4},${T} L${x},${T + 7} Z`, fill: "#7e57c2"}));
        }
        const path = (vals, attrs) => {
          let d = "", pen = false;
          for (let i = 0; i < t.length; i++) {
            const v = vals[i];
            if (v === null || !isFinite(v) || (spec.log && v <= 0 && !spec.floor)) { pen = false; continue; }
            d += (pen ? "L" : "M") + fx(t[i]).toFixed(1) + "," + fy(Math.max(v, spec.log ? lo : -Infinity)).toFixed(1);
            pen = true;
          }
          const p = el("path", Object.assign({d, fill: "none"}, attrs));
          g.appendChild(p);
          return p;
        };
        if (spec.prev && spec.prev.length === t.length) path(spec.prev, {stroke: "#9aa5b1", "stroke-width": 1.5, "stroke-dasharray": "5 4", class: "prev"});
        const main = path(spec.values, {stroke: spec.color || "#1f6fb2", "stroke-width": 2, class: "current"});
        svg.setAttribute("data-points", String(t.length));
        return main;
      }
      return {draw};
    })();
    """#

  static let explorerJS = #"""
    "use strict";
    (() => {
      const $ = id => document.getElementById(id);
      const FLU = {drug: "fludarabine", mg_per_m2: 30, days: [-7, -6, -5, -4, -3], infusion_minutes: 30};
      const CY = {drug: "cyclophosphamide", mg_per_m2: 500, days: [-7, -6], infusion_minutes: 60};
      const PEMBRO = {drug: "pembrolizumab", dose_mg_per_kg: 2, max_dose_mg: 200, every_days: 21, count: 18, start_day: 0, infusion_minutes: 30};
      const PLOTS = {
        heros: [
          {name: "car_t_blood", title: "CAR T cells in blood", log: true, floor: 1e-3, color: "#1f6fb2"},
          {name: "sld", title: "Tumour burden (RECIST SLD)", log: false, color: "#2f9e6e"},
          {name: "il6", title: "Serum IL-6", log: true, floor: 0.1, color: "#c0392b"},
        ],
        cartmath: [
          {name: "car_t_total", title: "CAR T cells (effector + memory)", log: true, floor: 1, color: "#1f6fb2"},
          {name: "tumour_cells", title: "Tumour cells", log: true, floor: 1, color: "#2f9e6e"},
          {name: "car_t_total", title: "CAR T cells (linear)", log: false, color: "#7e57c2"},
        ],
      };
      let base = null, current = null, previous = null, lastScenario = null, inflight = null, timer = null, seq = 0;

      function clone(x) { return JSON.parse(JSON.stringify(x)); }
      function isHeros() { return $("model").value === "heros"; }

      async function loadExample(name) {
        const r = await fetch("/api/examples/" + encodeURIComponent(name));
        if (!r.ok) { showError((await r.json()).message); return; }
        setFrom(await r.json());
      }

      function setFrom(s) {
        base = clone(s);
        $("name").value = s.name || "";
        $("model").value = s.model || "heros";
        const ld = s.lymphodepletion;
        $("ld").checked = !!ld;
        const drugs = ld ? ld.agents.map(a => a.drug) : ["fludarabine", "cyclophosphamide"];
        $("flu").checked = drugs.includes("fludarabine");
        $("cy").checked = drugs.includes("cyclophosphamide");
        const c = s.car_t || {};
        const n = c.days ? c.days.length : (c.number || 1);
        const before = c.lymphodepletion_before;
        $("ldWhich").value = !before || before.length === n ? "all" : (before.length === 1 && before[0] === 1 && n > 1) ? "first" : "example";
        $("doseLog").value = Math.log10(c.dose || 1e8);
        $("basis").value = c.basis || "total_t_cells_per_m2";
        $("number").value = n;
        $("interval").value = c.interval_days || (c.days && c.days.length > 1 ? c.days[1] - c.days[0] : 42);
        $("ici").checked = !!s.checkpoint_inhibitor;
        const p = s.patient || {};
        $("her2").value = p.her2_level !== undefined ? p.her2_level : 1;
        $("sld").value = p.baseline_sld_mm !== undefined ? p.baseline_sld_mm : 80;
        $("horizon").value = (s.simulation && s.simulation.horizon_days) || 365;
        previous = null;
        refreshOutputs();
        schedule(0);
      }

      function refreshOutputs() {
        const dose = Math.pow(10, +$("doseLog").value);
        $("doseOut").textContent = dose.toPrecision(2).replace("e+", "e");
        $("numberOut").textContent = $("number").value;
        $("her2Out").textContent = (+$("her2").value).toFixed(2);
        $("sldOut").textContent = $("sld").value + " mm";
        const heros = isHeros();
        for (const id of ["fsLD", "fsICI", "fsPatient"]) { const f = document.getElementById(id); if (f) f.disabled = !heros; }
        $("flu").disabled = $("cy").disabled = $("ldWhich").disabled = !$("ld").checked || !heros;
        $("interval").disabled = +$("number").value < 2;
      }

      /// The scenario the controls describe: the chosen example with the controls' fields replaced.
      function scenario() {
        const s = clone(base);
        s.name = $("name").value || s.name;
        s.model = $("model").value;
        const n = +$("number").value;
        const c = Object.assign({}, s.car_t || {});
        delete c.days;
        c.dose = +Math.pow(10, +$("doseLog").value).toPrecision(3);
        c.basis = $("basis").value;
        c.number = n;
        if (n > 1) c.interval_days = +$("interval").value; else delete c.interval_days;
        if (isHeros()) {
          s.patient = Object.assign({}, s.patient || {}, {her2_level: +$("her2").value, baseline_sld_mm: +$("sld").value});
          if ($("ld").checked) {
            const agents = [];
            if ($("flu").checked) agents.push(FLU);
            if ($("cy").checked) agents.push(CY);
            s.lymphodepletion = {mode: (s.lymphodepletion && s.lymphodepletion.mode) || "pk", agents};
            const all = Array.from({length: n}, (_, i) => i + 1);
            const example = ((base.car_t || {}).lymphodepletion_before || all).filter(k => k <= n);
            c.lymphodepletion_before = $("ldWhich").value === "first" ? [1] : $("ldWhich").value === "example" && example.length ? example : all;
          } else {
            delete s.lymphodepletion;
            delete c.lymphodepletion_before;
          }
          if ($("ici").checked) s.checkpoint_inhibitor = (base.checkpoint_inhibitor ? clone(base.checkpoint_inhibitor) : clone(PEMBRO));
          else delete s.checkpoint_inhibitor;
        }
        // Dosing rules of the example, kept for the infusions that remain.
        if (c.conditions) {
          c.conditions = c.conditions.map(r => {
            const [first, last] = Array.isArray(r.infusions) ? r.infusions : [r.infusions, r.infusions];
            return Object.assign({}, r, {infusions: [first, Math.min(last, n)]});
          }).filter(r => r.infusions[0] <= n);
          if (!c.conditions.length) delete c.conditions;
        }
        s.car_t = c;
        s.simulation = Object.assign({}, s.simulation || {}, {horizon_days: +$("horizon").value});
        return s;
      }

      function schedule(ms) {
        refreshOutputs();
        clearTimeout(timer);
        timer = setTimeout(run, ms === undefined ? 80 : ms);
      }

      function showError(msg) { const e = $("error"); e.hidden = !msg; e.textContent = msg || ""; }

      async function run() {
        let s;
        try { s = scenario(); } catch (e) { showError(String(e)); return; }
        if (isHeros() && $("ld").checked && !$("flu").checked && !$("cy").checked) { showError("lymphodepletion.agents: choose at least one drug, or switch lymphodepletion off"); return; }
        const plots = PLOTS[isHeros() ? "heros" : "cartmath"];
        const series = [...new Set(plots.map(p => p.name))].join(",");
        if (inflight) inflight.abort();
        inflight = new AbortController();
        const my = ++seq, t0 = performance.now();
        $("status").textContent = "simulating…";
        let r;
        try {
          r = await fetch("/api/simulate?series=" + series, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(s), signal: inflight.signal});
        } catch (e) { if (e.name !== "AbortError") showError("network error: " + e); return; }
        const body = await r.json();
        if (my !== seq) return;
        if (!r.ok) {
          showError((body.field ? body.field + ": " : "") + body.message.replace(body.field + ": ", ""));
          $("status").textContent = "not simulated: the scenario is not valid";
          return;
        }
        showError("");
        try { localStorage.setItem("cartsim.explorer.scenario", JSON.stringify(s)); } catch (e) {}
        if (current && JSON.stringify(lastScenario) !== JSON.stringify(s)) previous = current;
        current = body; lastScenario = s;
        const ms = performance.now() - t0;
        $("status").textContent = `${body.summary.scenario} · ${body.summary.status} · simulated in ${body.compute_ms.toFixed(0)} ms (${ms.toFixed(0)} ms round trip) · ${body.time_course.times.length} time points`;
        $("status").dataset.seq = String(my);
        render(plots);
      }

      function render(plots) {
        const tc = current.time_course, prevTC = previous && previous.time_course;
        plots.forEach((p, i) => {
          const ser = tc.series[p.name];
          const refs = (current.references && current.references[p.name]) || [];
          $("cap" + i).textContent = `${p.title} [${ser.unit}]`;
          const prev = prevTC && prevTC.series[p.name] && prevTC.times.length === tc.times.length ? prevTC.series[p.name].values : null;
          Plot.draw($("plot" + i), {times: tc.times, values: ser.values, prev, log: p.log, floor: p.floor, unit: ser.unit, color: p.color,
                                    markers: current.infusion_days, refs});
        });
        summary();
      }

      const ROWS = [
        ["CAR T Cmax (cells/µL)", "car_t_cmax_cells_per_uL", 3], ["CAR T Tmax (day)", "car_t_tmax_days", 1],
        ["CAR T AUC0–28 (cells/µL·d)", "car_t_auc_0_28", 3], ["CAR T persistence (days)", "car_t_persistence_days", 0],
        ["Best response (RECIST)", "best_response"], ["Best SLD change (%)", "sld_best_percent_change", 1],
        ["IL-6 peak (pg/mL)", "il6_peak_pg_per_mL", 3], ["CRS grade (IL-6 proxy)", "crs_grade"],
        ["ALC nadir (cells/µL)", "alc_nadir_cells_per_uL", 3], ["Solver", "status"],
      ];
      function cell(v, d) {
        if (v === null || v === undefined) return "–";
        if (typeof v === "number" && d !== undefined) return d === 3 ? (Math.abs(v) >= 1e4 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toPrecision(3)) : v.toFixed(d);
        return String(v);
      }
      function summary() {
        const tb = $("summary").tBodies[0];
        tb.innerHTML = "";
        const s = current.summary, p = previous && previous.summary;
        for (const [label, key, d] of ROWS) {
          if (!(key in s)) continue;
          const tr = document.createElement("tr");
          for (const [txt, cls] of [[label, ""], [cell(s[key], d), ""], [p ? cell(p[key], d) : "", "prev"]]) {
            const td = document.createElement("td"); td.textContent = txt; if (cls) td.className = cls; tr.appendChild(td);
          }
          tr.dataset.key = key;
          tb.appendChild(tr);
        }
      }

      function download() {
        const s = scenario();
        const blob = new Blob([JSON.stringify(s, null, 2) + "\n"], {type: "application/json"});
        const a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = (s.name || "scenario").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") + ".json";
        document.body.appendChild(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 1000);
      }

      async function save() {
        const s = scenario();
        const r = await fetch("/api/scenarios", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(s, null, 2) + "\n"});
        const b = await r.json();
        if (!r.ok) { showError((b.field ? b.field + ": " : "") + b.message); return; }
        $("saved").innerHTML = "";
        const a = document.createElement("a"); a.href = b.url; a.textContent = `saved “${b.name}” (${b.id})`; a.id = "savedLink";
        $("saved").appendChild(a);
        listSaved();
      }

      async function listSaved() {
        const r = await fetch("/api/scenarios");
        if (!r.ok) return;
        const ul = $("savedList"); ul.innerHTML = "";
        for (const s of (await r.json()).scenarios.slice(0, 30)) {
          const li = document.createElement("li");
          const open = document.createElement("a"); open.href = "#"; open.textContent = s.name;
          open.onclick = async e => { e.preventDefault(); const x = await fetch(s.url); if (x.ok) setFrom(await x.json()); };
          const dl = document.createElement("a"); dl.href = s.url; dl.textContent = " ⤓"; dl.title = "download";
          li.append(open, " · " + s.created_at.replace("T", " ").replace("Z", " UTC"), dl);
          ul.appendChild(li);
        }
      }

      for (const id of ["ld", "flu", "cy", "ldWhich", "basis", "ici", "model"]) $(id).addEventListener("change", () => schedule(0));
      for (const id of ["doseLog", "number", "her2", "sld", "interval", "horizon", "name"]) $(id).addEventListener("input", () => schedule());
      $("example").addEventListener("change", () => loadExample($("example").value));
      $("download").addEventListener("click", download);
      $("save").addEventListener("click", save);
      $("open").addEventListener("change", async e => {
        const f = e.target.files[0]; if (!f) return;
        try { setFrom(JSON.parse(await f.text())); } catch (err) { showError(f.name + ": not valid JSON (" + err.message + ")"); }
      });
      // The last valid scenario of this browser comes back after a reload (nothing is lost);
      // choosing an example under "Start from" replaces it.
      let restored = null;
      try { restored = JSON.parse(localStorage.getItem("cartsim.explorer.scenario") || "null"); } catch (e) {}
      if (restored && restored.car_t) { setFrom(restored); $("saved").textContent = "restored your last scenario (choose an example to start over)"; }
      else loadExample($("example").value);
      listSaved();
    })();
    """#

  static let trialsJS = #"""
    "use strict";
    (() => {
      const $ = id => document.getElementById(id);
      const when = iso => iso ? iso.replace("T", " ").replace("Z", "").slice(0, 16) : "";
      function bar(run) {
        const d = document.createElement("div"); d.className = "progress";
        const b = document.createElement("div"); b.className = "bar"; b.style.width = (100 * run.progress.fraction).toFixed(1) + "%";
        d.appendChild(b); return d;
      }
      async function post(url) {
        const r = await fetch(url, {method: "POST"});
        const b = await r.json();
        if (!r.ok) alert(b.message);
        return b;
      }
      function actions(run, detail) {
        const span = document.createElement("span");
        const link = (href, text) => { const a = document.createElement("a"); a.href = href; a.textContent = text; span.append(a, " "); };
        if (!detail) link(run.page, "open");
        if (run.status === "complete") { link(`/api/trials/${run.id}/report.html`, "report"); link(`/api/trials/${run.id}/patients.csv`, "patients.csv"); }
        link(`/api/trials/${run.id}/spec`, "spec");
        const btn = (text, url) => { const b = document.createElement("button"); b.type = "button"; b.className = "secondary"; b.textContent = text;
          b.onclick = async () => { const r = await post(url); if (r.page && r.id !== run.id) location.href = r.page; else refresh(); }; span.append(b, " "); };
        if (run.status === "interrupted" || run.status === "failed") btn("Resume", `/api/trials/${run.id}/resume`);
        if (run.status !== "queued" && run.status !== "running") btn("Rerun", `/api/trials/${run.id}/rerun`);
        return span;
      }

      // ---- list page
      async function refreshList() {
        const r = await fetch("/api/trials");
        if (!r.ok) return false;
        const runs = (await r.json()).trials;
        const tb = $("runs").tBodies[0]; tb.innerHTML = "";
        for (const run of runs) {
          const tr = document.createElement("tr"); tr.dataset.id = run.id; tr.dataset.status = run.status;
          const td = x => { const c = document.createElement("td"); if (x instanceof Node) c.appendChild(x); else c.textContent = x; tr.appendChild(c); return c; };
          td(when(run.created_at));
          const a = document.createElement("a"); a.href = run.page; a.textContent = run.name; td(a);
          td(String(run.progress.patients_total));
          const st = td(run.status); st.className = "st-" + run.status; if (run.message) st.title = run.message;
          td(bar(run)).title = `${run.progress.patients_done}/${run.progress.patients_total} patients, shard ${run.progress.shards_done}/${run.progress.shards_total}`;
          td(actions(run, false));
          tb.appendChild(tr);
        }
        return runs.some(x => x.status === "queued" || x.status === "running");
      }

      async function start() {
        const err = $("startError"); err.hidden = true;
        let text, source;
        const src = document.querySelector("input[name=src]:checked").value;
        if (src === "upload") {
          const f = $("specFile").files[0];
          if (!f) { err.textContent = "choose a spec file to upload"; err.hidden = false; return; }
          text = await f.text(); source = "upload:" + f.name;
        } else {
          const name = $("exampleSpec").value;
          text = await (await fetch("/api/examples/" + encodeURIComponent(name))).text(); source = "example:" + name;
        }
        let body = text;
        const overrides = {patients_per_arm: $("patients").value, follow_up_days: $("followUp").value, seed: $("seed").value};
        if (Object.values(overrides).some(v => v !== "")) {
          let spec;
          try { spec = JSON.parse(text); } catch (e) { err.textContent = "the spec is not valid JSON: " + e.message; err.hidden = false; return; }
          for (const k in overrides) if (overrides[k] !== "") spec[k] = +overrides[k];
          if (overrides.patients_per_arm !== "" && Array.isArray(spec.arms)) for (const a of spec.arms) delete a.patients;
          body = JSON.stringify(spec, null, 2) + "\n";
        }
        const r = await fetch("/api/trials?source=" + encodeURIComponent(source), {method: "POST", headers: {"Content-Type": "application/json"}, body});
        const b = await r.json();
        if (!r.ok) { err.textContent = (b.field ? b.field + ": " : "") + b.message; err.hidden = false; return; }
        location.href = b.page;
      }

      // ---- run page
      let reportShown = false;
      async function refreshRun() {
        const id = $("run").dataset.id;
        const r = await fetch("/api/trials/" + id);
        if (!r.ok) return false;
        const run = await r.json();
        $("bar").style.width = (100 * run.progress.fraction).toFixed(1) + "%";
        const st = $("state");
        st.innerHTML = "";
        const s = document.createElement("span"); s.className = "st-" + run.status; s.id = "runStatus"; s.textContent = run.status;
        st.append(s, ` · ${run.progress.patients_done} of ${run.progress.patients_total} patients · shard ${run.progress.shards_done}/${run.progress.shards_total}` +
          (run.message ? " · " + run.message : "") + ` · started ${when(run.created_at)} UTC` + (run.finished_at ? `, finished ${when(run.finished_at)} UTC` : ""));
        $("actions").innerHTML = ""; $("actions").appendChild(actions(run, true));
        if (run.status === "complete" && !reportShown) {
          reportShown = true;
          const f = document.createElement("iframe"); f.className = "report"; f.id = "reportFrame"; f.src = `/api/trials/${id}/report.html`;
          $("report").appendChild(f);
        }
        return run.status === "queued" || run.status === "running";
      }

      const refresh = $("runs") ? refreshList : refreshRun;
      async function loop() { let busy = false; try { busy = await refresh(); } catch (e) {} setTimeout(loop, busy ? 1000 : 5000); }
      if ($("startBtn")) $("startBtn").addEventListener("click", start);
      loop();
    })();
    """#
}

import CARTModels
import CARTSimCore
import Foundation
import Hummingbird

/// Server-rendered pages: Explorer (`/`), Trials (`/trials`, `/trials/{id}`) and Models
/// (`/models`, `/models/{name}`); their scripts and style are static strings in `Assets`.
enum Pages {
  static func register(on router: Router<BasicRequestContext>, server: CARTSimServer) {
    router.get("/") { _, _ in Reply.html(explorer()) }
    router.get("/explorer") { _, _ in Reply.html(explorer()) }
    router.get("/trials") { _, _ in Reply.html(trials()) }
    router.get("/trials/:id") { _, context in
      let run = try API.lookup(server, context)
      return Reply.html(trial(run))
    }
    router.get("/design") { _, _ in Reply.html(design()) }
    router.get("/models") { _, _ in Reply.html(models()) }
    router.get("/models/:name/credibility") { _, context in
      guard try context.parameters.require("name") == "heros" else {
        throw APIError.notFound("only the HEROS model has a credibility report")
      }
      return Reply.html(credibility())
    }
    router.get("/models/:name") { _, context in
      let name = try context.parameters.require("name")
      guard ModelReport(name) != nil else { throw APIError.notFound("no model '\(name)'") }
      return Reply.html(model(name))
    }
    router.get("/assets/style.css") { _, _ in Reply.text(Assets.css, contentType: "text/css; charset=utf-8") }
    router.get("/assets/plot.js") { _, _ in Reply.text(Assets.plotJS, contentType: "text/javascript; charset=utf-8") }
    router.get("/assets/explorer.js") { _, _ in Reply.text(Assets.explorerJS, contentType: "text/javascript; charset=utf-8") }
    router.get("/assets/trials.js") { _, _ in Reply.text(Assets.trialsJS, contentType: "text/javascript; charset=utf-8") }
    router.get("/assets/design.js") { _, _ in Reply.text(Assets.designJS, contentType: "text/javascript; charset=utf-8") }
  }

  static func esc(_ s: String) -> String { Markdown.esc(s) }

  static func layout(_ title: String, active: String, _ body: String, scripts: [String] = []) -> String {
    func tab(_ href: String, _ label: String) -> String {
      "<a href=\"\(href)\"\(label == active ? " class=\"active\"" : "")>\(label)</a>"
    }
    return """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
      <title>\(esc(title)) — CARTSim</title><link rel="stylesheet" href="/assets/style.css"></head>
      <body><header><span class="brand">CARTSim</span><nav>\(tab("/", "Explorer"))\(tab("/trials", "Trials"))\(tab("/design", "Dose finding"))\(tab("/models", "Models"))<a href="/api/openapi.json">API</a></nav>
      <span class="tagline">in-silico CAR T cell therapy · research use, not for individual treatment decisions</span></header>
      <main>
      \(body)
      </main>
      \(scripts.map { "<script src=\"\($0)\"></script>" }.joined(separator: "\n"))
      </body></html>
      """
  }

  static func errorPage(_ e: APIError) -> String {
    layout("Error", active: "", "<h1>\(e.status.code) \(esc(e.status.reasonPhrase))</h1><p>\(esc(e.message))</p>")
  }

  // MARK: Explorer

  static func explorer() -> String {
    let examples = SpecParsing.exampleNames.filter { !SpecParsing.isTrialSpec($0) }
    let options = examples.map { "<option value=\"\($0)\"\($0 == "heros2-cohortB.json" ? " selected" : "")>\($0)</option>" }.joined()
    let models = ModelCatalog.ids.map { "<option value=\"\($0)\">\($0)</option>" }.joined()
    let basisLabels: [DoseBasis: String] = [
      .totalTCellsPerM2: "total T cells/m²", .carTCellsPerM2: "CAR+ T cells/m²",
      .cells: "cells (absolute)",
    ]
    let bases = DoseBasis.allCases.map { "<option value=\"\($0.rawValue)\">\(basisLabels[$0] ?? $0.rawValue)</option>" }.joined()
    let body = """
      <div class="explorer">
      <form id="controls" class="panel" autocomplete="off" onsubmit="return false">
        <h2>Scenario</h2>
        <label>Start from <select id="example">\(options)</select></label>
        <label>Name <input id="name" type="text"></label>
        <label>Model <select id="model">\(models)</select></label>
        <fieldset id="fsLD"><legend>Lymphodepletion</legend>
          <label class="check"><input id="ld" type="checkbox"> lymphodepletion</label>
          <label class="check"><input id="flu" type="checkbox"> fludarabine 30 mg/m²/d, days −7 to −3</label>
          <label class="check"><input id="cy" type="checkbox"> cyclophosphamide 500 mg/m²/d, days −7, −6</label>
          <label>before <select id="ldWhich"><option value="example">as in the example</option><option value="all">every infusion</option><option value="first">the first infusion only</option></select></label>
        </fieldset>
        <fieldset><legend>CAR T cells</legend>
          <label>Dose level <output id="doseOut"></output>
            <input id="doseLog" type="range" min="5" max="10" step="0.1"></label>
          <label>Dose basis <select id="basis">\(bases)</select></label>
          <label>Infusions <output id="numberOut"></output><input id="number" type="range" min="1" max="8" step="1"></label>
          <label>Interval (days) <input id="interval" type="number" min="1" max="365" step="1"></label>
        </fieldset>
        <fieldset id="fsICI"><legend>Checkpoint inhibitor</legend>
          <label class="check"><input id="ici" type="checkbox"> pembrolizumab 2 mg/kg (≤ 200 mg) every 3 weeks × 18 from day 0</label>
        </fieldset>
        <fieldset id="fsPatient"><legend>Patient</legend>
          <label>HER2 level <output id="her2Out"></output><input id="her2" type="range" min="0" max="5" step="0.05"></label>
          <label>Baseline tumour burden, SLD (mm) <output id="sldOut"></output><input id="sld" type="range" min="10" max="400" step="5"></label>
        </fieldset>
        <label>Horizon (days) <input id="horizon" type="number" min="30" max="3650" step="1"></label>
        <div class="buttons">
          <button id="save" type="button">Save</button>
          <button id="download" type="button">Download JSON</button>
          <label class="upload">Open JSON… <input id="open" type="file" accept=".json,application/json"></label>
        </div>
        <p id="saved" class="note"></p>
        <details><summary>Saved scenarios</summary><ul id="savedList" class="plain"></ul></details>
      </form>
      <section class="results">
        <div id="status" class="status">…</div>
        <div id="error" class="error" hidden></div>
        <div class="plots">
          <figure><figcaption id="cap0"></figcaption><svg id="plot0" class="plot" viewBox="0 0 560 260"></svg></figure>
          <figure><figcaption id="cap1"></figcaption><svg id="plot1" class="plot" viewBox="0 0 560 260"></svg></figure>
          <figure><figcaption id="cap2"></figcaption><svg id="plot2" class="plot" viewBox="0 0 560 260"></svg></figure>
          <figure><figcaption>Summary</figcaption>
            <table id="summary" class="summary"><thead><tr><th>endpoint</th><th>this scenario</th><th class="prev">previous</th></tr></thead><tbody></tbody></table>
          </figure>
        </div>
        <p class="note">Grey dashed curves and the “previous” column show the scenario before the last change. CAR T kinetics over the 28 days after the first infusion; persistence is time above the qPCR detection limit; best response by RECIST 1.1 on the model SLD at the assessment schedule; CRS grade from the IL-6 proxy.</p>
      </section>
      </div>
      """
    return layout("Explorer", active: "Explorer", body, scripts: ["/assets/plot.js", "/assets/explorer.js"])
  }

  // MARK: Trials

  static func trials() -> String {
    let specs = SpecParsing.exampleNames.filter(SpecParsing.isTrialSpec)
    let options = specs.map { "<option value=\"\($0)\">\($0)</option>" }.joined()
    let body = """
      <h1>Virtual trials</h1>
      <div class="cols">
      <form id="start" class="panel" onsubmit="return false">
        <h2>Start a trial</h2>
        <label class="radio"><input type="radio" name="src" value="example" checked> example <select id="exampleSpec">\(options)</select></label>
        <label class="radio"><input type="radio" name="src" value="upload"> upload a spec <input id="specFile" type="file" accept=".json,application/json"></label>
        <label>Patients per arm (override; empty keeps the spec's) <input id="patients" type="number" min="1" max="100000" value="50"></label>
        <label>Follow-up days (override) <input id="followUp" type="number" min="30" max="3650" placeholder="spec"></label>
        <label>Seed (override) <input id="seed" type="number" min="0" placeholder="spec"></label>
        <div class="buttons"><button id="startBtn" type="button">Start trial</button></div>
        <div id="startError" class="error" hidden></div>
        <p class="note">A trial runs in the background, checkpointed in shards; stopping the server interrupts it and it can be resumed where it stopped. The list below is kept in the run store and survives restarts.</p>
      </form>
      <section class="grow">
        <h2>Runs</h2>
        <table id="runs" class="runs"><thead><tr><th>started</th><th>trial</th><th>patients</th><th>status</th><th>progress</th><th></th></tr></thead><tbody></tbody></table>
      </section>
      </div>
      """
    return layout("Trials", active: "Trials", body, scripts: ["/assets/trials.js"])
  }

  static func trial(_ run: RunRecord) -> String {
    let body = """
      <p><a href="/trials">← all runs</a></p>
      <h1 id="title">\(esc(run.name))</h1>
      <div id="run" data-id="\(run.id)" class="panel wide">
        <div class="progress"><div id="bar" class="bar"></div></div>
        <p id="state" class="status"></p>
        <p id="actions" class="buttons"></p>
      </div>
      <div id="report"></div>
      """
    return layout(run.name, active: "Trials", body, scripts: ["/assets/trials.js"])
  }

  // MARK: Models

  static func guideFile(_ id: String) -> String { id == "heros" ? "Models/HEROS.md" : "Models/CARTmath.md" }

  static func models() -> String {
    var rows = ""
    for m in ModelReport.all {
      rows +=
        "<tr><td><a href=\"/models/\(m.id)\">\(m.id)</a></td><td>\(esc(m.title))</td><td>\(m.states.count)</td><td>\(m.parameters.count)</td><td>\(m.assumedCount)</td></tr>"
    }
    return layout(
      "Models", active: "Models",
      """
      <h1>Models</h1>
      <table class="summary"><thead><tr><th>model</th><th>title</th><th>states</th><th>parameters</th><th>assumed</th></tr></thead><tbody>\(rows)</tbody></table>
      <p class="note">Each model page shows its parameter table (value, unit, evidence level, source) and its guide with the equations.
      The HEROS model's calibration to the trials, its validation against outcomes it was not calibrated to, and what lies outside
      its validated domain: <a href="/models/heros/credibility">credibility report</a>.</p>
      """)
  }

  /// Guides/Credibility.md: the HEROS model's credibility report (ASME V&V 40 style).
  static func credibility() -> String {
    layout(
      "HEROS credibility", active: "Models", "<div class=\"guide\">\(Markdown.html(EmbeddedGuides.files["Credibility.md"] ?? ""))</div>")
  }

  static func model(_ id: String) -> String {
    guard let d = ModelReport(id) else { return errorPage(APIError.notFound("no model '\(id)'")) }
    var h =
      "<h1>\(esc(id)): \(esc(d.title))</h1><p class=\"note\">Jump to: <a href=\"#parameters\">parameters</a> · <a href=\"#guide\">equations and derivation</a> · <a href=\"/api/models/\(id)\">JSON</a>"
    if id == "heros" { h += " · <a href=\"/models/heros/credibility\">credibility report</a>" }
    h += "</p>"
    h += "<p><b>States:</b> \(d.states.map { "<code>\(esc($0))</code>" }.joined(separator: ", "))</p>"
    h += "<p><b>Observables:</b> \(d.observables.map { "<code>\(esc($0.name))</code> [\(esc($0.unit))]" }.joined(separator: ", "))</p>"
    h +=
      "<h2 id=\"parameters\">Parameters (\(d.parameters.count); \(d.assumedCount) assumed)</h2><table class=\"params\"><thead><tr><th>parameter</th><th>value</th><th>unit</th><th>evidence</th><th>source</th><th>meaning</th></tr></thead><tbody>"
    for p in d.parameters {
      h += "<tr><td><code>\(esc(p.name))</code></td><td class=\"num\">\(formatNumber(p.value))</td><td>\(esc(p.unit))</td>"
      h +=
        "<td><span class=\"badge \(p.evidence.rawValue)\">\(p.evidence.rawValue)</span></td><td>\(esc(p.source))</td><td>\(esc(p.description))</td></tr>"
    }
    h += "</tbody></table>"
    h +=
      "<h2 id=\"guide\">Guide: equations and derivation</h2><div class=\"guide\">\(Markdown.html(EmbeddedGuides.files[guideFile(id)] ?? ""))</div>"
    return layout(id, active: "Models", h)
  }
}

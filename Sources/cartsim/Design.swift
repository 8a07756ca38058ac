import ArgumentParser
import CARTModels
import CARTSimCore
import StatKit
import DoseFinding
import Foundation

/// `cartsim design`: phase I dose-finding designs (3+3, BOIN, CRM, mTPI-2): operating
/// characteristics, side-by-side comparison, BOIN's decision table, and next-dose decisions.
struct Design: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "design",
    abstract: "Phase I dose finding: 3+3, BOIN, CRM and mTPI-2 (see Guides/DoseFinding.md).",
    subcommands: [DesignOC.self, DesignCompare.self, DesignBoundaries.self, DesignNext.self])
}

/// Options shared by the subcommands that build designs.
struct DesignSettings: ParsableArguments {
  @Option(help: "Target DLT rate, in (0, 1).")
  var target: Double

  @Option(help: "Patients per cohort (3+3 always uses 3).")
  var cohortSize: Int = 3

  @Option(help: "Number of cohorts (maximum sample size = cohorts × cohort size).")
  var cohorts: Int = 10

  @Option(help: "Maximum sample size (instead of --cohorts; the last cohort is truncated to it).")
  var maxN: Int?

  @Option(help: "Starting dose, 1-based.")
  var startDose: Int = 1

  @Option(help: "Stop once the next dose already has this many patients (BOIN: and the decision is to stay).")
  var nEarlystop: Int?

  @Option(help: "CRM skeleton (prior DLT rates), comma-separated, one per dose.")
  var skeleton: String?

  @Option(help: "CRM working model: empiric or logistic.")
  var crmModel: String = "empiric"

  @Option(help: "CRM logistic intercept a0.")
  var intercept: Double = 3

  @Option(help: "CRM prior SD of beta (dfcrm default sqrt(1.34)).")
  var priorSd: Double = 1.34.squareRoot()

  @Flag(help: "CRM two-stage start-up: escalate one dose per cohort until the first DLT.")
  var crmStartup = false

  @Option(help: "CRM safety stop: stop if Pr(p1 > target | data) exceeds this (1 disables).")
  var crmSafety: Double = 0.9

  @Flag(help: "3+3: Korn et al.'s de-escalation (expand the dose below a toxic dose to 6).")
  var deescalate = false

  @Option(help: "mTPI-2 equivalence interval: target − epsilon1 …")
  var epsilon1: Double = 0.05

  @Option(help: "… target + epsilon2.")
  var epsilon2: Double = 0.05

  @Option(help: "BOIN elimination / mTPI-2 exclusion certainty.")
  var cutoffEli: Double = 0.95

  @Option(help: "BOIN p_saf (default 0.6 × target).")
  var pSaf: Double?

  @Option(help: "BOIN p_tox (default 1.4 × target).")
  var pTox: Double?

  /// The library options, checked.
  func options() throws -> DesignOptions {
    try DoseFindingMath.checkTarget(target)
    var o = DesignOptions(target: target)
    o.cohortSize = cohortSize
    if let maxN {
      guard (1...TrialConfig.maxPatientsLimit).contains(maxN) else { throw DoseFindingInputError(field: "--max-n", "must be 1…\(TrialConfig.maxPatientsLimit) (got \(maxN))") }
      o.maxPatients = maxN
    } else {
      o.maxPatients = try DesignCLI.sampleSize(cohorts: cohorts, cohortSize: cohortSize)
    }
    guard (1...TrialConfig.maxDoses).contains(startDose) else {
      throw DoseFindingInputError(field: "--start-dose", "must be 1…\(TrialConfig.maxDoses) (got \(startDose))")
    }
    o.startDose = startDose - 1
    o.nEarlyStop = nEarlystop
    o.skeleton = try skeleton.map { try DesignCLI.numbers($0, field: "--skeleton") }
    guard let model = CRMModel(rawValue: crmModel) else {
      throw DoseFindingInputError(field: "--crm-model", "must be empiric or logistic (got '\(crmModel)')")
    }
    o.crmModel = model
    o.intercept = intercept
    o.priorSD = priorSd
    o.startUp = crmStartup
    o.crmSafety = crmSafety
    o.deescalate = deescalate
    o.epsilon1 = epsilon1
    o.epsilon2 = epsilon2
    o.cutoff = cutoffEli
    o.pSafe = pSaf
    o.pToxic = pTox
    return o
  }
}

/// Options for running operating characteristics.
struct DesignRunSettings: ParsableArguments {
  @Option(help: "True DLT probabilities per dose, comma-separated (or derive them with --from-model).")
  var pTrue: String?

  @Option(help: "Derive the DLT and response probabilities per dose from the mechanistic model: a trial spec whose population receives one arm's regimen at each --dose-levels.")
  var fromModel: String?

  @Option(help: "With --from-model: dose levels, comma-separated (e.g. 1e6,1e7,3e7,1e8).")
  var doseLevels: String?

  @Option(help: "With --from-model: dose basis of the levels (car_t_cells_per_m2, total_t_cells_per_m2, cells; default: the arm's).")
  var doseBasis: String?

  @Option(help: "With --from-model: DLT definition, crs>=GRADE[:DAYS] (default: the spec's).")
  var dlt: String?

  @Option(help: "With --from-model: the arm whose regimen is dosed (default: the first).")
  var arm: String?

  @Option(help: "With --from-model: virtual patients per dose level.")
  var modelPatients: Int = 200

  @Option(help: "With --from-model: follow-up in days for the response (default: the spec's).")
  var followUp: Double?

  @Option(help: "True response probabilities per dose (adds expected responders per trial).")
  var pResponse: String?

  @Option(help: "Simulated trials.")
  var trials: Int = 1000

  @Option(help: "Random seed (trial t, patient j reads draw j of stream address(t)).")
  var seed: UInt64 = 6

  @Option(help: "Worker threads (results do not depend on it).")
  var threads: Int = ProcessInfo.processInfo.activeProcessorCount

  @Flag(help: "Exact operating characteristics by enumerating all cohort outcomes.")
  var exact = false

  @Option(help: "With --exact: refuse beyond this many distinct live trial states.")
  var maxStates: Int = 200_000

  /// The curves the mechanistic model gives (nil without --from-model).
  func modelCurves() throws -> DoseCurves? {
    guard let fromModel else { return nil }
    guard pTrue == nil && pResponse == nil else {
      throw DoseFindingInputError(field: "--from-model", "give either --from-model or --p-true/--p-response")
    }
    guard let doseLevels else { throw DoseFindingInputError(field: "--dose-levels", "is required with --from-model") }
    let doses = try DesignCLI.numbers(doseLevels, field: "--dose-levels")
    guard doses.allSatisfy({ $0 > 0 && $0 <= Limits.carTDose }), zip(doses, doses.dropFirst()).allSatisfy({ $0 < $1 }),
          doses.count <= TrialConfig.maxDoses else {
      throw DoseFindingInputError(field: "--dose-levels", "must be positive (≤ \(Limits.carTDose)) and increasing, at most \(TrialConfig.maxDoses) levels")
    }
    guard (1...Limits.patients).contains(modelPatients) else { throw DoseFindingInputError(field: "--model-patients", "must be 1…\(Limits.patients) (got \(modelPatients))") }
    do {
      var spec = try TrialSpec.load(path: fromModel)
      if let dlt { spec.dlt = try TrialSpec.DLT.parse(dlt) }
      if let followUp {
        guard followUp > 0, followUp <= Limits.horizonDays else {
          throw DoseFindingInputError(field: "--follow-up", "must be > 0 and ≤ \(Limits.horizonDays) days")
        }
        spec.followUpDays = followUp
        for i in spec.arms.indices { spec.arms[i].scenario.horizonDays = max(followUp, spec.arms[i].scenario.regimen.infusions.map(\.day).max() ?? 0) }
      }
      var basis: DoseBasis? = nil
      if let doseBasis {
        guard let b = DoseBasis(rawValue: doseBasis) else {
          throw DoseFindingInputError(field: "--dose-basis", "unknown basis '\(doseBasis)' (\(DoseBasis.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        basis = b
      }
      var armIndex = 0
      if let arm {
        guard let i = spec.arms.firstIndex(where: { $0.name == arm }) else {
          throw DoseFindingInputError(source: fromModel, field: "--arm", "no arm named '\(arm)' (arms: \(spec.arms.map(\.name).joined(separator: ", ")))")
        }
        armIndex = i
      }
      guard (1...Limits.threads).contains(threads) else { throw DoseFindingInputError(field: "--threads", "must be 1…\(Limits.threads) (got \(threads))") }
      return try spec.doseCurves(arm: armIndex, doses: doses, basis: basis, patients: modelPatients, threads: threads)
    } catch let e as InputError {
      throw DoseFindingInputError(source: e.file, field: e.path.isEmpty ? "--from-model" : e.path, e.message)
    }
  }

  func curves(model: DoseCurves? = nil) throws -> (tox: [Double], response: [Double]?) {
    if let model { return (model.pDLT, model.pResponse) }
    guard let pTrue else { throw DoseFindingInputError(field: "--p-true", "is required (or derive the curves with --from-model)") }
    let p = try DesignCLI.numbers(pTrue, field: "--p-true")
    try DoseFindingMath.checkProbabilities(p, field: "--p-true")
    let q = try pResponse.map { try DesignCLI.numbers($0, field: "--p-response") }
    if let q { try DoseFindingMath.checkProbabilities(q, field: "--p-response") }
    guard (1...100_000_000).contains(trials) else { throw DoseFindingInputError(field: "--trials", "must be 1…100000000 (got \(trials))") }
    guard (1...Limits.threads).contains(threads) else { throw DoseFindingInputError(field: "--threads", "must be 1…\(Limits.threads) (got \(threads))") }
    return (p, q)
  }

  func run(_ design: AnyDesign, _ p: [Double], _ q: [Double]?) throws -> OperatingCharacteristics {
    if exact {
      guard (1...100_000_000).contains(maxStates) else { throw DoseFindingInputError(field: "--max-states", "must be 1…100000000 (got \(maxStates))") }
      do { return try ExactOC.compute(design, pTrue: p, pResponse: q, maxStates: maxStates) } catch let e as ExactOC.TooManyStates {
        throw DoseFindingInputError(field: "--exact", e.description)
      }
    }
    return try DoseFindingSimulation.simulate(design, pTrue: p, pResponse: q, trials: trials, seed: seed, threads: threads)
  }
}

struct DesignOC: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "oc", abstract: "Operating characteristics of one design (simulated, or exact with --exact).")

  @Option(help: "Design: boin, 3+3, crm or mtpi2.")
  var design: String

  @OptionGroup var settings: DesignSettings
  @OptionGroup var runner: DesignRunSettings

  @Flag(help: "Write JSON to standard output.")
  var json = false

  func run() throws {
    try DesignCLI.guarded {
      let model = try runner.modelCurves()
      let (p, q) = try runner.curves(model: model)
      let d = try AnyDesign.make(design, doseCount: p.count, options: settings.options())
      let oc = try runner.run(d, p, q)
      if json {
        var j = DesignCLI.ocJSON(oc, design: d, seed: runner.seed)
        if let model { j["model_curves"] = DesignCLI.curvesJSON(model) }
        DesignCLI.printJSON(j)
      } else {
        if let model { print(DesignCLI.curvesTable(model)) }
        print(DesignCLI.ocTable(oc, design: d, seed: runner.seed))
      }
    }
  }
}

struct DesignCompare: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compare", abstract: "Several designs on the same simulated patients, side by side.")

  @Option(help: "Designs, comma-separated (boin,3+3,crm,mtpi2).")
  var designs: String = "boin,3+3,crm,mtpi2"

  @OptionGroup var settings: DesignSettings
  @OptionGroup var runner: DesignRunSettings

  @Option(help: "Write a grouped bar plot of selection percent per dose to this SVG file.")
  var svg: String?

  @Flag(help: "Write JSON to standard output.")
  var json = false

  func run() throws {
    try DesignCLI.guarded {
      let model = try runner.modelCurves()
      let (p, q) = try runner.curves(model: model)
      let names = designs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      guard !names.isEmpty else { throw DoseFindingInputError(field: "--designs", "is empty") }
      let opts = try settings.options()
      let built = try names.map { try AnyDesign.make($0, doseCount: p.count, options: opts) }
      let ocs = try built.map { try runner.run($0, p, q) }
      if let svg {
        do { try DesignCLI.svg(ocs).write(toFile: svg, atomically: true, encoding: .utf8) } catch {
          throw DoseFindingInputError(source: svg, field: "--svg", "cannot write: \(error.localizedDescription)")
        }
      }
      if json {
        var j: [String: Any] = ["designs": zip(ocs, built).map { DesignCLI.ocJSON($0, design: $1, seed: runner.seed) }]
        if let model { j["model_curves"] = DesignCLI.curvesJSON(model) }
        DesignCLI.printJSON(j)
      } else {
        if let model { print(DesignCLI.curvesTable(model)) }
        print(DesignCLI.compareTable(ocs, seed: runner.seed))
      }
    }
  }
}

struct DesignBoundaries: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "boundaries", abstract: "BOIN's decision table (as BOIN::get.boundary).")

  @Option(help: "Target DLT rate, in (0, 1).")
  var target: Double

  @Option(help: "Patients per cohort.")
  var cohortSize: Int = 3

  @Option(help: "Number of cohorts.")
  var cohorts: Int = 10

  @Option(help: "BOIN p_saf (default 0.6 × target).")
  var pSaf: Double?

  @Option(help: "BOIN p_tox (default 1.4 × target).")
  var pTox: Double?

  @Option(help: "Elimination certainty.")
  var cutoffEli: Double = 0.95

  @Flag(help: "Write JSON to standard output.")
  var json = false

  func run() throws {
    try DesignCLI.guarded {
      let maxN = try DesignCLI.sampleSize(cohorts: cohorts, cohortSize: cohortSize)
      let b = try BOINBoundaries(target: target, pSafe: pSaf, pToxic: pTox, cutoff: cutoffEli)
      let rows = b.table(maxN: maxN).filter { $0.n % cohortSize == 0 }
      if json {
        DesignCLI.printJSON([
          "target": target, "lambda_e": b.lambdaE, "lambda_d": b.lambdaD, "cutoff_eli": cutoffEli,
          "n": rows.map(\.n), "escalate_if_dlts_le": rows.map(\.escalate), "deescalate_if_dlts_ge": rows.map(\.deescalate),
          "eliminate_if_dlts_ge": rows.map { $0.eliminate.map { $0 as Any } ?? NSNull() },
        ])
        return
      }
      print("BOIN boundaries: target \(target), lambda_e = \(DesignCLI.f(b.lambdaE, 4)), lambda_d = \(DesignCLI.f(b.lambdaD, 4)), elimination if Pr(p > target) > \(cutoffEli)")
      func line(_ label: String, _ v: [String]) -> String { label.padding(toLength: 28, withPad: " ", startingAt: 0) + v.map { DesignCLI.pad($0, 4) }.joined() }
      print(line("Number of patients treated", rows.map { "\($0.n)" }))
      print(line("Escalate if # of DLT <=", rows.map { "\($0.escalate)" }))
      print(line("Deescalate if # of DLT >=", rows.map { "\($0.deescalate)" }))
      print(line("Eliminate if # of DLT >=", rows.map { $0.eliminate.map(String.init) ?? "NA" }))
    }
  }
}

struct DesignNext: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "next", abstract: "Next-dose decision for a real trial's accrued data.",
    discussion: """
      --data is a CSV file with header dose,patients,dlts: one row per dose level, or one row per \
      cohort in treatment order (rows of the same dose are added up). When a dose appears on \
      several rows the rows are taken as cohorts and the last row is the most recent cohort (the \
      CRM's coherence rule uses it). The current dose is --current, else the last row's dose.
      """)

  @Option(help: "Design: boin, 3+3, crm or mtpi2.")
  var design: String

  @OptionGroup var settings: DesignSettings

  @Option(help: "CSV file with header dose,patients,dlts.")
  var data: String

  @Option(help: "Number of dose levels (default: the skeleton's length; required otherwise).")
  var doses: Int?

  @Option(help: "Current dose, 1-based (default: the last row's dose).")
  var current: Int?

  @Flag(help: "Write JSON to standard output.")
  var json = false

  func run() throws {
    try DesignCLI.guarded {
      let opts = try settings.options()
      guard let k = doses ?? opts.skeleton?.count else {
        throw DoseFindingInputError(field: "--doses", "give the number of dose levels (or a --skeleton)")
      }
      guard (1...TrialConfig.maxDoses).contains(k) else { throw DoseFindingInputError(field: "--doses", "must be 1…\(TrialConfig.maxDoses)") }
      let table = try DesignCLI.readTrialData(data, doses: k)
      if let current, !(1...k).contains(current) {
        throw DoseFindingInputError(field: "--current", "must be between 1 and \(k) (got \(current))")
      }
      let cur = (current ?? table.lastDose) - 1
      guard (0..<k).contains(cur) else { throw DoseFindingInputError(field: "--current", "must be between 1 and \(k) (got \(cur + 1))") }
      guard table.patients[cur] > 0 else {
        throw DoseFindingInputError(source: data, field: "dose \(cur + 1)", "the current dose has no patients")
      }
      let d = try AnyDesign.make(design, doseCount: k, options: opts)
      let last = table.rowsAreCohorts && table.lastDose - 1 == cur ? table.lastRow : nil
      let r = d.recommend(patients: table.patients, dlts: table.dlts, current: cur, lastCohort: last)
      if json {
        var est: [String: Any] = [:]
        for e in r.estimates { est[e.name] = e.values.map(DesignCLI.jsonNumber) }
        var sc: [String: Any] = [:]
        for s in r.scalars { sc[s.name] = DesignCLI.jsonNumber(s.value) }
        DesignCLI.printJSON([
          "design": d.name, "target": d.target, "current_dose": cur + 1, "patients": table.patients, "dlts": table.dlts,
          "decision": r.decision.rawValue, "next_dose": r.nextDose.map { ($0 + 1) as Any } ?? NSNull(),
          "selected_mtd": r.selectedMTD.map { ($0 + 1) as Any } ?? NSNull(), "reason": r.reason,
          "estimates": est, "scalars": sc,
        ])
        return
      }
      print("\(d.name), target \(d.target), current dose \(cur + 1) of \(k), data \(data)")
      let doseRow = (0..<k).map { "\($0 + 1)" }
      print(DesignCLI.row("dose", doseRow))
      print(DesignCLI.row("patients", table.patients.map(String.init)))
      print(DesignCLI.row("DLTs", table.dlts.map(String.init)))
      for e in r.estimates where e.values.count == k { print(DesignCLI.row(e.name, e.values.map { $0.isNaN ? "-" : DesignCLI.f($0, 3) })) }
      for s in r.scalars { print("\(s.name) = \(s.value.isNaN ? "NA" : s.value == s.value.rounded() ? String(Int(s.value)) : DesignCLI.f(s.value, 4))") }
      switch r.decision {
      case .stop:
        print("Decision: STOP — \(r.reason); MTD: \(r.selectedMTD.map { "dose \($0 + 1)" } ?? "none")")
      default:
        print("Decision: \(r.decision.rawValue.uppercased()) \(r.decision == .stay ? "at" : "to") dose \(r.nextDose! + 1) — \(r.reason)")
      }
    }
  }
}

/// Helpers of the design commands (a namespace, to keep the main executable's names free).
enum DesignCLI {
  /// Runs `body`; input errors are printed as `error: <source>: <field>: <message>` and exit 2.
  static func guarded(_ body: () throws -> Void) throws {
    do { try body() } catch let e as DoseFindingInputError {
      FileHandle.standardError.write(Data("error: \(e)\n".utf8))
      throw ExitCode(2)
    }
  }

  /// `cohorts × cohortSize`, each and the product within ``TrialConfig/maxPatientsLimit``.
  static func sampleSize(cohorts: Int, cohortSize: Int) throws -> Int {
    let limit = TrialConfig.maxPatientsLimit
    guard (1...limit).contains(cohortSize) else { throw DoseFindingInputError(field: "--cohort-size", "must be 1…\(limit) (got \(cohortSize))") }
    guard (1...limit).contains(cohorts) else { throw DoseFindingInputError(field: "--cohorts", "must be 1…\(limit) (got \(cohorts))") }
    guard cohorts * cohortSize <= limit else {
      throw DoseFindingInputError(field: "--cohorts", "\(cohorts) cohorts of \(cohortSize) exceed \(limit) patients")
    }
    return cohorts * cohortSize
  }

  static func numbers(_ s: String, field: String) throws -> [Double] {
    try s.split(separator: ",", omittingEmptySubsequences: false).enumerated().map { i, t in
      let v = t.trimmingCharacters(in: .whitespaces)
      guard let x = Double(v), x.isFinite else { throw DoseFindingInputError(field: field, "value \(i + 1) ('\(v)') is not a number") }
      return x
    }
  }

  /// Per-dose totals from the accrued-data CSV (``AccruedData``).
  static func readTrialData(_ path: String, doses: Int) throws -> AccruedData {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw DoseFindingInputError(source: path, field: "--data", "cannot read the file")
    }
    return try AccruedData(csv: text, source: path, doses: doses)
  }

  static func f(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
  static func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
  static func row(_ label: String, _ cells: [String], width: Int = 8) -> String {
    label.padding(toLength: 22, withPad: " ", startingAt: 0) + cells.map { pad($0, width) }.joined()
  }

  static func jsonNumber(_ x: Double) -> Any { x.isFinite ? x : NSNull() }

  static func curvesJSON(_ c: DoseCurves) -> [String: Any] {
    let ci = { (x: [Int]) in zip(x, c.failed).map { Distributions.clopperPearson(successes: $0, trials: c.patients - $1) } }
    let dci = ci(c.dlts), rci = ci(c.responses)
    return [
      "arm": c.arm, "dose_levels": c.doses, "dose_basis": c.basis.rawValue, "patients_per_level": c.patients,
      "dlt_definition": c.dltDefinition, "p_dlt": c.pDLT, "p_dlt_lower_95": dci.map(\.lower), "p_dlt_upper_95": dci.map(\.upper),
      "p_response": c.pResponse, "p_response_lower_95": rci.map(\.lower), "p_response_upper_95": rci.map(\.upper),
      "solver_failures": c.failed,
    ]
  }

  static func curvesTable(_ c: DoseCurves) -> String {
    var out = ["Model-derived curves: arm '\(c.arm)', doses in \(c.basis.rawValue), \(c.patients) virtual patients per level (the same patients at every level)",
               "DLT: \(c.dltDefinition); response: confirmed CR or PR (RECIST 1.1)"]
    out.append(row("dose", c.doses.map { String(format: "%.3g", $0) }))
    out.append(row("P(DLT)", c.pDLT.map { f($0, 3) }))
    out.append(row("P(response)", c.pResponse.map { f($0, 3) }))
    if c.failed.contains(where: { $0 > 0 }) { out.append(row("solver failures", c.failed.map(String.init))) }
    return out.joined(separator: "\n") + "\n"
  }

  static func printJSON(_ object: Any) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
  }

  static func describe(_ d: AnyDesign) -> String {
    let c = d.config
    let size = d.name == "3+3" ? "cohorts of 3 (3+3 rules)" : "cohorts of \(c.cohortSize), max \(c.maxPatients) patients"
    return "\(d.name), target \(d.target), \(size), start dose \(c.startDose + 1)" + (c.nEarlyStop.map { ", n.earlystop \($0)" } ?? "")
  }

  static func ocJSON(_ oc: OperatingCharacteristics, design d: AnyDesign, seed: UInt64) -> [String: Any] {
    var j: [String: Any] = [
      "design": oc.design, "exact": oc.exact, "trials": oc.trials, "seed": oc.exact ? NSNull() : seed as Any,
      "target": oc.target, "p_true": oc.pTrue, "true_mtd": oc.trueMTD + 1,
      "cohort_size": d.config.cohortSize, "max_patients": d.name == "3+3" ? NSNull() : d.config.maxPatients as Any,
      "start_dose": d.config.startDose + 1,
      "selection_percent": oc.selectionPercent, "selection_percent_se": oc.selectionPercentSE,
      "stop_percent": oc.stopPercent, "stop_percent_se": oc.stopPercentSE,
      "mean_patients": oc.meanPatients, "mean_patients_se": oc.meanPatientsSE,
      "mean_dlts": oc.meanDLTs, "mean_dlts_se": oc.meanDLTsSE,
      "mean_total_patients": oc.meanTotalPatients, "mean_total_patients_se": oc.meanTotalPatientsSE,
      "mean_total_dlts": oc.meanTotalDLTs, "mean_total_dlts_se": oc.meanTotalDLTsSE,
      "overdose60": oc.overdose60, "overdose60_se": oc.overdose60SE,
      "overdose80": oc.overdose80, "overdose80_se": oc.overdose80SE,
      "pcs": oc.pcs, "pcs_se": oc.pcsSE,
    ]
    if let q = oc.pResponse, let r = oc.expectedResponders {
      j["p_response"] = q
      j["expected_responders"] = r
      j["expected_responders_se"] = oc.expectedRespondersSE ?? 0
    }
    return j
  }

  static func ocTable(_ oc: OperatingCharacteristics, design d: AnyDesign, seed: UInt64) -> String {
    var out = [describe(d), oc.exact ? "exact enumeration" : "\(oc.trials) simulated trials, seed \(seed) (± is the Monte Carlo SE)"]
    let k = oc.pTrue.count
    out.append(row("dose", (0..<k).map { "\($0 + 1)" + ($0 == oc.trueMTD ? "*" : "") }))
    out.append(row("p_true", oc.pTrue.map { f($0, 3) }))
    if let q = oc.pResponse { out.append(row("p_response", q.map { f($0, 3) })) }
    out.append(row("selection %", oc.selectionPercent.map { f($0, 1) }))
    if !oc.exact { out.append(row("  ± se", oc.selectionPercentSE.map { f($0, 1) })) }
    out.append(row("patients", oc.meanPatients.map { f($0, 2) }))
    out.append(row("DLTs", oc.meanDLTs.map { f($0, 2) }))
    func pm(_ v: Double, _ se: Double, _ dg: Int) -> String { oc.exact ? f(v, dg) : "\(f(v, dg)) ± \(f(se, dg))" }
    out.append("* true MTD (p_true closest to target)")
    out.append("PCS (correct selection) %   \(pm(oc.pcs, oc.pcsSE, 1))")
    out.append("stopped, no MTD %           \(pm(oc.stopPercent, oc.stopPercentSE, 1))")
    out.append("mean patients per trial     \(pm(oc.meanTotalPatients, oc.meanTotalPatientsSE, 2))")
    out.append("mean DLTs per trial         \(pm(oc.meanTotalDLTs, oc.meanTotalDLTsSE, 2))")
    out.append("overdose60 / overdose80 %   \(pm(oc.overdose60, oc.overdose60SE, 1)) / \(pm(oc.overdose80, oc.overdose80SE, 1))")
    if let r = oc.expectedResponders { out.append("expected responders/trial   \(pm(r, oc.expectedRespondersSE ?? 0, 2))") }
    return out.joined(separator: "\n")
  }

  static func compareTable(_ ocs: [OperatingCharacteristics], seed: UInt64) -> String {
    let first = ocs[0], k = first.pTrue.count, names = ocs.map(\.design)
    var out = [first.exact ? "exact enumeration" : "\(first.trials) simulated trials per design, seed \(seed), the same patients for every design",
               "target \(first.target), p_true \(first.pTrue.map { f($0, 2) }.joined(separator: ", ")); true MTD = dose \(first.trueMTD + 1)"]
    out.append(row("selection %", names))
    for d in 0..<k { out.append(row("  dose \(d + 1)\(d == first.trueMTD ? "*" : "")", ocs.map { f($0.selectionPercent[d], 1) })) }
    out.append(row("  none (stopped)", ocs.map { f($0.stopPercent, 1) }))
    out.append(row("patients", names))
    for d in 0..<k { out.append(row("  dose \(d + 1)", ocs.map { f($0.meanPatients[d], 2) })) }
    out.append(row("PCS %", ocs.map { f($0.pcs, 1) }))
    out.append(row("mean patients", ocs.map { f($0.meanTotalPatients, 2) }))
    out.append(row("mean DLTs", ocs.map { f($0.meanTotalDLTs, 2) }))
    out.append(row("overdose60 %", ocs.map { f($0.overdose60, 1) }))
    out.append(row("overdose80 %", ocs.map { f($0.overdose80, 1) }))
    if ocs.allSatisfy({ $0.expectedResponders != nil }) { out.append(row("responders/trial", ocs.map { f($0.expectedResponders!, 2) })) }
    if !first.exact { out.append("largest Monte Carlo SE of a selection %: \(f(ocs.flatMap(\.selectionPercentSE).max() ?? 0, 2))") }
    return out.joined(separator: "\n")
  }

  /// Grouped bar plot of selection percent per dose (and "none") per design, hand-written SVG.
  static func svg(_ ocs: [OperatingCharacteristics]) -> String {
    let k = ocs[0].pTrue.count, groups = k + 1, colors = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377"]
    let W = 760.0, H = 440.0, left = 70.0, right = 170.0, top = 40.0, bottom = 70.0
    let pw = W - left - right, ph = H - top - bottom, gw = pw / Double(groups)
    let maxPct = max(10, ((ocs.flatMap(\.selectionPercent) + ocs.map(\.stopPercent)).max() ?? 100) / 10).rounded(.up) * 10
    let yMax = min(100, maxPct)
    func y(_ v: Double) -> Double { top + ph * (1 - v / yMax) }
    var s = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(W))" height="\(Int(H))" font-family="Helvetica, Arial, sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(left + pw / 2)" y="22" text-anchor="middle" font-size="14">Selection of each dose as MTD (target \(ocs[0].target))</text>

      """
    // True-MTD marker: shaded band behind that group.
    let mtd = Double(ocs[0].trueMTD)
    s += "<rect x=\(q(left + gw * mtd)) y=\(q(top)) width=\(q(gw)) height=\(q(ph)) fill=\"#eeeeee\"/>\n"
    s += "<text x=\(q(left + gw * (mtd + 0.5))) y=\(q(top - 4)) text-anchor=\"middle\" fill=\"#555\">true MTD</text>\n"
    for t in stride(from: 0.0, through: yMax, by: yMax > 50 ? 20 : 10) {
      s += "<line x1=\(q(left)) x2=\(q(left + pw)) y1=\(q(y(t))) y2=\(q(y(t))) stroke=\"#ddd\"/>"
      s += "<text x=\(q(left - 6)) y=\(q(y(t) + 4)) text-anchor=\"end\">\(Int(t))</text>\n"
    }
    let bw = gw * 0.8 / Double(ocs.count)
    for (i, oc) in ocs.enumerated() {
      let values = oc.selectionPercent + [oc.stopPercent]
      for (g, v) in values.enumerated() {
        let x = left + gw * Double(g) + gw * 0.1 + bw * Double(i)
        s += "<rect x=\(q(x)) y=\(q(y(v))) width=\(q(bw)) height=\(q(y(0) - y(v))) fill=\"\(colors[i % colors.count])\"><title>\(oc.design) \(g < k ? "dose \(g + 1)" : "no MTD"): \(f(v, 1))%</title></rect>\n"
      }
    }
    for g in 0..<groups {
      let label = g < k ? "\(g + 1)" : "none"
      let p = g < k ? "p=\(f(ocs[0].pTrue[g], 2))" : "stopped"
      s += "<text x=\(q(left + gw * (Double(g) + 0.5))) y=\(q(top + ph + 18)) text-anchor=\"middle\">\(label)</text>"
      s += "<text x=\(q(left + gw * (Double(g) + 0.5))) y=\(q(top + ph + 33)) text-anchor=\"middle\" fill=\"#555\" font-size=\"11\">\(p)</text>\n"
    }
    s += "<line x1=\(q(left)) x2=\(q(left)) y1=\(q(top)) y2=\(q(top + ph)) stroke=\"black\"/>"
    s += "<line x1=\(q(left)) x2=\(q(left + pw)) y1=\(q(top + ph)) y2=\(q(top + ph)) stroke=\"black\"/>\n"
    s += "<text x=\(q(left + pw / 2)) y=\(q(H - 12)) text-anchor=\"middle\">Dose level</text>\n"
    s += "<text transform=\"translate(20 \(f(top + ph / 2, 1))) rotate(-90)\" text-anchor=\"middle\">Selected as MTD (% of trials)</text>\n"
    for (i, oc) in ocs.enumerated() {
      let ly = top + 10 + 22 * Double(i)
      s += "<rect x=\(q(left + pw + 20)) y=\(q(ly)) width=\"14\" height=\"14\" fill=\"\(colors[i % colors.count])\"/>"
      s += "<text x=\(q(left + pw + 40)) y=\(q(ly + 11))>\(oc.design) (PCS \(f(oc.pcs, 1))%)</text>\n"
    }
    return s + "</svg>\n"
  }

  private static func q(_ x: Double) -> String { "\"\(f(x, 1))\"" }
}

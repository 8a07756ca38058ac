import CARTModels
import Foundation
import ODEKit

/// A simulation scenario: model and parameter overrides, patient, regimen, horizon,
/// output grid and solver settings. Read from JSON by ``Scenario/load(path:)``.
///
/// Day 0 is the first CAR T infusion; lymphodepletion days are negative.
public struct Scenario: Sendable {
  public var name: String
  public var description: String
  public var model: String
  public var parameterOverrides: [(name: String, value: Double)]
  public var patient: Patient
  public var regimen: Regimen
  /// Last simulated day (after day 0).
  public var horizonDays: Double
  public var outputStepDays: Double
  public var method: ODEMethod
  public var rtol: Double
  public var maxSteps: Int
  /// Imaging schedule for the response assessment, days.
  public var assessmentEveryDays: Double
  /// SLD below which the tumour counts as gone (complete response), mm.
  public var crSLDmm: Double

  /// First simulated day: the earliest dose (lymphodepletion) or day 0.
  public var startDay: Double { min(regimen.firstDay, 0) }

  /// Refuses a horizon or output step beyond ``Limits`` (the grid could not be allocated),
  /// naming the field under `path` (the scenario's `simulation` object).
  public func checkOutputGrid(file: String, path: String = "simulation") throws {
    let p = path.isEmpty ? "" : path + "."
    _ = try Limits.positive(horizonDays, max: Limits.horizonDays, field: p + "horizon_days", file: file)
    _ = try Limits.outputIntervals(span: horizonDays - startDay, step: outputStepDays, field: p + "output_step_days", file: file)
  }

  /// The output times: `startDay, startDay + step, …` through the horizon, plus day 0.
  /// The grid has been checked against ``Limits`` (``checkOutputGrid(file:path:)``).
  public var outputTimes: [Double] {
    var ts: [Double] = []
    let n = Int(((horizonDays - startDay) / outputStepDays).rounded(.down))
    for i in 0...n { ts.append(startDay + Double(i) * outputStepDays) }
    if ts.last! < horizonDays - 1e-9 { ts.append(horizonDays) }
    if !ts.contains(0) { ts.append(0); ts.sort() }
    return ts
  }
}

extension Scenario {
  /// Reads and validates a scenario file. Throws ``InputError`` naming the file, the field
  /// and what is wrong.
  public static func load(path: String) throws -> Scenario {
    let url = URL(fileURLWithPath: path)
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw InputError(file: path, path: "", message: "cannot read the file (\(error.localizedDescription))")
    }
    return try parse(data, file: path)
  }

  /// Parses and validates scenario JSON. `file` names the source in error messages.
  public static func parse(_ data: Data, file: String) throws -> Scenario {
    try parse(JSONValue.decode(data, file: file), file: file, path: "")
  }

  /// Parses and validates a scenario object found at `path` in `file` (e.g. an arm of a trial).
  public static func parse(_ root: JSONValue, file: String, path: String) throws -> Scenario {
    var r = try FieldReader(file: file, path: path, value: root)
    let name = try r.string("name", default: (file as NSString).lastPathComponent)
    let description = try r.string("description", default: "")
    let model = try r.string("model", default: "heros", oneOf: ModelCatalog.ids)
    let params = ModelCatalog.describe(model)!.parameters

    var overrides: [(String, Double)] = []
    if var p = try r.object("parameters") {
      for key in p.fields.keys.sorted() {
        guard params.contains(key) else {
          var probe = params
          var reason = "unknown parameter of model '\(model)'"
          do { try probe.set(key, to: 1) } catch let e as ParameterError { reason = e.description } catch {}
          throw p.fail(key, reason)
        }
        overrides.append((key, try p.number(key, min: 0)))
      }
      try p.finish()
    }

    // Patient.
    var patient = Patient()
    if var p = try r.object("patient") {
      let upper = Limits.patientUpperBounds
      patient.ageYears = try p.number("age_years", default: patient.ageYears, min: 0, max: upper["age_years"])
      patient.weightKg = try p.number("weight_kg", default: patient.weightKg, min: 0.5, max: upper["weight_kg"])
      patient.heightCm = try p.number("height_cm", default: patient.heightCm, min: 30, max: upper["height_cm"])
      patient.baselineSLDmm = try p.number("baseline_sld_mm", default: patient.baselineSLDmm, min: 0, max: upper["baseline_sld_mm"], exclusiveMin: true)
      patient.her2Level = try p.number("her2_level", default: patient.her2Level, min: 0, max: upper["her2_level"])
      try p.finish()
    }

    // Lymphodepletion.
    var ld: Lymphodepletion? = nil
    if var l = try r.object("lymphodepletion") {
      let mode = LDMode(rawValue: try l.string("mode", default: "pk", oneOf: LDMode.allCases.map(\.rawValue)))!
      var agents: [LDAgent] = []
      for var a in try l.objects("agents") {
        let drug = LDDrug(rawValue: try a.string("drug", oneOf: LDDrug.allCases.map(\.rawValue)))!
        let mg = try a.number("mg_per_m2", min: 0, max: Limits.drugDoseMg, exclusiveMin: true)
        let days = try a.numbers("days")
        guard !days.isEmpty else { throw a.fail("days", "needs at least one day") }
        for (i, d) in days.enumerated() where d < Limits.earliestDay {
          throw InputError(file: file, path: a.sub("days") + "[\(i)]", message: "must be ≥ \(fmt(Limits.earliestDay)), found \(fmt(d))")
        }
        for (i, d) in days.enumerated() where d >= 0 {
          throw InputError(file: file, path: a.sub("days") + "[\(i)]",
                           message: "lymphodepletion day \(fmt(d)) is not before the infusion (days are relative to it and must be < 0)")
        }
        let minutes = try a.number("infusion_minutes", default: 30, min: 0, max: 24 * 60, exclusiveMin: true)
        agents.append(LDAgent(drug: drug, mgPerM2: mg, days: days, infusionDays: minutes / 1440))
        try a.finish()
      }
      guard !agents.isEmpty else { throw l.fail("agents", "needs at least one drug") }
      try l.finish()
      ld = Lymphodepletion(mode: mode, agents: agents)
    }

    // CAR T infusions.
    guard var c = try r.object("car_t") else { throw InputError(file: file, path: r.sub("car_t"), message: "is required") }
    let dose = try c.number("dose", min: 0, max: Limits.carTDose, exclusiveMin: true, "cells per m² or cells")
    let basis = DoseBasis(rawValue: try c.string("basis", default: DoseBasis.totalTCellsPerM2.rawValue,
                                                 oneOf: DoseBasis.allCases.map(\.rawValue)))!
    let carFraction = try c.number("car_positive_fraction", default: 0.674, min: 0, max: 1, exclusiveMin: true)
    let memory = try c.number("memory_fraction", default: 0.3, min: 0, max: 1)
    var days: [Double]
    if c.has("days") {
      days = try c.numbers("days")
      guard !days.isEmpty else { throw c.fail("days", "needs at least one day") }
      for (i, d) in days.enumerated() where !(Limits.earliestDay...Limits.horizonDays).contains(d) {
        throw InputError(file: file, path: c.sub("days") + "[\(i)]",
                         message: "must be \(fmt(Limits.earliestDay))…\(fmt(Limits.horizonDays)), found \(fmt(d))")
      }
      for i in 1..<days.count where days[i] <= days[i - 1] {
        throw InputError(file: file, path: c.sub("days") + "[\(i)]", message: "infusion days must increase")
      }
    } else {
      let number = try c.integer("number", default: 1, min: 1, max: 100)
      let interval = try c.number("interval_days", default: number > 1 ? nil : 42, min: 0, max: Limits.horizonDays, exclusiveMin: true)
      let first = try c.number("first_day", default: 0, min: Limits.earliestDay, max: Limits.horizonDays)
      days = (0..<number).map { first + Double($0) * interval }
    }
    var ldBefore = Set(1...days.count)
    if c.has("lymphodepletion_before") {
      let list = try c.numbers("lymphodepletion_before")
      ldBefore = []
      for (i, k) in list.enumerated() {
        guard k == k.rounded(), k >= 1, k <= Double(days.count) else {
          throw InputError(file: file, path: c.sub("lymphodepletion_before") + "[\(i)]",
                           message: "\(fmt(k)) is not an infusion number (1…\(days.count))")
        }
        ldBefore.insert(Int(k))
      }
      if ld == nil && !ldBefore.isEmpty {
        throw c.fail("lymphodepletion_before", "names infusions but the scenario has no 'lymphodepletion' block")
      }
    }
    if ld == nil { ldBefore = [] }
    let infusions = days.enumerated().map { i, d in
      CARTInfusion(day: d, dose: dose, basis: basis, carPositiveFraction: carFraction, memoryFraction: memory,
                   lymphodepleted: ldBefore.contains(i + 1))
    }
    let rules = try parseConditions(&c, infusions: infusions, lymphodepletion: ld, model: model)
    try c.finish()
    // No infusion may fall inside a lymphodepletion course.
    if let ld {
      for inf in infusions where inf.lymphodepleted {
        let ldDays = ld.agents.flatMap(\.days).map { inf.day + $0 }
        let lo = ldDays.min()!, hi = ldDays.max()!
        for (j, other) in infusions.enumerated() where other.day >= lo && other.day <= hi {
          throw InputError(file: file, path: r.sub("car_t.days") + "[\(j)]",
                           message: "infusion \(j + 1) on day \(fmt(other.day)) falls during the lymphodepletion (days \(fmt(lo)) to \(fmt(hi))) before the infusion on day \(fmt(inf.day))")
        }
      }
    }

    // Checkpoint inhibitor.
    var checkpoint: CheckpointDosing? = nil
    if var k = try r.object("checkpoint_inhibitor") {
      let drug = try k.string("drug", default: "pembrolizumab", oneOf: ["pembrolizumab"])
      let perKg = k.has("dose_mg_per_kg")
      if perKg && k.has("dose_mg") { throw k.fail("dose_mg", "give either dose_mg or dose_mg_per_kg, not both") }
      let amount = perKg ? try k.number("dose_mg_per_kg", min: 0, max: Limits.drugDoseMg, exclusiveMin: true)
                         : try k.number("dose_mg", min: 0, max: Limits.drugDoseMg, exclusiveMin: true, "flat dose in mg, or dose_mg_per_kg")
      let cap = try k.optionalNumber("max_dose_mg", min: 0, max: Limits.drugDoseMg, exclusiveMin: true) ?? .infinity
      let every = try k.number("every_days", default: 21, min: 0, max: Limits.horizonDays, exclusiveMin: true)
      let count = try k.integer("count", default: 1, min: 1, max: 1000)
      let start = try k.number("start_day", default: 0, min: Limits.earliestDay, max: Limits.horizonDays)
      let minutes = try k.number("infusion_minutes", default: 30, min: 0, max: 1440, exclusiveMin: true)
      try k.finish()
      checkpoint = CheckpointDosing(drug: drug, dose: amount, perKg: perKg, maxDoseMg: cap, startDay: start,
                                    everyDays: every, count: count, infusionDays: minutes / 1440)
    }

    // Chemotherapy.
    var chemo: [ChemoDose] = []
    for var h in try r.objects("chemotherapy") {
      chemo.append(ChemoDose(day: try h.number("day", min: Limits.earliestDay, max: Limits.horizonDays),
                             effect: try h.number("effect", min: 0, max: 1e6, exclusiveMin: true)))
      try h.finish()
    }

    // Simulation settings.
    var horizon = 365.0, step = 0.25, method = ODEMethod.auto, rtol = 1e-6, maxSteps = 1_000_000
    if var s = try r.object("simulation") {
      horizon = try s.number("horizon_days", default: horizon, min: 0, max: Limits.horizonDays, exclusiveMin: true)
      step = try s.number("output_step_days", default: step, min: 0, max: Limits.horizonDays, exclusiveMin: true)
      method = ODEMethod(rawValue: try s.string("method", default: "auto", oneOf: ODEMethod.allCases.map(\.rawValue)))!
      rtol = try s.number("rtol", default: rtol, min: 1e-14, max: 0.1)
      maxSteps = try s.integer("max_steps", default: maxSteps, min: 1, max: Limits.solverSteps)
      try s.finish()
    }
    var assess = 42.0, cr = 2.0
    if var s = try r.object("response") {
      assess = try s.number("assessment_every_days", default: assess, min: 1, max: Limits.horizonDays)
      cr = try s.number("complete_response_sld_mm", default: cr, min: 0)
      try s.finish()
    }
    try r.finish()

    var regimen = Regimen(infusions: infusions, lymphodepletion: ld, checkpoint: checkpoint, chemotherapy: chemo,
                          rules: rules)
    // Conditional infusions planned after the horizon are never reached; others are a mistake.
    if let i = regimen.dropConditionalInfusions(after: horizon) {
      throw InputError(file: file, path: r.sub("car_t.days") + "[\(i)]", message: "infusion on day \(fmt(infusions[i].day)) is after the horizon (\(fmt(horizon)) days)")
    }
    let scenario = Scenario(
      name: name, description: description, model: model, parameterOverrides: overrides, patient: patient,
      regimen: regimen, horizonDays: horizon, outputStepDays: step, method: method, rtol: rtol, maxSteps: maxSteps,
      assessmentEveryDays: assess, crSLDmm: cr)
    try scenario.checkOutputGrid(file: file, path: r.sub("simulation"))
    return scenario
  }
}

extension Scenario {
  /// Reads `car_t.conditions`: rules that make planned infusions depend on the tumour status
  /// on a decision day (``DosingRule``). Each names the infusions it governs (`infusions`: a
  /// number or `[first, last]`, 1-based; not the first infusion, whose day is the baseline),
  /// `require` (`SD_or_better`, `PR_or_better`, `CR`), `decide_days_before` the infusion's
  /// course (default 0) and `otherwise` (`stop`: no further infusions, the default; `skip`).
  static func parseConditions(_ c: inout FieldReader, infusions: [CARTInfusion], lymphodepletion: Lymphodepletion?,
                              model: String) throws -> [DosingRule] {
    var rules: [DosingRule] = []
    let list = try c.objects("conditions")
    guard !list.isEmpty else { return [] }
    guard ModelCatalog.describe(model)?.observables.contains(where: { $0.name == "sld" }) ?? false else {
      throw c.fail("conditions", "model '\(model)' has no tumour burden (observable 'sld') to decide on")
    }
    let draft = Regimen(infusions: infusions, lymphodepletion: lymphodepletion)
    var governed = [Int?](repeating: nil, count: infusions.count)
    for (index, var r) in list.enumerated() {
      let range: [Double]
      switch r.value("infusions") {
      case .number(let k)?: range = [k, k]
      case .array?: range = try r.numbers("infusions")
      case nil: throw r.fail("infusions", "is required: an infusion number or [first, last]")
      case let other?: throw r.fail("infusions", "expected an infusion number or [first, last], found \(other.kind)")
      }
      guard range.count == 2 else { throw r.fail("infusions", "expected [first, last], found \(range.count) numbers") }
      for (i, k) in range.enumerated() {
        guard k == k.rounded(), k >= 1, k <= Double(infusions.count) else {
          throw InputError(file: r.file, path: r.sub("infusions") + (range.count == 2 && r.value("infusions")?.kind == "a number" ? "" : "[\(i)]"),
                           message: "\(fmt(k)) is not an infusion number (1…\(infusions.count))")
        }
      }
      let first = Int(range[0]), last = Int(range[1])
      guard first <= last else { throw r.fail("infusions", "first (\(first)) is after last (\(last))") }
      guard first >= 2 else {
        throw r.fail("infusions", "the first infusion cannot be conditional: the tumour status is measured from its day")
      }
      let require = DosingRule.Status(rawValue: try r.string("require", oneOf: DosingRule.Status.allCases.map(\.rawValue)))!
      let before = try r.number("decide_days_before", default: 0, min: 0, max: 365)
      let otherwise = DosingRule.Otherwise(rawValue: try r.string("otherwise", default: "stop",
                                                                 oneOf: DosingRule.Otherwise.allCases.map(\.rawValue)))!
      try r.finish()
      for k in first...last {
        if let other = governed[k - 1] {
          throw r.fail("infusions", "infusion \(k) is already governed by conditions[\(other)]")
        }
        governed[k - 1] = index
        let decision = draft.courseStart(k - 1) - before
        guard decision > 0 else {
          throw r.fail("decide_days_before", "the decision for infusion \(k) would fall on day \(fmt(decision)), not after day 0 (the first infusion)")
        }
      }
      rules.append(DosingRule(first: first, last: last, require: require, decideDaysBefore: before, otherwise: otherwise))
    }
    // Decisions are taken in time order: each after the one before.
    var previous = -Double.infinity
    for k in infusions.indices {
      guard let rule = rules.first(where: { $0.governs(k + 1) }) else { continue }
      let decision = draft.courseStart(k) - rule.decideDaysBefore
      guard decision > previous else {
        throw c.fail("conditions", "the decision for infusion \(k + 1) (day \(fmt(decision))) is not after the decision before it (day \(fmt(previous)))")
      }
      previous = decision
    }
    return rules
  }
}

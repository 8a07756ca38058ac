import CARTModels
import Foundation
import ODEKit

/// The readers of a scenario's blocks, in file order; each reads its block from `r` (and
/// refuses unknown fields in it), so ``Scenario/parse(_:file:path:)`` is their sequence.
enum ScenarioBlocks {
  /// `parameters`: overrides of the model's parameters, by name.
  static func parameters(_ r: inout FieldReader, model: String) throws -> [(String, Double)] {
    guard let params = ModelCatalog.describe(model)?.parameters else { preconditionFailure("model '\(model)' is in the catalog") }
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

    return overrides
  }

  /// `patient`: covariates.
  static func patient(_ r: inout FieldReader) throws -> Patient {
    var patient = Patient()
    if var p = try r.object("patient") {
      for f in PatientField.allCases {
        patient[keyPath: f.keyPath] = try p.number(
          f.rawValue, default: patient[keyPath: f.keyPath], min: f.lowerBound, max: f.upperBound,
          exclusiveMin: f.lowerBoundIsExclusive)
      }
      try p.finish()
    }

    return patient
  }

  /// `lymphodepletion`: the agents, doses and days of a course before each infusion.
  static func lymphodepletion(_ r: inout FieldReader) throws -> Lymphodepletion? {
    let file = r.file
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
          throw InputError(
            file: file, path: a.sub("days") + "[\(i)]",
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

    return ld
  }

  /// `car_t`: the infusions (days, or number, interval and first day), the dose and which
  /// infusions lymphodepletion precedes, and the conditions on later infusions. No infusion may
  /// fall inside a lymphodepletion course.
  static func carT(_ r: inout FieldReader, lymphodepletion ld: Lymphodepletion?, model: String) throws -> ([CARTInfusion], [DosingRule]) {
    let file = r.file
    guard var c = try r.object("car_t") else { throw InputError(file: file, path: r.sub("car_t"), message: "is required") }
    let dose = try c.number("dose", min: 0, max: Limits.carTDose, exclusiveMin: true, "cells per m² or cells")
    let basis = DoseBasis(
      rawValue: try c.string(
        "basis", default: DoseBasis.totalTCellsPerM2.rawValue,
        oneOf: DoseBasis.allCases.map(\.rawValue)))!
    let carFraction = try c.number("car_positive_fraction", default: 0.674, min: 0, max: 1, exclusiveMin: true)
    let memory = try c.number("memory_fraction", default: 0.3, min: 0, max: 1)
    var days: [Double]
    if c.has("days") {
      days = try c.numbers("days")
      guard !days.isEmpty else { throw c.fail("days", "needs at least one day") }
      for (i, d) in days.enumerated() where !(Limits.earliestDay...Limits.horizonDays).contains(d) {
        throw InputError(
          file: file, path: c.sub("days") + "[\(i)]",
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
          throw InputError(
            file: file, path: c.sub("lymphodepletion_before") + "[\(i)]",
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
      CARTInfusion(
        day: d, dose: dose, basis: basis, carPositiveFraction: carFraction, memoryFraction: memory,
        lymphodepleted: ldBefore.contains(i + 1))
    }
    let rules = try Scenario.parseConditions(&c, infusions: infusions, lymphodepletion: ld, model: model)
    try c.finish()
    // No infusion may fall inside a lymphodepletion course.
    if let ld {
      for inf in infusions where inf.lymphodepleted {
        let ldDays = ld.agents.flatMap(\.days).map { inf.day + $0 }
        let lo = ldDays.min()!, hi = ldDays.max()!
        for (j, other) in infusions.enumerated() where other.day >= lo && other.day <= hi {
          throw InputError(
            file: file, path: r.sub("car_t.days") + "[\(j)]",
            message:
              "infusion \(j + 1) on day \(fmt(other.day)) falls during the lymphodepletion (days \(fmt(lo)) to \(fmt(hi))) before the infusion on day \(fmt(inf.day))"
          )
        }
      }
    }

    return (infusions, rules)
  }

  /// `checkpoint_inhibitor`: a PD-1 antibody's dose and schedule.
  static func checkpointInhibitor(_ r: inout FieldReader) throws -> CheckpointDosing? {
    var checkpoint: CheckpointDosing? = nil
    if var k = try r.object("checkpoint_inhibitor") {
      let drug = try k.string("drug", default: "pembrolizumab", oneOf: ["pembrolizumab"])
      let perKg = k.has("dose_mg_per_kg")
      if perKg && k.has("dose_mg") { throw k.fail("dose_mg", "give either dose_mg or dose_mg_per_kg, not both") }
      let amount =
        perKg
        ? try k.number("dose_mg_per_kg", min: 0, max: Limits.drugDoseMg, exclusiveMin: true)
        : try k.number("dose_mg", min: 0, max: Limits.drugDoseMg, exclusiveMin: true, "flat dose in mg, or dose_mg_per_kg")
      let cap = try k.optionalNumber("max_dose_mg", min: 0, max: Limits.drugDoseMg, exclusiveMin: true) ?? .infinity
      let every = try k.number("every_days", default: 21, min: 0, max: Limits.horizonDays, exclusiveMin: true)
      let count = try k.integer("count", default: 1, min: 1, max: 1000)
      let start = try k.number("start_day", default: 0, min: Limits.earliestDay, max: Limits.horizonDays)
      let minutes = try k.number("infusion_minutes", default: 30, min: 0, max: 1440, exclusiveMin: true)
      try k.finish()
      checkpoint = CheckpointDosing(
        drug: drug, dose: amount, perKg: perKg, maxDoseMg: cap, startDay: start,
        everyDays: every, count: count, infusionDays: minutes / 1440)
    }

    return checkpoint
  }

  /// `chemotherapy`: bridging doses.
  static func chemotherapy(_ r: inout FieldReader) throws -> [ChemoDose] {
    var chemo: [ChemoDose] = []
    for var h in try r.objects("chemotherapy") {
      chemo.append(
        ChemoDose(
          day: try h.number("day", min: Limits.earliestDay, max: Limits.horizonDays),
          effect: try h.number("effect", min: 0, max: 1e6, exclusiveMin: true)))
      try h.finish()
    }

    return chemo
  }

  /// `simulation` and `response`: the output grid, method, tolerance and step budget; the
  /// assessment interval and the complete-response threshold.
  static func simulation(_ r: inout FieldReader) throws
    -> (horizon: Double, step: Double, method: ODEMethod, rtol: Double, maxSteps: Int, assess: Double, cr: Double)
  {
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
    return (horizon, step, method, rtol, maxSteps, assess, cr)
  }
}

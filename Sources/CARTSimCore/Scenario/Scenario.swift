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
    let start = startDay  // computed from the regimen: once, not per output
    let n = Int(((horizonDays - start) / outputStepDays).rounded(.down))
    var ts: [Double] = []
    ts.reserveCapacity(n + 2)
    for i in 0...n { ts.append(start + Double(i) * outputStepDays) }
    if ts.last! < horizonDays - 1e-9 { ts.append(horizonDays) }
    if !ts.contains(0) {
      ts.append(0)
      ts.sort()
    }
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

  /// The scenario at `path`, or without one the embedded HEROS 2.0 cohort B scenario; with the
  /// name that messages give its source.
  public static func load(path: String?) throws -> (scenario: Scenario, file: String) {
    if let path { return (try load(path: path), path) }
    let file = "<embedded heros2-cohortB>"
    return (try parse(Data(EmbeddedScenarios.heros2CohortB.utf8), file: file), file)
  }

  /// Parses and validates scenario JSON. `file` names the source in error messages.
  public static func parse(_ data: Data, file: String) throws -> Scenario {
    try parse(JSONValue.decode(data, file: file), file: file, path: "")
  }

  /// Parses and validates a scenario object found at `path` in `file` (e.g. an arm of a trial):
  /// one reader per block (``ScenarioBlocks``).
  public static func parse(_ root: JSONValue, file: String, path: String) throws -> Scenario {
    var r = try FieldReader(file: file, path: path, value: root)
    let name = try r.string("name", default: (file as NSString).lastPathComponent)
    let description = try r.string("description", default: "")
    let model = try r.string("model", default: "heros", oneOf: ModelCatalog.ids)
    let overrides = try ScenarioBlocks.parameters(&r, model: model)
    let patient = try ScenarioBlocks.patient(&r)
    let ld = try ScenarioBlocks.lymphodepletion(&r)
    let (infusions, rules) = try ScenarioBlocks.carT(&r, lymphodepletion: ld, model: model)
    let checkpoint = try ScenarioBlocks.checkpointInhibitor(&r)
    let chemo = try ScenarioBlocks.chemotherapy(&r)
    let settings = try ScenarioBlocks.simulation(&r)
    let (horizon, step, method, rtol, maxSteps, assess, cr) = settings
    try r.finish()

    var regimen = Regimen(
      infusions: infusions, lymphodepletion: ld, checkpoint: checkpoint, chemotherapy: chemo,
      rules: rules)
    // Conditional infusions planned after the horizon are never reached; others are a mistake.
    if let i = regimen.dropConditionalInfusions(after: horizon) {
      throw InputError(
        file: file, path: r.sub("car_t.days") + "[\(i)]",
        message: "infusion on day \(fmt(infusions[i].day)) is after the horizon (\(fmt(horizon)) days)")
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
  static func parseConditions(
    _ c: inout FieldReader, infusions: [CARTInfusion], lymphodepletion: Lymphodepletion?,
    model: String
  ) throws -> [DosingRule] {
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
          throw InputError(
            file: r.file, path: r.sub("infusions") + (range.count == 2 && r.value("infusions")?.kind == "a number" ? "" : "[\(i)]"),
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
      let otherwise = DosingRule.Otherwise(
        rawValue: try r.string(
          "otherwise", default: "stop",
          oneOf: DosingRule.Otherwise.allCases.map(\.rawValue)))!
      try r.finish()
      for k in first...last {
        if let other = governed[k - 1] {
          throw r.fail("infusions", "infusion \(k) is already governed by conditions[\(other)]")
        }
        governed[k - 1] = index
        let decision = draft.courseStart(k - 1) - before
        guard decision > 0 else {
          throw r.fail(
            "decide_days_before", "the decision for infusion \(k) would fall on day \(fmt(decision)), not after day 0 (the first infusion)")
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
        throw c.fail(
          "conditions",
          "the decision for infusion \(k + 1) (day \(fmt(decision))) is not after the decision before it (day \(fmt(previous)))")
      }
      previous = decision
    }
    return rules
  }
}

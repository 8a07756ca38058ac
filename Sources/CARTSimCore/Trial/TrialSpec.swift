import CARTModels
import Foundation
import StatKit

/// A virtual trial: a population, arms (each a regimen as in a scenario file), follow-up,
/// the assessment schedule, the DLT definition and the survival model. Read from JSON by
/// ``TrialSpec/load(path:)``; see `Guides/Trials.md` for the format and the conventions.
public struct TrialSpec: Sendable {
  public struct Arm: Sendable {
    public var name: String
    public var scenario: Scenario
    public var patients: Int
    /// Dose levels of a dose-escalation arm, with the patients treated at each as enrolled:
    /// virtual patient `i` gets the level at position `i mod Σ patients` of the levels laid
    /// out in order (1e4 twice, then 3e4 once, …), so the arm keeps the enrolled proportions
    /// at any size and shard. Empty: every patient gets the scenario's dose.
    public var doseLevels: [(dose: Double, patients: Int)] = []

    /// The infusion dose of patient `id` (in the scenario's dose basis).
    public func dose(patient id: Int) -> Double {
      guard !doseLevels.isEmpty else { return scenario.regimen.infusions.first?.dose ?? 0 }
      let total = doseLevels.reduce(0) { $0 + $1.patients }
      var position = id % total
      for level in doseLevels {
        if position < level.patients { return level.dose }
        position -= level.patients
      }
      preconditionFailure("position within the dose levels")
    }
  }

  /// RECIST 1.1 assessment settings.
  public struct Assessment: Sendable, Equatable {
    /// Imaging every this many days after day 0 (the first infusion).
    public var everyDays = 42.0
    /// A CR or PR counts only if a later assessment at least this many days on confirms it.
    public var confirmationDays = 28.0
    /// SD counts as the best response only if met at an assessment at least this long after day 0.
    public var minimumSDDays = 42.0
    /// SLD below which all target lesions count as gone, mm.
    public var completeResponseSLDmm = 2.0
  }

  /// Dose-limiting toxicity: CRS of at least a grade within a window after the first infusion.
  public struct DLT: Sendable, Equatable {
    public var crsGradeAtLeast = 3
    public var windowDays = 28.0
    public init(crsGradeAtLeast: Int = 3, windowDays: Double = 28) {
      self.crsGradeAtLeast = crsGradeAtLeast
      self.windowDays = windowDays
    }
    public var description: String { "CRS grade ≥ \(crsGradeAtLeast) within \(fmt(windowDays)) days of the first infusion" }
  }

  /// Death and dropout: piecewise-constant death hazard, one rate before progression and one
  /// after it, and an independent exponential dropout (see `Guides/Trials.md`).
  public struct Survival: Sendable, Equatable {
    public var preProgressionMedianDays = 1825.0
    public var postProgressionMedianDays = 240.0
    public var dropoutPerYear = 0.0
  }

  public var name: String
  public var description: String
  public var file: String
  public var seed: UInt64
  public var followUpDays: Double
  public var outputStepDays: Double
  /// Patient i is the same virtual patient in every arm (common random numbers across arms).
  public var paired: Bool
  public var assessment: Assessment
  public var dlt: DLT
  public var survival: Survival
  public var population: PopulationSpec
  public var arms: [Arm]
  /// Prior ranges of the parameters `cartsim calibrate` estimates (model parameters' typical values).
  public var priors: [SobolFactor] = []
  /// A calibration's posterior sample: each patient's typical values are one of its particles.
  public var calibrated: CalibratedParameters? = nil

  public var totalPatients: Int { arms.reduce(0) { $0 + $1.patients } }
}

extension TrialSpec {
  /// Reads and validates a trial spec; scenario files named by arms are read relative to it.
  public static func load(path: String) throws -> TrialSpec {
    let baseDir = directory(of: path)
    return try parse(JSONValue.load(path: path), file: path) { rel in
      let p = rel.hasPrefix("/") ? rel : (baseDir as NSString).appendingPathComponent(rel)
      guard FileManager.default.fileExists(atPath: p) else { return nil }
      return (try JSONValue.load(path: p), p)
    }
  }

  /// The spec at `path`, or without one the embedded HEROS trial.
  public static func load(path: String?) throws -> TrialSpec {
    try path.map { try load(path: $0) } ?? embeddedHEROS()
  }

  /// The HEROS trial compiled into the binary (`Examples/heros-trial.json` and its scenarios).
  public static func embeddedHEROS() throws -> TrialSpec {
    let file = "<embedded heros-trial.json>"
    return try parse(JSONValue.decode(Data(EmbeddedScenarios.files["heros-trial.json"]!.utf8), file: file), file: file) { rel in
      guard let text = EmbeddedScenarios.files[rel] else { return nil }
      return (try JSONValue.decode(Data(text.utf8), file: "<embedded \(rel)>"), "<embedded \(rel)>")
    }
  }

  /// Parses a spec; `scenarioFile` reads an arm's scenario file by the name the spec gives
  /// (nil when there is none) and returns its JSON and the name to show in messages.
  public static func parse(
    _ root: JSONValue, file: String,
    scenarioFile: (String) throws -> (JSONValue, String)?
  ) throws -> TrialSpec {
    let baseDir = directory(of: file)
    var r = try FieldReader(file: file, path: "", value: root)
    let name = try r.string("name", default: ((file as NSString).lastPathComponent as NSString).deletingPathExtension)
    let description = try r.string("description", default: "")
    let seed = try r.number("seed", default: 1, min: 0, max: 9_007_199_254_740_992)
    guard seed == seed.rounded() else { throw r.fail("seed", "must be a whole number") }
    let perArm = try r.integer("patients_per_arm", default: 1000, min: 1, max: Limits.patients)
    let followUp = try r.number("follow_up_days", default: 730, min: 1, max: Limits.horizonDays)
    let step = try r.number("output_step_days", default: 1, min: 0.01, max: 7)
    let paired = try r.bool("paired", default: false)

    var assessment = Assessment()
    if var a = try r.object("assessment") {
      assessment.everyDays = try a.number("every_days", default: assessment.everyDays, min: 1)
      assessment.confirmationDays = try a.number("confirmation_days", default: assessment.confirmationDays, min: 0)
      assessment.minimumSDDays = try a.number("minimum_sd_days", default: assessment.minimumSDDays, min: 0)
      assessment.completeResponseSLDmm = try a.number("complete_response_sld_mm", default: assessment.completeResponseSLDmm, min: 0)
      try a.finish()
    }
    var dlt = DLT()
    if var d = try r.object("dlt") {
      dlt.crsGradeAtLeast = try d.integer("crs_grade_at_least", default: 3, min: 1, max: 4)
      dlt.windowDays = try d.number("window_days", default: 28, min: 0, exclusiveMin: true)
      try d.finish()
    }
    var survival = Survival()
    if var s = try r.object("survival") {
      survival.preProgressionMedianDays = try s.number(
        "pre_progression_median_days", default: survival.preProgressionMedianDays, min: 0, exclusiveMin: true)
      survival.postProgressionMedianDays = try s.number(
        "post_progression_median_days", default: survival.postProgressionMedianDays, min: 0, exclusiveMin: true)
      survival.dropoutPerYear = try s.number("dropout_per_year", default: 0, min: 0)
      try s.finish()
    }

    // Parameter values for every arm (population typical values); an arm's own overrides win.
    var common: [(name: String, value: Double)] = []
    if var p = try r.object("parameters") {
      for key in p.fields.keys.sorted() { common.append((key, try p.number(key, min: 0))) }
      try p.finish()
    }
    var arms: [Arm] = []
    for var a in try r.objects("arms") {
      let armName = try a.string("name")
      if arms.contains(where: { $0.name == armName }) { throw a.fail("name", "another arm is named '\(armName)'") }
      guard let value = a.value("scenario") else { throw a.fail("scenario", "is required (a scenario file name or an inline scenario)") }
      var scenario: Scenario
      switch value {
      case .string(let rel):
        guard let (json, shown) = try scenarioFile(rel) else { throw a.fail("scenario", "no scenario file '\(rel)' next to the spec") }
        do {
          scenario = try Scenario.parse(json, file: shown, path: "")
        } catch var e as InputError {
          // Which arm reads the file (several can).
          e.message += " (the scenario of \(a.path), in \(file))"
          throw e
        }
      case .object:
        scenario = try Scenario.parse(value, file: file, path: a.sub("scenario"))
      default:
        throw a.fail("scenario", "expected a file name or an object, found \(value.kind)")
      }
      // Conditional infusions planned after the follow-up are never reached; others are a mistake.
      if let i = scenario.regimen.dropConditionalInfusions(after: followUp) {
        throw a.fail(
          "scenario", "infusion \(i + 1) on day \(fmt(scenario.regimen.infusions[i].day)) is after the follow-up (\(fmt(followUp)) days)")
      }
      for o in common where !scenario.parameterOverrides.contains(where: { $0.name == o.name }) {
        var probe = ModelCatalog.describe(scenario.model)!.parameters
        do { try probe.set(o.name, to: o.value) } catch {
          throw InputError(file: file, path: "parameters.\(o.name)", message: "\(error)")
        }
        scenario.parameterOverrides.append(o)
      }
      scenario.horizonDays = followUp
      scenario.outputStepDays = step
      try scenario.checkOutputGrid(file: file, path: "")
      let n = try a.integer("patients", default: perArm, min: 1, max: Limits.patients)
      var levels: [(dose: Double, patients: Int)] = []
      for var l in try a.objects("dose_levels") {
        let dose = try l.number("dose", min: 0, max: Limits.carTDose, exclusiveMin: true, "in the scenario's dose basis")
        let count = try l.integer("patients", min: 1, max: 100_000)
        try l.finish()
        levels.append((dose, count))
      }
      if a.has("dose_levels") && levels.isEmpty { throw a.fail("dose_levels", "needs at least one level") }
      try a.finish()
      arms.append(Arm(name: armName, scenario: scenario, patients: n, doseLevels: levels))
    }
    guard !arms.isEmpty else { throw r.fail("arms", "needs at least one arm") }

    guard var p = try r.object("population") else { throw r.fail("population", "is required") }
    let population = try PopulationSpec.parse(&p, baseDir: baseDir, models: arms.map(\.scenario.model))
    let models = Set(arms.map(\.scenario.model))
    var priors: [SobolFactor] = []
    if var pr = try r.object("priors") {
      for key in pr.fields.keys.sorted() {
        for m in models where !(ModelCatalog.describe(m)?.parameters.contains(key) ?? false) {
          throw pr.fail(key, "is not a parameter of model '\(m)'")
        }
        guard var f = try pr.object(key) else { continue }
        let scale = SobolFactor.Scale(
          rawValue: try f.string("scale", default: "uniform", oneOf: SobolFactor.Scale.allCases.map(\.rawValue)))!
        let low = try f.number("low", min: scale == .logUniform ? 0 : nil, exclusiveMin: scale == .logUniform)
        let high = try f.number("high", min: low, exclusiveMin: true)
        try f.finish()
        priors.append(SobolFactor(name: key, low: low, high: high, scale: scale))
      }
      guard priors.count <= 64 else { throw r.fail("priors", "at most 64 parameters") }
    }
    var calibrated: CalibratedParameters? = nil
    if r.has("calibrated_parameters") {
      let rel = try r.string("calibrated_parameters")
      guard let (json, shown) = try scenarioFile(rel) else {
        throw r.fail("calibrated_parameters", "no calibration file '\(rel)' next to the spec")
      }
      calibrated = try CalibratedParameters.parse(json, file: shown)
      for name in calibrated!.names {
        for m in models where !(ModelCatalog.describe(m)?.parameters.contains(name) ?? false) {
          throw InputError(file: shown, path: "posterior_sample.names", message: "'\(name)' is not a parameter of model '\(m)'")
        }
      }
    }
    try r.finish()
    return TrialSpec(
      name: name, description: description, file: file, seed: UInt64(seed), followUpDays: followUp, outputStepDays: step,
      paired: paired, assessment: assessment, dlt: dlt, survival: survival, population: population, arms: arms,
      priors: priors, calibrated: calibrated)
  }
}

/// The folder part of a path ("" for a bare file name). Written out because Foundation's
/// `deletingLastPathComponent` traps on some one-character names on Linux.
func directory(of path: String) -> String {
  guard let slash = path.lastIndex(of: "/") else { return "" }
  return slash == path.startIndex ? "/" : String(path[..<slash])
}

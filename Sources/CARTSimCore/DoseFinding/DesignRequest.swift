import DoseFinding
import Foundation

/// The JSON form of the `cartsim design` settings, as `/api/design/*` reads a request body: the
/// option names in snake_case (`p_true`, `cohort_size`, …), lists as arrays of numbers or as the
/// command line's comma-separated text. Unknown fields are refused; errors name the field.
public enum DesignRequest {
  /// What a server allows beyond the library's own limits (one request must stay short).
  public struct Caps: Sendable {
    public var trials = 100_000
    public var modelPatients = 1_000
    public var maxStates = 1_000_000
    public var threads = 1
    public init() {}
  }

  /// `POST /api/design/oc`: a design name, its settings and the run settings. `fromModel` turns
  /// the name given in `from_model` into a trial spec (nil: no such spec).
  public static func oc(
    _ data: Data, file: String, caps: Caps,
    fromModel: (String) throws -> TrialSpec?
  ) throws -> (design: String, settings: DesignSettings, run: OCRunSettings) {
    var r = try reader(data, file: file)
    let design = try r.string("design", oneOf: AnyDesign.names)
    let settings = try designSettings(&r)
    let run = try runSettings(&r, caps: caps, fromModel: fromModel)
    try r.finish()
    return (design, settings, run)
  }

  /// `POST /api/design/compare`: `designs` (default all four) and the settings of `oc`.
  public static func compare(
    _ data: Data, file: String, caps: Caps,
    fromModel: (String) throws -> TrialSpec?
  ) throws -> (designs: [String], settings: DesignSettings, run: OCRunSettings) {
    var r = try reader(data, file: file)
    let designs = r.has("designs") ? try r.strings("designs", oneOf: AnyDesign.names) : ["boin", "3+3", "crm", "mtpi2"]
    let settings = try designSettings(&r)
    let run = try runSettings(&r, caps: caps, fromModel: fromModel)
    try r.finish()
    return (designs, settings, run)
  }

  /// `POST /api/design/boundaries`.
  public static func boundaries(_ data: Data, file: String) throws -> BoundarySettings {
    var r = try reader(data, file: file)
    var b = BoundarySettings(target: try r.number("target"))
    b.cohortSize = try r.integer("cohort_size", default: b.cohortSize, min: 1, max: TrialConfig.maxPatientsLimit)
    b.cohorts = try r.integer("cohorts", default: b.cohorts, min: 1, max: TrialConfig.maxPatientsLimit)
    b.pSaf = try r.optionalNumber("p_saf")
    b.pTox = try r.optionalNumber("p_tox")
    b.cutoffEli = try r.number("cutoff_eli", default: b.cutoffEli)
    try r.finish()
    return b
  }

  /// `POST /api/design/next`: the design, its settings, the accrued data as CSV text in `data`,
  /// `doses` and `current`.
  public static func next(_ data: Data, file: String) throws
    -> (design: String, settings: DesignSettings, csv: String, doses: Int?, current: Int?)
  {
    var r = try reader(data, file: file)
    let design = try r.string("design", oneOf: AnyDesign.names)
    let settings = try designSettings(&r)
    let csv = try r.string("data")
    let doses = r.has("doses") ? try r.integer("doses", min: 1, max: TrialConfig.maxDoses) : nil
    let current = r.has("current") ? try r.integer("current", min: 1, max: TrialConfig.maxDoses) : nil
    try r.finish()
    return (design, settings, csv, doses, current)
  }

  // MARK: Pieces

  static func reader(_ data: Data, file: String) throws -> FieldReader {
    try FieldReader(file: file, path: "", value: JSONValue.decode(data, file: file))
  }

  static func designSettings(_ r: inout FieldReader) throws -> DesignSettings {
    let limit = TrialConfig.maxPatientsLimit
    var s = DesignSettings(target: try r.number("target"))
    s.cohortSize = try r.integer("cohort_size", default: s.cohortSize, min: 1, max: limit)
    s.cohorts = try r.integer("cohorts", default: s.cohorts, min: 1, max: limit)
    s.maxN = r.has("max_n") ? try r.integer("max_n", min: 1, max: limit) : nil
    s.startDose = try r.integer("start_dose", default: s.startDose, min: 1, max: TrialConfig.maxDoses)
    s.nEarlystop = r.has("n_earlystop") ? try r.integer("n_earlystop", min: 1, max: limit) : nil
    s.skeleton = r.has("skeleton") ? try list(&r, "skeleton") : nil
    s.crmModel =
      CRMModel(rawValue: try r.string("crm_model", default: s.crmModel.rawValue, oneOf: CRMModel.allCases.map(\.rawValue))) ?? .empiric
    s.intercept = try r.number("intercept", default: s.intercept)
    s.priorSd = try r.number("prior_sd", default: s.priorSd)
    s.crmStartup = try r.bool("crm_startup", default: false)
    if r.has("start_sequence") {
      s.startSequence = try DesignLists.levels(list(&r, "start_sequence"), field: "start_sequence")
    }
    s.crmSafety = try r.number("crm_safety", default: s.crmSafety)
    s.deescalate = try r.bool("deescalate", default: false)
    s.epsilon1 = try r.number("epsilon1", default: s.epsilon1)
    s.epsilon2 = try r.number("epsilon2", default: s.epsilon2)
    s.cutoffEli = try r.number("cutoff_eli", default: s.cutoffEli)
    s.pSaf = try r.optionalNumber("p_saf")
    s.pTox = try r.optionalNumber("p_tox")
    return s
  }

  static func runSettings(_ r: inout FieldReader, caps: Caps, fromModel: (String) throws -> TrialSpec?) throws -> OCRunSettings {
    var run: OCRunSettings
    if r.has("from_model") {
      guard !r.has("p_true") && !r.has("p_response") else { throw r.fail("from_model", "give either from_model or p_true/p_response") }
      let name = try r.string("from_model")
      guard let spec = try fromModel(name) else { throw r.fail("from_model", "no trial spec '\(name)'") }
      var m = ModelCurveSettings(spec: spec, source: name, doseLevels: try list(&r, "dose_levels"))
      m.doseBasis = r.has("dose_basis") ? try r.string("dose_basis") : nil
      m.dlt = r.has("dlt") ? try r.string("dlt") : nil
      m.arm = r.has("arm") ? try r.string("arm") : nil
      m.patients = try r.integer("model_patients", default: min(m.patients, caps.modelPatients), min: 1, max: caps.modelPatients)
      m.followUp = try r.optionalNumber("follow_up", min: 0, exclusiveMin: true)
      run = OCRunSettings(curves: .model(m))
    } else {
      run = OCRunSettings(curves: .given(pTrue: try list(&r, "p_true"), pResponse: r.has("p_response") ? try list(&r, "p_response") : nil))
    }
    run.trials = try r.integer("trials", default: run.trials, min: 1, max: caps.trials)
    run.seed = UInt64(try r.integer("seed", default: Int(run.seed), min: 0, max: 1 << 53))
    run.exact = try r.bool("exact", default: false)
    run.maxStates = try r.integer("max_states", default: run.maxStates, min: 1, max: caps.maxStates)
    run.threads = caps.threads
    return run
  }

  /// A list of numbers: a JSON array, or the command line's comma-separated text.
  static func list(_ r: inout FieldReader, _ key: String) throws -> [Double] {
    if case .string(let text)? = r.value(key) { return try DesignLists.numbers(text, field: key) }
    let values = try r.numbers(key)
    guard values.count <= TrialConfig.maxPatientsLimit else { throw r.fail(key, "has more than \(TrialConfig.maxPatientsLimit) values") }
    return values
  }
}

import DoseFinding
import Foundation

/// The settings of a dose-finding design as a user gives them (`cartsim design` options, or the
/// JSON body of `/api/design/*` with the same names in snake_case): doses 1-based, the sample
/// size as cohorts × cohort size. Errors name these snake_case fields.
public struct DesignSettings: Sendable {
  public var target: Double
  public var cohortSize = 3
  public var cohorts = 10
  /// Maximum sample size instead of `cohorts` (the last cohort is truncated to it).
  public var maxN: Int? = nil
  /// 1-based.
  public var startDose = 1
  public var nEarlystop: Int? = nil
  public var skeleton: [Double]? = nil
  public var crmModel: CRMModel = .empiric
  public var intercept = 3.0
  public var priorSd = 1.34.squareRoot()
  public var crmStartup = false
  /// CRM start-up sequence, 1-based dose levels, one per patient until the first DLT (dfcrm's `x0`).
  public var startSequence: [Int]? = nil
  public var crmSafety = 0.9
  public var deescalate = false
  public var epsilon1 = 0.05, epsilon2 = 0.05
  public var cutoffEli = 0.95
  public var pSaf: Double? = nil, pTox: Double? = nil

  public init(target: Double) { self.target = target }

  /// The field names (snake_case), as the command line spells them with dashes.
  public static let fieldNames = [
    "target", "cohort_size", "cohorts", "max_n", "start_dose", "n_earlystop", "skeleton", "crm_model", "intercept",
    "prior_sd", "crm_startup", "start_sequence", "crm_safety", "deescalate", "epsilon1", "epsilon2", "cutoff_eli",
    "p_saf", "p_tox",
  ]

  /// The library's options, checked.
  public func options() throws -> DesignOptions {
    try DoseFindingMath.checkTarget(target)
    var o = DesignOptions(target: target)
    o.cohortSize = cohortSize
    if let maxN {
      guard (1...TrialConfig.maxPatientsLimit).contains(maxN) else {
        throw DoseFindingInputError(field: "max_n", "must be 1…\(TrialConfig.maxPatientsLimit) (got \(maxN))")
      }
      o.maxPatients = maxN
    } else {
      o.maxPatients = try Self.sampleSize(cohorts: cohorts, cohortSize: cohortSize)
    }
    guard (1...TrialConfig.maxDoses).contains(startDose) else {
      throw DoseFindingInputError(field: "start_dose", "must be 1…\(TrialConfig.maxDoses) (got \(startDose))")
    }
    o.startDose = startDose - 1
    o.nEarlyStop = nEarlystop
    o.skeleton = skeleton
    o.crmModel = crmModel
    o.intercept = intercept
    o.priorSD = priorSd
    o.startUp = crmStartup
    if let startSequence {
      guard !crmStartup else { throw DoseFindingInputError(field: "start_sequence", "give either crm_startup or start_sequence, not both") }
      guard !startSequence.isEmpty, startSequence.count <= TrialConfig.maxPatientsLimit else {
        throw DoseFindingInputError(
          field: "start_sequence", "needs 1…\(TrialConfig.maxPatientsLimit) dose levels (got \(startSequence.count))")
      }
      o.startSequence = startSequence.map { $0 - 1 }
    }
    o.crmSafety = crmSafety
    o.deescalate = deescalate
    o.epsilon1 = epsilon1
    o.epsilon2 = epsilon2
    o.cutoff = cutoffEli
    o.pSafe = pSaf
    o.pToxic = pTox
    return o
  }

  /// `cohorts × cohortSize`, each and the product within ``TrialConfig/maxPatientsLimit``.
  public static func sampleSize(cohorts: Int, cohortSize: Int) throws -> Int {
    let limit = TrialConfig.maxPatientsLimit
    guard (1...limit).contains(cohortSize) else {
      throw DoseFindingInputError(field: "cohort_size", "must be 1…\(limit) (got \(cohortSize))")
    }
    guard (1...limit).contains(cohorts) else { throw DoseFindingInputError(field: "cohorts", "must be 1…\(limit) (got \(cohorts))") }
    guard cohorts * cohortSize <= limit else {
      throw DoseFindingInputError(field: "cohorts", "\(cohorts) cohorts of \(cohortSize) exceed \(limit) patients")
    }
    return cohorts * cohortSize
  }
}

/// How the true dose–DLT (and dose–response) curves of an operating-characteristics run are
/// given: as numbers, or derived from the mechanistic model on one arm of a trial spec.
public enum TrueCurves: Sendable {
  case given(pTrue: [Double], pResponse: [Double]?)
  case model(ModelCurveSettings)
}

/// Settings of curves derived from the model (`from_model` and its companions).
public struct ModelCurveSettings: Sendable {
  /// The trial spec, and where it came from (for errors).
  public var spec: TrialSpec
  public var source: String
  public var doseLevels: [Double]
  public var doseBasis: String? = nil
  /// `crs>=GRADE[:DAYS]`; default: the spec's.
  public var dlt: String? = nil
  /// Arm name; default: the first.
  public var arm: String? = nil
  public var patients = 200
  public var followUp: Double? = nil

  public init(spec: TrialSpec, source: String, doseLevels: [Double]) {
    self.spec = spec
    self.source = source
    self.doseLevels = doseLevels
  }
}

/// The run settings of operating characteristics: curves, trials, seed, threads, exact.
public struct OCRunSettings: Sendable {
  public var curves: TrueCurves
  public var trials = 1000
  public var seed: UInt64 = 6
  /// Worker threads (the results do not depend on it).
  public var threads = ProcessInfo.processInfo.activeProcessorCount
  public var exact = false
  /// With `exact`: refuse beyond this many distinct live trial states.
  public var maxStates = 200_000

  public init(curves: TrueCurves) { self.curves = curves }

  public static let fieldNames = [
    "p_true", "p_response", "from_model", "dose_levels", "dose_basis", "dlt", "arm", "model_patients", "follow_up",
    "trials", "seed", "threads", "exact", "max_states",
  ]
}

/// The settings of BOIN's decision table (`cartsim design boundaries`).
public struct BoundarySettings: Sendable {
  public var target: Double
  public var cohortSize = 3
  public var cohorts = 10
  public var pSaf: Double? = nil, pTox: Double? = nil
  public var cutoffEli = 0.95

  public init(target: Double) { self.target = target }

  public static let fieldNames = ["target", "cohort_size", "cohorts", "p_saf", "p_tox", "cutoff_eli"]
}

extension DoseFindingInputError {
  /// The field as the command line spells it: `--cohort-size` for `cohort_size`, when it is one
  /// of the settings; other fields (a row of a data file) as they are.
  public var commandLineField: String {
    let options = DesignSettings.fieldNames + OCRunSettings.fieldNames + ["design", "designs", "data", "doses", "current", "svg"]
    return options.contains(field) ? "--" + field.replacingOccurrences(of: "_", with: "-") : field
  }
}

/// Comma-separated lists of the design settings (`0.05,0.1,0.3`), as the command line gives
/// them and a request body may.
public enum DesignLists {
  /// The numbers of `text`; the error names `field` and the entry that is not a number.
  public static func numbers(_ text: String, field: String) throws -> [Double] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    guard parts.count <= TrialConfig.maxPatientsLimit else {
      throw DoseFindingInputError(field: field, "has more than \(TrialConfig.maxPatientsLimit) values")
    }
    return try parts.enumerated().map { i, t in
      let v = t.trimmingCharacters(in: .whitespaces)
      guard let x = Double(v), x.isFinite else { throw DoseFindingInputError(field: field, "value \(i + 1) ('\(v)') is not a number") }
      return x
    }
  }

  /// Dose levels (1-based) of `text`.
  public static func levels(_ text: String, field: String) throws -> [Int] {
    try levels(numbers(text, field: field), field: field)
  }

  /// Dose levels (1-based): each value a whole number 1…``TrialConfig/maxDoses``.
  public static func levels(_ values: [Double], field: String) throws -> [Int] {
    try values.enumerated().map { i, x in
      guard let n = Limits.count(x, in: 1...TrialConfig.maxDoses) else {
        throw DoseFindingInputError(field: field, "value \(i + 1) (\(x)) is not a dose level 1…\(TrialConfig.maxDoses)")
      }
      return n
    }
  }
}

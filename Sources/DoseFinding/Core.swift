import RealModule
import StatKit

/// Bad user input, named by where it came from and which field: printed as `<source>: <field>: <message>`.
public struct DoseFindingInputError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file, or `settings` for the design settings (command-line options or a request body).
  public var source: String
  /// The field that is wrong (a setting in snake_case, e.g. `p_true`, or `line 3: dlts` of a file).
  public var field: String
  /// What is wrong with it.
  public var message: String

  public init(source: String = "settings", field: String, _ message: String) {
    self.source = source
    self.field = field
    self.message = message
  }

  public var description: String { "\(source): \(field): \(message)" }
}

/// The trial-level settings shared by all designs (doses are 0-based inside the library).
public struct TrialConfig: Hashable, Sendable {
  /// Number of dose levels.
  public var doseCount: Int
  /// Patients per cohort (3+3 always treats cohorts of 3).
  public var cohortSize: Int
  /// Maximum sample size (the last cohort is truncated to it, as `BOIN::get.oc` does).
  public var maxPatients: Int
  /// Starting dose, 0-based.
  public var startDose: Int
  /// Stop the trial (and select the MTD) once the dose chosen for the next cohort already has this
  /// many patients; `nil` turns the rule off (BOIN's `n.earlystop = 100`).
  public var nEarlyStop: Int?

  /// The largest sample size (and cohort size) the command line accepts: phase I trials
  /// enrol tens of patients. (3+3 has no maximum of its own; it stops by its rules.)
  public static let maxPatientsLimit = 10_000
  /// The most dose levels.
  public static let maxDoses = 100

  /// Validated settings.
  /// - Throws: ``DoseFindingInputError`` naming the offending option.
  public init(doseCount: Int, cohortSize: Int, maxPatients: Int, startDose: Int = 0, nEarlyStop: Int? = nil) throws {
    guard (1...Self.maxDoses).contains(doseCount) else {
      throw DoseFindingInputError(field: "p_true", "needs 1…\(Self.maxDoses) doses (got \(doseCount))")
    }
    guard (1...Self.maxPatientsLimit).contains(cohortSize) else {
      throw DoseFindingInputError(field: "cohort_size", "must be 1…\(Self.maxPatientsLimit) (got \(cohortSize))")
    }
    guard maxPatients >= 1 else { throw DoseFindingInputError(field: "cohorts", "the maximum sample size must be at least 1") }
    guard (0..<doseCount).contains(startDose) else {
      throw DoseFindingInputError(field: "start_dose", "must be between 1 and \(doseCount) (got \(startDose + 1))")
    }
    if let n = nEarlyStop, n < 1 { throw DoseFindingInputError(field: "n_earlystop", "must be at least 1 (got \(n))") }
    self.doseCount = doseCount
    self.cohortSize = cohortSize
    self.maxPatients = maxPatients
    self.startDose = startDose
    self.nEarlyStop = nEarlyStop
  }
}

/// Everything a design's decision may depend on. Hashable so that the exact enumeration can merge
/// paths that reach the same state (the designs here decide from per-dose counts plus a few flags).
public struct TrialState: Hashable, Sendable {
  /// Patients treated at each dose.
  public var patients: [Int]
  /// DLTs observed at each dose.
  public var dlts: [Int]
  /// Dose given to the next (or the last, inside ``DoseFindingDesign/decide(_:cohortSize:cohortDLTs:)``) cohort.
  public var current: Int
  /// Doses `excludedFrom...` are eliminated for toxicity (`doseCount` when none is).
  public var excludedFrom: Int
  /// Design-specific phase (3+3: expansion/de-escalation; CRM: start-up and coherence flags).
  public var phase: Int = 0
  /// The design's own final choice when it is path-based (3+3); `nil` otherwise.
  public var chosen: Int? = nil
  /// Trial stopped for safety: no MTD.
  public var stoppedForSafety = false

  /// The state before the first cohort.
  public init(doseCount: Int, start: Int) {
    patients = Array(repeating: 0, count: doseCount)
    dlts = Array(repeating: 0, count: doseCount)
    current = start
    excludedFrom = doseCount
  }

  /// Total patients treated.
  public var totalPatients: Int { patients.reduce(0, +) }
}

/// A dose-escalation decision for the next cohort.
public enum DoseDecision: String, Sendable, Codable {
  case escalate, stay, deescalate = "de-escalate", stop
}

/// The next-dose recommendation for accrued data, with the estimates the reference packages print.
public struct Recommendation: Sendable {
  /// Escalate, stay, de-escalate or stop.
  public var decision: DoseDecision
  /// Next dose (0-based); `nil` when the trial stops.
  public var nextDose: Int?
  /// When stopping: the selected MTD (0-based) or `nil` for no MTD.
  public var selectedMTD: Int?
  /// Why, in a sentence.
  public var reason: String
  /// Named per-dose estimates (e.g. `ptox`, `pr_over_target`, `isotonic`).
  public var estimates: [(name: String, values: [Double])]
  /// Named scalars (e.g. `beta_mean`, `lambda_e`).
  public var scalars: [(name: String, value: Double)]
}

/// A dose-finding design: the decision after each cohort and the final MTD selection.
///
/// The simulation driver treats cohorts at `state.current`, updates the counts and calls
/// ``decide(_:cohortSize:cohortDLTs:)``; when that returns `false` (or the sample size is exhausted) it calls
/// ``selectMTD(_:)``. Each worker thread runs its own ``makeWorker()`` copy, so caches (the CRM's
/// posterior table) are never shared.
public protocol DoseFindingDesign: Sendable {
  /// Short name: `3+3`, `boin`, `crm`, `mtpi2`.
  var name: String { get }
  /// Trial settings.
  var config: TrialConfig { get }
  /// Target DLT rate (3+3 has none of its own; it reports the one given for the OC summary).
  var target: Double { get }
  /// The state before the first cohort.
  func initialState() -> TrialState
  /// A copy for one worker thread (with private caches, if any).
  func makeWorker() -> Self
  /// After the cohort just treated at `state.current` (its size and DLT count given; the counts in
  /// `state` already include it): set the next dose and flags. Returns `false` to stop the trial.
  func decide(_ state: inout TrialState, cohortSize: Int, cohortDLTs: Int) -> Bool
  /// The MTD (0-based) at the end of the trial, or `nil` for none.
  func selectMTD(_ state: TrialState) -> Int?
}

extension DoseFindingDesign {
  /// The state before the first cohort: nothing treated, at the starting dose.
  public func initialState() -> TrialState { TrialState(doseCount: config.doseCount, start: config.startDose) }
  /// Designs without caches are their own workers.
  public func makeWorker() -> Self { self }
}

/// Shared helpers.
public enum DoseFindingMath {
  /// Pr(p > φ | y DLTs in n) under a Beta(a, b) prior: 1 − I_φ(a + y, b + n − y).
  public static func probAbove(_ phi: Double, dlts y: Int, patients n: Int, a: Double = 1, b: Double = 1) -> Double {
    1 - Distributions.betaCDF(phi, a + Double(y), b + Double(n - y))
  }

  /// The true MTD: the dose whose true DLT probability is closest to the target; ties (within
  /// 1e-12) go to the lower dose.
  public static func trueMTD(pTrue: [Double], target: Double) -> Int {
    var best = 0
    for i in pTrue.indices.dropFirst() where abs(pTrue[i] - target) < abs(pTrue[best] - target) - 1e-12 { best = i }
    return best
  }

  /// Validates a probability vector (`field` names it in the error).
  public static func checkProbabilities(
    _ p: [Double], field: String, source: String = "settings",
    increasing: Bool = false
  ) throws {
    guard !p.isEmpty else { throw DoseFindingInputError(source: source, field: field, "is empty") }
    for (i, v) in p.enumerated() where !(v >= 0 && v <= 1) {
      throw DoseFindingInputError(source: source, field: field, "value \(i + 1) (\(v)) is not in [0, 1]")
    }
    if increasing {
      for i in p.indices.dropFirst() where !(p[i] > p[i - 1]) {
        throw DoseFindingInputError(
          source: source, field: field, "must be strictly increasing (value \(i + 1) is \(p[i]) after \(p[i - 1]))")
      }
    }
  }

  /// Validates a target DLT rate.
  public static func checkTarget(_ t: Double) throws {
    guard t > 0 && t < 1 else { throw DoseFindingInputError(field: "target", "must be in (0, 1) (got \(t))") }
  }
}

import Foundation

/// The bounds on every number a user gives that becomes a count, an allocation or a loop
/// bound. The spec readers, the command line and the server check against these same values
/// (README, "Limits"), so no front end lets through what another refuses, and no input can
/// trap a conversion or ask for more memory than a laptop has.
public enum Limits {
  /// Virtual patients per arm (and per population run).
  public static let patients = 100_000_000
  /// Simulated days after day 0: a hundred years.
  public static let horizonDays = 36_525.0
  /// Output points of one simulation (scenario grid or SBML `--steps + 1`).
  public static let outputPoints = 5_000_000
  /// The solver's step budget (`simulation.max_steps`).
  public static let solverSteps = 1_000_000_000
  /// Worker threads of one process.
  public static let threads = 1024
  /// Shards of one sharded run (`--shard I/N`).
  public static let shards = 1_000_000
  /// Repeats of one benchmark.
  public static let repeats = 100_000
  /// A CAR T infusion, cells (or cells/m²): a thousand times the largest doses given.
  public static let carTDose = 1e13
  /// A drug dose in mg, mg/m² or mg/kg (lymphodepletion, checkpoint inhibitor): a kilogram.
  public static let drugDoseMg = 1e6
  /// The earliest day of a regimen (lymphodepletion, conditioning): ten years before day 0.
  public static let earliestDay = -3650.0
  /// The largest values of a patient's covariates (a scenario's `patient`, a covariate table).
  public static let patientUpperBounds = Dictionary(uniqueKeysWithValues: PatientField.allCases.map { ($0.rawValue, $0.upperBound) })
  /// Names in `?series=` of `POST /api/simulate`.
  public static let seriesNames = 64

  /// `value` when it lies in `range`; otherwise an ``InputError`` naming `field` in `file`.
  public static func check<T: Comparable>(
    _ value: T, in range: ClosedRange<T>, field: String,
    file: String = "<command line>"
  ) throws -> T {
    guard range.contains(value) else {
      throw InputError(file: file, path: field, message: "must be \(range.lowerBound)…\(range.upperBound), found \(value)")
    }
    return value
  }

  /// A finite positive number up to `max`; otherwise an ``InputError`` naming `field`.
  public static func positive(_ value: Double, max: Double, field: String, file: String = "<command line>") throws -> Double {
    guard value.isFinite, value > 0, value <= max else {
      throw InputError(file: file, path: field, message: "must be a number > 0 and ≤ \(fmt(max)), found \(fmt(value))")
    }
    return value
  }

  /// `x` as a count when it is a whole number in `range`, without the trap of `Int(x)` on
  /// values beyond `Int`; otherwise nil.
  public static func count(_ x: Double, in range: ClosedRange<Int>) -> Int? {
    guard x.isFinite, x == x.rounded(), x >= Double(range.lowerBound), x <= Double(range.upperBound),
      x < 9.0e18
    else { return nil }
    return Int(x)
  }

  /// The number of output intervals of length `step` in `span`, checked against
  /// ``outputPoints`` before anything is converted or allocated.
  public static func outputIntervals(span: Double, step: Double, field: String, file: String) throws -> Int {
    let n = (span / step).rounded(.down)
    guard n.isFinite, n >= 0, n + 1 <= Double(outputPoints) else {
      throw InputError(
        file: file, path: field,
        message: "gives \(n.isFinite ? fmt(n + 1) : "unboundedly many") output points; at most \(outputPoints)")
    }
    return Int(n)
  }
}

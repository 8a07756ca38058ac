/// A control stream, dataset or model mapping CARTSim refuses: the file, the line (and column
/// or field where one is at fault) and what is wrong.
public struct NLMEError: Error, CustomStringConvertible, Equatable, Sendable {
  public var file: String
  public var line: Int?
  public var field: String?
  public var message: String

  public init(_ file: String, line: Int? = nil, field: String? = nil, _ message: String) {
    self.file = file
    self.line = line
    self.field = field
    self.message = message
  }

  public var description: String {
    var place = file
    if let line { place += ": line \(line)" }
    if let field { place += ", \(field)" }
    return "\(place): \(message)"
  }
}

extension NLMEError {
  /// A data value as the file would show it: `7`, not `7.0`.
  static func shown(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
}

/// Limits on what an input may make CARTSim allocate or loop over.
public enum NLMELimits {
  /// The most THETAs, ETAs or EPSs a model may use.
  public static let maxIndex = 500
  /// The most compartments of a $MODEL.
  public static let maxCompartments = 100
  /// The most records of a dataset, after ADDL expansion.
  public static let maxRecords = 5_000_000
  /// The most additional doses one record may ask for (ADDL).
  public static let maxAdditionalDoses = 100_000
  /// The most statements and nesting of a code block.
  public static let maxNesting = 50
  /// The most observations of one subject: FO's objective, WRES, CWRES and NPDE work with the
  /// subject's observations' covariance matrix, observations² values (32 MB at this limit).
  public static let maxSubjectObservations = 2_000
}

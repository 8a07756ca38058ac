/// The output of ``solve(_:method:options:)``: the state at the requested times, how the
/// integration ended, and what it cost.
public struct ODESolution: Sendable {
  /// Output times (those reached; shorter than requested when the run failed).
  public var t: [Double]
  /// States, row-major: `values[i * dimension + j]` is state `j` at `t[i]`.
  public var values: [Double]
  public let dimension: Int
  public var returnCode: ReturnCode
  public var stats: SolverStats
  /// The method that was asked for.
  public var method: ODEMethod
  /// Time at which integration stopped (the end of the span on success).
  public var finalTime: Double
  /// State at `finalTime`.
  public var finalState: [Double]
  /// Applied events, in order: time and label.
  public var eventLog: [(time: Double, label: String)]

  @usableFromInline
  init(
    t: [Double], values: [Double], dimension: Int, returnCode: ReturnCode, stats: SolverStats, method: ODEMethod,
    finalTime: Double, finalState: [Double], eventLog: [(time: Double, label: String)]
  ) {
    self.t = t
    self.values = values
    self.dimension = dimension
    self.returnCode = returnCode
    self.stats = stats
    self.method = method
    self.finalTime = finalTime
    self.finalState = finalState
    self.eventLog = eventLog
  }

  /// State `j` at output `i`.
  @inlinable public subscript(i: Int, j: Int) -> Double { values[i * dimension + j] }
  /// The state vector at output `i`.
  public func state(_ i: Int) -> ArraySlice<Double> { values[(i * dimension)..<((i + 1) * dimension)] }
  /// One component over all outputs.
  public func component(_ j: Int) -> [Double] { (0..<t.count).map { values[$0 * dimension + j] } }
  /// A human-readable name of the method(s) that actually took steps.
  public var methodDescription: String {
    switch method {
    case .dp5: return "DP5"
    case .dop853: return "DOP853"
    case .rodas4: return "Rodas4"
    case .rodas4p2: return "Rodas4P2"
    case .bdf: return "BDF"
    case .auto:
      if stats.stiffSteps == 0 { return "Auto(DP5)" }
      if stats.nonstiffSteps == 0 { return "Auto(Rodas4P2)" }
      return "Auto(DP5+Rodas4P2, \(stats.methodSwitches) switches)"
    }
  }
}

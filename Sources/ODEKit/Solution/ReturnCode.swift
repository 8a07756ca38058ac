/// How an integration ended. Failures keep the partial solution up to the failure time.
public enum ReturnCode: String, Sendable, Codable, CaseIterable {
  /// Reached the end of the time span.
  case success = "Success"
  /// A state event asked to stop.
  case terminated = "Terminated"
  /// `maxSteps` accepted-or-rejected steps were taken before the end.
  case maxSteps = "MaxSteps"
  /// The step size fell below `minStep`.
  case stepSizeTooSmall = "StepSizeTooSmall"
  /// The solution or its error estimate became NaN or infinite and could not be recovered.
  case unstable = "Unstable"
  /// ``SolverOptions/interrupt`` asked to stop.
  case interrupted = "Interrupted"
  /// More than 1000 event executions at one time (events that
  /// retrigger each other without end): stopped there, the solution so far kept.
  case eventCascade = "EventCascade"

  /// `true` for `success` and `terminated`.
  public var isSuccessful: Bool { self == .success || self == .terminated }
}

/// Counters of the work an integration did.
public struct SolverStats: Sendable, Equatable, Codable {
  public var rhsEvaluations = 0
  public var jacobianEvaluations = 0
  public var luDecompositions = 0
  public var linearSolves = 0
  /// Factorisations along the sparsity pattern that a small pivot sent to dense LU.
  public var sparseFallbacks = 0
  public var acceptedSteps = 0
  public var rejectedSteps = 0
  /// Accepted steps taken by the explicit method.
  public var nonstiffSteps = 0
  /// Accepted steps taken by the stiff method.
  public var stiffSteps = 0
  /// Number of switches between the explicit and the stiff method.
  public var methodSwitches = 0
  /// Number of discontinuities (doses, time events, state events) applied.
  public var events = 0

  public init() {}
  /// Total steps attempted.
  public var steps: Int { acceptedSteps + rejectedSteps }

  /// Adds another run's counters (work summed over a population).
  public mutating func add(_ o: SolverStats) {
    rhsEvaluations += o.rhsEvaluations
    jacobianEvaluations += o.jacobianEvaluations
    luDecompositions += o.luDecompositions
    linearSolves += o.linearSolves
    sparseFallbacks += o.sparseFallbacks
    acceptedSteps += o.acceptedSteps
    rejectedSteps += o.rejectedSteps
    nonstiffSteps += o.nonstiffSteps
    stiffSteps += o.stiffSteps
    methodSwitches += o.methodSwitches
    events += o.events
  }
}

/// A dose into one state, in the NONMEM event-record sense.
///
/// - A bolus (`duration == 0`) adds `amount` to state `target` at `time`.
/// - A zero-order infusion (`duration > 0`) adds `amount / duration` per unit time to
///   `d target/dt` from `time` to `time + duration`.
/// - `interval` (II) and `additional` (ADDL) repeat the dose `additional` more times,
///   every `interval`.
///
/// Every start and end of a dose is a discontinuity: the integrator stops there and
/// restarts.
public struct Dose: Sendable, Equatable {
  public var time: Double
  public var target: Int
  public var amount: Double
  public var duration: Double
  public var interval: Double
  public var additional: Int
  public var label: String

  public init(
    time: Double, target: Int, amount: Double, duration: Double = 0,
    interval: Double = 0, additional: Int = 0, label: String = "dose"
  ) {
    precondition(amount.isFinite && amount >= 0, "a dose amount must be finite and non-negative")
    precondition(duration.isFinite && duration >= 0, "an infusion duration must be finite and non-negative")
    precondition(additional >= 0 && (additional == 0 || interval > 0), "ADDL > 0 needs II > 0")
    self.time = time
    self.target = target
    self.amount = amount
    self.duration = duration
    self.interval = interval
    self.additional = additional
    self.label = label
  }

  /// The individual administrations this record stands for (ADDL expanded).
  public var administrations: [Dose] {
    (0...additional).map { i in
      Dose(
        time: time + Double(i) * interval, target: target, amount: amount,
        duration: duration, label: label)
    }
  }
}

/// An action at a preset time that is not a dose: for example setting a state to a
/// value (a lymphodepletion reset). Runs after infusion ends and before doses at the
/// same time (see ``ODEProblem`` and Guides/Events.md for the full order).
public struct TimeEvent {
  public var time: Double
  public var label: String
  public var action: (Double, inout [Double]) -> Void

  public init(time: Double, label: String, action: @escaping (Double, inout [Double]) -> Void) {
    self.time = time
    self.label = label
    self.action = action
  }
}

/// What the integrator does after a state event's action.
public enum EventOutcome: Sendable, Equatable {
  case `continue`
  case terminate
  /// Run the event's ``StateEvent/delayedAction`` `delay` time units later with `payload`
  /// (for example values captured at trigger time).
  case schedule(delay: Double, payload: [Double])
}

/// An event located by root finding: it fires when `condition(t, u)` crosses zero in the
/// given direction; its action may change the state or stop the integration.
public struct StateEvent {
  public enum Direction: Sendable { case up, down, either }
  /// Evaluates the conditions of all the events of a problem at one point in one call
  /// (``ODEProblem/conditionScan``): writes into `g[i]` exactly what event `i`'s
  /// ``condition`` returns at (`t`, `u`), for every event without an ``exactTime`` (the
  /// others it may leave alone).
  public typealias Scan = (_ t: Double, _ u: UnsafeBufferPointer<Double>, _ g: UnsafeMutablePointer<Double>) -> Void
  public var label: String
  public var direction: Direction
  public var condition: (Double, UnsafeBufferPointer<Double>) -> Double
  public var action: (Double, inout [Double]) -> EventOutcome
  /// Fire at the start time if the condition already holds there (an SBML trigger with
  /// `initialValue = false`). Otherwise only crossings after the start fire.
  public var fireIfTrueAtStart: Bool
  /// Runs when a scheduled execution (see ``EventOutcome/schedule(delay:payload:)``) is due.
  public var delayedAction: ((Double, inout [Double], [Double]) -> EventOutcome)?
  /// Drop this event's scheduled executions when its condition falls back below zero
  /// (an SBML trigger with `persistent = false`).
  public var cancelsWhenFalse = false
  /// The time the condition becomes true, when it is known in advance (a trigger
  /// `time ≥ c`): the integrator then lands on it exactly instead of root finding, so the
  /// event happens at `c` and an output at `c` shows the state after it. The condition
  /// must then be `t ≥ c ? 1 : −1`: while stepping, the integrator evaluates it as such
  /// without calling ``condition``.
  public var exactTime: Double?
  /// Orders events due at the same time: higher first (ties by index). Evaluated when due.
  public var priority: ((Double, UnsafeBufferPointer<Double>) -> Double)?

  public init(
    label: String, direction: Direction = .either,
    condition: @escaping (Double, UnsafeBufferPointer<Double>) -> Double,
    action: @escaping (Double, inout [Double]) -> EventOutcome,
    fireIfTrueAtStart: Bool = false
  ) {
    self.label = label
    self.direction = direction
    self.condition = condition
    self.action = action
    self.fireIfTrueAtStart = fireIfTrueAtStart
  }
}

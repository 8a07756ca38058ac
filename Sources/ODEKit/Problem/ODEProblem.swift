/// An initial value problem: a system, its initial state, a time span and the
/// discontinuities that act on it (doses, preset-time actions, state events).
///
/// A problem never holds solver state; it can be solved any number of times.
public struct ODEProblem<System: ODESystem> {
  public var system: System
  public var u0: [Double]
  public var tspan: (start: Double, end: Double)
  /// Bolus doses, zero-order infusions and repeated doses.
  public var doses: [Dose]
  /// Actions at preset times that are not doses (e.g. setting a state).
  public var timeEvents: [TimeEvent]
  /// Events located by root finding on a condition of the state.
  public var stateEvents: [StateEvent]
  /// The conditions of all of ``stateEvents`` in one call, if the system has such an
  /// evaluation: the integrator then uses it for the test after every step (where it
  /// would call each condition in turn) and calls the conditions one by one only to locate
  /// a root. It must give the conditions' values bit for bit (``StateEvent/Scan``).
  public var conditionScan: StateEvent.Scan?

  public init(
    system: System, u0: [Double], tspan: (Double, Double),
    doses: [Dose] = [], timeEvents: [TimeEvent] = [], stateEvents: [StateEvent] = [], conditionScan: StateEvent.Scan? = nil
  ) {
    precondition(u0.count == system.dimension, "u0 has \(u0.count) elements, the system \(system.dimension)")
    precondition(tspan.1 >= tspan.0, "the time span must not run backwards")
    self.system = system
    self.u0 = u0
    self.tspan = (tspan.0, tspan.1)
    self.doses = doses
    self.timeEvents = timeEvents
    self.stateEvents = stateEvents
    self.conditionScan = conditionScan
  }
}

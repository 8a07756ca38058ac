/// The integration method.
public enum ODEMethod: String, Sendable, Codable, CaseIterable {
  /// Dormand–Prince 5(4): explicit, adaptive, FSAL, 4th-order dense output
  /// (Dormand & Prince 1980, doi:10.1016/0771-050X(80)90013-3; dense output of Shampine 1986).
  case dp5 = "dp5"
  /// Rodas4: L-stable Rosenbrock method of order 4(3), stiffly accurate, 3rd-order dense
  /// output (Hairer & Wanner, Solving ODEs II, 2nd ed., §VI.4).
  case rodas4 = "rodas4"
  /// Rodas4P2: Rodas4's structure with Steinebach's 2020 coefficients, which keep the order on
  /// stiff components that follow a moving quasi-steady state (the Prothero–Robinson problem),
  /// where Rodas4's error estimate holds the step small; see ``RosenbrockTableau/rodas4P2``.
  case rodas4p2 = "rodas4p2"
  /// Starts with DP5 and switches to Rodas4P2 when stiffness is detected (Hairer's
  /// dopri5 test `h·ρ > 3.25`); switches back when `h·‖J‖∞` is inside DP5's stability region.
  case auto = "auto"
  /// Variable-order (1–5) numerical differentiation formulas, a BDF variant, with a modified
  /// Newton iteration that keeps its Jacobian and factors while they serve (Shampine &
  /// Reichelt 1997, doi:10.1137/S1064827594276424; see ``BDF``).
  case bdf = "bdf"
  /// Dormand–Prince 8(5,3): explicit, adaptive, FSAL, 7th-order dense output (Prince &
  /// Dormand 1981, doi:10.1016/0771-050X(81)90010-3; Hairer's `dop853.f`). For non-stiff
  /// problems at tight tolerances; it has no stiffness switch.
  case dop853 = "dop853"
}

/// Tolerances and limits of an integration.
public struct SolverOptions: Sendable {
  /// Relative tolerance.
  public var rtol: Double
  /// Absolute tolerances, one per state (a single value applies to all).
  public var atol: [Double]
  /// Times at which the solution is returned (sorted ascending; outside the span ignored).
  public var saveAt: [Double]
  /// Maximum number of step attempts.
  public var maxSteps: Int
  /// Smallest step allowed before giving up with ``ReturnCode/stepSizeTooSmall``.
  public var minStep: Double
  /// Largest step allowed (`.infinity` for none).
  public var maxStep: Double
  /// First step; `nil` chooses it automatically.
  public var initialStep: Double?
  /// Components projected to `max(0, u)` after every step (amounts, cell counts).
  public var nonNegative: [Int]
  /// Polled every 64 steps; returning `true` stops the run with ``ReturnCode/interrupted``
  /// (a wall-clock limit, a cancelled job).
  public var interrupt: (@Sendable () -> Bool)?
  /// Called with (t, u) at the start, after every accepted step, just before events change
  /// the state and just after (so a jump appears as two records at one time). Delay
  /// equations keep their history with it.
  public var observer: (@Sendable (Double, UnsafeBufferPointer<Double>) -> Void)?
  /// With a seed, simultaneous events of equal priority run in a random order (as SBML
  /// asks); without, in index order.
  public var tieSeed: UInt64?
  /// Steps end exactly on every `saveAt` time (conditions are then checked there).
  public var landOnSaveAt = false
  /// Highest order of ``ODEMethod/bdf`` (1…5, as CVODE's `maxord`); 1 is backward Euler's
  /// NDF counterpart, of order 1.
  public var maxOrder = BDF.maxOrder
  /// Only the first this many components take part in the error test and in choosing the
  /// step size (nil: all). Forward sensitivities appended after the state then ride on the
  /// state's steps, as in CVODES with `errconS` false. With the explicit methods the state's
  /// values are then those of the same system solved without them, to the bit (Rodas4 and BDF
  /// solve linear systems of the whole system, which round differently).
  public var errorControlled: Int? = nil
  /// `auto` starts with Rodas4 instead of DP5 (a run continued from where it was stiff; the
  /// back-switch test still returns to DP5 when it is not).
  public var startStiff = false

  public init(
    rtol: Double = 1e-6, atol: [Double] = [1e-10], saveAt: [Double] = [],
    maxSteps: Int = 1_000_000, minStep: Double = 0, maxStep: Double = .infinity,
    initialStep: Double? = nil, nonNegative: [Int] = []
  ) {
    self.rtol = rtol
    self.atol = atol
    self.saveAt = saveAt
    self.maxSteps = maxSteps
    self.minStep = minStep
    self.maxStep = maxStep
    self.initialStep = initialStep
    self.nonNegative = nonNegative
    self.interrupt = nil
    self.observer = nil
    self.tieSeed = nil
  }
}

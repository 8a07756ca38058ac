import RealModule

/// The PI step-size controller of Hairer's dopri5 (β = 0.04; Hairer, Nørsett & Wanner,
/// Solving ODEs I, §II.4) after an accepted step of a method of error order `q`:
/// fac = 0.9·err^−(1/q − 0.75β)·errOld^β, with errOld the last accepted step's error, at
/// least 1e-4. Worked in logarithms, carrying log errOld from step to step: one log and one
/// exp a step, where the two powers cost twice as much (5–9% of a small model's time).
@usableFromInline
enum StepControl {
  /// log(1e-4) = −9.210340371976182, the floor of log errOld.
  @inlinable static var logErrFloor: Double { -9.210340371976182 }

  /// The step-size factor (before its limits) from the step's log error and the last one's.
  @inlinable
  static func piFactor(logErr: Double, logErrOld: Double, q: Double) -> Double {
    0.9 * Double.exp(-(1 / q - 0.03) * logErr + 0.04 * logErrOld)
  }
}

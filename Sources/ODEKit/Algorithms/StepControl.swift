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

  /// After an accepted step with error `err`: the factor for the next step size, limited to
  /// [0.2, 6] (to 1 right after a rejection), and the log errOld to carry on. `plain` takes
  /// the controller without the errOld term (DOP853's, as `dop853.f`).
  @inlinable
  static func accepted(
    err: Double, q: Double, logErrOld: Double, afterRejection: Bool, plain: Bool = false
  ) -> (factor: Double, logErrOld: Double) {
    let logErr = Double.log(max(err, 1e-10))
    let fac = plain ? 0.9 * Double.exp(-logErr / q) : piFactor(logErr: logErr, logErrOld: logErrOld, q: q)
    return (min(max(fac, 0.2), afterRejection ? 1 : 6), max(logErr, logErrFloor))
  }

  /// The step-size factor after a rejected step with error `err`.
  @inlinable
  static func rejected(err: Double, q: Double) -> Double { max(0.2, 0.9 * Double.pow(err, -1 / q)) }
}

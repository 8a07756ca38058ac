/// Coefficients of the Dormand–Prince 5(4) pair (DOPRI5) with Shampine's dense output.
///
/// J. R. Dormand, P. J. Prince, "A family of embedded Runge-Kutta formulae",
/// J. Comput. Appl. Math. 6 (1980) 19–26, doi:10.1016/0771-050X(80)90013-3.
/// Dense output: L. F. Shampine, "Some practical Runge-Kutta formulas", Math. Comp. 46
/// (1986) 135–150, as used in Hairer's `dopri5.f`. Order 5, embedded order 4, FSAL.
public enum DormandPrince5 {
  public static let c2 = 1.0 / 5, c3 = 3.0 / 10, c4 = 4.0 / 5, c5 = 8.0 / 9
  public static let a21 = 1.0 / 5
  public static let a31 = 3.0 / 40, a32 = 9.0 / 40
  public static let a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9
  public static let a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561, a54 = -212.0 / 729
  public static let a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
    a65 = -5103.0 / 18656
  /// Fifth-order weights (`b`), equal to the last row of `A` (FSAL).
  public static let b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192, b5 = -2187.0 / 6784, b6 = 11.0 / 84
  /// `b − b̂`: the error estimate weights.
  public static let e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
    e6 = 22.0 / 525, e7 = -1.0 / 40
  /// Dense output (Shampine 1986).
  public static let d1 = -12715105075.0 / 11282082432, d3 = 87487479700.0 / 32700410799,
    d4 = -10690763975.0 / 1880347072, d5 = 701980252875.0 / 199316789632,
    d6 = -1453857185.0 / 822651844, d7 = 69997945.0 / 29380423

  /// The Butcher tableau as arrays, for order-condition checks.
  public static var tableau: (a: [[Double]], b: [Double], bHat: [Double], c: [Double]) {
    let a: [[Double]] = [
      [], [a21], [a31, a32], [a41, a42, a43], [a51, a52, a53, a54], [a61, a62, a63, a64, a65],
      [b1, 0, b3, b4, b5, b6],
    ]
    let b = [b1, 0, b3, b4, b5, b6, 0]
    let e = [e1, 0, e3, e4, e5, e6, e7]
    let bHat = zip(b, e).map { $0 - $1 }
    return (a, b, bHat, [0, c2, c3, c4, c5, 1, 1])
  }
}

/// Classic stiff test problems with their initial values and spans, for the tests (against
/// reference solutions in `Tests/ODEKitTests/Fixtures`) and `cartsim bench --stiff-set`.
///
/// Sources: E. Hairer, G. Wanner, Solving Ordinary Differential Equations II, 2nd ed., Springer
/// 1996, §IV.1 and §IV.10; F. Mazzia, C. Magherini, Test Set for Initial Value Problem Solvers,
/// release 2.4, University of Bari 2008 (HIRES, OREGO and POLLU as written there).
public enum StiffTestSet {
  /// A problem of the set: its system, initial state and end time (it starts at 0).
  public struct Problem: Sendable {
    public let name: String
    public let system: ODEFunction
    public let u0: [Double]
    public let end: Double
  }

  /// ROBER, Robertson's chemical kinetics, with its analytic Jacobian; from (1, 0, 0).
  public static let rober = ODEFunction(
    dimension: 3, isAutonomous: true,
    jacobian: { _, y, J in
      J[0] = -0.04
      J[1] = 1e4 * y[2]
      J[2] = 1e4 * y[1]
      J[3] = 0.04
      J[4] = -1e4 * y[2] - 6e7 * y[1]
      J[5] = -1e4 * y[1]
      J[6] = 0
      J[7] = 6e7 * y[1]
      J[8] = 0
    }
  ) { _, y, dy in
    dy[0] = -0.04 * y[0] + 1e4 * y[1] * y[2]
    dy[1] = 0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] * y[1]
    dy[2] = 3e7 * y[1] * y[1]
  }

  /// The Van der Pol oscillator y1' = y2, y2' = μ(1 − y1²)y2 − y1 (unscaled), with its Jacobian.
  public static func vanDerPol(mu: Double) -> ODEFunction {
    ODEFunction(
      dimension: 2, isAutonomous: true,
      jacobian: { _, y, J in
        J[0] = 0
        J[1] = 1
        J[2] = -2 * mu * y[0] * y[1] - 1
        J[3] = mu * (1 - y[0] * y[0])
      }
    ) { _, y, dy in
      dy[0] = y[1]
      dy[1] = mu * (1 - y[0] * y[0]) * y[1] - y[0]
    }
  }

  /// HIRES (Schäfer 1975), 8 components; Jacobian by finite differences.
  public static let hires = ODEFunction(dimension: 8, isAutonomous: true) { _, y, f in
    f[0] = -1.71 * y[0] + 0.43 * y[1] + 8.32 * y[2] + 0.0007
    f[1] = 1.71 * y[0] - 8.75 * y[1]
    f[2] = -10.03 * y[2] + 0.43 * y[3] + 0.035 * y[4]
    f[3] = 8.32 * y[1] + 1.71 * y[2] - 1.12 * y[3]
    f[4] = -1.745 * y[4] + 0.43 * y[5] + 0.43 * y[6]
    f[5] = -280 * y[5] * y[7] + 0.69 * y[3] + 1.71 * y[4] - 0.43 * y[5] + 0.69 * y[6]
    f[6] = 280 * y[5] * y[7] - 1.81 * y[6]
    f[7] = -280 * y[5] * y[7] + 1.81 * y[6]
  }

  /// OREGO, the Oregonator; Jacobian by finite differences.
  public static let orego = ODEFunction(dimension: 3, isAutonomous: true) { _, y, f in
    f[0] = 77.27 * (y[1] + y[0] * (1 - 8.375e-6 * y[0] - y[1]))
    f[1] = (y[2] - (1 + y[0]) * y[1]) / 77.27
    f[2] = 0.161 * (y[0] - y[2])
  }

  /// POLLU, the air-pollution model of the Dutch National Institute of Public Health (Verwer
  /// 1994): 20 species, 25 reactions; Jacobian by finite differences.
  public static let pollu = ODEFunction(dimension: 20, isAutonomous: true) { _, y, f in
    // Rate constants k1 … k25 and rates r1 … r25 (1-based in the test set: y(i) is y[i − 1]).
    let r1 = 0.35 * y[0], r2 = 0.266e2 * y[1] * y[3], r3 = 0.123e5 * y[4] * y[1], r4 = 0.86e-3 * y[6]
    let r5 = 0.82e-3 * y[6], r6 = 0.15e5 * y[6] * y[5], r7 = 0.13e-3 * y[8], r8 = 0.24e5 * y[8] * y[5]
    let r9 = 0.165e5 * y[10] * y[1], r10 = 0.9e4 * y[10] * y[0], r11 = 0.22e-1 * y[12], r12 = 0.12e5 * y[9] * y[1]
    let r13 = 0.188e1 * y[13], r14 = 0.163e5 * y[0] * y[5], r15 = 0.48e7 * y[2], r16 = 0.35e-3 * y[3]
    let r17 = 0.175e-1 * y[3], r18 = 0.1e9 * y[15], r19 = 0.444e12 * y[15], r20 = 0.124e4 * y[16] * y[5]
    let r21 = 0.21e1 * y[18], r22 = 0.578e1 * y[18], r23 = 0.474e-1 * y[0] * y[3], r24 = 0.178e4 * y[18] * y[0]
    let r25 = 0.312e1 * y[19]
    f[0] = -r1 - r10 - r14 - r23 - r24 + r2 + r3 + r9 + r11 + r12 + r22 + r25
    f[1] = -r2 - r3 - r9 - r12 + r1 + r21
    f[2] = -r15 + r1 + r17 + r19 + r22
    f[3] = -r2 - r16 - r17 - r23 + r15
    f[4] = -r3 + 2 * r4 + r6 + r7 + r13 + r20
    f[5] = -r6 - r8 - r14 - r20 + r3 + 2 * r18
    f[6] = -r4 - r5 - r6 + r13
    f[7] = r4 + r5 + r6 + r7
    f[8] = -r7 - r8
    f[9] = -r12 + r7 + r9
    f[10] = -r9 - r10 + r8 + r11
    f[11] = r9
    f[12] = -r11 + r10
    f[13] = -r13 + r12
    f[14] = r14
    f[15] = -r18 - r19 + r16
    f[16] = -r20
    f[17] = r20
    f[18] = -r21 - r22 - r24 + r23 + r25
    f[19] = -r25 + r24
  }

  /// POLLU's initial state: 0 except y2 = 0.2, y4 = 0.04, y7 = 0.1, y8 = 0.3, y9 = 0.01, y17 = 0.007.
  public static var polluStart: [Double] {
    var u = [Double](repeating: 0, count: 20)
    for (i, v) in [(1, 0.2), (3, 0.04), (6, 0.1), (7, 0.3), (8, 0.01), (16, 0.007)] { u[i] = v }
    return u
  }

  /// HIRES's initial state: y1 = 1, y8 = 0.0057, else 0.
  public static var hiresStart: [Double] {
    var u = [Double](repeating: 0, count: 8)
    u[0] = 1
    u[7] = 0.0057
    return u
  }

  /// The five problems over the spans of the test set (Van der Pol: μ = 1000 over two periods).
  public static var all: [Problem] {
    [
      Problem(name: "ROBER", system: rober, u0: [1, 0, 0], end: 1e5),
      Problem(name: "HIRES", system: hires, u0: hiresStart, end: 321.8122),
      Problem(name: "VdP μ=1000", system: vanDerPol(mu: 1000), u0: [2, 0], end: 3000),
      Problem(name: "OREGO", system: orego, u0: [1, 2, 3], end: 360),
      Problem(name: "POLLU", system: pollu, u0: polluStart, end: 60),
    ]
  }
}

import ODEKit
import RealModule

/// The analytic Jacobian of ``HEROSSystem`` and its sparsity pattern.
///
/// The stiff solvers (Rodas4, Rodas4P2, and `auto` in its stiff phases) would otherwise take it by
/// finite differences: 17 right-hand sides per Jacobian, a tenth of a trial's time. With it,
/// The Rosenbrock methods factorise their iteration matrices along the pattern (``SparseLU``) instead of
/// dense. Each entry is the derivative of the matching term of ``HEROSSystem/rhs(t:u:du:)``;
/// `HEROSJacobianTests` compares them with central differences at states across the
/// model's range.
extension HEROSSystem {
  public var hasAnalyticJacobian: Bool { true }
  public var sparsity: SparseLU? { HEROSSystem.sparsePlan }

  /// The structural non-zeros, as (row, column) = (∂ du[row], ∂ u[column]).
  public static let pattern: [(Int, Int)] = {
    typealias S = HEROSModel.S
    let rows: [(Int, [Int])] = [
      (S.F1, [S.F1, S.F2, S.F3]), (S.F2, [S.F1, S.F2]), (S.F3, [S.F1, S.F3]), (S.CY, [S.CY]),
      (S.P1, [S.P1, S.P2]), (S.P2, [S.P1, S.P2]), (S.CH, [S.CH]),
      (S.N, [S.F1, S.CY, S.CH, S.N, S.EB, S.MB]),
      (S.EB, [S.F1, S.CY, S.CH, S.N, S.EB, S.MB, S.ET, S.SH]),
      (S.MB, [S.F1, S.CY, S.CH, S.N, S.EB, S.MB, S.SH]),
      (S.ET, [S.P1, S.EB, S.ET, S.XR, S.SH, S.Fi]),
      (S.XR, [S.P1, S.ET, S.XR, S.Fi]),
      (S.XT, [S.XR, S.XT, S.Fi]),
      (S.SH, [S.P1, S.CH, S.ET, S.SH, S.SL]),
      (S.SL, [S.P1, S.CH, S.ET, S.SH, S.SL]),
      (S.Fi, [S.P1, S.ET, S.SH, S.SL, S.Fi]),
      (S.IL6, [S.ET, S.SH, S.IL6]),
    ]
    return rows.flatMap { row, columns in columns.map { (row, $0) } }
  }()

  /// One factorisation plan for every patient: the pattern does not depend on the parameters.
  static let sparsePlan = SparseLU(n: 17, pattern: pattern.map { $0.0 * 17 + $0.1 })

  /// `x^n / (1 + x^n)` with `x` in units of `k`, and its derivative in `x`. At `x ≤ 0`,
  /// where the function is 0, the derivative from the right: 1/k for n = 1, 0 for n > 1
  /// (and 0 for n < 1, where it is infinite: the solver's iteration matrix needs a finite
  /// entry at the kink, which the error control then steps across).
  @inline(__always)
  func hillAndSlope(_ x: Double, _ k: Double, _ n: Double) -> (value: Double, slope: Double) {
    if x <= 0 { return (0, n == 1 ? 1 / k : 0) }
    let v = hill(x, k, n)
    // d/dx [r^n / (1 + r^n)] = n r^n / (x (1 + r^n)^2) = n · v · (1 − v) / x.
    return (v, n * v * (1 - v) / x)
  }

  public func jacobian(t: Double, u: UnsafeBufferPointer<Double>, J: UnsafeMutableBufferPointer<Double>) {
    let n17 = 17
    for i in 0..<(n17 * n17) { J[i] = 0 }
    @inline(__always) func set(_ i: Int, _ j: Int, _ v: Double) { J[i * n17 + j] = v }
    @inline(__always) func add(_ i: Int, _ j: Int, _ v: Double) { J[i * n17 + j] += v }

    let f1 = u[S.F1], cyA = u[S.CY], p1 = u[S.P1], ch = u[S.CH]
    let n = u[S.N], eb = u[S.EB], mb = u[S.MB], et = u[S.ET], xr = u[S.XR]
    let sh = u[S.SH], sl = u[S.SL], fi = u[S.Fi]

    // Linear PK and the chemotherapy effect.
    set(S.F1, S.F1, -(k10 + k12 + k13))
    set(S.F1, S.F2, k21)
    set(S.F1, S.F3, k31)
    set(S.F2, S.F1, k12)
    set(S.F2, S.F2, -k21)
    set(S.F3, S.F1, k13)
    set(S.F3, S.F3, -k31)
    set(S.CY, S.CY, -kcy)
    set(S.P1, S.P1, -(kelP + k12P))
    set(S.P1, S.P2, k21P)
    set(S.P2, S.P1, k12P)
    set(S.P2, S.P2, -k21P)
    set(S.CH, S.CH, -gammaCH)

    // Intermediates of rhs and their derivatives.
    let cFlu = 1000 * f1 / V1, cCy = cyA / Vcy, cPem = p1 / VcP
    let total = n + eb + mb
    let L = max(total, 1)
    let dL: Double = total > 1 ? 1 : 0  // ∂L/∂N = ∂L/∂E_B = ∂L/∂M_B
    let dev = L - KN
    let D = aC * L * L + dev * dev
    let rC = rhoC + bC * dev * dev / D
    let drC = bC * 2 * aC * L * dev * KN / (D * D)  // ∂rC/∂L
    let lnL = Double.log(L)
    let hm = -rC * (lnL - lnKC)
    let dhm = -(drC * (lnL - lnKC) + rC / L) * dL  // ∂hm/∂(N, E_B or M_B)
    let ldKill = kmaxFlu * cFlu / (ec50Flu + cFlu) + kmaxCy * cCy / (ec50Cy + cCy)
    let ldF1 = kmaxFlu * ec50Flu / ((ec50Flu + cFlu) * (ec50Flu + cFlu)) * 1000 / V1  // ∂ldKill/∂F1
    let ldCY = kmaxCy * ec50Cy / ((ec50Cy + cCy) * (ec50Cy + cCy)) / Vcy  // ∂ldKill/∂CY
    let chT = KTC * ch, chL = KLC * ch
    let occ = cPem / (cPem + ec50PD1)
    let dOcc = ec50PD1 / ((cPem + ec50PD1) * (cPem + ec50PD1)) / VcP  // ∂occ/∂P1
    let phiPD = 1 - imaxPD * (1 - occ)
    let dPhi = imaxPD * dOcc
    let fB = sh / (sh + hB)
    let dFB = hB / ((sh + hB) * (sh + hB))
    let denom = xiKill * (sh + sl) + et + 1
    let gain = gammaB * gAg
    let kpc = gain * phiPD * et / denom
    let kpcP1 = gain * dPhi * et / denom
    let kpcET = gain * phiPD * (xiKill * (sh + sl) + 1) / (denom * denom)
    let kpcS = -gain * phiPD * et * xiKill / (denom * denom)  // ∂/∂S_H = ∂/∂S_L
    let (s1, ds1) = hillAndSlope(fi, F1, nF)
    let (s2, ds2) = hillAndSlope(fi, F2, nF)
    let rescue = g2 * (1 - s1) + pd1Max * occ
    let lymphLoss = ldKill + chL
    let carLoss = ldCAR * ldKill + chL

    // N = −rN·N·log(L/K_N) − lymphLoss·N.
    set(S.N, S.N, -rN * (lnL - lnKN) - lymphLoss)
    add(S.N, S.N, -rN * n * dL / L)
    set(S.N, S.EB, -rN * n * dL / L)
    set(S.N, S.MB, -rN * n * dL / L)
    set(S.N, S.F1, -n * ldF1)
    set(S.N, S.CY, -n * ldCY)
    set(S.N, S.CH, -n * KLC)

    // E_B and M_B.
    set(S.EB, S.EB, hm - dE - kin * phiInf - aE * (1 - fB) - carLoss + dhm * eb)
    set(S.EB, S.N, dhm * eb)
    set(S.EB, S.MB, dhm * eb + aM * fB)
    set(S.EB, S.ET, kout)
    set(S.EB, S.SH, (aE * eb + aM * mb) * dFB)
    set(S.EB, S.F1, -ldCAR * ldF1 * eb)
    set(S.EB, S.CY, -ldCAR * ldCY * eb)
    set(S.EB, S.CH, -KLC * eb)
    set(S.MB, S.MB, hm - dM - aM * fB - carLoss + dhm * mb)
    set(S.MB, S.N, dhm * mb)
    set(S.MB, S.EB, dhm * mb + aE * (1 - fB))
    set(S.MB, S.SH, -(aE * eb + aM * mb) * dFB)
    set(S.MB, S.F1, -ldCAR * ldF1 * mb)
    set(S.MB, S.CY, -ldCAR * ldCY * mb)
    set(S.MB, S.CH, -KLC * mb)

    // E_T, X_R, X_T.
    set(S.ET, S.EB, kin * phiInf)
    set(S.ET, S.ET, -kout + rhoAg * gAg * phiPD * fB - g1 * s1 - dET)
    set(S.ET, S.P1, rhoAg * gAg * dPhi * fB * et + pd1Max * dOcc * xr)
    set(S.ET, S.SH, rhoAg * gAg * phiPD * dFB * et)
    set(S.ET, S.Fi, -g1 * ds1 * et - g2 * ds1 * xr)
    set(S.ET, S.XR, rescue)
    set(S.XR, S.ET, g1 * s1)
    set(S.XR, S.XR, -rescue - g3 * s2 - dX)
    set(S.XR, S.Fi, g1 * ds1 * et + g2 * ds1 * xr - g3 * ds2 * xr)
    set(S.XR, S.P1, -pd1Max * dOcc * xr)
    set(S.XT, S.XR, g3 * s2)
    set(S.XT, S.XT, -dXT)
    set(S.XT, S.Fi, g3 * ds2 * xr)

    // Tumour: S_H, S_L; kill = kpc·S_H.
    let growth = rT * (1 - (sh + sl) / KT), dGrowth = -rT / KT
    set(S.SH, S.SH, growth + sh * dGrowth - (kpc + sh * kpcS) - muEsc - chT)
    set(S.SH, S.SL, sh * dGrowth - sh * kpcS + muRev)
    set(S.SH, S.ET, -sh * kpcET)
    set(S.SH, S.P1, -sh * kpcP1)
    set(S.SH, S.CH, -KTC * sh)
    set(S.SL, S.SH, sl * dGrowth + muEsc - thetaL * sl * kpcS)
    set(S.SL, S.SL, growth + sl * dGrowth - muRev - chT - thetaL * (kpc + sl * kpcS))
    set(S.SL, S.ET, -thetaL * sl * kpcET)
    set(S.SL, S.P1, -thetaL * sl * kpcP1)
    set(S.SL, S.CH, -KTC * sl)

    // Inflammation driver: bF·kill/killScale − dF·Fi.
    let b = bF / killScale
    set(S.Fi, S.SH, b * (kpc + sh * kpcS))
    set(S.Fi, S.SL, b * sh * kpcS)
    set(S.Fi, S.ET, b * sh * kpcET)
    set(S.Fi, S.P1, b * sh * kpcP1)
    set(S.Fi, S.Fi, -dF)

    // IL-6: kIL6·(IL6_0 − IL6) + P_IL6·hill(activation), activation = E_T/1e9 · gAg · fB.
    let activation = (et / 1e9) * gAg * fB
    let (_, dh) = hillAndSlope(activation, a50IL6, nIL6)
    set(S.IL6, S.IL6, -kIL6)
    set(S.IL6, S.ET, pIL6 * dh * gAg * fB / 1e9)
    set(S.IL6, S.SH, pIL6 * dh * (et / 1e9) * gAg * dFB)
  }
}

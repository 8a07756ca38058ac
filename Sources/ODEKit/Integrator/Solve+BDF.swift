import RealModule

/// The variable-order BDF (NDF) step of ``ODEMethod/bdf`` (constants and formulas in ``BDF``),
/// with the step-size and order control of Shampine & Reichelt (1997) as in SciPy's `BDF`:
/// the Jacobian is kept until a Newton iteration fails to converge, and the order moves by at
/// most one after `k + 1` steps of equal size. As in CVODE, the iteration matrix `I − cJ` is
/// refactorised only when `c = h/α_k` has moved by more than 30% since its factorisation (or
/// the Newton iteration fails); in between, the Newton updates are scaled by `2/(1 + c/c̃)`.
///
/// `bdfStorage` holds, `n` values each: the differences `D_0 … D_{maxOrder+2}` (rows 0–7), the
/// copy of `D_0 … D_k` that the dense output reads (rows 8–13), then the predictor, ψ, the
/// correction `d`, the Newton update, `f` and the reciprocals of the error weights (rows 14–19).
extension _Integrator {
  @inlinable @inline(__always)
  func bdfRow(_ i: Int) -> UnsafeMutablePointer<Double> { bdfStorage.unsafelyUnwrapped + i * n }

  /// Weighted RMS norm of `x` with the weights whose reciprocals are in row 19.
  @inlinable @inline(__always)
  func bdfNorm(_ x: UnsafeMutablePointer<Double>, times c: Double = 1) -> Double {
    let w = bdfRow(19)
    var s = 0.0
    for i in 0..<controlled {
      let r = c * x[i] * w[i]
      s += r * r
    }
    return (s / Double(controlled)).squareRoot()
  }

  /// Rescales the differences `D_0 … D_order` from step `h` to `factor·h` (Shampine &
  /// Reichelt 1997, §2.3: `D ← (R·U)ᵀ D`, `R = R(factor)`, `U = R(1)`).
  @inlinable
  func bdfChangeStep(order: Int, factor: Double) {
    let m = order + 1
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 3 * 36 + 6) { buf in
      let r = buf.baseAddress!, u1 = r + 36, ru = r + 72, v = r + 108
      // R(f)[i][j] = Π_{l=0…i} M[l][j], M[0][j] = 1, M[l][j] = (l − 1 − f·j)/l for l, j ≥ 1.
      func fill(_ out: UnsafeMutablePointer<Double>, _ f: Double) {
        for j in 0..<m { out[j] = 1 }
        for i in 1..<m {
          out[i * m] = 0
          for j in 1..<m { out[i * m + j] = out[(i - 1) * m + j] * (Double(i) - 1 - f * Double(j)) / Double(i) }
        }
      }
      fill(r, factor)
      fill(u1, 1)
      for i in 0..<m {
        for j in 0..<m {
          var s = 0.0
          for l in 0..<m { s += r[i * m + l] * u1[l * m + j] }
          ru[i * m + j] = s
        }
      }
      for c in 0..<n {
        for j in 0..<m { v[j] = bdfRow(j)[c] }
        for j in 0..<m {
          var s = 0.0
          for i in 0..<m { s += ru[i * m + j] * v[i] }
          bdfRow(j)[c] = s
        }
      }
    }
  }

  /// Starts the method at (`t`, `u`) with step `h`: order 1, `D_0 = u`, `D_1 = h·f(t, u)`.
  @inlinable
  func bdfRestart() {
    for r in 0..<8 { bdfRow(r).update(repeating: 0, count: n) }
    bdfRow(0).update(from: u, count: n)
    let d1 = bdfRow(1)
    f(t, u, d1)
    for i in 0..<n { d1[i] *= h }
    bdfOrder = 1
    bdfH = h
    bdfEqualSteps = 0
    fsalValid = true
  }

  /// One step of size `h`; writes `uNew` and returns the error norm (≤ 1: accepted, and the
  /// differences are advanced). Sets `bdfNextFactor`, the factor for the next step size.
  @inlinable
  func bdfStep() -> Double {
    if !fsalValid { bdfRestart() }
    if h != bdfH {
      bdfChangeStep(order: bdfOrder, factor: h / bdfH)
      bdfH = h
      bdfEqualSteps = 0
    }
    let order = bdfOrder
    let tNew = t + h
    let yPred = bdfRow(14), psi = bdfRow(15), d = bdfRow(16), fv = bdfRow(18), w = bdfRow(19)
    for i in 0..<n {
      var s = 0.0
      for j in 0...order { s += bdfRow(j)[i] }
      yPred[i] = s
      w[i] = 1 / (atol[i] + opts.rtol * abs(s))
    }
    let alpha = BDF.alpha[order]
    for i in 0..<n {
      var s = 0.0
      for j in 1...order { s += BDF.gamma[j] * bdfRow(j)[i] }
      psi[i] = s / alpha
    }
    let c = h / alpha
    let tol = max(10 * Double.ulpOfOne / opts.rtol, min(0.03, opts.rtol.squareRoot()))
    var converged = false, iterations = 0
    while true {
      if !bdfHaveJacobian {
        f(t, u, fv)
        jacobianOnPattern = computeJacobian(fv)
        bdfHaveJacobian = true
        bdfJacobianCurrent = true
        bdfFactorised = false
      }
      if !bdfFactorised || abs(c / bdfFactorC - 1) > 0.3 {
        for i in 0..<n { scale[i] = atol[i] + opts.rtol * abs(u[i]) }
        bdfFactorised = factorIterationMatrix(inv: 1 / c)
        bdfFactorC = c
      }
      if bdfFactorised {
        (converged, iterations) = bdfNewton(tNew: tNew, c: c, tol: tol)
      }
      if converged { break }
      if !bdfJacobianCurrent {
        bdfHaveJacobian = false  // a fresh Jacobian and factorisation
      } else if bdfFactorised && bdfFactorC != c {
        bdfFactorised = false  // the current Jacobian, factorised for this step
      } else {
        break
      }
    }
    guard converged else {
      bdfNextFactor = 0.5
      return 2
    }
    let safety = 0.9 * Double(2 * BDF.newtonIterations + 1) / Double(2 * BDF.newtonIterations + iterations)
    for i in 0..<n { w[i] = 1 / (atol[i] + opts.rtol * abs(uNew[i])) }
    let err = bdfNorm(d, times: BDF.errorConstant[order])
    guard err <= 1 else {
      bdfNextFactor = max(BDF.minFactor, safety * Double.pow(err, -1 / Double(order + 1)))
      return err
    }
    // Accepted: advance the differences (D_{k+2} = d − D_{k+1}, D_{k+1} = d, D_j += D_{j+1}).
    bdfJacobianCurrent = false
    bdfEqualSteps += 1
    let dk1 = bdfRow(order + 1), dk2 = bdfRow(order + 2)
    for i in 0..<n {
      dk2[i] = d[i] - dk1[i]
      dk1[i] = d[i]
    }
    for j in stride(from: order, through: 0, by: -1) {
      let a = bdfRow(j), b = bdfRow(j + 1)
      for i in 0..<n { a[i] += b[i] }
    }
    // Dense output: the interpolating polynomial through the last k + 1 points.
    denseKind = .bdf
    denseT0 = tNew
    denseH = h
    bdfDenseOrder = order
    bdfRow(8).update(from: bdfRow(0), count: (order + 1) * n)
    bdfNextFactor = 1
    if bdfEqualSteps >= order + 1 {
      // Order and step-size selection from the error estimates of orders k − 1, k, k + 1.
      let below = order > 1 ? bdfNorm(bdfRow(order), times: BDF.errorConstant[order - 1]) : .infinity
      let above =
        order < min(BDF.maxOrder, max(opts.maxOrder, 1)) ? bdfNorm(bdfRow(order + 2), times: BDF.errorConstant[order + 1]) : .infinity
      let down = Double.pow(below, -1 / Double(order)), same = Double.pow(err, -1 / Double(order + 1))
      let up = Double.pow(above, -1 / Double(order + 2))
      var best = 1, factor = same
      if down > factor { (best, factor) = (0, down) }
      if up > factor { (best, factor) = (2, up) }
      bdfOrder = order + best - 1
      bdfNextFactor = min(BDF.maxFactor, safety * factor)
      bdfEqualSteps = 0
    }
    return err
  }

  /// The modified Newton iteration for the correction `d` (row 16) and `uNew = y⁽⁰⁾ + d`;
  /// returns whether it converged (Shampine & Reichelt's rate test) and the iterations used.
  @inlinable
  func bdfNewton(tNew: Double, c: Double, tol: Double) -> (Bool, Int) {
    let yPred = bdfRow(14), psi = bdfRow(15), d = bdfRow(16), dy = bdfRow(17), fv = bdfRow(18)
    d.update(repeating: 0, count: n)
    uNew.update(from: yPred, count: n)
    var previous = -1.0
    for k in 0..<BDF.newtonIterations {
      f(tNew, uNew, fv)
      var finite = true
      for i in 0..<n where !fv[i].isFinite { finite = false }
      guard finite else { return (false, k + 1) }
      // (I − c̃J) dy = c f − ψ − d with the factors of c̃ = `bdfFactorC`, solved as
      // (I/c̃ − J) dy = (c f − ψ − d)/c̃, and scaled by 2/(1 + c/c̃) (CVODE) when c̃ ≠ c.
      let ic = 1 / bdfFactorC
      for i in 0..<n { dy[i] = (c * fv[i] - psi[i] - d[i]) * ic }
      linsolve(dy)
      if bdfFactorC != c {
        let s = 2 / (1 + c / bdfFactorC)
        for i in 0..<n { dy[i] *= s }
      }
      let norm = bdfNorm(dy)
      let rate = previous > 0 ? norm / previous : -1
      var remaining = 1.0  // rate^(iterations left), by multiplication: `pow` cost 10% of BDF's time
      if rate > 0 { for _ in k..<BDF.newtonIterations { remaining *= rate } }
      if rate >= 1 || (rate > 0 && remaining / (1 - rate) * norm > tol) {
        return (false, k + 1)
      }
      for i in 0..<n {
        uNew[i] += dy[i]
        d[i] += dy[i]
      }
      if norm == 0 || (rate > 0 && rate / (1 - rate) * norm < tol) { return (true, k + 1) }
      previous = norm
    }
    return (false, BDF.newtonIterations)
  }

  /// The BDF dense output at `time` into `out`: `D_0 + Σ_{j=1…k} D_j Π_{l<j} (time − t + l·h)/((l + 1)·h)`.
  @inlinable
  func bdfInterpolate(_ time: Double, _ out: UnsafeMutablePointer<Double>) {
    out.update(from: bdfRow(8), count: n)
    var p = 1.0
    for j in 1...bdfDenseOrder {
      let l = Double(j - 1)
      p *= (time - (denseT0 - denseH * l)) / (denseH * (l + 1))
      let dj = bdfRow(8 + j)
      for i in 0..<n { out[i] += p * dj[i] }
    }
  }
}

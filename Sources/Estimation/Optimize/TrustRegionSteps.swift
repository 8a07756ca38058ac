/// The step candidates of one trust-region iteration, in the affine-scaled space of the free
/// variables (ŝ = s / D, Coleman & Li 1996): the trust-region step and, when it would leave the
/// box, the scaled gradient step and the trust-region step reflected at the bounds it meets,
/// again and again while the reflection meets another bound (fides' "reflect" step-back,
/// Fröhlich & Sorger 2022). Every candidate is stepped back to θ of the way to the next bound;
/// the one with the lowest model value is taken.
struct ScaledStepCandidates {
  /// The point, its bounds and the scaling D (all variables).
  let x: [Double], lower: [Double], upper: [Double], D: [Double]
  /// The variables that may move (D > 0); the scaled vectors run over these.
  let free: [Int]
  /// The model in the scaled space: ½ŝᵀHŝ + gᵀŝ with H = D·B·D + diag(C), g = D·∇f.
  let H: [Double], g: [Double]
  let radius: Double
  /// The fraction of the way to a bound a step may go.
  let theta: Double

  func model(_ s: [Double]) -> Double { 0.5 * dot(s, multiply(H, s)) + dot(g, s) }

  /// The step in the original variables.
  func unscaled(_ s: [Double]) -> [Double] {
    var p = Array(repeating: 0.0, count: x.count)
    for (a, i) in free.enumerated() { p[i] = D[i] * s[a] }
    return p
  }

  /// How far along `s` (a multiple of it) the point x + D·`s0` meets the first bound, and
  /// which scaled variables meet it there (infinity and none if no bound is met).
  func breakpoint(from s0: [Double], along s: [Double]) -> (fraction: Double, hit: [Int]) {
    var fraction = Double.infinity, hit: [Int] = []
    for (a, i) in free.enumerated() where s[a] != 0 {
      let step = D[i] * s[a], at = x[i] + D[i] * s0[a]
      let reach = max((upper[i] - at) / step, (lower[i] - at) / step)
      if reach < fraction {
        fraction = reach
        hit = [a]
      } else if reach == fraction {
        hit.append(a)
      }
    }
    return (fraction, hit)
  }

  /// The τ minimising the model along `s0` + τ·`d` (d of unit length) within the trust region.
  func lineMinimum(from s0: [Double], along d: [Double]) -> Double {
    let Hd = multiply(H, d)
    let curvature = 0.5 * dot(d, Hd), slope = dot(Hd, s0) + dot(d, g)
    if curvature > 0 {
      let t = -slope / (2 * curvature)
      if norm(zip(s0, d).map { $0 + t * $1 }) <= radius { return t }
    }
    // On the trust-region boundary, ‖s0 + τd‖ = Δ: the root with the lower model value.
    let b = 2 * dot(s0, d), c = dot(s0, s0) - radius * radius
    let root = max(b * b - 4 * c, 0).squareRoot()
    let aux = b + (b >= 0 ? root : -root)
    guard aux != 0 else { return 0 }
    let roots = [-aux / 2, -2 * c / aux]
    let values = roots.map { t in model(zip(s0, d).map { $0 + t * $1 }) }
    return values[0] <= values[1] ? roots[0] : roots[1]
  }

  /// The best candidate from the trust-region step `p` (scaled): its total scaled step.
  func best(trustRegionStep p: [Double]) -> [Double] {
    let k = p.count
    let zero = Array(repeating: 0.0, count: k)
    var (fraction, hit) = breakpoint(from: zero, along: p)
    let alpha = min(1, theta * fraction)
    var best = p.map { $0 * alpha }, bestValue = model(best)
    guard alpha < 1, k > 1 else { return best }
    func consider(_ s: [Double]) {
      let v = model(s)
      if v < bestValue {
        best = s
        bestValue = v
      }
    }
    // The scaled gradient direction, stepped back.
    let gn = norm(g)
    if gn > 0 {
      let d = g.map { -$0 / gn }, t = lineMinimum(from: zero, along: d)
      let s = d.map { $0 * t }
      consider(s.map { $0 * min(1, theta * breakpoint(from: zero, along: s).fraction) })
    }
    // Reflections: from where the step meets the bound, on with the components that met it
    // reversed, as far as the model and the trust region allow.
    var s0 = zero, step = p
    for _ in 0..<k {
      let reach = min(fraction, 1)
      for a in 0..<k { s0[a] += reach * step[a] }
      var d = step
      for a in hit { d[a] = -d[a] }
      let dn = norm(d)
      guard dn > 0 else { break }
      d = d.map { $0 / dn }
      let t = lineMinimum(from: s0, along: d)
      step = d.map { $0 * t }
      (fraction, hit) = breakpoint(from: s0, along: step)
      let alpha = min(1, theta * fraction)
      consider(zip(s0, step).map { $0 + alpha * $1 })
      if alpha == 1 { break }
    }
    return best
  }
}

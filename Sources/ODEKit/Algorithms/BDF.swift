/// Constants of the variable-order backward differentiation method: the numerical
/// differentiation formulas (NDF) of orders 1–5 in the quasi-constant step-size form of
/// L. F. Shampine, M. W. Reichelt, "The MATLAB ODE Suite", SIAM J. Sci. Comput. 18 (1997)
/// 1–22, doi:10.1137/S1064827594276424, §2 (the method of MATLAB's `ode15s` and SciPy's `BDF`).
///
/// The solution is carried as backward differences `D_0 = y_n, D_j = ∇^j y_n` scaled to the
/// current step `h`. A step of order `k` predicts `y⁽⁰⁾ = Σ_{j≤k} D_j` and solves for the
/// correction `d = y − y⁽⁰⁾`
///
/// ```
/// d − (h/α_k)·f(t + h, y⁽⁰⁾ + d) + ψ = 0,   ψ = Σ_{j=1…k} γ_j D_j / α_k,   α_k = (1 − κ_k)·γ_k
/// ```
///
/// by a modified Newton iteration with the matrix `I − (h/α_k) J`. The local error is
/// `(κ_k γ_k + 1/(k+1))·d`.
public enum BDF {
  public static let maxOrder = 5
  /// Newton iterations per step before the step is retried (with a fresh Jacobian, then
  /// a halved step).
  public static let newtonIterations = 4
  /// Bounds of the step-size factor after a rejected and an accepted step.
  public static let minFactor = 0.2
  public static let maxFactor = 10.0
  /// κ_k of the NDFs (Shampine & Reichelt 1997, Table 1; 0 for order 5, where the BDF is kept).
  public static let kappa: [Double] = [0, -0.1850, -1.0 / 9, -0.0823, -0.0415, 0]
  /// γ_k = Σ_{j=1…k} 1/j.
  public static let gamma: [Double] = (0...maxOrder).map { (k: Int) -> Double in
    (0..<k).reduce(0.0) { (s: Double, j: Int) -> Double in s + 1 / Double(j + 1) }
  }
  /// α_k = (1 − κ_k)·γ_k.
  public static let alpha: [Double] = (0...maxOrder).map { (k: Int) -> Double in (1 - kappa[k]) * gamma[k] }
  /// The local error constant κ_k γ_k + 1/(k+1).
  public static let errorConstant: [Double] = (0...maxOrder).map { (k: Int) -> Double in
    let kg: Double = kappa[k] * gamma[k]
    return kg + 1 / Double(k + 1)
  }
}

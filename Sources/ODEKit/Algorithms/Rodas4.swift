/// Coefficients of Rodas4, an L-stable, stiffly accurate Rosenbrock method of order 4
/// with an embedded method of order 3 and a 3rd-order dense output.
///
/// E. Hairer, G. Wanner, Solving Ordinary Differential Equations II, 2nd ed., Springer
/// 1996, §VI.4, Table 4.2 and the code `rodas.f` (METH = 1), in the transformed
/// variables `k_i = Σ γ_ij h f...` that avoid matrix-vector products:
///
/// ```
/// E = I/(γh) − J
/// E k_i = f(t + c_i h, u + Σ_{j<i} a_ij k_j) + Σ_{j<i} (C_ij/h) k_j + h d_i ∂f/∂t
/// u_new = u + Σ a_6j k_j + k_6        (stiffly accurate: the last stage is the solution)
/// error = k_6
/// ```
public enum Rodas4 {
  public static let gamma = 0.25
  public static let c2 = 0.386, c3 = 0.21, c4 = 0.63
  public static let a21 = 1.544
  public static let a31 = 0.9466785280815826, a32 = 0.2557011698983284
  public static let a41 = 3.314825187068521, a42 = 2.896124015972201, a43 = 0.9986419139977817
  public static let a51 = 1.221224509226641, a52 = 6.019134481288629, a53 = 12.53708332932087,
    a54 = -0.6878860361058950
  public static let C21 = -5.6688
  public static let C31 = -2.430093356833875, C32 = -0.2063599157091915
  public static let C41 = -0.1073529058151375, C42 = -9.594562251023355, C43 = -20.47028614809616
  public static let C51 = 7.496443313967647, C52 = -10.24680431464352, C53 = -33.99990352819905,
    C54 = 11.70890893206160
  public static let C61 = 8.083246795921522, C62 = -7.981132988064893, C63 = -31.52159432874371,
    C64 = 16.31930543123136, C65 = -6.058818238834054
  public static let d1 = 0.25, d2 = -0.1043, d3 = 0.1035, d4 = -0.0362
  /// Dense output: `u(t + θh) = u0 + θ(Δu + (1−θ)(H2 + θ H3))`, `H2 = Σ h2j k_j`, `H3 = Σ h3j k_j`.
  public static let h21 = 10.12623508344586, h22 = -7.487995877610167, h23 = -34.80091861555747,
    h24 = -7.992771707568823, h25 = 1.025137723295662
  public static let h31 = -0.6762803392801253, h32 = 6.087714651680015, h33 = 16.43084320892478,
    h34 = 24.76722511418386, h35 = -6.594389125716872
}

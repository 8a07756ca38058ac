/// Coefficients of a six-stage, stiffly accurate Rosenbrock method of order 4 with an embedded
/// method of order 3 and a 3rd-order dense output, in the form of Hairer's `rodas.f`: the
/// transformed variables `k_i = Σ γ_ij h f...` avoid matrix-vector products.
///
/// ```
/// E = I/(γh) − J
/// E k_i = f(t + c_i h, u + Σ_{j<i} a_ij k_j) + Σ_{j<i} (C_ij/h) k_j + h d_i ∂f/∂t
/// u_new = u + Σ a_5j k_j + k_5 + k_6   (stiffly accurate: the last stage is the solution)
/// error = k_6
/// u(t + θh) = u0 + θ(Δu + (1−θ)(H2 + θ H3)),  H2 = Σ h2j k_j,  H3 = Σ h3j k_j
/// ```
///
/// Stages 5 and 6 are at `t + h` (c5 = c6 = 1, d5 = d6 = 0) in both tableaus.
public struct RosenbrockTableau: Sendable {
  public let gamma: Double
  public let c2, c3, c4: Double
  public let a21: Double
  public let a31, a32: Double
  public let a41, a42, a43: Double
  public let a51, a52, a53, a54: Double
  public let C21: Double
  public let C31, C32: Double
  public let C41, C42, C43: Double
  public let C51, C52, C53, C54: Double
  public let C61, C62, C63, C64, C65: Double
  public let d1, d2, d3, d4: Double
  public let h21, h22, h23, h24, h25: Double
  public let h31, h32, h33, h34, h35: Double

  /// The tableau `method` steps with where it takes Rosenbrock steps: Rodas4 for `.rodas4`,
  /// Rodas4P2 for `.rodas4p2` and in `auto`'s stiff phases (also in a batch's).
  @inlinable
  public static func of(_ method: ODEMethod) -> RosenbrockTableau { method == .rodas4 ? .rodas4 : .rodas4P2 }

  /// Rodas4: E. Hairer, G. Wanner, Solving Ordinary Differential Equations II, 2nd ed.,
  /// Springer 1996, §VI.4, Table 4.2 and the code `rodas.f` (METH = 1).
  public static let rodas4 = RosenbrockTableau(
    gamma: 0.25, c2: 0.386, c3: 0.21, c4: 0.63,
    a21: 1.544,
    a31: 0.9466785280815826, a32: 0.2557011698983284,
    a41: 3.314825187068521, a42: 2.896124015972201, a43: 0.9986419139977817,
    a51: 1.221224509226641, a52: 6.019134481288629, a53: 12.53708332932087, a54: -0.6878860361058950,
    C21: -5.6688,
    C31: -2.430093356833875, C32: -0.2063599157091915,
    C41: -0.1073529058151375, C42: -9.594562251023355, C43: -20.47028614809616,
    C51: 7.496443313967647, C52: -10.24680431464352, C53: -33.99990352819905, C54: 11.70890893206160,
    C61: 8.083246795921522, C62: -7.981132988064893, C63: -31.52159432874371, C64: 16.31930543123136,
    C65: -6.058818238834054,
    d1: 0.25, d2: -0.1043, d3: 0.1035, d4: -0.0362,
    h21: 10.12623508344586, h22: -7.487995877610167, h23: -34.80091861555747, h24: -7.992771707568823,
    h25: 1.025137723295662,
    h31: -0.6762803392801253, h32: 6.087714651680015, h33: 16.43084320892478, h34: 24.76722511418386,
    h35: -6.594389125716872)

  /// Rodas4P2: G. Steinebach, "Improvement of Rosenbrock-Wanner method RODASP", in T. Reis,
  /// S. Grundel, S. Schöps (eds.), Progress in Differential-Algebraic Equations II, Springer
  /// 2020, doi:10.1007/978-3-030-53905-4_6. Built so that the Prothero–Robinson problem
  /// `u' = λ(u − φ(t)) + φ'(t)` keeps its order for large `|hλ|`: a stiff component that
  /// follows a moving quasi-steady state is then not held to tiny steps by its error
  /// estimate, as it is with Rodas4 (CARTmath's memory cells after a dose; Guides/Solvers.md).
  public static let rodas4P2 = RosenbrockTableau(
    gamma: 0.25, c2: 0.75, c3: 0.321448134013046, c4: 0.519745732277726,
    a21: 3.0,
    a31: 0.906377755268814, a32: -0.189707390391685,
    a41: 3.758617027739064, a42: 1.161741776019525, a43: -0.849258085312803,
    a51: 7.089566927282776, a52: 4.573591406461604, a53: -8.423496976860259, a54: -0.959280113459775,
    C21: -12.0,
    C31: -6.354581592719008, C32: 0.338972550544623,
    C41: -8.575016317114033, C42: -7.606483992117508, C43: 12.224997650124820,
    C51: -5.888975457523102, C52: -8.157396617841821, C53: 24.805546872612922, C54: 12.790401512796979,
    C61: -4.408651676063871, C62: -6.692003137674639, C63: 24.625568527593117, C64: 16.627521966636085,
    C65: -5.714285714285718,
    d1: 0.25, d2: -0.5, d3: -0.189532918363016, d4: 0.085612108792769,
    h21: -5.323528268423303, h22: -10.042123754867493, h23: 17.175254928256965, h24: -5.079931171878093,
    h25: -0.016185991706112,
    h31: 6.984505741529879, h32: 6.914061169603662, h33: -0.849178943070653, h34: 18.104410789349338,
    h35: -3.516963011559032)
}

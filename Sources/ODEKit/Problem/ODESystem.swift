/// A system of ordinary differential equations `du/dt = f(t, u)`.
///
/// Conform a model to `ODESystem` to integrate it with ``solve(_:method:options:)``.
/// The integrator calls ``rhs(t:u:du:)`` in its inner loop, so implementations should
/// avoid allocation. A model that knows its Jacobian sets ``hasAnalyticJacobian`` and
/// implements ``jacobian(t:u:J:)``; otherwise the stiff solver uses finite differences.
public protocol ODESystem {
  /// Number of state variables.
  var dimension: Int { get }
  /// `true` when `f` does not depend on `t` explicitly (between events). Lets the
  /// Rosenbrock solver skip the time derivative `∂f/∂t`. Defaults to `false`.
  var isAutonomous: Bool { get }
  /// `true` when ``jacobian(t:u:J:)`` is implemented. Defaults to `false`.
  var hasAnalyticJacobian: Bool { get }
  /// The plan for factorising the iteration matrices along the Jacobian's sparsity
  /// pattern (``jacobian(t:u:J:)`` must then write zeros outside it). Defaults to `nil`:
  /// dense LU with partial pivoting.
  var sparsity: SparseLU? { get }
  /// `(size, count)` when the Jacobian is block lower triangular with `count` equal square
  /// blocks of `size` on the diagonal and non-zero blocks off the diagonal only in the first
  /// block column (a system with its forward sensitivities, ∂f/∂x on the diagonal): the
  /// stiff solver then factorises the first diagonal block alone and solves by block forward
  /// substitution, and ``jacobian(t:u:J:)`` need only write the first block column (columns
  /// `0..<size` of every row; the solver reads nothing else). `size · count` must be the
  /// dimension. Defaults to `nil`.
  var blockLayout: (size: Int, count: Int)? { get }
  /// Writes `f(t, u)` into `du`. `du` has `dimension` elements and is not zeroed first.
  func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>)
  /// Writes `∂f/∂u` row-major into `J` (`J[i * n + j] = ∂f_i/∂u_j`, `n × n` elements).
  func jacobian(t: Double, u: UnsafeBufferPointer<Double>, J: UnsafeMutableBufferPointer<Double>)
}

extension ODESystem {
  @inlinable public var isAutonomous: Bool { false }
  @inlinable public var hasAnalyticJacobian: Bool { false }
  @inlinable public var sparsity: SparseLU? { nil }
  @inlinable public var blockLayout: (size: Int, count: Int)? { nil }
  @inlinable
  public func jacobian(t: Double, u: UnsafeBufferPointer<Double>, J: UnsafeMutableBufferPointer<Double>) {
    preconditionFailure("jacobian(t:u:J:) called on a system without an analytic Jacobian")
  }
}

/// An ``ODESystem`` built from closures: convenient for tests and small problems.
public struct ODEFunction: ODESystem, Sendable {
  public let dimension: Int
  public let isAutonomous: Bool
  @usableFromInline let f: @Sendable (Double, UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void
  @usableFromInline let jac: (@Sendable (Double, UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void)?

  /// - Parameters:
  ///   - dimension: number of states.
  ///   - isAutonomous: whether `f` is free of explicit `t`.
  ///   - jacobian: optional analytic Jacobian, row-major.
  ///   - f: the right-hand side `(t, u, du)`.
  public init(
    dimension: Int, isAutonomous: Bool = false,
    jacobian: (@Sendable (Double, UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void)? = nil,
    _ f: @escaping @Sendable (Double, UnsafeBufferPointer<Double>, UnsafeMutableBufferPointer<Double>) -> Void
  ) {
    precondition(dimension > 0, "an ODE system needs at least one state")
    self.dimension = dimension
    self.isAutonomous = isAutonomous
    self.f = f
    self.jac = jacobian
  }

  @inlinable public var hasAnalyticJacobian: Bool { jac != nil }

  @inlinable
  public func rhs(t: Double, u: UnsafeBufferPointer<Double>, du: UnsafeMutableBufferPointer<Double>) {
    f(t, u, du)
  }

  @inlinable
  public func jacobian(t: Double, u: UnsafeBufferPointer<Double>, J: UnsafeMutableBufferPointer<Double>) {
    jac!(t, u, J)
  }
}

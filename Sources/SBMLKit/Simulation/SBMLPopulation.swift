import Foundation
import ODEKit
import SBMLDocument

/// One compiled SBML model run many times with different parameter values (a virtual
/// population): compile once, then per run only set the parameters, re-run the initial
/// assignments (which may depend on them) and reset the state.
///
/// The parameters that can be set are the *settable* global parameters: constant, and set by
/// no initial assignment, assignment rule, rate rule or algebraic rule (what libRoadRunner
/// lets you set and what changes a run). A run reports the value of every species (as its
/// symbol means in math: concentration unless `hasOnlySubstanceUnits`) and every rate-rule
/// parameter at the end time.
public struct SBMLPopulationModel: Sendable {
  public private(set) var compiled: CompiledSBML
  /// Settable parameters, in document order.
  public let parameterIDs: [String]
  /// Their values in the model.
  public let baseValues: [Double]
  /// Reported symbols: every species, then every parameter with a rate rule.
  public let outputIDs: [String]
  let parameterSlots: [Int]
  let outputSlots: [Int]

  public init(_ compiled: CompiledSBML) {
    self.compiled = compiled
    let model = compiled.model
    var setByMath = Set(model.initialAssignments.map(\.symbol))
    var rateRuled = Set<String>()
    for rule in model.rules {
      switch rule {
      case .assignment(let v, _): setByMath.insert(v)
      case .rate(let v, _):
        setByMath.insert(v)
        rateRuled.insert(v)
      case .algebraic: break
      }
    }
    // Algebraic rules determine non-constant symbols only; their unknowns are excluded too.
    let unknowns = Set(compiled.unknownSlots)
    let settable = model.parameters.filter { p in
      p.constant && !setByMath.contains(p.id) && !unknowns.contains(compiled.slots[p.id]!)
    }
    parameterIDs = settable.map(\.id)
    parameterSlots = settable.map { compiled.slots[$0.id]! }
    baseValues = parameterSlots.map { compiled.initial[$0] }
    outputIDs = model.species.map(\.id) + model.parameters.filter { rateRuled.contains($0.id) }.map(\.id)
    outputSlots = outputIDs.map { compiled.slots[$0]! }
  }

  /// Compiles the model to machine code (see ``CompiledSBML/compileNative(compiler:)``).
  public mutating func compileNative(compiler: String? = nil) throws {
    try compiled.compileNative(compiler: compiler)
  }

  /// How each run is integrated: from `start` for `duration` with `steps + 1` evenly spaced
  /// output points (the solver interpolates its dense output at each of them).
  public struct Options: Sendable {
    public var start = 0.0
    public var duration: Double
    public var steps: Int
    public var rtol = 1e-6
    public var atol = 1e-12
    public var method = ODEMethod.auto
    /// Caps steps at the output interval, as ``SBMLSystem/simulate(start:duration:steps:variables:rtol:atol:method:interrupt:)``
    /// does (so that a trigger true only briefly between two outputs is still seen). Off,
    /// the step size is free, triggers are located on each step's dense output and the
    /// outputs are interpolated, as CVODE does.
    public var capSteps = false
    public init(duration: Double, steps: Int) {
      self.duration = duration
      self.steps = steps
    }
  }

  /// The end of one run: how the solver ended and, on success, the final value of each of
  /// ``outputIDs`` (empty on failure).
  public struct Outcome: Sendable {
    public var returnCode: ReturnCode
    public var finalValues: [Double]
    public var stats: SolverStats
  }

  /// Runs the model with `parameters` (one value per ``parameterIDs``, in that order).
  ///
  /// The solver produces every output point (interpolated on its dense output); see
  /// ``Options/capSteps`` for the step size.
  public func simulate(parameters: [Double], options o: Options) -> Outcome {
    precondition(parameters.count == parameterSlots.count, "one value per settable parameter")
    let c = compiled
    let sys = SBMLSystem(c)
    let u0 = sys.initialState(at: o.start, overrides: parameterSlots.indices.map { (parameterSlots[$0], parameters[$0]) })
    let end = o.start + o.duration
    let n = sys.dimension
    guard n > 0 else {
      [Double]().withUnsafeBufferPointer { sys.evaluate(t: end, u: $0) }
      return Outcome(returnCode: .success, finalValues: read(sys), stats: SolverStats())
    }
    let steps = max(o.steps, 1)
    let times = (0...steps).map { o.start + o.duration * Double($0) / Double(steps) }
    let cap = o.capSteps
    let opts = SolverOptions(
      rtol: o.rtol, atol: [o.atol], saveAt: times,
      maxStep: cap ? o.duration / Double(steps) : .infinity)
    let sol = solve(
      ODEProblem(system: sys, u0: u0, tspan: (o.start, end), stateEvents: sys.stateEvents()),
      method: o.method, options: opts)
    guard sol.returnCode.isSuccessful, let last = sol.t.last else {
      return Outcome(returnCode: sol.returnCode, finalValues: [], stats: sol.stats)
    }
    Array(sol.state(sol.t.count - 1)).withUnsafeBufferPointer { sys.evaluate(t: last, u: $0) }
    return Outcome(returnCode: sol.returnCode, finalValues: read(sys), stats: sol.stats)
  }

  private func read(_ sys: SBMLSystem) -> [Double] {
    let v = sys.workspace.values
    return outputSlots.map { v[$0] }
  }
}

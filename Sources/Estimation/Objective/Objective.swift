import Foundation
import ODEKit
import SBMLDocument
import SBMLKit

/// The negative log-likelihood of a PEtab problem as a function of its estimated
/// parameters on their parameter scale, with its gradient (forward sensitivities) and the
/// Fisher information matrix.
///
/// Built once per problem: the model is compiled once (with the sensitivity program),
/// the tables are resolved to slots and indices; an evaluation then only integrates. It is
/// safe to evaluate from several threads at once (each call has its own workspaces).
public struct PEtabObjective: Sendable {
  public let problem: PEtabProblem
  /// Ids of the estimated parameters (the order of every parameter vector here).
  public let parameterIDs: [String]
  public let scales: [PEtabProblem.Scale]
  public let lower: [Double], upper: [Double]
  /// Nominal values of the estimated parameters on their scale.
  public let nominal: [Double]
  public var options: Options

  public struct Options: Sendable {
    public var rtol = 1e-8
    public var atol = 1e-10
    /// Steady state (preequilibration): max |dx/dt| / (atol + rtol·|x|) below 1.
    public var steadyStateRtol = 1e-8
    public var steadyStateAtol = 1e-10
    public var maxSteps = 10_000
    /// The integration method. BDF by default: at the tight tolerances a fit needs, its
    /// large steps with a reused Jacobian cost 3–6× less per objective and gradient than the
    /// DP5/Rodas4P2 pair (Guides/Estimation.md, "Where the time goes").
    public var method = ODEMethod.bdf
    /// How gradients are computed (see ``SensitivityMethod``).
    public var sensitivities = SensitivityMethod.forward
    public init() {}
  }

  /// Forward sensitivities give the gradient and the Fisher information, at a cost that
  /// grows with the number of parameters acting on the model; the adjoint method gives the
  /// gradient alone (the optimiser then builds its Hessian by BFGS) at a cost nearly
  /// independent of it. The adjoint method applies to models without events; a model
  /// with events is differentiated forward either way.
  public enum SensitivityMethod: String, Sendable, CaseIterable {
    case forward, adjoint
  }

  /// Whether gradients are computed by the adjoint method (asked for, and the model has no events).
  var usesAdjoint: Bool { options.sensitivities == .adjoint && compiled.events.isEmpty }
  /// The method gradients are computed by.
  public var gradientMethod: SensitivityMethod { usesAdjoint ? .adjoint : .forward }

  let compiled: CompiledSBML
  /// ∂f/∂(x, p) by `sensitivitySlots`; nil when the model cannot be differentiated (then
  /// gradients are unavailable).
  let sensitivityProgram: JacobianProgram?
  let sensitivitySlots: [Int]
  /// The sensitivity program as machine code (nil: interpreted); bit for bit the same values.
  let nativeSensitivity: NativeCode?
  /// Per simulation: the main condition, its preequilibration, its sorted output times and,
  /// per phase, the slot values and state overrides.
  let simulations: [Simulation]
  /// Per measurement: its simulation and output-time index.
  let measurementPlace: [(simulation: Int, time: Int)]
  /// Value array layout for formulas: the model's slots, then `extraIDs`.
  let slotCount: Int
  let extraIDs: [String]
  let observableFormulas: [Formula.Bound]
  let noiseFormulas: [Formula.Bound]
  /// Per measurement, the extra values (index into the extra block, source).
  let measurementExtras: [[(index: Int, source: Source)]]
  /// Extras that are parameter-table parameters (not model entities), with their source.
  let tableExtras: [(index: Int, source: Source)]
  /// Prior terms: estimated index and prior.
  let priors: [(index: Int, prior: PEtabProblem.Prior)]
  /// The estimated parameters that only scale observables (closed-form inner optimum).
  public let scalings: [Scaling]

  /// Where a value comes from: a number or an estimated parameter (index, linear value).
  enum Source: Sendable, Equatable {
    case number(Double)
    case estimated(Int)
  }

  struct Phase: Sendable {
    /// Slot → value before the initial assignments (model parameters, compartments, the
    /// override values and flags of states).
    var slots: [(slot: Int, source: Source)]
    /// States reset after preequilibration: state index, factor (compartment for amounts), source.
    var resets: [(state: Int, slot: Int, source: Source)]
    /// (index into ``sensitivitySlots``, estimated index) pairs: which θ act on which slots.
    var sensitivityMap: [(slot: Int, parameter: Int)]
  }

  struct Simulation: Sendable {
    var condition: Int
    var preequilibration: Int?
    var times: [Double]
    var main: Phase
    var pre: Phase?
    /// Estimated parameters acting on this simulation (sensitivity columns), in order.
    var columns: [Int]
  }

  public init(_ problem: PEtabProblem, options: Options = Options()) throws {
    self.problem = problem
    self.options = options
    let estimated = problem.estimated
    parameterIDs = estimated.map { problem.parameters[$0].id }
    scales = estimated.map { problem.parameters[$0].scale }
    lower = estimated.map { problem.parameters[$0].scale.apply(problem.parameters[$0].lower) }
    upper = estimated.map { problem.parameters[$0].scale.apply(problem.parameters[$0].upper) }
    nominal = estimated.map {
      problem.parameters[$0].nominal.isFinite ? problem.parameters[$0].scale.apply(problem.parameters[$0].nominal) : .nan
    }
    let estimatedIndex = Dictionary(uniqueKeysWithValues: estimated.enumerated().map { (problem.parameters[$1].id, $0) })
    let parameterByID = Dictionary(uniqueKeysWithValues: problem.parameters.map { ($0.id, $0) })

    func source(_ v: PEtabProblem.Value) -> Source? {
      switch v {
      case .number(let x): return .number(x)
      case .parameter(let id):
        if let k = estimatedIndex[id] { return .estimated(k) }
        return .number(parameterByID[id]!.nominal)
      case .none: return nil
      }
    }

    // States overridden in some condition get an initial assignment that takes the
    // override when its flag is set: `X = piecewise(__petab_value_X, __petab_use_X > 0.5, original)`.
    var model = problem.model
    let ruled = Set(
      model.rules.compactMap { r -> String? in
        if case .assignment(let v, _) = r { return v }
        return nil
      })
    let rateRuled = Set(
      model.rules.compactMap { r -> String? in
        if case .rate(let v, _) = r { return v }
        return nil
      })
    let speciesIDs = Set(model.species.map(\.id))
    let initialAssigned = Dictionary(model.initialAssignments.map { ($0.symbol, $0.math) }, uniquingKeysWith: { a, _ in a })
    var stateColumns: [String] = []
    for c in problem.conditions {
      for id in c.overrides.keys.sorted() where !stateColumns.contains(id) {
        if ruled.contains(id) {
          throw PEtabError(file: "condition table", column: id, "'\(id)' is set by an assignment rule and cannot be overridden")
        }
        if speciesIDs.contains(id) || rateRuled.contains(id) || initialAssigned[id] != nil { stateColumns.append(id) }
      }
    }
    for id in stateColumns {
      let original: Expr
      if let e = initialAssigned[id] {
        original = e
      } else if let sp = model.species.first(where: { $0.id == id }) {
        let comp = Expr.symbol(sp.compartment)
        if let a = sp.initialAmount {
          original = sp.hasOnlySubstanceUnits ? .number(a) : .apply(.divide, [.number(a), comp])
        } else if let c = sp.initialConcentration {
          original = sp.hasOnlySubstanceUnits ? .apply(.times, [.number(c), comp]) : .number(c)
        } else {
          original = .number(.nan)
        }
      } else if let p = model.parameters.first(where: { $0.id == id }) {
        original = .number(p.value ?? .nan)
      } else if let c = model.compartments.first(where: { $0.id == id }) {
        original = .number(c.size ?? .nan)
      } else {
        original = .number(.nan)
      }
      model.parameters.append(.init(id: "__petab_value_\(id)", value: .nan, constant: true))
      model.parameters.append(.init(id: "__petab_use_\(id)", value: 0, constant: true))
      let e = Expr.piecewise([.symbol("__petab_value_\(id)"), .apply(.gt, [.symbol("__petab_use_\(id)"), .number(0.5)])], original)
      model.initialAssignments.removeAll { $0.symbol == id }
      model.initialAssignments.append((symbol: id, math: e))
    }
    var compiled: CompiledSBML
    do { compiled = try CompiledSBML(model) } catch { throw PEtabError(file: "SBML model", "\(error)") }
    try? compiled.compileNative()
    let slots = compiled.slots
    let settable = Set(model.parameters.filter(\.constant).map(\.id) + model.compartments.filter(\.constant).map(\.id))
      .subtracting(ruled).subtracting(initialAssigned.keys)

    // Phases: for every model parameter of the parameter table, its value; then the
    // condition's columns.
    var sensitivitySlots: [Int] = []
    func phase(_ c: Int, isPre: Bool, afterPre: Bool) throws -> Phase {
      var values: [Int: Source] = [:]
      for p in problem.parameters where settable.contains(p.id) {
        values[slots[p.id]!] = p.estimate ? .estimated(estimatedIndex[p.id]!) : .number(p.nominal)
      }
      var resets: [(Int, Int, Source)] = []
      let cond = problem.conditions[c]
      for (id, v) in cond.overrides.sorted(by: { $0.key < $1.key }) {
        guard let s = source(v) else { continue }
        if stateColumns.contains(id) {
          values[slots["__petab_value_\(id)"]!] = s
          values[slots["__petab_use_\(id)"]!] = .number(1)
          if afterPre {
            guard let st = compiled.stateOfSymbol[id] else { continue }
            var factorSlot = -1
            if case .amount(_, _, _, let comp, let only) = compiled.states[st], !only { factorSlot = comp }
            resets.append((st, factorSlot, s))
          }
        } else if settable.contains(id) {
          values[slots[id]!] = s
        } else {
          throw PEtabError(
            file: "condition table", column: id,
            "'\(id)' cannot be set by a condition (it is not a constant parameter, compartment or state)")
        }
      }
      var map: [(Int, Int)] = []
      let ordered = values.sorted { $0.key < $1.key }
      for (slot, s) in ordered {
        guard case .estimated(let k) = s else { continue }
        var idx = sensitivitySlots.firstIndex(of: slot)
        if idx == nil {
          sensitivitySlots.append(slot)
          idx = sensitivitySlots.count - 1
        }
        map.append((idx!, k))
      }
      return Phase(slots: ordered.map { ($0.key, $0.value) }, resets: resets, sensitivityMap: map)
    }
    var simulationIndex: [String: Int] = [:]
    var simulations: [Simulation] = []
    var place: [(Int, Double)] = []
    for m in problem.measurements {
      let key = "\(m.preequilibration ?? -1)|\(m.condition)"
      if simulationIndex[key] == nil {
        simulationIndex[key] = simulations.count
        let main = try phase(m.condition, isPre: false, afterPre: m.preequilibration != nil)
        let pre = try m.preequilibration.map { try phase($0, isPre: true, afterPre: false) }
        var columns = Set<Int>()
        for p in [main] + (pre.map { [$0] } ?? []) {
          for (_, s) in p.slots { if case .estimated(let k) = s { columns.insert(k) } }
          for r in p.resets { if case .estimated(let k) = r.source { columns.insert(k) } }
        }
        simulations.append(
          Simulation(
            condition: m.condition, preequilibration: m.preequilibration, times: [],
            main: main, pre: pre, columns: columns.sorted()))
      }
      place.append((simulationIndex[key]!, m.time))
    }
    for i in simulations.indices {
      simulations[i].times = Array(Set(place.filter { $0.0 == i }.map(\.1))).sorted()
    }
    measurementPlace = place.map { ($0.0, simulations[$0.0].times.firstIndex(of: $0.1)!) }

    // The sensitivity program over every slot an estimated parameter sets.
    if !sensitivitySlots.isEmpty, let (withProgram, program) = compiled.withSensitivityProgram(parameterSlots: sensitivitySlots) {
      compiled = withProgram
      sensitivityProgram = program
    } else if sensitivitySlots.isEmpty, let (withProgram, program) = compiled.withSensitivityProgram(parameterSlots: []) {
      compiled = withProgram
      sensitivityProgram = program
    } else {
      sensitivityProgram = nil
    }
    self.compiled = compiled
    self.sensitivitySlots = sensitivitySlots
    nativeSensitivity = sensitivityProgram.flatMap { try? NativeCode.compile([$0.program]) }
    self.simulations = simulations

    // Formulas over the value array: model slots, then extras.
    slotCount = compiled.initial.count
    var extras: [String] = []
    func extraIndex(_ id: String) -> Int {
      if let k = extras.firstIndex(of: id) { return k }
      extras.append(id)
      return extras.count - 1
    }
    var tableExtras: [(Int, Source)] = []
    let count = slotCount
    func bind(_ f: Formula) throws -> Formula.Bound {
      try f.bind { id in
        if let s = slots[id], !id.hasPrefix("__") { return s }
        let k = extraIndex(id)
        if let p = parameterByID[id], !tableExtras.contains(where: { $0.0 == k }) {
          tableExtras.append((k, p.estimate ? .estimated(estimatedIndex[id]!) : .number(p.nominal)))
        }
        return count + k
      }
    }
    observableFormulas = try problem.observables.map { try bind($0.formula) }
    noiseFormulas = try problem.observables.map { try bind($0.noise) }
    var mExtras: [[(Int, Source)]] = []
    for m in problem.measurements {
      let o = problem.observables[m.observable]
      var list: [(Int, Source)] = []
      for (k, v) in m.observableParameters.enumerated() { list.append((extraIndex("observableParameter\(k + 1)_\(o.id)"), source(v)!)) }
      for (k, v) in m.noiseParameters.enumerated() { list.append((extraIndex("noiseParameter\(k + 1)_\(o.id)"), source(v)!)) }
      mExtras.append(list)
    }
    measurementExtras = mExtras
    self.tableExtras = tableExtras
    extraIDs = extras
    priors = estimated.enumerated().compactMap { (k, i) in problem.parameters[i].objectivePrior.map { (k, $0) } }
    scalings = Self.findScalings(
      problem, estimatedIndex: estimatedIndex, modelParameters: Set(simulations.flatMap(\.columns)), priors: Set(priors.map(\.index)))
  }

  public var dimension: Int { parameterIDs.count }
  /// Gradients need the sensitivity program, and events whose trigger is a time `time ≥ c`
  /// or made of comparisons (whose zeros give the trigger time's derivatives).
  public var hasGradient: Bool {
    sensitivityProgram != nil && compiled.events.allSatisfy { $0.triggerTimeSlot != nil || !$0.rootSlots.isEmpty }
  }
}

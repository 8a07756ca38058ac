import Foundation
import ODEKit
import RealModule
import SBMLKit

/// A population model ready to predict: the control stream's code blocks over one frame of
/// slots, the slots of everything the predictor reads or sets, and the structural model
/// (a `$PRED`, or compartments with closed-form linear kinetics).
public struct NLMEModel: Sendable {
  public var stream: ControlStream
  public var slotCount: Int
  /// Slots of THETA(1…), ETA(1…), EPS(1…) (nil where the code never names one).
  public var theta: [Int?]
  public var eta: [Int?]
  public var eps: [Int?]
  /// Slot of each kept data item, in ``Dataset/items`` order.
  public var items: [Int]
  public var f: Int
  public var y: Int
  public var kinetics: Kinetics?

  /// The compartments: linear in closed form (ADVAN1–4, 11, 12: which PK variables make the
  /// rate matrix) or general ODEs (ADVAN6, 13: `$MODEL` and `$DES`).
  ///
  /// A class, so that the predictor's record loop reads it without copying its arrays; it is
  /// built by ``NLMEModel/init(_:sbml:)`` and not changed after (only this module may set it).
  public final class Kinetics: @unchecked Sendable {
    public internal(set) var compartments: Int
    public internal(set) var defaultDose: Int
    public internal(set) var defaultObservation: Int
    /// Slots of the PK parameters in the order ``rateMatrix(_:into:)`` reads them (closed forms).
    public internal(set) var parameters: [Int]
    public internal(set) var advan: Int
    public internal(set) var trans: Int
    /// `$DES` (ODEs): the code, the slots of DADT(k) and of T, and the solver tolerances.
    public internal(set) var des: CodeBlock?
    public internal(set) var derivative: [Int] = []
    public internal(set) var time = 0
    public internal(set) var rtol = 1e-10
    public internal(set) var atol = 1e-12
    /// The integrator of `$DES`: ADVAN6 is NONMEM's non-stiff Runge–Kutta (DVERK, Verner 6(5)),
    /// here DOP853; ADVAN13 switches between stiff and non-stiff methods (LSODA), here `auto`.
    public internal(set) var method = ODEMethod.auto
    /// An SBML model as the compartments (the JSON form's `sbml` or `model`).
    public internal(set) var sbml: SBMLKinetics?
    /// Slots of A_0(k) (initial amounts) and MTIME(k) (model event times) the code assigns.
    public internal(set) var initialAmount: [Int?] = []
    public internal(set) var eventTimes: [Int] = []
    /// Slots of A(k), S k, F k, ALAG k, R k, D k per compartment (1-based k at index k − 1).
    public internal(set) var amount: [Int]
    public internal(set) var scale: [Int]
    public internal(set) var bioavailability: [Int]
    public internal(set) var lag: [Int]
    public internal(set) var rate: [Int]
    public internal(set) var duration: [Int]
    /// Whether the code assigns the slot (an unassigned Fn is 1, Sn 1, others 0).
    public internal(set) var assigned: Set<Int> {
      didSet { flags() }
    }
    /// Per compartment: whether Sn, Fn, ALAGn are assigned (read at every record).
    public private(set) var scaleAssigned: [Bool] = []
    public private(set) var bioavailabilityAssigned: [Bool] = []
    public private(set) var lagAssigned: [Bool] = []
    /// ``flows``, once.
    private(set) var transfers: [Flow] = []

    init(
      compartments: Int, defaultDose: Int, defaultObservation: Int, parameters: [Int], advan: Int, trans: Int, amount: [Int],
      scale: [Int], bioavailability: [Int], lag: [Int], rate: [Int], duration: [Int], assigned: Set<Int>
    ) {
      self.compartments = compartments
      self.defaultDose = defaultDose
      self.defaultObservation = defaultObservation
      self.parameters = parameters
      self.advan = advan
      self.trans = trans
      self.amount = amount
      self.scale = scale
      self.bioavailability = bioavailability
      self.lag = lag
      self.rate = rate
      self.duration = duration
      self.assigned = assigned
      flags()
      transfers = flows
    }

    func flags() {
      scaleAssigned = scale.map { assigned.contains($0) }
      bioavailabilityAssigned = bioavailability.map { assigned.contains($0) }
      lagAssigned = lag.map { assigned.contains($0) }
    }

    /// One transfer of a closed form: from compartment `from` to `to` (nil: elimination) at the
    /// rate of PK parameter `numerator`, divided by parameter `denominator` where there is one
    /// (indices into ``parameters``).
    struct Flow: Sendable {
      let from: Int
      let to: Int?
      let numerator: Int
      let denominator: Int?
    }

    /// The transfers of the closed form ADVAN/TRANS, in the order ``rateMatrix(_:into:)`` adds them.
    var flows: [Flow] {
      func f(_ from: Int, _ to: Int?, _ numerator: Int, _ denominator: Int? = nil) -> Flow {
        Flow(from: from, to: to, numerator: numerator, denominator: denominator)
      }
      switch (advan, trans) {
      case (1, 1): return [f(0, nil, 0)]
      case (1, _): return [f(0, nil, 0, 1)]
      case (2, 1): return [f(0, 1, 0), f(1, nil, 1)]
      case (2, _): return [f(0, 1, 0), f(1, nil, 1, 2)]
      case (3, 1): return [f(0, nil, 0), f(0, 1, 1), f(1, 0, 2)]
      case (3, _): return [f(0, nil, 0, 1), f(0, 1, 2, 1), f(1, 0, 2, 3)]  // CL V1 Q V2
      case (4, 1): return [f(0, 1, 0), f(1, nil, 1), f(1, 2, 2), f(2, 1, 3)]  // KA K K23 K32
      case (4, _): return [f(0, 1, 4), f(1, nil, 0, 1), f(1, 2, 2, 1), f(2, 1, 2, 3)]  // CL V2 Q V3 KA
      case (11, 1): return [f(0, nil, 0), f(0, 1, 1), f(1, 0, 2), f(0, 2, 3), f(2, 0, 4)]  // K K12 K21 K13 K31
      case (11, _): return [f(0, nil, 0, 1), f(0, 1, 2, 1), f(1, 0, 2, 3), f(0, 2, 4, 1), f(2, 0, 4, 5)]  // CL V1 Q2 V2 Q3 V3
      case (12, 1): return [f(0, 1, 0), f(1, nil, 1), f(1, 2, 2), f(2, 1, 3), f(1, 3, 4), f(3, 1, 5)]  // KA K K23 K32 K24 K42
      // CL V2 Q3 V3 Q4 V4 KA
      case (12, _): return [f(0, 1, 6), f(1, nil, 0, 1), f(1, 2, 2, 1), f(2, 1, 2, 3), f(1, 3, 4, 1), f(3, 1, 4, 5)]
      default: return []
      }
    }

    /// The rate matrix K (dA/dt = K·A), row-major, from the PK parameters in the frame.
    public func rateMatrix(_ frame: UnsafeMutablePointer<Double>, into k: inout [Double]) {
      let n = compartments
      for i in 0..<(n * n) { k[i] = 0 }
      for flow in transfers {
        let top = frame[parameters[flow.numerator]]
        let rate = flow.denominator.map { top / frame[parameters[$0]] } ?? top
        k[flow.from * n + flow.from] -= rate
        if let to = flow.to { k[to * n + flow.from] += rate }
      }
    }

    /// The PK parameter names of an ADVAN/TRANS pair, its compartments, default dose and
    /// observation compartments (1-based).
    static func layout(advan: Int, trans: Int) -> (names: [String], compartments: Int, dose: Int, observation: Int)? {
      switch (advan, trans) {
      case (1, 1): return (["K"], 1, 1, 1)
      case (1, 2): return (["CL", "V"], 1, 1, 1)
      case (2, 1): return (["KA", "K"], 2, 1, 2)
      case (2, 2): return (["KA", "CL", "V"], 2, 1, 2)
      case (3, 1): return (["K", "K12", "K21"], 2, 1, 1)
      case (3, 4): return (["CL", "V1", "Q", "V2"], 2, 1, 1)
      case (4, 1): return (["KA", "K", "K23", "K32"], 3, 1, 2)
      case (4, 4): return (["CL", "V2", "Q", "V3", "KA"], 3, 1, 2)
      case (11, 1): return (["K", "K12", "K21", "K13", "K31"], 3, 1, 1)
      case (11, 4): return (["CL", "V1", "Q2", "V2", "Q3", "V3"], 3, 1, 1)
      case (12, 1): return (["KA", "K", "K23", "K32", "K24", "K42"], 4, 1, 2)
      case (12, 4): return (["CL", "V2", "Q3", "V3", "Q4", "V4", "KA"], 4, 1, 2)
      default: return nil
      }
    }
  }

  /// An SBML model with its mapping: the SBML slots of the mapped parameters with the frame
  /// slots that set them, the state each dosed CMT adds to, the slot each observed CMT reads.
  /// A class, so that the kinetics that hold it stay small to copy.
  public final class SBMLKinetics: @unchecked Sendable {
    public let compiled: CompiledSBML
    public let parameters: [(sbml: Int, frame: Int)]
    public let doseState: [Int: Int]
    /// Per observed CMT the slots whose values add up to F (`"E_B + M_B"`).
    public let observed: [Int: [Int]]

    init(compiled: CompiledSBML, parameters: [(sbml: Int, frame: Int)], doseState: [Int: Int], observed: [Int: [Int]]) {
      self.compiled = compiled
      self.parameters = parameters
      self.doseState = doseState
      self.observed = observed
    }
  }

  /// Compiles a control stream.
  /// - Throws: ``NLMEError`` when the structural model is not one CARTSim runs or the code
  ///   leaves a PK parameter unset.
  public init(_ stream: ControlStream, sbml compiled: CompiledSBML? = nil) throws {
    self.stream = stream
    var symbols = stream.symbols
    theta = (1...max(1, stream.thetas.count)).map { symbols.lookup("THETA(\($0))") }
    eta = stream.etaCount == 0 ? [] : (1...stream.etaCount).map { symbols.lookup("ETA(\($0))") }
    eps = stream.epsCount == 0 ? [] : (1...stream.epsCount).map { symbols.lookup("EPS(\($0))") }
    items = stream.input.filter { !$0.dropped }.map { item in
      let s = symbols.slot(item.name)
      return s
    }
    // A synonym reads the same column: the code's name is copied from the item after loading.
    f = symbols.slot("F")
    y = symbols.slot("Y")
    if let mapping = stream.sbml {
      guard let compiled else { throw NLMEError(stream.file, field: "sbml", "the SBML model was not loaded") }
      let k = try Self.sbmlKinetics(mapping, compiled: compiled, symbols: &symbols, file: stream.file, assigned: stream.pk?.assigned ?? [])
      if let tol = stream.tolerance { k.rtol = Double.pow(10, -Double(tol)) }
      kinetics = k
    } else if let advan = stream.advan {
      let assigned = stream.pk?.assigned ?? []
      var layout: (names: [String], compartments: Int, dose: Int, observation: Int)
      if ControlStream.odeAdvans.contains(advan) {
        let c = stream.compartments
        layout = ([], c.count, (c.firstIndex { $0.defaultDose } ?? 0) + 1, (c.firstIndex { $0.defaultObservation } ?? 0) + 1)
      } else {
        guard let l = Kinetics.layout(advan: advan, trans: stream.trans) else {
          throw NLMEError(stream.file, field: "$SUBROUTINES", "TRANS\(stream.trans) does not go with ADVAN\(advan)")
        }
        layout = l
      }
      var parameters: [Int] = []
      for name in layout.names {
        let s = symbols.slot(name)
        guard assigned.contains(s) else { throw NLMEError(stream.file, field: "$PK", "ADVAN\(advan) TRANS\(stream.trans) needs \(name)") }
        parameters.append(s)
      }
      let n = layout.compartments
      func slots(_ prefix: String) -> [Int] { (1...n).map { symbols.slot("\(prefix)\($0)") } }
      let k = Kinetics(
        compartments: n, defaultDose: layout.dose, defaultObservation: layout.observation, parameters: parameters, advan: advan,
        trans: stream.trans, amount: (1...n).map { symbols.slot("A(\($0))") }, scale: slots("S"), bioavailability: slots("F"),
        lag: slots("ALAG"), rate: slots("R"), duration: slots("D"), assigned: assigned)
      k.initialAmount = (1...n).map { symbols.lookup("A_0(\($0))").flatMap { assigned.contains($0) ? $0 : nil } }
      k.eventTimes = symbols.names.indices.filter { symbols.names[$0].hasPrefix("MTIME(") && assigned.contains($0) }
      if ControlStream.odeAdvans.contains(advan), let des = stream.des {
        k.des = des
        k.method = advan == 6 ? .dop853 : .auto
        k.derivative = (1...n).map { symbols.slot("DADT(\($0))") }
        k.time = symbols.slot("T")
        let desAssigns = des.assigned
        for (i, d) in k.derivative.enumerated() where !desAssigns.contains(d) {
          throw NLMEError(stream.file, field: "$DES", "DADT(\(i + 1)) is never assigned (\(n) compartments in $MODEL)")
        }
        if let tol = stream.tolerance { k.rtol = Double.pow(10, -Double(tol)) }
        if let tol = stream.absoluteTolerance { k.atol = Double.pow(10, -Double(tol)) }
      }
      kinetics = k
    } else {
      kinetics = nil
    }
    synonyms = stream.input.filter { !$0.dropped }.compactMap { item in item.synonym.map { (symbols.slot(item.name), symbols.slot($0)) } }
    slotCount = symbols.count
    self.symbols = symbols
    linked = LinkedCode(slots: symbols.count, pk: stream.pk, output: stream.error ?? stream.pred, des: kinetics?.des)
    outputCarriesState = (stream.error ?? stream.pred)?.carriesState ?? false
    likelihoodFlag = symbols.lookup("F_FLAG").flatMap { (stream.error ?? stream.pred)?.assigned.contains($0) == true ? $0 : nil }
  }

  public var symbols: SymbolTable
  /// Whether `$ERROR` (or `$PRED`) carries values from record to record (``CodeBlock/carriesState``).
  public var outputCarriesState = false
  /// The slot of F_FLAG when `$ERROR`/`$PRED` sets it: at an observation where it is 1, Y is
  /// the observation's likelihood (NONMEM's way of writing M3 and M4 in the code).
  public var likelihoodFlag: Int?
  /// (item slot, synonym slot) pairs.
  var synonyms: [(Int, Int)]
  /// The code blocks linked to one memory layout, once for every predictor of the model.
  let linked: LinkedCode
}

extension NLMEModel {
  static func sbmlKinetics(
    _ mapping: ControlStream.SBMLMapping, compiled: CompiledSBML, symbols: inout SymbolTable, file: String, assigned: Set<Int>
  ) throws -> Kinetics {
    var parameters: [(sbml: Int, frame: Int)] = []
    let settable = Set(SBMLPopulationModel(compiled).parameterIDs)
    for (id, variable) in mapping.parameters {
      guard settable.contains(id), let slot = compiled.slots[id] else {
        throw NLMEError(
          file, field: "parameters.\(id)", "not a settable parameter of the SBML model (constant, set by no rule or initial assignment)")
      }
      parameters.append((slot, symbols.slot(variable)))
    }
    var doseState: [Int: Int] = [:]
    for (cmt, id) in mapping.doses {
      guard let state = compiled.stateOfSymbol[id] else {
        throw NLMEError(file, field: "doses.\(cmt)", "\(id) is not a state (species) of the SBML model")
      }
      doseState[cmt] = state
    }
    var observed: [Int: [Int]] = [:]
    for (cmt, sum) in mapping.observations {
      observed[cmt] = try sum.split(separator: "+").map { part in
        let id = part.trimmingCharacters(in: .whitespaces)
        guard let slot = compiled.slots[id] else {
          throw NLMEError(file, field: "observations.\(cmt)", "\(id) is not a symbol of the SBML model")
        }
        return slot
      }
    }
    let n = max(mapping.doses.keys.max() ?? 1, mapping.observations.keys.max() ?? 1)
    func slots(_ prefix: String) -> [Int] { (1...n).map { symbols.slot("\(prefix)\($0)") } }
    let k = Kinetics(
      compartments: n, defaultDose: mapping.doses.keys.min() ?? 1, defaultObservation: mapping.observations.keys.min() ?? 1,
      parameters: [], advan: 0, trans: 0, amount: [], scale: slots("S"), bioavailability: slots("F"), lag: slots("ALAG"),
      rate: slots("R"), duration: slots("D"), assigned: assigned)
    k.sbml = SBMLKinetics(compiled: compiled, parameters: parameters, doseState: doseState, observed: observed)
    return k
  }
}

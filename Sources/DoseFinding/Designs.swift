/// Settings for building any of the four designs by name (the command line's options).
public struct DesignOptions: Sendable {
  public var target: Double
  public var cohortSize = 3
  public var maxPatients = 30
  /// 0-based.
  public var startDose = 0
  public var nEarlyStop: Int? = nil
  /// CRM: skeleton (required), model, intercept, prior SD, start-up, safety threshold.
  public var skeleton: [Double]? = nil
  public var crmModel: CRMModel = .empiric
  public var intercept = 3.0
  public var priorSD = 1.34.squareRoot()
  public var startUp = false
  /// CRM start-up sequence: 0-based dose levels, one per patient until the first DLT (dfcrm's `x0`).
  public var startSequence: [Int]? = nil
  public var crmSafety = 0.9
  /// 3+3: Korn's de-escalation.
  public var deescalate = false
  /// mTPI-2 interval half-widths.
  public var epsilon1 = 0.05, epsilon2 = 0.05
  /// BOIN elimination / mTPI-2 exclusion certainty.
  public var cutoff = 0.95
  /// BOIN p_saf and p_tox (defaults 0.6φ and 1.4φ).
  public var pSafe: Double? = nil, pToxic: Double? = nil

  public init(target: Double) { self.target = target }
}

/// One of the four designs, chosen at run time.
public enum AnyDesign: DoseFindingDesign {
  case threePlusThree(ThreePlusThree), boin(BOIN), crm(CRM), mtpi2(MTPI2)

  /// The names accepted by ``make(_:doseCount:options:)``.
  public static let names = ["3+3", "boin", "crm", "mtpi2"]

  /// The design's name in ``names`` for `name` or one of its spellings (`3p3`, `mtpi-2`, any
  /// case); nil for none.
  public static func canonicalName(_ name: String) -> String? {
    switch name.lowercased() {
    case "3+3", "3p3", "threeplusthree": "3+3"
    case "boin": "boin"
    case "crm": "crm"
    case "mtpi2", "mtpi-2": "mtpi2"
    default: nil
    }
  }

  /// Builds the design called `name` (`3+3`, `boin`, `crm`, `mtpi2`) for `doseCount` doses.
  /// - Throws: ``DoseFindingInputError`` for an unknown name or invalid options.
  public static func make(_ name: String, doseCount: Int, options o: DesignOptions) throws -> AnyDesign {
    try DoseFindingMath.checkTarget(o.target)
    func config() throws -> TrialConfig {
      try TrialConfig(
        doseCount: doseCount, cohortSize: o.cohortSize, maxPatients: o.maxPatients,
        startDose: o.startDose, nEarlyStop: o.nEarlyStop)
    }
    switch canonicalName(name) {
    case "3+3":
      return .threePlusThree(try ThreePlusThree(doseCount: doseCount, startDose: o.startDose, target: o.target, deescalate: o.deescalate))
    case "boin":
      return .boin(try BOIN(config: config(), target: o.target, pSafe: o.pSafe, pToxic: o.pToxic, cutoff: o.cutoff))
    case "crm":
      guard let sk = o.skeleton else { throw DoseFindingInputError(field: "skeleton", "is required for the CRM") }
      return .crm(
        try CRM(
          config: config(), target: o.target, skeleton: sk, model: o.crmModel, intercept: o.intercept,
          priorSD: o.priorSD, startUp: o.startUp, startSequence: o.startSequence, safetyThreshold: o.crmSafety))
    case "mtpi2":
      return .mtpi2(try MTPI2(config: config(), target: o.target, epsilon1: o.epsilon1, epsilon2: o.epsilon2, exclusion: o.cutoff))
    default:
      throw DoseFindingInputError(field: "design", "unknown design '\(name)' (use one of \(names.joined(separator: ", ")))")
    }
  }

  public func makeWorker() -> AnyDesign {
    if case .crm(let d) = self { return .crm(d.makeWorker()) }
    return self
  }

  public var name: String {
    switch self {
    case .threePlusThree(let d): d.name
    case .boin(let d): d.name
    case .crm(let d): d.name
    case .mtpi2(let d): d.name
    }
  }

  public var config: TrialConfig {
    switch self {
    case .threePlusThree(let d): d.config
    case .boin(let d): d.config
    case .crm(let d): d.config
    case .mtpi2(let d): d.config
    }
  }

  public var target: Double {
    switch self {
    case .threePlusThree(let d): d.target
    case .boin(let d): d.target
    case .crm(let d): d.target
    case .mtpi2(let d): d.target
    }
  }

  public func initialState() -> TrialState {
    switch self {
    case .threePlusThree(let d): d.initialState()
    case .boin(let d): d.initialState()
    case .crm(let d): d.initialState()
    case .mtpi2(let d): d.initialState()
    }
  }

  public func decide(_ s: inout TrialState, cohortSize: Int, cohortDLTs: Int) -> Bool {
    switch self {
    case .threePlusThree(let d): return d.decide(&s, cohortSize: cohortSize, cohortDLTs: cohortDLTs)
    case .boin(let d): return d.decide(&s, cohortSize: cohortSize, cohortDLTs: cohortDLTs)
    case .crm(let d): return d.decide(&s, cohortSize: cohortSize, cohortDLTs: cohortDLTs)
    case .mtpi2(let d): return d.decide(&s, cohortSize: cohortSize, cohortDLTs: cohortDLTs)
    }
  }

  public func selectMTD(_ s: TrialState) -> Int? {
    switch self {
    case .threePlusThree(let d): return d.selectMTD(s)
    case .boin(let d): return d.selectMTD(s)
    case .crm(let d): return d.selectMTD(s)
    case .mtpi2(let d): return d.selectMTD(s)
    }
  }

  /// The next-dose recommendation for accrued per-dose counts at `current` (0-based);
  /// `lastCohort` enables the CRM's coherence rule.
  public func recommend(patients: [Int], dlts: [Int], current: Int, lastCohort: (size: Int, dlts: Int)? = nil) -> Recommendation {
    switch self {
    case .threePlusThree(let d): d.recommend(patients: patients, dlts: dlts, current: current)
    case .boin(let d): d.recommend(patients: patients, dlts: dlts, current: current)
    case .crm(let d): d.recommend(patients: patients, dlts: dlts, current: current, lastCohort: lastCohort)
    case .mtpi2(let d): d.recommend(patients: patients, dlts: dlts, current: current)
    }
  }
}

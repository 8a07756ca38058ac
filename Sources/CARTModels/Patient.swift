import RealModule

/// A patient's covariates.
public struct Patient: Sendable, Equatable, Codable {
  /// Age, years.
  public var ageYears: Double
  /// Body weight, kg.
  public var weightKg: Double
  /// Height, cm.
  public var heightCm: Double
  /// Baseline tumour burden as the RECIST sum of longest diameters, mm.
  public var baselineSLDmm: Double
  /// HER2 antigen level relative to a typical HER2-positive sarcoma (1 = typical).
  public var her2Level: Double

  public init(
    ageYears: Double = 14, weightKg: Double = 50, heightCm: Double = 160,
    baselineSLDmm: Double = 80, her2Level: Double = 1
  ) {
    self.ageYears = ageYears
    self.weightKg = weightKg
    self.heightCm = heightCm
    self.baselineSLDmm = baselineSLDmm
    self.her2Level = her2Level
  }

  /// Body surface area by Mosteller: `BSA = √(height[cm] · weight[kg] / 3600)` m²
  /// (Mosteller, N Engl J Med 1987;317:1098, doi:10.1056/NEJM198710223171717).
  public var bsa: Double { (heightCm * weightKg / 3600).squareRoot() }
}

/// How an infusion dose is expressed.
public enum DoseBasis: String, Sendable, Codable, CaseIterable {
  /// Total T cells per m² of BSA; the CAR+ fraction of the product applies.
  case totalTCellsPerM2 = "total_t_cells_per_m2"
  /// CAR+ T cells per m² of BSA.
  case carTCellsPerM2 = "car_t_cells_per_m2"
  /// Absolute CAR+ cells (pre-clinical models).
  case cells = "cells"
}

/// One CAR T infusion.
public struct CARTInfusion: Sendable, Equatable, Codable {
  /// Day of the infusion (day 0 is the first infusion).
  public var day: Double
  public var dose: Double
  public var basis: DoseBasis
  /// Fraction of CAR+ cells in the product (used with `totalTCellsPerM2`).
  public var carPositiveFraction: Double
  /// Memory / stem-like fraction of the CAR+ cells.
  public var memoryFraction: Double
  /// Whether a lymphodepletion course precedes this infusion.
  public var lymphodepleted: Bool

  public init(
    day: Double, dose: Double, basis: DoseBasis, carPositiveFraction: Double = 0.674,
    memoryFraction: Double = 0.3, lymphodepleted: Bool = false
  ) {
    self.day = day
    self.dose = dose
    self.basis = basis
    self.carPositiveFraction = carPositiveFraction
    self.memoryFraction = memoryFraction
    self.lymphodepleted = lymphodepleted
  }

  /// Number of CAR+ cells given to `patient`.
  public func carPositiveCells(for patient: Patient) -> Double {
    switch basis {
    case .totalTCellsPerM2: return dose * patient.bsa * carPositiveFraction
    case .carTCellsPerM2: return dose * patient.bsa
    case .cells: return dose
    }
  }
}

/// Lymphodepleting drugs.
public enum LDDrug: String, Sendable, Codable, CaseIterable {
  case fludarabine, cyclophosphamide
}

/// How lymphodepletion acts in the model.
public enum LDMode: String, Sendable, Codable, CaseIterable {
  /// Kimmel et al. 2021: normal lymphocytes are set to a post-LD level at each
  /// lymphodepleted infusion and circulating CAR T cells are scaled by a survival fraction.
  case simplified
  /// Drug PK (fludarabine 3-compartment, cyclophosphamide 1-compartment) drives an Emax
  /// kill of lymphocytes.
  case pk
}

/// One lymphodepleting drug in a course: daily doses on days relative to the infusion.
public struct LDAgent: Sendable, Equatable, Codable {
  public var drug: LDDrug
  /// mg/m² per day (fludarabine as the phosphate salt, as prescribed).
  public var mgPerM2: Double
  /// Days relative to the infusion it precedes (negative).
  public var days: [Double]
  /// Duration of each daily infusion, days.
  public var infusionDays: Double

  public init(drug: LDDrug, mgPerM2: Double, days: [Double], infusionDays: Double = 0.5 / 24) {
    self.drug = drug
    self.mgPerM2 = mgPerM2
    self.days = days
    self.infusionDays = infusionDays
  }
}

/// A lymphodepletion regimen given before some infusions.
public struct Lymphodepletion: Sendable, Equatable, Codable {
  public var mode: LDMode
  public var agents: [LDAgent]

  public init(mode: LDMode, agents: [LDAgent]) {
    self.mode = mode
    self.agents = agents
  }

  /// Whether cyclophosphamide is part of the regimen.
  public var includesCyclophosphamide: Bool { agents.contains { $0.drug == .cyclophosphamide && $0.mgPerM2 > 0 } }
}

/// Checkpoint-inhibitor dosing (anti-PD-1).
public struct CheckpointDosing: Sendable, Equatable, Codable {
  public var drug: String
  /// Dose per administration, mg (flat) — or mg/kg when `perKg`.
  public var dose: Double
  public var perKg: Bool
  /// Cap of a weight-based dose, mg.
  public var maxDoseMg: Double
  public var startDay: Double
  public var everyDays: Double
  public var count: Int
  /// Infusion duration, days.
  public var infusionDays: Double

  public init(
    drug: String = "pembrolizumab", dose: Double, perKg: Bool, maxDoseMg: Double = .infinity,
    startDay: Double, everyDays: Double, count: Int, infusionDays: Double = 0.5 / 24
  ) {
    self.drug = drug
    self.dose = dose
    self.perKg = perKg
    self.maxDoseMg = maxDoseMg
    self.startDay = startDay
    self.everyDays = everyDays
    self.count = count
    self.infusionDays = infusionDays
  }

  public func doseMg(for patient: Patient) -> Double { perKg ? min(dose * patient.weightKg, maxDoseMg) : dose }
}

/// Tumour-directed chemotherapy, as effect units added to the chemotherapy compartment.
public struct ChemoDose: Sendable, Equatable, Codable {
  public var day: Double
  public var effect: Double
  public init(day: Double, effect: Double) {
    self.day = day
    self.effect = effect
  }
}

/// A condition on giving planned infusions: the patient's tumour status on a decision day
/// before each infusion's course (its lymphodepletion, or the infusion itself) must be at
/// least `require`; otherwise the infusion is not given and, with `.stop`, neither is any
/// later one. The status is a RECIST 1.1 time-point response on the decision day (restaging),
/// against the baseline and the nadir of the scheduled assessments so far; PD at a scheduled
/// assessment before the decision day counts as PD.
public struct DosingRule: Sendable, Equatable, Codable {
  /// The least tumour status that allows the infusion.
  public enum Status: String, Sendable, Codable, CaseIterable {
    /// Stable disease or better (no progression).
    case stableOrBetter = "SD_or_better"
    /// Partial or complete response.
    case responseOrBetter = "PR_or_better"
    /// Complete response.
    case complete = "CR"
  }
  /// What happens to the later infusions when the condition fails.
  public enum Otherwise: String, Sendable, Codable, CaseIterable {
    /// No further infusions.
    case stop
    /// Only this infusion is left out; the next one is decided again.
    case skip
  }
  /// The infusions the rule governs, 1-based and inclusive.
  public var first: Int
  public var last: Int
  public var require: Status
  /// Days between the decision and the start of the infusion's course.
  public var decideDaysBefore: Double
  public var otherwise: Otherwise

  public init(first: Int, last: Int, require: Status, decideDaysBefore: Double = 0, otherwise: Otherwise = .stop) {
    self.first = first
    self.last = last
    self.require = require
    self.decideDaysBefore = decideDaysBefore
    self.otherwise = otherwise
  }

  public func governs(_ infusion: Int) -> Bool { infusion >= first && infusion <= last }
}

/// Everything given to a patient.
public struct Regimen: Sendable, Equatable {
  public var infusions: [CARTInfusion]
  public var lymphodepletion: Lymphodepletion?
  public var checkpoint: CheckpointDosing?
  public var chemotherapy: [ChemoDose]
  /// Conditions on giving infusions (none: every planned infusion is given).
  public var rules: [DosingRule]

  public init(
    infusions: [CARTInfusion], lymphodepletion: Lymphodepletion? = nil,
    checkpoint: CheckpointDosing? = nil, chemotherapy: [ChemoDose] = [], rules: [DosingRule] = []
  ) {
    self.infusions = infusions
    self.lymphodepletion = lymphodepletion
    self.checkpoint = checkpoint
    self.chemotherapy = chemotherapy
    self.rules = rules
  }

  /// The first day of infusion `k`'s course (0-based): its earliest lymphodepletion day when
  /// it is lymphodepleted, else its own day.
  public func courseStart(_ k: Int) -> Double {
    let inf = infusions[k]
    guard inf.lymphodepleted, let ld = lymphodepletion else { return inf.day }
    return ld.agents.reduce(inf.day) { min($0, inf.day + ($1.days.min() ?? 0)) }
  }

  /// Leaves out the planned infusions after `day` that a rule governs (they could only be
  /// given after the end of the run) and clips the rules to the infusions left. Returns the
  /// index of the first infusion after `day` that no rule governs, if any.
  public mutating func dropConditionalInfusions(after day: Double) -> Int? {
    if let k = infusions.indices.first(where: { infusions[$0].day > day && rule(for: $0) == nil }) { return k }
    let keep = infusions.filter { $0.day <= day }.count
    infusions = Array(infusions.prefix(keep))
    rules = rules.compactMap { r in
      guard r.first <= keep else { return nil }
      var r = r
      r.last = min(r.last, keep)
      return r
    }
    return nil
  }

  /// The rule that governs infusion `k` (0-based), if any (the first that names it).
  public func rule(for k: Int) -> DosingRule? { rules.first { $0.governs(k + 1) } }

  /// The earliest day anything is given.
  public var firstDay: Double {
    var d = infusions.map(\.day).min() ?? 0
    if let ld = lymphodepletion {
      for inf in infusions where inf.lymphodepleted {
        for a in ld.agents { d = min(d, inf.day + (a.days.min() ?? 0)) }
      }
    }
    if let c = checkpoint { d = min(d, c.startDay) }
    for c in chemotherapy { d = min(d, c.day) }
    return d
  }
}

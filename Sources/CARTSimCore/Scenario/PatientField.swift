import CARTModels

/// The covariates of a ``Patient`` by the key that scenario files (`patient`), covariate
/// tables and distributions, and `summary.json` use for them — with their bounds — in one place.
public enum PatientField: String, CaseIterable, Sendable {
  case ageYears = "age_years", weightKg = "weight_kg", heightCm = "height_cm", baselineSLDmm = "baseline_sld_mm"
  case her2Level = "her2_level"

  public var keyPath: WritableKeyPath<Patient, Double> {
    switch self {
    case .ageYears: \.ageYears
    case .weightKg: \.weightKg
    case .heightCm: \.heightCm
    case .baselineSLDmm: \.baselineSLDmm
    case .her2Level: \.her2Level
    }
  }

  /// The smallest value a scenario may give (a tumour must have a size: exclusive for the SLD).
  public var lowerBound: Double {
    switch self {
    case .ageYears, .baselineSLDmm, .her2Level: 0
    case .weightKg: 0.5
    case .heightCm: 30
    }
  }

  public var lowerBoundIsExclusive: Bool { self == .baselineSLDmm }

  /// The largest value a scenario or a covariate table may give.
  public var upperBound: Double {
    switch self {
    case .ageYears: 120
    case .weightKg: 300
    case .heightCm: 250
    case .baselineSLDmm: 2000
    case .her2Level: 100
    }
  }

  /// The keys, in this order.
  public static let keys = allCases.map(\.rawValue)
}

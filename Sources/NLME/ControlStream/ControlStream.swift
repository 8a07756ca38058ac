/// A NONMEM control stream as NM-TRAN reads it, for the subset CARTSim runs: the records of
/// ``ControlStream/Record``; any other record, and any option of these records CARTSim does not
/// carry out, is refused by name with its line.
public struct ControlStream: Sendable {
  public var file: String
  public var problem = ""
  public var input: [InputItem] = []
  public var data: DataRecord?
  public var advan: Int?
  public var trans: Int = 1
  /// `TOL=n` and `ATOL=n` of `$SUBROUTINES` (significant digits; relative and absolute
  /// tolerance 10⁻ⁿ of the ODE solver), nil when not given.
  public var tolerance: Int?
  public var absoluteTolerance: Int?
  public var compartments: [Compartment] = []
  public var pk: CodeBlock?
  public var error: CodeBlock?
  public var pred: CodeBlock?
  public var des: CodeBlock?
  public var thetas: [Theta] = []
  public var omegas: [VarianceBlock] = []
  public var sigmas: [VarianceBlock] = []
  public var estimations: [EstimationStep] = []
  public var covariance: CovarianceStep?
  public var tables: [TableRecord] = []
  public var symbols = SymbolTable()
  /// An SBML model (or a built-in one, exported to SBML) as the structural model, with its
  /// parameters, dose and observation compartments mapped (JSON form only).
  public var sbml: SBMLMapping?

  /// How a population model drives an SBML model: which code variable sets each SBML
  /// parameter (`SBML(k)` slots the JSON's expressions are assigned to), which species each
  /// CMT doses into and which symbol each CMT observes.
  public struct SBMLMapping: Sendable, Equatable {
    /// A file relative to the JSON, or `builtin:NAME`.
    public var source: String
    public var parameters: [(id: String, variable: String)]
    public var doses: [Int: String]
    public var observations: [Int: String]

    public static func == (a: SBMLMapping, b: SBMLMapping) -> Bool {
      a.source == b.source && a.parameters.map(\.id) == b.parameters.map(\.id)
        && a.parameters.map(\.variable) == b.parameters.map(\.variable)
        && a.doses == b.doses && a.observations == b.observations
    }
  }

  /// The record names, with the shortest abbreviation NM-TRAN takes (three letters).
  public enum Record: String, CaseIterable, Sendable {
    case problem = "PROBLEM", input = "INPUT", data = "DATA", subroutines = "SUBROUTINES"
    case model = "MODEL", pk = "PK", error = "ERROR", pred = "PRED", des = "DES"
    case theta = "THETA", omega = "OMEGA", sigma = "SIGMA"
    case estimation = "ESTIMATION", covariance = "COVARIANCE", table = "TABLE"

    static func named(_ word: String) -> Record? {
      if word == "PK" { return .pk }
      if word == "ESTIMATE" { return .estimation }
      guard word.count >= 3 else { return nil }
      return allCases.first { $0.rawValue.hasPrefix(word) && $0 != .pk }
    }
  }

  /// One `$INPUT` item: its name, a synonym (`DV=CONC`), or dropped (`WT=DROP`).
  public struct InputItem: Sendable, Equatable {
    public var name: String
    public var synonym: String?
    public var dropped: Bool

    public init(name: String, synonym: String? = nil, dropped: Bool = false) {
      self.name = name
      self.synonym = synonym
      self.dropped = dropped
    }
  }

  /// `$DATA`: the file (relative to the control stream's folder) and which records to keep.
  public struct DataRecord: Sendable {
    public var path: String
    /// `IGNORE=c`: records whose first character is c (`@`: whose first non-blank character is
    /// a letter or @) are passed over. NM-TRAN's default is `#`.
    public var ignoreCharacter: Character = "#"
    /// `IGNORE=(…)` and `ACCEPT=(…)` conditions, as code over the data items.
    public var ignore: [DataCondition] = []
    public var accept: [DataCondition] = []
    public var line: Int

    public init(path: String, line: Int) {
      self.path = path
      self.line = line
    }
  }

  /// A condition of `IGNORE=(…)`/`ACCEPT=(…)`: item, comparison and value (`DV.EQ.0`).
  public struct DataCondition: Sendable, Equatable {
    public var item: String
    public var op: Expr.BinaryOp
    public var value: Double
  }

  /// A `$MODEL` compartment: `COMP=(CENTRAL DEFDOSE DEFOBS)`.
  public struct Compartment: Sendable, Equatable {
    public var name: String
    public var defaultDose: Bool
    public var defaultObservation: Bool
  }

  /// One THETA: bounds, initial value, fixed.
  public struct Theta: Sendable, Equatable {
    public var lower: Double
    public var initial: Double
    public var upper: Double
    public var fixed: Bool
  }

  /// One `$OMEGA` or `$SIGMA` record: a diagonal run of variances or a BLOCK(n) with its lower
  /// triangle (row by row, as NONMEM orders it).
  public struct VarianceBlock: Sendable, Equatable {
    public var size: Int
    public var block: Bool
    /// Diagonal: `size` variances. Block: size(size+1)/2 lower-triangle values.
    public var values: [Double]
    public var fixed: Bool
    /// `BLOCK(n) SAME`: the values of the block before it.
    public var same: Bool
  }

  /// `$ESTIMATION`.
  public struct EstimationStep: Sendable, Equatable {
    public enum Method: String, Sendable, Codable, CaseIterable {
      case fo = "FO", foce = "FOCE", focei = "FOCE-I", laplace = "LAPLACE", saem = "SAEM", imp = "IMP"
    }
    public var method: Method
    public var maxEvaluations: Int?
    /// Importance samples per subject (`ISAMPLE`), SAEM's burn-in and averaging iterations
    /// (`NBURN`, `NITER`), the seed of the random draws (`SEED`), and whether the step only
    /// evaluates the objective (`EONLY=1`).
    public var samples: Int?
    public var burnIn: Int?
    public var iterations: Int?
    public var seed: UInt64?
    public var evaluateOnly = false
    public var line: Int

    public init(method: Method, line: Int) {
      self.method = method
      self.line = line
    }
  }

  /// `$COVARIANCE`: the sandwich R⁻¹SR⁻¹ unless `MATRIX=R` or `MATRIX=S`.
  public struct CovarianceStep: Sendable, Equatable {
    public enum Matrix: String, Sendable, Codable { case sandwich, r = "R", s = "S" }
    public var matrix: Matrix
  }

  /// `$TABLE`: items and the file.
  public struct TableRecord: Sendable, Equatable {
    public var items: [String]
    public var file: String?
    public var firstOnly: Bool
    public var noAppend: Bool
  }
}

extension ControlStream {
  /// The number of ETAs and EPSs the variance records declare.
  public var etaCount: Int { omegas.reduce(0) { $0 + $1.size } }
  public var epsCount: Int { sigmas.reduce(0) { $0 + $1.size } }

  /// The full covariance matrix (row-major, n×n) of a list of variance blocks.
  public static func matrix(_ blocks: [VarianceBlock]) -> [Double] {
    let n = blocks.reduce(0) { $0 + $1.size }
    var m = [Double](repeating: 0, count: n * n)
    var offset = 0
    for b in blocks {
      var k = 0
      for i in 0..<b.size {
        if b.block {
          for j in 0...i {
            m[(offset + i) * n + offset + j] = b.values[k]
            m[(offset + j) * n + offset + i] = b.values[k]
            k += 1
          }
        } else {
          m[(offset + i) * n + offset + i] = b.values[i]
        }
      }
      offset += b.size
    }
    return m
  }
}

import Foundation

/// Counts of positive values in logarithmic bins (20 per decade from 1e-6 to 1e6; values at
/// or below 1e-6 fall in the zero bin). Counts add, so shards merge exactly; quantiles are read
/// with geometric interpolation inside a bin (resolution about 12%).
public struct LogHistogram: Sendable, Equatable {
  public static let perDecade = 20.0
  public static let lowDecade = -6.0
  public static let bins = 240
  /// Index 0 is the zero bin; bin k ≥ 1 covers [10^(low + (k−1)/20), 10^(low + k/20)).
  /// Counts by bin, `bins + 1` of them (a direct index: the hash of a dictionary was a
  /// fiftieth of a trial's time).
  public private(set) var counts = [Int](repeating: 0, count: bins + 1)
  public var total = 0

  public init() {}

  public mutating func add(_ x: Double) {
    var k = 0
    if x > 1e-6 {
      k = min(Self.bins, Int(((Foundation.log10(x) - Self.lowDecade) * Self.perDecade).rounded(.down)) + 1)
    }
    counts[k] += 1
    total += 1
  }

  public mutating func merge(_ o: LogHistogram) {
    for k in counts.indices { counts[k] += o.counts[k] }
    total += o.total
  }

  /// The q-quantile (0…1), or nil when empty; 0 when it falls in the zero bin.
  public func quantile(_ q: Double) -> Double? {
    guard total > 0 else { return nil }
    let target = q * Double(total)
    var acc = 0.0
    for k in counts.indices where counts[k] > 0 {
      let c = Double(counts[k])
      if acc + c >= target {
        if k == 0 { return 0 }
        let frac = max(0, min(1, (target - acc) / c))
        return Foundation.pow(10, Self.lowDecade + (Double(k - 1) + frac) / Self.perDecade)
      }
      acc += c
    }
    return Foundation.pow(10, Self.lowDecade + Double(Self.bins) / Self.perDecade)
  }

  /// The non-empty bins as `[bin, count]` pairs, ascending.
  var json: JSONOut { .array(counts.indices.filter { counts[$0] > 0 }.map { .array([.int($0), .int(counts[$0])]) }) }

  init(json: JSONValue) throws {
    guard case .array(let pairs) = json else { throw AggregateError.malformed("histogram") }
    for p in pairs {
      guard case .array(let kc) = p, kc.count == 2, case .number(let kx) = kc[0], case .number(let cx) = kc[1],
        let k = Limits.count(kx, in: 0...Self.bins), let c = Limits.count(cx, in: 0...Limits.patients),
        total + c <= Limits.patients
      else {
        throw AggregateError.malformed("histogram bin")
      }
      counts[k] = c
      total += c
    }
  }
}

enum AggregateError: Error, CustomStringConvertible {
  case malformed(String)
  var description: String {
    switch self {
    case .malformed(let what): return "malformed \(what) in aggregate.json"
    }
  }
}

/// What a trial run keeps besides patients.csv, all of it mergeable exactly: the trial's
/// identity, the patient range it covers, CAR T kinetics histograms per arm and day, and the
/// RECIST assessments of the first patients of each arm (spider plots).
public struct TrialAggregate: Sendable {
  public struct ArmInfo: Sendable, Equatable {
    public var name: String
    public var patients: Int
    public var description: String
  }
  public static let format = "cartsim-trial-aggregate 1"
  /// Patients per arm whose assessments are kept for spider and swimmer plots.
  public static let samplePatients = 40

  public var name: String
  public var specFile: String
  public var seed: UInt64
  public var followUpDays: Double
  public var dltDefinition: String
  public var survivalModel: String
  public var arms: [ArmInfo]
  public var kineticsDays: [Double]
  /// Global patient ranges [start, end) covered.
  public var ranges: [Range<Int>]
  /// kinetics[arm][day]
  public var kinetics: [[LogHistogram]]
  /// samples[arm][id] = assessments (day, % change, response)
  public var samples: [[Int: [(day: Double, percent: Double, response: Response)]]]

  public init(spec: TrialSpec, range: Range<Int>) {
    name = spec.name
    specFile = (spec.file as NSString).lastPathComponent
    seed = spec.seed
    followUpDays = spec.followUpDays
    dltDefinition = spec.dlt.description
    let s = spec.survival
    survivalModel =
      "death hazard ln2/\(fmt(s.preProgressionMedianDays)) per day before progression, ln2/\(fmt(s.postProgressionMedianDays)) after; dropout \(fmt(s.dropoutPerYear))/year"
    arms = spec.arms.map { ArmInfo(name: $0.name, patients: $0.patients, description: $0.scenario.description) }
    kineticsDays = spec.kineticsDays
    ranges = [range]
    kinetics = spec.arms.map { _ in spec.kineticsDays.map { _ in LogHistogram() } }
    samples = spec.arms.map { _ in [:] }
  }

  mutating func add(_ r: PatientRecord) {
    for (j, x) in r.kinetics.enumerated() { kinetics[r.arm][j].add(x) }
    if r.id < Self.samplePatients && r.succeeded {
      samples[r.arm][r.id] = r.assessments.map { ($0.day, $0.percentFromBaseline, $0.response) }
    }
  }

  /// Identity of the trial (everything but the ranges and the data).
  var identity: String {
    "\(name)|\(seed)|\(followUpDays)|\(dltDefinition)|\(survivalModel)|" + arms.map { "\($0.name):\($0.patients)" }.joined(separator: ",")
  }

  /// Adds another shard's aggregate; the two must be shards of the same trial.
  public mutating func merge(_ o: TrialAggregate) throws {
    guard o.identity == identity else { throw AggregateError.malformed("merge: the shards are of different trials") }
    ranges += o.ranges
    for a in arms.indices {
      for d in kineticsDays.indices { kinetics[a][d].merge(o.kinetics[a][d]) }
      samples[a].merge(o.samples[a]) { x, _ in x }
    }
  }

  var json: JSONOut {
    .object([
      ("format", .string(Self.format)),
      ("name", .string(name)), ("spec_file", .string(specFile)), ("seed", .string(String(seed))),
      ("follow_up_days", .number(followUpDays)), ("dlt_definition", .string(dltDefinition)),
      ("survival_model", .string(survivalModel)),
      (
        "arms",
        .array(
          arms.map { .object([("name", .string($0.name)), ("patients", .int($0.patients)), ("description", .string($0.description))]) })
      ),
      ("ranges", .array(ranges.map { .array([.int($0.lowerBound), .int($0.upperBound)]) })),
      ("kinetics_days", .array(kineticsDays.map(JSONOut.number))),
      ("kinetics", .array(kinetics.map { .array($0.map(\.json)) })),
      (
        "samples",
        .array(
          samples.map { arm in
            .array(
              arm.keys.sorted().map { id in
                .object([
                  ("id", .int(id)),
                  ("assessments", .array(arm[id]!.map { .array([.number($0.day), .number($0.percent), .string($0.response.rawValue)]) })),
                ])
              })
          })
      ),
    ])
  }

  public static func load(path: String) throws -> TrialAggregate {
    let v = try JSONValue.load(path: path)
    do { return try TrialAggregate(json: v) } catch let e as AggregateError {
      throw InputError(file: path, path: "", message: e.description)
    }
  }

  init(json v: JSONValue) throws {
    guard case .object(let o) = v, case .string(Self.format)? = o["format"] else {
      throw AggregateError.malformed("header (not a trial aggregate)")
    }
    func str(_ k: String) throws -> String {
      guard case .string(let s)? = o[k] else { throw AggregateError.malformed(k) }
      return s
    }
    func num(_ k: String) throws -> Double {
      guard case .number(let x)? = o[k] else { throw AggregateError.malformed(k) }
      return x
    }
    func arr(_ k: String) throws -> [JSONValue] {
      guard case .array(let a)? = o[k] else { throw AggregateError.malformed(k) }
      return a
    }
    name = try str("name")
    specFile = try str("spec_file")
    guard let s = UInt64(try str("seed")) else { throw AggregateError.malformed("seed") }
    seed = s
    followUpDays = try num("follow_up_days")
    dltDefinition = try str("dlt_definition")
    survivalModel = try str("survival_model")
    arms = try arr("arms").map {
      guard case .object(let a) = $0, case .string(let n)? = a["name"], case .number(let px)? = a["patients"],
        let p = Limits.count(px, in: 0...Limits.patients), case .string(let d)? = a["description"]
      else {
        throw AggregateError.malformed("arm")
      }
      return ArmInfo(name: n, patients: p, description: d)
    }
    guard Set(arms.map(\.name)).count == arms.count else { throw AggregateError.malformed("arms (a name twice)") }
    ranges = try arr("ranges").map {
      let bound = Limits.patients * 1000
      guard case .array(let r) = $0, r.count == 2, case .number(let ax) = r[0], case .number(let bx) = r[1],
        let a = Limits.count(ax, in: 0...bound), let b = Limits.count(bx, in: 0...bound), a <= b
      else {
        throw AggregateError.malformed("range")
      }
      return a..<b
    }
    let days = try arr("kinetics_days").map {
      guard case .number(let x) = $0 else { throw AggregateError.malformed("kinetics day") }
      return x
    }
    kineticsDays = days
    kinetics = try arr("kinetics").map { arm in
      guard case .array(let perDay) = arm, perDay.count == days.count else { throw AggregateError.malformed("kinetics") }
      return try perDay.map(LogHistogram.init(json:))
    }
    samples = try arr("samples").map { arm in
      guard case .array(let list) = arm else { throw AggregateError.malformed("samples") }
      var out: [Int: [(day: Double, percent: Double, response: Response)]] = [:]
      for item in list {
        guard case .object(let p) = item, case .number(let idx)? = p["id"], let id = Limits.count(idx, in: 0...Limits.patients),
          case .array(let a)? = p["assessments"]
        else {
          throw AggregateError.malformed("sample")
        }
        out[id] = try a.map {
          guard case .array(let t) = $0, t.count == 3, case .number(let d) = t[0], case .number(let pc) = t[1],
            case .string(let rs) = t[2], let resp = Response(rawValue: rs)
          else { throw AggregateError.malformed("assessment") }
          return (d, pc, resp)
        }
      }
      return out
    }
    guard kinetics.count == arms.count, samples.count == arms.count else { throw AggregateError.malformed("arms") }
  }
}

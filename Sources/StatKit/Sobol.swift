import RealModule

/// One uncertain input of a global sensitivity analysis: its name and the range it is drawn from,
/// uniformly or log-uniformly between `low` and `high`.
public struct SobolFactor: Sendable, Codable, Hashable {
  public enum Scale: String, Sendable, Codable, CaseIterable {
    /// Uniform between `low` and `high`.
    case uniform
    /// Log-uniform between `low` and `high` (both > 0): the logarithm is uniform.
    case logUniform = "log-uniform"
  }

  public var name: String
  public var low: Double
  public var high: Double
  public var scale: Scale

  /// - Precondition: `low` and `high` finite with `low <= high`; `low > 0` on the log-uniform scale.
  public init(name: String, low: Double, high: Double, scale: Scale = .uniform) {
    precondition(Self.validRange(low, high, scale), "factor \(name): needs finite low <= high (and low > 0 if log-uniform)")
    self.name = name
    self.low = low
    self.high = high
    self.scale = scale
  }

  /// Decoding checks the same conditions as `init(name:low:high:scale:)` and throws
  /// `DecodingError.dataCorrupted` instead of stopping.
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    name = try c.decode(String.self, forKey: .name)
    low = try c.decode(Double.self, forKey: .low)
    high = try c.decode(Double.self, forKey: .high)
    scale = try c.decodeIfPresent(Scale.self, forKey: .scale) ?? .uniform
    guard Self.validRange(low, high, scale) else {
      throw DecodingError.dataCorruptedError(
        forKey: .high, in: c, debugDescription: "factor \(name): needs finite low <= high (and low > 0 if log-uniform)")
    }
  }

  static func validRange(_ low: Double, _ high: Double, _ scale: Scale) -> Bool {
    low.isFinite && high.isFinite && low <= high && (scale == .uniform || low > 0)
  }

  /// The factor's value at the unit coordinate `u` ∈ [0, 1]: low + u·(high − low), or
  /// low·(high/low)^u on the log-uniform scale (kept inside [low, high] against round-off).
  public func value(_ u: Double) -> Double {
    switch scale {
    case .uniform:
      return low + u * (high - low)
    case .logUniform:
      return min(max(low * Double.exp(u * Double.log(high / low)), low), high)
    }
  }
}

/// The Saltelli sampling design of a variance-based (Sobol') sensitivity analysis of `d` factors
/// with base sample size `N` (Saltelli et al. 2010, Comput Phys Commun 181:259).
///
/// Two independent N×d matrices A and B of uniform (0, 1) points, and d matrices AB_i: A with
/// column i taken from B. Row `j` of A and B is read from its own stream,
/// `RandomStream(seed: seed, id: RandomStream.address(SobolDesign.streamTag, 0, j))`: its first d
/// uniforms are A's row, the next d B's row. The design is therefore a pure function of
/// (seed, N, d): any point can be recomputed on any thread, in any order. Row j does not depend
/// on N, so a design with a larger N extends a smaller one with the same seed and factors.
///
/// The model is evaluated at `count` = N·(d + 2) points, numbered row by row: point
/// `k = j·(d + 2) + s` is row `j` of A (s = 0), of B (s = 1) or of AB_i (s = 2 + i, i 0-based).
/// `index(row:matrix:)` and `location(_:)` convert between the two numberings. Evaluate the
/// points in any order, put output k at position k of an array and hand it to
/// `SobolIndices(design:outputs:replicates:level:)`.
public struct SobolDesign: Sendable {
  /// Which matrix of the design a point belongs to; `ab(i)` is A with column i (0-based) from B.
  public enum Matrix: Hashable, Sendable {
    case a, b, ab(Int)
  }

  /// First part of every stream address of the design and of its bootstrap ("Sobol" in ASCII),
  /// so that a sensitivity analysis and a trial run with the same seed read unrelated streams.
  public static let streamTag: UInt64 = 0x536F_626F_6C

  /// The factors, in column order.
  public let factors: [SobolFactor]
  /// Base sample size N (rows of A and B).
  public let baseSamples: Int
  public let seed: UInt64

  /// - Precondition: at least one factor, `baseSamples >= 2`, and N·(d + 2) fits in an `Int`.
  public init(factors: [SobolFactor], baseSamples: Int, seed: UInt64) {
    precondition(!factors.isEmpty, "a Sobol design needs at least one factor (d >= 1)")
    precondition(baseSamples >= 2, "a Sobol design needs a base sample size N >= 2")
    precondition(
      !baseSamples.multipliedReportingOverflow(by: factors.count + 2).overflow,
      "N·(d + 2) evaluation points overflow")
    self.factors = factors
    self.baseSamples = baseSamples
    self.seed = seed
  }

  /// Number of factors d.
  public var dimensions: Int { factors.count }

  /// Number of model evaluations, N·(d + 2).
  public var count: Int { baseSamples * (factors.count + 2) }

  /// The position of row `row` of `matrix` in the evaluation order.
  public func index(row: Int, matrix: Matrix) -> Int {
    precondition(row >= 0 && row < baseSamples, "row \(row) outside 0..<\(baseSamples)")
    let slot: Int
    switch matrix {
    case .a: slot = 0
    case .b: slot = 1
    case .ab(let i):
      precondition(i >= 0 && i < factors.count, "factor \(i) outside 0..<\(factors.count)")
      slot = 2 + i
    }
    return row * (factors.count + 2) + slot
  }

  /// The row and matrix of point `index` of the evaluation order.
  public func location(_ index: Int) -> (row: Int, matrix: Matrix) {
    precondition(index >= 0 && index < count, "point \(index) outside 0..<\(count)")
    let (row, slot) = index.quotientAndRemainder(dividingBy: factors.count + 2)
    switch slot {
    case 0: return (row, .a)
    case 1: return (row, .b)
    default: return (row, .ab(slot - 2))
    }
  }

  /// Row `row` of A and of B, unit coordinates in (0, 1).
  public func baseRows(_ row: Int) -> (a: [Double], b: [Double]) {
    precondition(row >= 0 && row < baseSamples, "row \(row) outside 0..<\(baseSamples)")
    var rng = RandomStream(seed: seed, id: RandomStream.address(Self.streamTag, 0, UInt64(row)))
    let d = factors.count
    let a = (0..<d).map { _ in rng.uniform() }
    let b = (0..<d).map { _ in rng.uniform() }
    return (a, b)
  }

  /// Point `index` of the evaluation order in unit coordinates (one per factor, in (0, 1)).
  public func unitPoint(_ index: Int) -> [Double] {
    let (row, matrix) = location(index)
    let (a, b) = baseRows(row)
    switch matrix {
    case .a: return a
    case .b: return b
    case .ab(let i):
      var p = a
      p[i] = b[i]
      return p
    }
  }

  /// All `count` points in the evaluation order, unit coordinates.
  public func unitPoints() -> [[Double]] {
    var points: [[Double]] = []
    points.reserveCapacity(count)
    for row in 0..<baseSamples {
      let (a, b) = baseRows(row)
      points.append(a)
      points.append(b)
      for i in 0..<factors.count {
        var p = a
        p[i] = b[i]
        points.append(p)
      }
    }
    return points
  }

  /// Unit coordinates mapped to factor values by each factor's range and scale.
  public func parameters(unit: [Double]) -> [Double] {
    precondition(unit.count == factors.count, "a point has one coordinate per factor")
    return zip(factors, unit).map { $0.value($1) }
  }

  /// Point `index` of the evaluation order as factor values.
  public func parameters(_ index: Int) -> [Double] {
    parameters(unit: unitPoint(index))
  }

  /// All `count` points in the evaluation order as factor values.
  public func parameterPoints() -> [[Double]] {
    unitPoints().map { parameters(unit: $0) }
  }
}

/// A model output that is not a finite number: Sobol' indices are not defined with it.
/// Thrown by `SobolIndices.init`; the caller decides whether to drop the design's row, impute
/// or give up.
public struct SobolNonFiniteOutput: Error, CustomStringConvertible, Sendable {
  /// Position of the output in the array handed over (the design's evaluation order).
  public var index: Int
  /// Row j of the design and matrix the output belongs to.
  public var row: Int
  public var matrix: SobolDesign.Matrix
  public var value: Double

  public var description: String {
    let name: String
    switch matrix {
    case .a: name = "A"
    case .b: name = "B"
    case .ab(let i): name = "AB_\(i + 1)"
    }
    return "model output \(index) (row \(row) of \(name)) is \(value), not a finite number"
  }
}

/// First-order and total Sobol' indices with bootstrap percentile confidence intervals.
///
/// Estimators of Saltelli et al. (2010, Comput Phys Commun 181:259, Table 2): with f(A), f(B) and
/// f(AB_i) the outputs of the design's rows,
/// - first order S_i = mean_j[f(B)_j·(f(AB_i)_j − f(A)_j)] / V (their (b)),
/// - total ST_i = mean_j[(f(A)_j − f(AB_i)_j)²] / 2 / V (Jansen 1999, their (f)),
///
/// with V the variance of the 2N pooled outputs of A and B (divisor 2N). The outputs are first
/// centred on that pooled mean: this leaves the expectation of both estimators unchanged (E f(AB_i)
/// = E f(A)) but removes the f₀² term from the variance of the first-order estimator, so the
/// indices do not depend on an additive offset of the output. When V is 0 (a constant output)
/// every index is 0. Estimates are not clipped to [0, 1]: with small N an S_i near 0 can come out
/// slightly negative.
///
/// Confidence intervals: `replicates` bootstrap samples of the N rows drawn with replacement
/// (replicate r reads `RandomStream(seed: seed, id: RandomStream.address(SobolDesign.streamTag,
/// 1, r))`, one uniform per row), every index and V recomputed on each, percentile interval at
/// `level` (linear interpolation between order statistics). With 0 replicates the bounds are nil.
public struct SobolIndices: Sendable, Codable, Equatable {
  /// The indices of one factor; `…Low`/`…High` are the bootstrap percentile bounds.
  public struct Factor: Sendable, Codable, Equatable {
    public var name: String
    public var first: Double
    public var firstLow: Double?
    public var firstHigh: Double?
    public var total: Double
    public var totalLow: Double?
    public var totalHigh: Double?

    enum CodingKeys: String, CodingKey {
      case name, first, firstLow = "first_low", firstHigh = "first_high"
      case total, totalLow = "total_low", totalHigh = "total_high"
    }
  }

  /// One entry per factor, in the design's column order.
  public var factors: [Factor]
  /// Base sample size N.
  public var baseSamples: Int
  /// Number of factors d.
  public var dimensions: Int
  /// Variance of the pooled outputs of A and B (divisor 2N).
  public var variance: Double
  /// Bootstrap replicates behind the intervals (0: no intervals).
  public var replicates: Int
  /// Confidence level of the intervals.
  public var level: Double

  enum CodingKeys: String, CodingKey {
    case factors, baseSamples = "N", dimensions = "d", variance, replicates = "bootstrap", level
  }

  /// The factor named `name`, if any.
  public subscript(name: String) -> Factor? {
    factors.first { $0.name == name }
  }

  /// Indices from the outputs of a design, given in its evaluation order (output k at point
  /// `design.unitPoint(k)`); the bootstrap reads streams of the design's seed.
  /// - Precondition: `outputs.count == design.count`; `0 <= replicates <= 100_000`; 0 < level < 1.
  /// - Throws: ``SobolNonFiniteOutput`` for the first output (in evaluation order) that is NaN or ±∞.
  public init(design: SobolDesign, outputs: [Double], replicates: Int = 1000, level: Double = 0.95) throws {
    precondition(outputs.count == design.count, "\(outputs.count) outputs for a design of \(design.count) points")
    if let k = outputs.firstIndex(where: { !$0.isFinite }) {
      let (row, matrix) = design.location(k)
      throw SobolNonFiniteOutput(index: k, row: row, matrix: matrix, value: outputs[k])
    }
    let n = design.baseSamples, d = design.dimensions, stride = d + 2
    var fA = [Double](repeating: 0, count: n), fB = fA
    var fAB = [[Double]](repeating: fA, count: d)
    for j in 0..<n {
      fA[j] = outputs[j * stride]
      fB[j] = outputs[j * stride + 1]
      for i in 0..<d { fAB[i][j] = outputs[j * stride + 2 + i] }
    }
    try self.init(
      names: design.factors.map(\.name), a: fA, b: fB, ab: fAB, seed: design.seed,
      replicates: replicates, level: level)
  }

  /// Indices from outputs arranged by matrix: `a[j]` = f(A)_j, `b[j]` = f(B)_j and `ab[i][j]` =
  /// f(AB_i)_j, for designs built elsewhere; `seed` addresses the bootstrap streams.
  /// - Precondition: `names.count == ab.count >= 1`; all arrays of one length N >= 2;
  ///   `0 <= replicates <= 100_000`; 0 < level < 1.
  /// - Throws: ``SobolNonFiniteOutput`` for the first non-finite output (index in the design order
  ///   of `SobolDesign`, rows first).
  public init(
    names: [String], a: [Double], b: [Double], ab: [[Double]], seed: UInt64,
    replicates: Int = 1000, level: Double = 0.95
  ) throws {
    let n = a.count, d = ab.count
    precondition(d >= 1 && names.count == d, "one name and one AB matrix per factor, at least one factor")
    precondition(n >= 2 && b.count == n && ab.allSatisfy { $0.count == n }, "A, B and every AB_i need the same N >= 2 rows")
    precondition(replicates >= 0 && replicates <= 100_000, "bootstrap replicates must be in 0...100_000")
    precondition(level > 0 && level < 1, "confidence level must be in (0, 1)")
    for j in 0..<n {
      let row = [a[j], b[j]] + ab.map { $0[j] }
      if let s = row.firstIndex(where: { !$0.isFinite }) {
        let matrix: SobolDesign.Matrix = s == 0 ? .a : s == 1 ? .b : .ab(s - 2)
        throw SobolNonFiniteOutput(index: j * (d + 2) + s, row: j, matrix: matrix, value: row[s])
      }
    }
    // Centre on the pooled mean (see the type's documentation).
    var mean = 0.0
    for j in 0..<n { mean += a[j] + b[j] }
    mean /= Double(2 * n)
    let fA = a.map { $0 - mean }, fB = b.map { $0 - mean }
    let fAB = ab.map { $0.map { $0 - mean } }

    let point = Self.estimate(fA, fB, fAB, weights: nil)
    var firstDraws = [[Double]](repeating: [], count: d), totalDraws = firstDraws
    if replicates > 0 {
      for i in 0..<d {
        firstDraws[i].reserveCapacity(replicates)
        totalDraws[i].reserveCapacity(replicates)
      }
      // A bootstrap sample as the number of times each row was drawn.
      var weights = [Double](repeating: 0, count: n)
      for r in 0..<replicates {
        var rng = RandomStream(seed: seed, id: RandomStream.address(SobolDesign.streamTag, 1, UInt64(r)))
        for j in 0..<n { weights[j] = 0 }
        for _ in 0..<n { weights[min(Int(rng.uniform() * Double(n)), n - 1)] += 1 }
        let e = Self.estimate(fA, fB, fAB, weights: weights)
        for i in 0..<d {
          firstDraws[i].append(e.first[i])
          totalDraws[i].append(e.total[i])
        }
      }
    }
    let lowP = (1 - level) / 2, highP = (1 + level) / 2
    factors = (0..<d).map { i in
      var f = Factor(name: names[i], first: point.first[i], total: point.total[i])
      if replicates > 0 {
        let s = firstDraws[i].sorted(), t = totalDraws[i].sorted()
        f.firstLow = Self.quantile(s, lowP)
        f.firstHigh = Self.quantile(s, highP)
        f.totalLow = Self.quantile(t, lowP)
        f.totalHigh = Self.quantile(t, highP)
      }
      return f
    }
    baseSamples = n
    dimensions = d
    variance = point.variance
    self.replicates = replicates
    self.level = level
  }

  /// V, S_i and ST_i over all rows (weights nil) or a bootstrap sample (row j counted
  /// `weights[j]` times, the weights summing to N).
  static func estimate(
    _ fA: [Double], _ fB: [Double], _ fAB: [[Double]], weights: [Double]?
  ) -> (variance: Double, first: [Double], total: [Double]) {
    let n = fA.count, d = fAB.count
    let w = weights ?? [Double](repeating: 1, count: n)
    var mean = 0.0
    for j in 0..<n { mean += w[j] * (fA[j] + fB[j]) }
    mean /= Double(2 * n)
    var ss = 0.0
    for j in 0..<n {
      let x = fA[j] - mean, y = fB[j] - mean
      ss += w[j] * (x * x + y * y)
    }
    let variance = ss / Double(2 * n)
    guard variance > 0 else {
      return (0, [Double](repeating: 0, count: d), [Double](repeating: 0, count: d))
    }
    var first = [Double](repeating: 0, count: d), total = first
    for i in 0..<d {
      let g = fAB[i]
      var s = 0.0, t = 0.0
      for j in 0..<n {
        let diff = g[j] - fA[j]
        s += w[j] * fB[j] * diff
        t += w[j] * diff * diff
      }
      first[i] = s / Double(n) / variance
      total[i] = t / Double(2 * n) / variance
    }
    return (variance, first, total)
  }

  /// Quantile `p` of sorted values, interpolating linearly between order statistics (R's type 7).
  static func quantile(_ sorted: [Double], _ p: Double) -> Double {
    let h = Double(sorted.count - 1) * p
    let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
  }
}

/// A visual predictive check (Holford 2005; prediction-corrected as Bergstrand et al. 2011,
/// AAPS J 13:143–151): the observations binned by time, their 5th, 50th and 95th percentiles
/// set against the 95% intervals of the same percentiles over simulated replicates of the
/// design, and the fraction below the quantification limit, observed and simulated.
///
/// - Bins hold nearly equal numbers of observations; observations at one time stay in one bin.
/// - Prediction correction scales each value by PRED_bin/PRED (the bin's median population
///   prediction over the observation's), or shifts it by PRED_bin − PRED on a log scale.
/// - A censored value (observed or simulated) lies below the limit: it counts in the
///   percentiles as −∞, so a percentile that falls among censored values is undefined (null).
public struct VPC: Codable, Sendable {
  public struct Bin: Codable, Sendable {
    public var lower: Double
    public var upper: Double
    /// The median time of the bin's observations (where the bin is drawn).
    public var time: Double
    public var observations: Int
    /// Observed percentiles, in the order of ``VPC/percentiles``.
    public var observed: [Double?]
    /// For each percentile, the 2.5th, 50th and 97.5th percentiles of it over the replicates.
    public var simulated: [[Double?]]
    public var blqObserved: Double
    /// The fraction below the limit over the replicates: 2.5th, 50th, 97.5th percentiles.
    public var blqSimulated: [Double]
  }

  public var percentiles = [0.05, 0.5, 0.95]
  public var replicates: Int
  public var seed: UInt64
  public var predictionCorrected: Bool
  public var logScale: Bool
  public var bins: [Bin]
  /// The (prediction-corrected) observations: time, value (nil when censored).
  public var points: [[Double?]]
  /// Whether the data have a quantification limit (the BLQ panel means something).
  public var hasLimit: Bool

  public init(
    problem: NLMEProblem, parameters: PopulationParameters, replicates: Int, seed: UInt64, threads: Int, binCount: Int,
    predictionCorrected: Bool, logScale: Bool
  ) {
    self.replicates = replicates
    self.seed = seed
    self.predictionCorrected = predictionCorrected
    self.logScale = logScale
    let simulation = NLMESimulation(problem: problem, parameters: parameters)
    var times: [Double] = []
    var dv: [Double] = []
    var censored: [Bool] = []
    for s in problem.data.subjects {
      for r in s.observations {
        times.append(s.records[r].time)
        dv.append(s.records[r].dv)
        censored.append(s.records[r].censoredBelow != nil)
      }
    }
    hasLimit = problem.data.subjects.contains { $0.records.contains { $0.limit != nil } }
    let pred = simulation.populationPredictions()
    let edges = Self.edges(times, count: binCount)
    let binOf = times.map { t in max(0, (edges.lastIndex { $0 <= t } ?? 0)) }
    let binCount = max(1, edges.count - 1)
    var members = [[Int]](repeating: [], count: binCount)
    for (i, b) in binOf.enumerated() { members[min(b, binCount - 1)].append(i) }
    let predBin = members.map { Self.quantile($0.map { pred[$0] }.filter(\.isFinite), 0.5) ?? .nan }
    func corrected(_ y: Double, _ i: Int) -> Double {
      guard predictionCorrected else { return y }
      let b = predBin[min(binOf[i], binCount - 1)]
      return logScale ? y + b - pred[i] : y * b / pred[i]
    }
    let observedValues = dv.indices.map { censored[$0] ? -Double.infinity : corrected(dv[$0], $0) }
    points = dv.indices.map { [times[$0], censored[$0] ? nil : observedValues[$0]] }
    let sims = simulation.replicates(replicates, seed: seed, threads: threads)
    let percentiles = self.percentiles
    bins = members.enumerated().map { b, idx in
      let simulated: [[Double?]] = percentiles.map { q in
        let perReplicate = sims.map { rep -> Double in
          Self.quantile(idx.map { rep.censored[$0] ? -.infinity : corrected(rep.y[$0], $0) }.filter { !$0.isNaN }, q) ?? .nan
        }.filter { !$0.isNaN }
        let sorted = perReplicate.sorted()
        return [0.025, 0.5, 0.975].map { Self.finite(Self.quantile(sorted: sorted, $0)) }
      }
      let blq = sims.map { rep in Double(idx.filter { rep.censored[$0] }.count) / Double(max(1, idx.count)) }
      return Bin(
        lower: edges[b], upper: edges[min(b + 1, edges.count - 1)], time: Self.quantile(idx.map { times[$0] }, 0.5) ?? edges[b],
        observations: idx.count, observed: percentiles.map { Self.finite(Self.quantile(idx.map { observedValues[$0] }, $0)) },
        simulated: simulated, blqObserved: Double(idx.filter { censored[$0] }.count) / Double(max(1, idx.count)),
        blqSimulated: [0.025, 0.5, 0.975].map { Self.quantile(blq, $0) ?? 0 })
    }
  }

  /// Bin edges with nearly equal counts: the quantiles of the distinct times, widened to the
  /// data's range (so every time falls in a bin).
  static func edges(_ times: [Double], count: Int) -> [Double] {
    let sorted = times.sorted()
    guard let first = sorted.first, let last = sorted.last else { return [0, 1] }
    var edges = [first]
    for k in 1..<max(1, count) {
      let t = sorted[min(sorted.count - 1, k * sorted.count / count)]
      if t > (edges.last ?? first) && t < last { edges.append(t) }
    }
    edges.append(last.nextUp)
    return edges
  }

  /// The q-quantile with linear interpolation between order statistics (R's type 7); −∞
  /// values sort first; nil for no values.
  static func quantile(_ values: [Double], _ q: Double) -> Double? {
    quantile(sorted: values.sorted(), q)
  }

  /// ``quantile(_:_:)`` of values already sorted in increasing order.
  static func quantile(sorted s: [Double], _ q: Double) -> Double? {
    guard !s.isEmpty else { return nil }
    let h = Double(s.count - 1) * q
    let lo = Int(h.rounded(.down))
    let hi = min(lo + 1, s.count - 1)
    if s[lo] == -.infinity || s[hi] == -.infinity { return h == Double(lo) ? s[lo] : -.infinity }
    return s[lo] + (h - Double(lo)) * (s[hi] - s[lo])
  }

  static func finite(_ v: Double?) -> Double? { v.flatMap { $0.isFinite ? $0 : nil } }
}

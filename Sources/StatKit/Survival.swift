import RealModule

/// Right-censored survival data tallied by distinct time: at each time, how many events and
/// how many censorings. Tallies add, so shards of a trial merge exactly.
public struct SurvivalTally: Sendable, Equatable {
  /// time → (events, censored)
  public private(set) var counts: [Double: (events: Int, censored: Int)] = [:]

  public init() {}

  public static func == (a: SurvivalTally, b: SurvivalTally) -> Bool {
    a.counts.count == b.counts.count
      && a.counts.allSatisfy { k, v in b.counts[k].map { $0 == v } ?? false }
  }

  /// Adds one subject followed to `time`, with an event there or censored there.
  public mutating func add(time: Double, event: Bool) {
    precondition(time.isFinite && time >= 0, "survival times are finite and non-negative")
    var c = counts[time] ?? (0, 0)
    if event { c.events += 1 } else { c.censored += 1 }
    counts[time] = c
  }

  public mutating func merge(_ other: SurvivalTally) {
    for (t, c) in other.counts {
      var mine = counts[t] ?? (0, 0)
      mine.events += c.events
      mine.censored += c.censored
      counts[t] = mine
    }
  }

  public var subjects: Int { counts.values.reduce(0) { $0 + $1.events + $1.censored } }

  /// Distinct times in increasing order with (events, censored).
  public var sorted: [(time: Double, events: Int, censored: Int)] {
    counts.keys.sorted().map { ($0, counts[$0]!.events, counts[$0]!.censored) }
  }
}

/// A Kaplan–Meier estimate with Greenwood-based pointwise confidence intervals on the
/// log(−log) scale (the "exponential Greenwood" interval; lifelines' default and R
/// survival's `conf.type = "log-log"`), and the median with its confidence interval read
/// where the interval bands cross one half (Brookmeyer–Crowley by band inversion).
public struct KaplanMeier: Sendable {
  public struct Row: Sendable, Equatable {
    public var time: Double
    public var atRisk: Int
    public var events: Int
    public var censored: Int
    public var survival: Double
    public var lower: Double
    public var upper: Double
  }

  /// One row at time 0 (survival 1) and one per distinct observed time.
  public var rows: [Row] = []
  public var subjects: Int
  public var totalEvents: Int
  public var median: Double?
  public var medianLower: Double?
  public var medianUpper: Double?

  public init(_ tally: SurvivalTally, level: Double = 0.95) {
    let z = Distributions.normalQuantile(0.5 + level / 2)
    let data = tally.sorted
    subjects = tally.subjects
    totalEvents = data.reduce(0) { $0 + $1.events }
    var atRisk = subjects, s = 1.0, greenwood = 0.0
    var lo = 1.0, hi = 1.0
    // No subjects, no estimate (no rows, no median).
    if subjects > 0 && data.first?.time != 0 {
      rows.append(Row(time: 0, atRisk: atRisk, events: 0, censored: 0, survival: 1, lower: 1, upper: 1))
    }
    for (t, d, c) in data {
      if d > 0 {
        s *= 1 - Double(d) / Double(atRisk)
        if atRisk > d { greenwood += Double(d) / (Double(atRisk) * Double(atRisk - d)) }
        if s > 0 && s < 1 {
          let logS = Double.log(s)
          let half = z * greenwood.squareRoot() / logS
          lo = Double.exp(-Double.exp(Double.log(-logS) - half))
          hi = Double.exp(-Double.exp(Double.log(-logS) + half))
          if lo > hi { swap(&lo, &hi) }
        } else if s == 0 {
          lo = 0
          hi = 0
        }
      }
      rows.append(Row(time: t, atRisk: atRisk, events: d, censored: c, survival: s, lower: lo, upper: hi))
      atRisk -= d + c
    }
    median = rows.first(where: { $0.survival <= 0.5 })?.time
    medianLower = rows.first(where: { $0.lower <= 0.5 })?.time
    medianUpper = rows.first(where: { $0.upper <= 0.5 })?.time
  }

  /// Survival at time `t` (right-continuous step function); nil without subjects.
  public func survival(at t: Double) -> Double? {
    guard subjects > 0 else { return nil }
    return rows.last(where: { $0.time <= t })?.survival ?? 1
  }
}

/// The log-rank test of equal survival in k groups (Mantel–Haenszel; χ² with k − 1 degrees
/// of freedom, variance with the tie correction d(n − d)/(n − 1)). Groups without subjects
/// carry no information and are left out (k counts the others); with fewer than two groups
/// left there is no test.
public struct LogRankTest: Sendable {
  public var statistic: Double
  public var degreesOfFreedom: Int
  public var pValue: Double
  /// Observed and expected events per group with subjects.
  public var observed: [Double]
  public var expected: [Double]

  public init?(_ groups: [SurvivalTally]) {
    let groups = groups.filter { $0.subjects > 0 }
    guard groups.count >= 2 else { return nil }
    let k = groups.count
    var times = Set<Double>()
    for g in groups { times.formUnion(g.counts.keys) }
    var atRisk = groups.map(\.subjects).map(Double.init)
    var o = [Double](repeating: 0, count: k), e = o
    var v = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
    for t in times.sorted() {
      let d = groups.map { Double($0.counts[t]?.events ?? 0) }
      let c = groups.map { Double($0.counts[t]?.censored ?? 0) }
      let n = atRisk.reduce(0, +), dTot = d.reduce(0, +)
      if dTot > 0 && n > 0 {
        for g in 0..<k {
          o[g] += d[g]
          e[g] += dTot * atRisk[g] / n
        }
        if n > 1 {
          let f = dTot * (n - dTot) / (n - 1)
          for g in 0..<k {
            for h in 0..<k {
              v[g][h] += f * atRisk[g] / n * ((g == h ? 1 : 0) - atRisk[h] / n)
            }
          }
        }
      }
      for g in 0..<k { atRisk[g] -= d[g] + c[g] }
    }
    observed = o
    expected = e
    degreesOfFreedom = k - 1
    // (O − E) over the first k − 1 groups, against the corresponding block of V.
    let m = k - 1
    var a = (0..<m).map { i in (0..<m).map { j in v[i][j] } }
    var b = (0..<m).map { o[$0] - e[$0] }
    let diff = b
    // Solve a·x = b by Gaussian elimination with partial pivoting.
    var singular = false
    for col in 0..<m {
      let p = (col..<m).max(by: { abs(a[$0][col]) < abs(a[$1][col]) })!
      if abs(a[p][col]) < 1e-300 {
        singular = true
        break
      }
      a.swapAt(col, p)
      b.swapAt(col, p)
      for r in (col + 1)..<max(col + 1, m) {
        let f = a[r][col] / a[col][col]
        for j in col..<m { a[r][j] -= f * a[col][j] }
        b[r] -= f * b[col]
      }
    }
    if singular {
      statistic = 0
    } else {
      var x = [Double](repeating: 0, count: m)
      for r in stride(from: m - 1, through: 0, by: -1) {
        var s = b[r]
        for j in (r + 1)..<max(r + 1, m) { s -= a[r][j] * x[j] }
        x[r] = s / a[r][r]
      }
      statistic = zip(diff, x).reduce(0) { $0 + $1.0 * $1.1 }
    }
    pValue = Distributions.chiSquareUpper(statistic, degrees: m)
  }
}

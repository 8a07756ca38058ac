import StatKit

/// Exact operating characteristics by enumerating every cohort outcome with its binomial
/// probability. Paths that reach the same ``TrialState`` are merged (the designs decide from the
/// state alone), so the work grows with the number of distinct states, not of paths.
public enum ExactOC {
  /// Thrown when the enumeration would exceed the state limit.
  public struct TooManyStates: Error, CustomStringConvertible {
    public var design: String, limit: Int, cohort: Int
    public var description: String {
      "\(design): more than \(limit) distinct trial states after cohort \(cohort); exact enumeration refused (use simulation, or fewer cohorts)"
    }
  }

  /// Exact OC of `design` under `pTrue` (and `pResponse`). Live states are kept in insertion order,
  /// so the floating-point sums are reproducible.
  /// - Throws: ``DoseFindingInputError`` for bad curves; ``TooManyStates`` past `maxStates` live
  ///   states.
  public static func compute<D: DoseFindingDesign>(
    _ design: D, pTrue: [Double], pResponse: [Double]? = nil, maxStates: Int = 200_000
  ) throws -> OperatingCharacteristics {
    try DoseFindingSimulation.check(design.config.doseCount, pTrue, pResponse)
    let rule = design.makeWorker()
    let mtd = DoseFindingMath.trueMTD(pTrue: pTrue, target: design.target)
    var acc = OCAccumulator(doses: pTrue.count, trueMTD: mtd, response: pResponse)
    var live: [(TrialState, Double)] = [(design.initialState(), 1)]
    var cohort = 0
    while !live.isEmpty {
      cohort += 1
      var next: [(TrialState, Double)] = []
      var index: [TrialState: Int] = [:]
      for (s, w) in live {
        let d = s.current
        let m = min(design.config.cohortSize, design.config.maxPatients - s.totalPatients)
        for k in 0...m {
          let pk = Distributions.binomialPMF(k, m, pTrue[d])
          if pk == 0 { continue }
          var t = s
          t.patients[d] += m
          t.dlts[d] += k
          if t.totalPatients >= design.config.maxPatients || !rule.decide(&t, cohortSize: m, cohortDLTs: k) {
            acc.add(TrialOutcome(selected: rule.selectMTD(t), patients: t.patients, dlts: t.dlts), weight: w * pk)
          } else if let i = index[t] {
            next[i].1 += w * pk
          } else {
            index[t] = next.count
            next.append((t, w * pk))
            if next.count > maxStates { throw TooManyStates(design: design.name, limit: maxStates, cohort: cohort) }
          }
        }
      }
      live = next
    }
    return acc.result(design: design.name, target: design.target, pTrue: pTrue, trials: 0, exact: true)
  }
}

import Parallel

/// The population objective over all subjects, spread over threads: each subject's mode is
/// found from a warm start that depends only on the evaluation history (never on which thread
/// ran it), and the subjects' OFVs are summed in subject order, so the value does not depend
/// on the thread count.
public final class PopulationObjective: @unchecked Sendable {
  public let objective: FirstOrderObjective
  public let threads: Int
  /// The modes at the last accepted point: the start of every subject's inner optimisation.
  /// Written only between evaluations (by ``accept(_:)``), read by all threads during one.
  private(set) var warmStart: [[Double]]

  public init(objective: FirstOrderObjective, threads: Int) {
    precondition(threads >= 1, "threads \(threads)")
    self.objective = objective
    self.threads = threads
    warmStart = Array(repeating: [], count: objective.data.subjects.count)
  }

  /// Every subject's fit at p (nil entries where a subject could not be evaluated).
  public func subjects(_ p: PopulationParameters) -> [SubjectFit?] {
    let starts = warmStart
    let objective = self.objective
    return eachSubject { i, s, predictor in objective.subject(s, p, start: starts[i], predictor: predictor) }
  }

  /// `body` for every subject (its index, the subject, a predictor of its thread's own), the
  /// subjects spread over the threads in blocks, the results in subject order.
  func eachSubject<T: Sendable>(_ body: @escaping @Sendable (Int, Dataset.Subject, Predictor) -> T?) -> [T?] {
    let subjects = objective.data.subjects
    let blocks = min(subjects.count, threads * 4)
    let model = objective.model
    let parts = Parallel.map(blocks, threads: threads) { b -> [T?] in
      let predictor = Predictor(model: model)
      let range = (b * subjects.count / blocks)..<((b + 1) * subjects.count / blocks)
      return range.map { body($0, subjects[$0], predictor) }
    }
    return parts.flatMap { $0 }
  }

  /// Each subject's gradient at p, from the modes `fits` found there
  /// (``FirstOrderObjective/gradient(_:_:fit:directions:predictor:)``), on the scale `scale`
  /// makes of it; nil where the analytic gradient does not serve every subject.
  func gradients(
    _ p: PopulationParameters, directions: JetDirections, fits: [SubjectFit?], scale: @escaping @Sendable (SubjectGradient) -> [Double]
  ) -> [[Double]]? {
    guard objective.hasAnalyticGradient, fits.count == objective.data.subjects.count else { return nil }
    let objective = self.objective
    let all = eachSubject { i, s, predictor -> [Double]? in
      guard let fit = fits[i], let d = objective.gradient(s, p, fit: fit, directions: directions, predictor: predictor) else { return nil }
      let g = scale(d)
      return g.allSatisfy(\.isFinite) ? g : nil
    }
    var out: [[Double]] = []
    out.reserveCapacity(all.count)
    for g in all {
      guard let g else { return nil }
      out.append(g)
    }
    return out
  }

  /// Σ OFV_i, infinite when any subject fails.
  public func ofv(_ p: PopulationParameters) -> Double {
    total(subjects(p))
  }

  public func total(_ fits: [SubjectFit?]) -> Double {
    var s = 0.0
    for f in fits {
      guard let f else { return .infinity }
      s += f.ofv
    }
    return s
  }

  /// Every subject's fit at p with its mode checked against other starts: from the warm start,
  /// from η = 0 and from one standard deviation of Ω either side of 0 along each axis, the
  /// mode with the lowest l_i(η̂). A subject whose posterior has two modes (a CAR T
  /// subject can be explained by a fast contraction or by a high persistence level) then
  /// keeps the higher one whatever the history of warm starts, so the objective is one
  /// function of the parameters. Each start is a deterministic Newton search, so the result
  /// still does not depend on the thread count.
  public func settled(_ p: PopulationParameters) -> [SubjectFit?] {
    let first = subjects(p)
    let n = objective.nEta
    guard objective.method != .fo, n > 0 else { return first }
    var starts = [[Double](repeating: 0, count: n)]
    for k in 0..<n {
      let sd = p.omega[k * n + k].squareRoot()
      guard sd > 0 else { continue }
      for sign in [-1.0, 1.0] {
        var e = [Double](repeating: 0, count: n)
        e[k] = sign * sd
        starts.append(e)
      }
    }
    let objective = self.objective
    let candidates = starts
    return eachSubject { i, s, predictor in
      var best = first[i]
      for start in candidates {
        // A search that reaches the best mode so far stops there.
        let known = best.flatMap { $0.converged ? $0.eta : nil }
        guard let fit = objective.subject(s, p, start: start, predictor: predictor, known: known), fit.converged else { continue }
        if let current = best, current.converged, current.conditional <= fit.conditional + 1e-9 * abs(current.conditional) { continue }
        best = fit
      }
      return best
    }
  }

  /// Takes the modes of an accepted point as the next warm start.
  public func accept(_ fits: [SubjectFit?]) {
    for (i, f) in fits.enumerated() { if let f { warmStart[i] = f.eta } }
  }
}

import CARTModels
import Foundation
import ODEKit

/// Conditional dosing (``DosingRule``): the run is integrated in segments that end on each
/// decision day. On a decision day the tumour status is read from the outputs so far and the
/// state on that day; the infusion is given or not, and the next segment starts from that
/// state with the doses of the infusions still planned. Doses that straddle a decision day
/// are split at it at the same rate, so a regimen without failed conditions gives the same
/// trajectory as one integrated in a single piece (to the solver's tolerance).
enum DosingDecisions {
  /// One decision taken: infusion number (1-based), day, status found, whether it was given.
  struct Decision: Sendable {
    var infusion: Int
    var day: Double
    var status: Response
    var given: Bool
  }

  /// Integrates `scenario` with its dosing rules; returns the solution over the whole span
  /// (outputs on `options.saveAt`), the model's observables at its outputs (row-major, as
  /// ``SimulationResult/observed``; the rules read them), the regimen as given, and the
  /// decisions. `problem` is the model's problem for the planned regimen
  /// (``Simulator/prepare``): segments start from it until an infusion is withheld.
  static func solve<M: TherapyModel>(
    _ model: M, _ scenario: Scenario, problem plannedProblem: ODEProblem<M.System>, options: SolverOptions, method: ODEMethod
  )
    -> (solution: ODESolution, observed: [Double], given: Regimen, decisions: [Decision])
  {
    let planned = scenario.regimen
    let start = scenario.startDay, end = scenario.horizonDays
    var rules = TrialSpec.Assessment()
    rules.everyDays = scenario.assessmentEveryDays
    rules.completeResponseSLDmm = scenario.crSLDmm
    let sldIndex = model.observables.firstIndex { $0.name == "sld" }
    precondition(sldIndex != nil, "dosing rules need an 'sld' observable (checked when the scenario is read)")
    let n = model.stateNames.count
    let observe = model.observer(patient: scenario.patient)

    var keep = [Bool](repeating: true, count: planned.infusions.count)
    var whole = (keep: keep, problem: plannedProblem)
    var decisions: [Decision] = []
    var t0 = start
    var state: [Double]? = nil
    var total: ODESolution? = nil
    var sldTimes: [Double] = [], sldValues: [Double] = []
    let m = model.observables.count
    var observed: [Double] = []
    observed.reserveCapacity(options.saveAt.count * m)
    var next = 0  // first infusion not yet decided
    var stepsLeft = options.maxSteps

    while true {
      // The next infusion still planned that a rule governs, and its decision day.
      var decision: (k: Int, day: Double, rule: DosingRule)? = nil
      for k in next..<planned.infusions.count where keep[k] {
        if let r = planned.rule(for: k) {
          decision = (k, planned.courseStart(k) - r.decideDaysBefore, r)
          break
        }
      }
      if let d = decision, d.day >= end { decision = nil }
      let segmentEnd = decision?.day ?? end
      // The whole run's problem for the infusions still planned, built again only when one is
      // withheld.
      if keep != whole.keep {
        var regimen = planned
        regimen.infusions = planned.infusions.indices.filter { keep[$0] }.map { planned.infusions[$0] }
        whole = (keep, model.makeProblem(patient: scenario.patient, regimen: regimen, start: start, end: end).problem)
      }
      var problem = whole.problem
      problem.tspan = (t0, segmentEnd)
      if let state { problem.u0 = state }
      problem.doses = clip(problem.doses, from: t0, to: segmentEnd, last: decision == nil)
      problem.timeEvents = problem.timeEvents.filter { $0.time >= t0 && ($0.time < segmentEnd || decision == nil) }
      var opts = options
      opts.maxSteps = max(1, stepsLeft)
      opts.saveAt = options.saveAt.filter { $0 >= t0 && ($0 < segmentEnd || ($0 == segmentEnd && decision == nil)) }
      if decision != nil { opts.saveAt.append(segmentEnd) }
      var piece = ODEKit.solve(problem, method: method, options: opts)
      stepsLeft -= piece.stats.steps
      if decision != nil, piece.returnCode.isSuccessful, piece.t.last == segmentEnd {
        // The decision day is an output of the next segment (after its events), not of this one.
        piece.t.removeLast()
        piece.values.removeLast(n)
      }
      for i in piece.t.indices {
        let row = observe(piece.state(i))
        observed += row
        if let sldIndex {
          sldTimes.append(piece.t[i])
          sldValues.append(row[sldIndex])
        }
      }
      // Taken out of `total` so that the appends extend its buffers in place, not copies;
      // sized for the whole run at the first segment.
      if var acc = total.take() {
        acc.t += piece.t
        acc.values += piece.values
        acc.stats.add(piece.stats)
        acc.eventLog += piece.eventLog
        acc.returnCode = piece.returnCode
        acc.finalTime = piece.finalTime
        acc.finalState = piece.finalState
        total = acc
      } else {
        piece.t.reserveCapacity(options.saveAt.count)
        piece.values.reserveCapacity(options.saveAt.count * n)
        total = piece
      }
      guard let d = decision, piece.returnCode == .success else { break }

      // Decide on infusion d.k from the status on its decision day.
      let sldNow = observe(piece.finalState[...])[sldIndex!]
      let status = RECIST.status(times: sldTimes, sld: sldValues, day: d.day, sldOnDay: sldNow, rules: rules)
      let allowed: Set<Response>
      switch d.rule.require {
      case .stableOrBetter: allowed = [.CR, .PR, .SD]
      case .responseOrBetter: allowed = [.CR, .PR]
      case .complete: allowed = [.CR]
      }
      let given = allowed.contains(status)
      decisions.append(Decision(infusion: d.k + 1, day: d.day, status: status, given: given))
      let label =
        given
        ? "infusion \(d.k + 1) given (status \(status.rawValue))"
        : "infusion \(d.k + 1) not given (status \(status.rawValue), \(d.rule.require.rawValue) required)"
      total!.eventLog.append((d.day, label))
      if !given {
        keep[d.k] = false
        if d.rule.otherwise == .stop { for j in d.k..<keep.count { keep[j] = false } }
      }
      next = d.k + 1
      t0 = d.day
      state = piece.finalState
    }
    var given = planned
    given.infusions = planned.infusions.indices.filter { keep[$0] }.map { planned.infusions[$0] }
    return (total!, observed, given, decisions)
  }

  /// The administrations of `doses` that fall in `[from, to)` (or `[from, to]` for the last
  /// segment); an infusion running across a bound keeps the part inside, at the same rate.
  static func clip(_ doses: [Dose], from: Double, to: Double, last: Bool) -> [Dose] {
    var out: [Dose] = []
    for d in doses.flatMap(\.administrations) {
      if d.duration > 0 {
        let a = max(d.time, from), b = min(d.time + d.duration, last ? .infinity : to)
        guard b > a else { continue }
        var part = d
        part.amount = d.amount * (b - a) / d.duration
        part.time = a
        part.duration = b - a
        out.append(part)
      } else if d.time >= from && (d.time < to || last) {
        out.append(d)
      }
    }
    return out
  }
}

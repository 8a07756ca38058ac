import CARTModels
import Foundation
import ODEKit
import TestSupport
import Testing

@testable import CARTSimCore

/// Conditional dosing (`car_t.conditions`): infusions that depend on the tumour status on a
/// decision day, in the scenario format and in the engine.
@Suite("Conditional dosing")
struct ConditionalDosingTests {
  /// No lymphodepletion, a small dose and fast growth: the tumour progresses, so with a rule
  /// only the first infusion is given.
  static func growing(conditions: String, number: Int = 4) throws -> Scenario {
    try parse(
      """
      {"name": "grows", "patient": {"baseline_sld_mm": 60},
       "parameters": {"r_T": 0.03},
       "car_t": {"dose": 1e5, "basis": "car_t_cells_per_m2", "number": \(number), "interval_days": 42 \(conditions)},
       "simulation": {"horizon_days": 300, "output_step_days": 1}}
      """)
  }

  /// A rule that fails stops the infusions; without the rule all four are given.
  @Test func progressionStopsFurtherInfusions() throws {
    let plain = try Simulator.run(try Self.growing(conditions: ""))
    #expect(plain.scenario.regimen.infusions.count == 4)
    let ruled = try Simulator.run(try Self.growing(conditions: #", "conditions": [{"infusions": [2, 4], "require": "SD_or_better"}]"#))
    #expect(ruled.returnCode == .success)
    #expect(ruled.scenario.regimen.infusions.count == 1, "\(ruled.eventLog.map(\.label))")
    #expect(ruled.eventLog.contains { $0.label == "infusion 2 not given (status PD, SD_or_better required)" && $0.time == 42 })
    #expect(ruled.summary.infusionPeaks.count == 1)
    // The output grid is the same as an unconditional run's.
    #expect(ruled.times == plain.times)
  }

  /// A run cut into segments at the decision days and continued from the state reached gives
  /// the trajectory of one uninterrupted integration of the regimen actually given (here the
  /// single first infusion), to well within the solver's tolerance.
  @Test func segmentsMatchOneIntegration() throws {
    let ruled = try Simulator.run(
      try Self.growing(conditions: #", "conditions": [{"infusions": [2, 4], "require": "CR", "otherwise": "skip"}]"#))
    #expect(ruled.scenario.regimen.infusions.count == 1)
    #expect(ruled.eventLog.filter { $0.label.contains("not given") }.count == 3)
    let single = try Simulator.run(try Self.growing(conditions: "", number: 1))
    #expect(ruled.times == single.times)
    for name in ["sld", "car_t_blood", "il6"] {
      let a = ruled.series(name)!, b = single.series(name)!
      for i in a.indices {
        #expect(abs(a[i] - b[i]) <= 1e-4 * max(abs(b[i]), 1e-6) + 1e-9, "\(name) at day \(ruled.times[i]): \(a[i]) vs \(b[i])")
      }
    }
  }

  /// Infusions whose condition holds are all given, with their lymphodepletion, and the
  /// result equals the unconditional regimen's to solver tolerance.
  @Test func passingRuleChangesNothing() throws {
    let base = try Scenario.load(path: example("heros2-cohortB"))
    var plain = base
    plain.regimen.rules = []
    plain.regimen.infusions = Array(plain.regimen.infusions.prefix(2))
    var ruled = base
    ruled.regimen.infusions = Array(ruled.regimen.infusions.prefix(2))
    ruled.regimen.rules = [DosingRule(first: 2, last: 2, require: .stableOrBetter)]
    let a = try Simulator.run(ruled), b = try Simulator.run(plain)
    #expect(a.scenario.regimen.infusions.count == 2, "\(a.eventLog.map(\.label))")
    #expect(a.eventLog.contains { $0.label.hasPrefix("infusion 2 given") && $0.time == 35 })
    let x = a.series("car_t_blood")!, y = b.series("car_t_blood")!
    let peak = y.max()!
    for i in x.indices { #expect(abs(x[i] - y[i]) <= 1e-4 * peak, "day \(a.times[i]): \(x[i]) vs \(y[i])") }
  }

  /// The restaging status: PD at a scheduled assessment wins; otherwise the decision day's
  /// SLD against baseline and nadir (RECIST 1.1 thresholds: −30% from baseline, +20% and
  /// +5 mm from the nadir).
  @Test func statusOnTheDecisionDay() {
    let rules = TrialSpec.Assessment()
    let t: [Double] = [0, 42, 60]
    #expect(RECIST.status(times: t, sld: [100, 60, 60], day: 60, sldOnDay: 60, rules: rules) == .PR)
    #expect(RECIST.status(times: t, sld: [100, 60, 72], day: 60, sldOnDay: 72, rules: rules) == .PD)  // +20% from nadir 60
    #expect(RECIST.status(times: t, sld: [100, 60, 71], day: 60, sldOnDay: 71, rules: rules) == .SD)
    #expect(RECIST.status(times: t, sld: [100, 130, 90], day: 60, sldOnDay: 90, rules: rules) == .PD)  // PD on day 42 stands
    #expect(RECIST.status(times: t, sld: [10, 1, 1], day: 60, sldOnDay: 1, rules: rules) == .CR)
    #expect(RECIST.status(times: t, sld: [20, 22, 23], day: 60, sldOnDay: 23, rules: rules) == .SD)  // +15%
  }

  /// Bad rules are refused with the field named.
  @Test func badRulesAreRefused() throws {
    func error(_ conditions: String) -> InputError? {
      do {
        _ = try Self.growing(conditions: ", \"conditions\": " + conditions)
        return nil
      } catch { return error as? InputError }
    }
    let cases: [(String, String, String)] = [
      (#"[{"infusions": [1, 2], "require": "SD_or_better"}]"#, "car_t.conditions[0].infusions", "first infusion"),
      (#"[{"infusions": [2, 9], "require": "SD_or_better"}]"#, "car_t.conditions[0].infusions[1]", "not an infusion number"),
      (#"[{"infusions": [3, 2], "require": "SD_or_better"}]"#, "car_t.conditions[0].infusions", "after last"),
      (#"[{"infusions": 2, "require": "PR"}]"#, "car_t.conditions[0].require", "unknown value 'PR'"),
      (#"[{"infusions": 2, "require": "CR", "otherwise": "pause"}]"#, "car_t.conditions[0].otherwise", "unknown value"),
      (
        #"[{"infusions": [2, 3], "require": "CR"}, {"infusions": 3, "require": "CR"}]"#, "car_t.conditions[1].infusions", "already governed"
      ),
      (#"[{"infusions": 2, "require": "CR", "decide_days_before": 50}]"#, "car_t.conditions[0].decide_days_before", "not after day 0"),
      (#"[{"infusions": 2, "require": "CR", "when": 3}]"#, "car_t.conditions[0].when", "unknown field"),
      (#"[{"require": "CR"}]"#, "car_t.conditions[0].infusions", "is required"),
    ]
    for (text, path, words) in cases {
      let e = error(text)
      #expect(e?.path == path && e?.message.contains(words) == true, "\(text): \(String(describing: e))")
    }
    // A model without a tumour burden cannot decide on it.
    #expect {
      _ = try parse(
        #"{"model": "cartmath-hdlm2", "car_t": {"dose": 1e6, "basis": "cells", "number": 2, "interval_days": 10, "conditions": [{"infusions": 2, "require": "CR"}]}}"#
      )
    } throws: { e in (e as? InputError)?.path == "car_t.conditions" }
  }

  /// Dosing rules in a trial: the infusions received and the expansion after them reach
  /// patients.csv; no patient receives an infusion after a PD seen before its decision day.
  @Test func trialRecordsInfusionsGiven() throws {
    let spec = try TrialSpec.load(path: example("heros-trial"))
    let armB = 2
    let params = try Simulator.parameters(spec.arms[armB].scenario, file: spec.file)
    var counts: [Int] = []
    for id in 0..<12 {
      let r = spec.simulatePatient(arm: armB, id: id, armParameters: params)
      #expect(r.succeeded)
      let n = r.infusions!
      counts.append(n)
      #expect(n >= 1 && n <= 8)
      #expect(r.expandedInfusions! <= n)
      if let pd = r.progressionDay {
        // The last infusion's course began no later than the first PD assessment.
        let course = spec.arms[armB].scenario.regimen.courseStart(n - 1)
        #expect(course <= pd, "patient \(id): infusion \(n) course on day \(course) after PD on day \(pd)")
      }
    }
    #expect(Set(counts).count > 1, "the rule should give different patients different numbers of infusions: \(counts)")
  }
}

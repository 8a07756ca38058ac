import CARTModels
import Foundation
import StatKit
import TestSupport
import Testing

@testable import CARTSimCore

/// A small trial (two arms, short follow-up) written next to copies of the example scenarios.
@Suite("Virtual trials")
struct TrialTests {
  /// Patient i is the same whatever the thread count or sharding: one thread, two threads, and
  /// three shards merged give byte-identical outputs.
  @Test func threadsAndShardsGiveTheSameTrial() throws {
    let (specPath, dir) = try smallTrial(patients: 7)
    let spec = try TrialSpec.load(path: specPath)
    func run(threads: Int, shard: (Int, Int), into sub: String) throws -> String {
      var o = TrialRunner.Options()
      o.threads = threads
      o.shard = shard
      let out = (dir as NSString).appendingPathComponent(sub)
      try TrialRunner.run(spec, options: o, to: out)
      return out
    }
    let one = try run(threads: 1, shard: (0, 1), into: "one")
    try TrialResults.load(dir: one).write(to: one)
    let two = try run(threads: 2, shard: (0, 1), into: "two")
    try TrialResults.load(dir: two).write(to: two)
    // Shards given to merge in scrambled order.
    let shards = try [2, 0, 1].map { try run(threads: 2, shard: ($0, 3), into: "shard\($0)") }
    let merged = (dir as NSString).appendingPathComponent("merged")
    try TrialMerge.merge(shards, to: merged)
    try TrialResults.load(dir: merged).write(to: merged)
    for file in ["patients.csv", "aggregate.json", "summary.json", "km.csv", "report.html"] {
      let reference = try read(one, file)
      #expect(try read(two, file) == reference, "\(file): 2 threads differ from 1")
      #expect(try read(merged, file) == reference, "\(file): merged shards differ from one run")
    }
    let rows = try read(one, "patients.csv").split(separator: "\n")
    #expect(rows.count == 15)
    #expect(rows[0].hasPrefix("arm,id,status,"))
    // A shard set with a gap is refused.
    #expect(throws: InputError.self) { try TrialMerge.merge([shards[0], shards[1]], to: merged + "-gap") }
  }

  /// An arm whose every patient fails (a step limit no run can meet) keeps its rows with the
  /// return code and is counted; it has no survival estimate and is left out of the log-rank
  /// tests, instead of showing the survival of nobody as 100%.
  @Test func armWhosePatientsAllFail() throws {
    let (specPath, dir) = try smallTrial(patients: 6)
    let cohortB = (dir as NSString).appendingPathComponent("heros2-cohortB.json")
    try read(dir, "heros2-cohortB.json").replacingOccurrences(of: #""rtol": 1e-6}"#, with: #""rtol": 1e-6, "max_steps": 5}"#)
      .write(toFile: cohortB, atomically: true, encoding: .utf8)
    let out = (dir as NSString).appendingPathComponent("out")
    try TrialRunner.run(try TrialSpec.load(path: specPath), options: TrialRunner.Options(), to: out)
    let results = try TrialResults.load(dir: out)
    try results.write(to: out)
    #expect(results.arms.map(\.failed) == [0, 6])
    let rows = try read(out, "patients.csv").split(separator: "\n").dropFirst()
    #expect(rows.filter { $0.contains(",MaxSteps,") }.count == 6)
    let summary = try JSONSerialization.jsonObject(with: Data(read(out, "summary.json").utf8)) as! [String: Any]
    #expect(summary["failed"] as? Int == 6)
    let arms = summary["arms"] as! [[String: Any]]
    let os = arms[1]["os"] as! [String: Any]
    #expect(os["patients"] as? Int == 0)
    #expect(os["survival_12_months"] is NSNull && os["median_days"] is NSNull)
    #expect((arms[0]["os"] as! [String: Any])["survival_12_months"] is Double)
    let logRank = (summary["log_rank"] as! [String: Any])["os"] as! [String: Any]
    #expect((logRank["all_arms"] as! [String: Any])["p_value"] is NSNull)
    #expect(!(try read(out, "km.csv").contains("Flu/Cy")))
    #expect(try read(out, "report.html").contains("no patients with results"))
  }

  /// The same seed gives the same patients; another seed other patients; a paired trial gives
  /// the same covariates in every arm.
  @Test func patientsAreAddressedBySeedArmAndId() throws {
    let (specPath, _) = try smallTrial()
    let spec = try TrialSpec.load(path: specPath)
    let params = try Simulator.parameters(spec.arms[0].scenario)
    let p = spec.population
    let a = p.sample(seed: 7, arm: 0, id: 3, paired: false, base: Patient(), modelDefaults: params)
    let b = p.sample(seed: 7, arm: 0, id: 3, paired: false, base: Patient(), modelDefaults: params)
    let c = p.sample(seed: 8, arm: 0, id: 3, paired: false, base: Patient(), modelDefaults: params)
    let d = p.sample(seed: 7, arm: 1, id: 3, paired: false, base: Patient(), modelDefaults: params)
    #expect(a.patient == b.patient && a.parameters.map(\.value) == b.parameters.map(\.value))
    #expect(a.patient != c.patient)
    #expect(a.patient != d.patient)
    let e = p.sample(seed: 7, arm: 0, id: 3, paired: true, base: Patient(), modelDefaults: params)
    let g = p.sample(seed: 7, arm: 1, id: 3, paired: true, base: Patient(), modelDefaults: params)
    #expect(e.patient == g.patient)
  }

  /// A table of patients: patient i takes row i mod rows (sequential sampling); its numeric
  /// columns set the model's patient, the others are carried as categories. A column whose
  /// name looks like a patient covariate but is not one is refused.
  @Test func patientsFromATable() throws {
    let (specPath, dir) = try smallTrial(extra: #", "csv": "table.csv""#)
    let table = (dir as NSString).appendingPathComponent("table.csv")
    try "age_years,her2_level,sex\n9,0.5,F\n31,2,M\n".write(toFile: table, atomically: true, encoding: .utf8)
    let spec = try TrialSpec.load(path: specPath)
    let params = try Simulator.parameters(spec.arms[0].scenario)
    for id in 0..<4 {
      let p = spec.population.sample(seed: 7, arm: 0, id: id, paired: false, base: Patient(), modelDefaults: params)
      #expect(p.patient.ageYears == (id % 2 == 0 ? 9 : 31))
      #expect(p.patient.her2Level == (id % 2 == 0 ? 0.5 : 2))
      #expect(p.covariates["sex"] == .category(id % 2 == 0 ? "F" : "M"))
    }
    try "age,her2_level\n9,0.5\n".write(toFile: table, atomically: true, encoding: .utf8)
    #expect { try TrialSpec.load(path: specPath) } throws: { e in
      (e as? InputError).map { $0.path == "population.csv" && $0.message.contains("looks like 'age_years'") } ?? false
    }
  }

  /// A covariate table per RFC 4180: a column name with a comma and categories holding a comma,
  /// doubled quotes and a line break (with CRLF and a blank line) reach patients.csv quoted,
  /// read back whole, and shards merge to the unsharded file. Errors give the line in the
  /// file, blank lines counted.
  @Test func quotedCovariatesRoundTrip() throws {
    let (specPath, dir) = try smallTrial(patients: 3, extra: #", "csv": "table.csv""#)
    let table = (dir as NSString).appendingPathComponent("table.csv")
    try "age_years,\"site, side\"\r\n9,\"femur, distal\"\r\n\r\n31,\"tibia \"\"proximal\"\"\nleft\"\r\n"
      .write(toFile: table, atomically: true, encoding: .utf8)
    let spec = try TrialSpec.load(path: specPath)
    func run(_ shard: (Int, Int), into sub: String) throws -> String {
      var o = TrialRunner.Options()
      o.threads = 1
      o.shard = shard
      let out = (dir as NSString).appendingPathComponent(sub)
      try TrialRunner.run(spec, options: o, to: out)
      return out
    }
    let full = try run((0, 1), into: "full")
    let text = try read(full, "patients.csv")
    #expect(text.hasPrefix("arm,id,status,age_years,"))
    #expect(text.contains(",\"site, side\","))
    #expect(text.contains(",\"femur, distal\","))
    #expect(text.contains(",\"tibia \"\"proximal\"\"\nleft\","))
    #expect(try TrialResults.load(dir: full).arms.map(\.patients) == [3, 3])
    let shards = try [1, 0].map { try run(($0, 2), into: "shard\($0)") }
    try TrialMerge.merge(shards, to: dir + "/merged")
    #expect(try read(dir + "/merged", "patients.csv") == text)

    func place(_ csv: String) throws -> String? {
      try csv.write(toFile: table, atomically: true, encoding: .utf8)
      do {
        _ = try TrialSpec.load(path: specPath)
        return nil
      } catch let e as InputError { return e.path }
    }
    #expect(try place("age_years,site\n9,femur\n\n31,\"tibia\n") == "line 4, column 2")
    #expect(try place("age_years,site\n9,femur\n\n31\n") == "line 4")
    #expect(try place("age_years,site\n9,femur\n\n0,tibia\n") == "line 4, column 'age_years'")
  }

  /// Sampled covariates follow the spec: truncation bounds hold, the lognormal median and the
  /// category frequency agree within Monte Carlo error, and the rank correlation of the
  /// Gaussian copula is (6/π)·asin(ρ/2) (Pearson 1907).
  @Test func populationStatistics() throws {
    let (specPath, _) = try smallTrial()
    let spec = try TrialSpec.load(path: specPath)
    let params = try Simulator.parameters(spec.arms[0].scenario)
    let n = 20_000
    let pts = (0..<n).map { spec.population.sample(seed: 11, arm: 0, id: $0, paired: false, base: Patient(), modelDefaults: params) }
    let w = pts.map(\.patient.weightKg), h = pts.map(\.patient.heightCm)
    #expect(w.allSatisfy { $0 >= 15 && $0 <= 120 } && h.allSatisfy { $0 >= 95 && $0 <= 200 })
    let below = Double(w.filter { $0 < 50 }.count) / Double(n)
    #expect(abs(below - 0.5) < 4 * (0.25 / Double(n)).squareRoot())
    let osteo = Double(pts.filter { $0.covariates["subtype"] == .category("osteosarcoma") }.count) / Double(n)
    #expect(abs(osteo - 0.7) < 4 * (0.21 / Double(n)).squareRoot())
    func ranks(_ x: [Double]) -> [Double] {
      var r = [Double](repeating: 0, count: x.count)
      for (k, i) in x.indices.sorted(by: { x[$0] < x[$1] }).enumerated() { r[i] = Double(k) }
      return r
    }
    let rw = ranks(w), rh = ranks(h), m = Double(n - 1) / 2
    let cov = zip(rw, rh).reduce(0) { $0 + ($1.0 - m) * ($1.1 - m) }
    let varr = rw.reduce(0) { $0 + ($1 - m) * ($1 - m) }
    let spearman = cov / varr
    // Truncation changes the rank correlation only slightly at these bounds.
    #expect(abs(spearman - 6 / Double.pi * asin(0.4)) < 0.02)
    // Variability: r_T centred on the spec's median 0.025 with ω 0.3.
    let rT = pts.map { $0.parameters.first { $0.name == "r_T" }!.value }
    let logs = rT.map { log($0 / 0.025) }
    let sd = (logs.reduce(0) { $0 + $1 * $1 } / Double(n)).squareRoot()
    #expect(abs(sd - 0.3) < 0.01)
  }

  /// A malformed spec is refused before any simulation, naming the field.
  @Test func badSpecsAreRefused() throws {
    func expectError(_ extra: String, path: String, contains: String) throws {
      let (specPath, _) = try smallTrial(extra: extra)
      do {
        _ = try TrialSpec.load(path: specPath)
        Issue.record("accepted: \(extra)")
      } catch let e as InputError {
        #expect(e.path == path, "\(e)")
        #expect(e.message.contains(contains), "\(e)")
      }
    }
    try expectError(
      #", "covariate_effects": [{"parameter": "r_TT", "covariate": "weight_kg", "power": 1, "reference": 70}]"#,
      path: "population.covariate_effects[0].parameter", contains: "unknown parameter")
    try expectError(
      #", "covariate_effects": [{"parameter": "r_T", "covariate": "subtype", "power": 1, "reference": 70}]"#,
      path: "population.covariate_effects[0].covariate", contains: "not a numeric covariate")
    try expectError(#", "sampling": "bootstrap""#, path: "population.sampling", contains: "unknown field")
    let (specPath, dir) = try smallTrial()
    var text = try String(contentsOfFile: specPath, encoding: .utf8)
    text = text.replacingOccurrences(of: #""rho": 0.8"#, with: #""rho": 1.0"#)
    let bad = (dir as NSString).appendingPathComponent("bad.json")
    try text.replacingOccurrences(
      of: #""rho_Ag": {"omega": 0.3}"#, with: #""rho_Ag": {"omega": 0.3}, "K_C": {"distribution": "normal", "sd": 1e10}"#
    )
    .write(toFile: bad, atomically: true, encoding: .utf8)
    #expect { try TrialSpec.load(path: bad) } throws: { e in
      (e as? InputError)?.path == "population.variability.K_C.min"
    }
    try text.write(toFile: bad, atomically: true, encoding: .utf8)
    #expect { try TrialSpec.load(path: bad) } throws: { e in
      (e as? InputError).map { $0.path == "population.correlations" && $0.message.contains("positive definite") } ?? false
    }
    // An unknown parameter is named by its own path.
    try text.replacingOccurrences(of: #""rho_Ag": {"omega": 0.3}"#, with: #""rho_Agg": {"omega": 0.3}"#)
      .replacingOccurrences(of: #""rho": 1.0"#, with: #""rho": 0.8"#)
      .write(toFile: bad, atomically: true, encoding: .utf8)
    #expect { try TrialSpec.load(path: bad) } throws: { e in
      (e as? InputError).map { $0.path == "population.variability.rho_Agg" && $0.message.contains("unknown parameter") } ?? false
    }
    // An error in an arm's scenario file names the arm that reads it.
    let heros1 = (dir as NSString).appendingPathComponent("heros1.json")
    let good1 = try String(contentsOfFile: heros1, encoding: .utf8)
    try good1.replacingOccurrences(of: #""dose": 1e8"#, with: #""dose": -1e8"#).write(toFile: heros1, atomically: true, encoding: .utf8)
    #expect { try TrialSpec.load(path: specPath) } throws: { e in
      (e as? InputError).map { $0.file.hasSuffix("heros1.json") && $0.message.contains("the scenario of arms[0]") } ?? false
    }
    try good1.write(toFile: heros1, atomically: true, encoding: .utf8)
    // A pair given twice (in either order) is ambiguous.
    try text.replacingOccurrences(of: #""rho": 1.0}"#, with: #""rho": 0.8}, {"between": ["height_cm", "weight_kg"], "rho": 0.2}"#)
      .write(toFile: bad, atomically: true, encoding: .utf8)
    #expect { try TrialSpec.load(path: bad) } throws: { e in
      (e as? InputError).map { $0.path == "population.correlations[1].between" && $0.message.contains("given twice") } ?? false
    }
  }

  /// The HEROS trial example is valid and has one arm per cohort as run, HEROS 1.0 over its
  /// dose levels with the 19 patients as enrolled.
  @Test func herosTrialExample() throws {
    let spec = try TrialSpec.load(path: example("heros-trial"))
    #expect(spec.arms.map(\.name) == ["HEROS 1.0", "HEROS 2.0 cohort A", "HEROS 2.0 cohort B", "HEROS 2.0 cohort C", "HEROS 3.0"])
    #expect(spec.arms.allSatisfy { $0.patients == 1000 })
    #expect(spec.arms[0].scenario.regimen.lymphodepletion == nil)
    #expect(spec.arms[4].scenario.regimen.checkpoint != nil)
    let h1 = spec.arms[0]
    #expect(h1.doseLevels.reduce(0) { $0 + $1.patients } == 19)
    #expect(h1.doseLevels.first?.dose == 1e4 && h1.doseLevels.last?.dose == 1e8)
    // Patient i gets the level at position i mod 19: the enrolled proportions in every block of 19.
    let doses = (0..<38).map { h1.dose(patient: $0) }
    #expect(doses.filter { $0 == 1e8 }.count == 6 && doses.filter { $0 == 3e4 }.count == 2)
    #expect(Array(doses[0..<19]) == Array(doses[19..<38]))
    // Cohort C doses CAR+ cells; A is fludarabine alone; repeat infusions only for SD or better.
    #expect(spec.arms[3].scenario.regimen.infusions[0].basis == .carTCellsPerM2)
    #expect(spec.arms[1].scenario.regimen.lymphodepletion?.includesCyclophosphamide == false)
    for arm in spec.arms {
      #expect(arm.scenario.regimen.rules.count == 1)
      #expect(arm.scenario.regimen.rules[0].first == 2 && arm.scenario.regimen.rules[0].require == .stableOrBetter)
    }
    let embedded = try TrialSpec.embeddedHEROS()
    #expect(embedded.arms.map(\.name) == spec.arms.map(\.name))
  }
}

@Suite("Dose curves from the model")
struct DoseCurveTests {
  @Test func dltDefinitions() throws {
    #expect(try TrialSpec.DLT.parse("crs>=3") == TrialSpec.DLT(crsGradeAtLeast: 3, windowDays: 28))
    #expect(try TrialSpec.DLT.parse("CRS >= 2 : 14") == TrialSpec.DLT(crsGradeAtLeast: 2, windowDays: 14))
    #expect(throws: InputError.self) { try TrialSpec.DLT.parse("crs>=5") }
    #expect(throws: InputError.self) { try TrialSpec.DLT.parse("il6>100") }
  }

  /// The same virtual patients at every level: CRS and DLT cannot fall as the dose rises by
  /// orders of magnitude, and no CAR T dose of 1e4/m² gives a DLT.
  @Test func toxicityRisesWithDose() throws {
    let (specPath, _) = try smallTrial()
    var spec = try TrialSpec.load(path: specPath)
    spec.dlt = try TrialSpec.DLT.parse("crs>=2:28")
    let c = try spec.doseCurves(arm: 1, doses: [1e4, 1e8, 1e9], basis: .carTCellsPerM2, patients: 8, threads: 2)
    #expect(c.failed == [0, 0, 0])
    #expect(c.dlts[0] == 0)
    #expect(c.dlts[0] <= c.dlts[1] && c.dlts[1] <= c.dlts[2])
    #expect(c.dlts[2] > 0)
    let again = try spec.doseCurves(arm: 1, doses: [1e4, 1e8, 1e9], basis: .carTCellsPerM2, patients: 8, threads: 1)
    #expect(again.dlts == c.dlts && again.responses == c.responses)
  }
}

@Suite("RECIST 1.1")
struct RECISTTests {
  let rules = TrialSpec.Assessment()

  func best(_ slds: [Double]) -> RECIST.Outcome {
    // SLD at day 0 and each 42-day assessment, held between (step series).
    let times = (0..<slds.count).map { Double($0) * 42 }
    return RECIST.evaluate(times: times, sld: slds, lastDay: times.last!, rules: rules)
  }

  @Test func responses() {
    // PR confirmed 42 days later.
    #expect(best([100, 65, 60, 62]).best == .PR)
    // PR not confirmed (SD at the next assessment): SD.
    #expect(best([100, 65, 80, 85]).best == .SD)
    // A single PR at the last assessment cannot be confirmed: SD.
    #expect(best([100, 90, 65]).best == .SD)
    // CR confirmed by CR; a PR followed by an unconfirmed CR is a PR.
    #expect(best([100, 50, 1, 0.5]).best == .CR)
    #expect(best([100, 60, 1]).best == .PR)
    // A CR followed by regrowth is unconfirmed (the regrowth is PD): SD.
    #expect(best([100, 1, 40]).best == .SD)
    #expect(best([100, 1, 40]).progressionDay == 84)
    // PD: +20% and +5 mm over the nadir (here the nadir is at day 42).
    let pd = best([100, 70, 84, 90])
    #expect(pd.assessments.map(\.response) == [.PR, .PD])
    #expect(pd.best == .SD)
    #expect(pd.progressionDay == 84)
    // +20% but under 5 mm is not PD.
    #expect(best([20, 24.5, 24.9]).best == .SD)
    // Progression at the first assessment.
    #expect(best([100, 130, 140]).best == .PD)
    // New growth after the lesions disappeared is PD even below +5 mm.
    let regrowth = best([10, 1, 1, 3])
    #expect(regrowth.assessments.last?.response == .PD)
    #expect(regrowth.best == .CR)
  }

  @Test func minimumDurationAndNotEvaluable() {
    var r = TrialSpec.Assessment()
    r.minimumSDDays = 60
    let times = [0.0, 42, 84]
    // SD only at day 42 (< 60 days), PD at 84: PD.
    #expect(RECIST.evaluate(times: times, sld: [100, 105, 130], lastDay: 84, rules: r).best == .PD)
    // No assessment before the end of follow-up: NE.
    #expect(RECIST.evaluate(times: times, sld: [100, 105, 130], lastDay: 30, rules: r).best == .NE)
  }
}

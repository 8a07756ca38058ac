import Foundation
import TestSupport
import Testing

/// `cartsim nlme fit | profile | vpc | simulate` run as a user runs them.
struct NLMECommandTests {
  @Test func fitWritesTheDocumentTablesAndPlots() throws {
    let dir = try temporaryDirectory()
    let r = try cartsim(["nlme", "fit", "Examples/nlme/pheno.mod", "--threads", "2", "--npde-samples", "100", "--out", dir])
    #expect(r.status == 0, "\(r.err)")
    #expect(r.out.contains("FOCE-I: OFV 586.27"))
    let doc = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/fit.json"))) as? [String: Any])
    for key in ["ofv", "method", "theta", "omega", "sigma", "se", "eta_shrinkage", "status", "seconds", "history", "aic", "bic"] {
      #expect(doc[key] != nil, "fit.json lacks \(key)")
    }
    #expect((doc["omega"] as? [Double])?.count == 3)  // diagonal 2×2 as a lower triangle
    let sdtab = try String(contentsOfFile: dir + "/sdtab.csv", encoding: .utf8)
    #expect(sdtab.hasPrefix("ID,TIME,DV,PRED,IPRED,RES,WRES,CWRES,IWRES,NPDE,CENS,ETA1,ETA2"))
    #expect(sdtab.split(separator: "\n").count == 156)
    // The control stream's $TABLE, NONMEM-style.
    let table = try String(contentsOfFile: dir + "/sdtab1", encoding: .utf8)
    #expect(table.hasPrefix("TABLE NO.  1") && table.contains("CWRES") && table.contains("TAD"))
    for plot in ["dv_vs_pred", "dv_vs_ipred", "cwres_vs_time", "cwres_vs_pred", "individual_fits", "eta_vs_covariates"] {
      #expect(FileManager.default.fileExists(atPath: "\(dir)/\(plot).svg"), "\(plot).svg")
    }
    // From the fit: a VPC and a simulated dataset.
    let v = try cartsim(["nlme", "vpc", "Examples/nlme/pheno.mod", "--from", dir + "/fit.json", "--replicates", "50", "--out", dir])
    #expect(v.status == 0, "\(v.err)")
    #expect(FileManager.default.fileExists(atPath: dir + "/vpc.svg"))
    let s = try cartsim([
      "nlme", "simulate", "Examples/nlme/pheno.mod", "--from", dir + "/fit.json", "--replicates", "2", "--out", dir + "/sim.csv",
    ])
    #expect(s.status == 0, "\(s.err)")
    let sim = try String(contentsOfFile: dir + "/sim.csv", encoding: .utf8).split(separator: "\n")
    #expect(sim.first == "REP,ID,TIME,AMT,WGT,APGR,DV,FA1,FA2,CENS" && sim.count == 1 + 2 * 744)
    // The profile of SIGMA(1,1): re-fits on both sides, the ends where ΔOFV reaches 3.84.
    let sigma = try #require((doc["sigma"] as? [Double])?.first)
    let p = try cartsim([
      "nlme", "profile", "Examples/nlme/pheno.mod", "--from", dir + "/fit.json", "--parameters", "SIGMA(1,1)", "--out", dir,
    ])
    #expect(p.status == 0, "\(p.err)")
    #expect(p.out.contains("SIGMA(1,1)") && p.out.contains("95% interval"), "\(p.out)")
    let profiles = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/profiles.json"))) as? [String: Any])
    let profile = try #require((profiles["profiles"] as? [[String: Any]])?.first)
    let lower = try #require(profile["lower"] as? Double)
    let upper = try #require(profile["upper"] as? Double)
    #expect(lower < sigma && sigma < upper, "[\(lower), \(upper)] around \(sigma)")
    let deltas = (profile["points"] as? [[String: Any]] ?? []).compactMap { $0["delta"] as? Double }
    #expect(deltas.count >= 2 && deltas.allSatisfy { $0 > 0 })
    #expect(deltas.contains { abs($0 - 3.8415) <= 0.05 })
    #expect(FileManager.default.fileExists(atPath: dir + "/profile_SIGMA1_1.svg"))
    // At the estimate itself a re-fit finds the fit's objective again.
    let at = try cartsim([
      "nlme", "profile", "Examples/nlme/pheno.mod", "--from", dir + "/fit.json", "--at", "SIGMA(1,1)=\(sigma)", "--out", dir + "/at",
    ])
    #expect(at.status == 0, "\(at.err)")
    let zero = try #require(at.out.split(separator: "ΔOFV ").last.flatMap { Double($0.prefix { $0 != " " }) })
    #expect(abs(zero) < 1e-3, "\(at.out)")
  }

  @Test func badInputIsRefusedWithFileLineAndField() throws {
    let dir = try temporaryDirectory()
    let mod = dir + "/bad.mod"
    try "$PROBLEM x\n$INPUT ID TIME DV\n$DATA d.csv\n$PRED\nY = THETA(1) + EPS(1)\n$THETA 1\n$SIGMA 1\n$SIMULATION (1)\n".write(
      toFile: mod, atomically: true, encoding: .utf8)
    var r = try cartsim(["nlme", "fit", mod, "--out", dir])
    #expect(r.status == 2 && r.err.contains("bad.mod: line 8, $SIMULATION: this record is not supported"), "\(r.err)")
    // A data file with a bad value.
    try "$PROBLEM x\n$INPUT ID TIME DV\n$DATA d.csv\n$PRED\nY = THETA(1) + EPS(1)\n$THETA 1\n$SIGMA 1\n".write(
      toFile: mod, atomically: true, encoding: .utf8)
    try "1 0 1\n1 1 x\n".write(toFile: dir + "/d.csv", atomically: true, encoding: .utf8)
    r = try cartsim(["nlme", "fit", mod, "--out", dir])
    #expect(r.status == 2 && r.err.contains("d.csv: line 2, DV: 'x' is not a number"), "\(r.err)")
    r = try cartsim(["nlme", "fit", mod, "--method", "its", "--out", dir])
    #expect(r.status != 0 && r.err.contains("--method"))
    r = try cartsim(["nlme", "vpc", mod, "--replicates", "100000000", "--out", dir])
    #expect(r.status != 0 && r.err.contains("--replicates"))
    r = try cartsim(["nlme", "fit", "Examples/nlme/pheno.mod", "--from", "x", "--out", dir])
    #expect(r.status != 0)
    r = try cartsim(["nlme", "profile", "Examples/nlme/pheno.mod", "--from", dir + "/none.json", "--out", dir])
    #expect(r.status == 2 && r.err.contains("none.json: cannot be read"), "\(r.err)")
    r = try cartsim(["nlme", "profile", "Examples/nlme/pheno.mod", "--from", "x.json", "--at", "THETA(1)", "--out", dir])
    #expect(r.status != 0 && r.err.contains("--at THETA(1): expected NAME=VALUE"), "\(r.err)")
  }
}

extension NLMECommandTests {
  /// A fitted population model that maps the built-in HEROS model is a trial's population:
  /// every patient gets its own rho_Ag and d_E, log-normal around the fitted THETAs.
  @Test func fittedModelIsATrialPopulation() throws {
    let dir = try temporaryDirectory()
    for name in ["nlme/heros-ck.json", "nlme/heros-ck.csv", "heros2-cohortB.json"] {
      try FileManager.default.copyItem(
        atPath: packageRoot.appendingPathComponent("Examples/\(name)").path,
        toPath: (dir as NSString).appendingPathComponent((name as NSString).lastPathComponent))
    }
    // Estimates as a fit.json holds them (written by hand: only these keys are read).
    try #"{"theta": [0.3, 0.16], "omega": [0.3, 0, 0.25], "sigma": [1]}"#.write(
      toFile: dir + "/fit.json", atomically: true, encoding: .utf8)
    let spec = """
      {"name": "fitted", "seed": 7, "patients_per_arm": 40, "follow_up_days": 30,
       "population": {"fitted": {"model": "heros-ck.json", "fit": "fit.json"}},
       "arms": [{"name": "Flu/Cy", "scenario": "heros2-cohortB.json"}]}
      """
    try spec.write(toFile: dir + "/trial.json", atomically: true, encoding: .utf8)
    let r = try cartsim(["trial", dir + "/trial.json", "--out", dir + "/out"])
    #expect(r.status == 0, "\(r.err)")
    let rows = try String(contentsOfFile: dir + "/out/patients.csv", encoding: .utf8).split(separator: "\n").map {
      $0.split(separator: ",", omittingEmptySubsequences: false)
    }
    let header = rows[0].map(String.init)
    let dE = try #require(header.firstIndex(of: "param_d_E"))
    let logs = rows.dropFirst().compactMap { Double($0[dE]) }.map { Foundation.log($0 / 0.16) }
    #expect(logs.count == 40)
    // log(d_E/0.16) ~ N(0, 0.25): mean within 3 SE (0.24), SD between 0.3 and 0.7.
    let mean = logs.reduce(0, +) / 40
    let sd = (logs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 39).squareRoot()
    #expect(abs(mean) < 0.24 && sd > 0.3 && sd < 0.7, "mean \(mean), sd \(sd)")
    // A fit that maps a parameter the spec also varies is refused by name.
    let clash = spec.replacingOccurrences(
      of: #""fitted": {"#, with: #""variability": {"d_E": {"omega": 0.2}}, "fitted": {"#)
    try clash.write(toFile: dir + "/clash.json", atomically: true, encoding: .utf8)
    let c = try cartsim(["trial", dir + "/clash.json", "--out", dir + "/out2"])
    #expect(c.status == 2 && c.err.contains("'d_E' is set by the fit and also has variability"), "\(c.err)")
  }
}

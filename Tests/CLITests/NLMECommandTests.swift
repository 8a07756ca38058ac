import Foundation
import TestSupport
import Testing

/// `cartsim nlme fit | vpc | simulate` run as a user runs them.
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
  }
}

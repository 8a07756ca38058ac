import CARTSimCore
import DoseFinding
import Foundation
import TestSupport
import Testing

/// The `cartsim` executable, run as a user would: help, exit codes and messages.
struct CLITests {
  func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try cartsim(args) }

  @Test func help() throws {
    let r = try run(["--help"])
    #expect(r.status == 0)
    for sub in ["simulate", "trial", "merge", "design", "validate", "models", "bench"] { #expect(r.out.contains(sub)) }
    let s = try run(["simulate", "--help"])
    #expect(s.out.contains("--out") && s.out.contains("embedded HEROS 2.0 cohort B"))
  }

  /// Numbers that become counts, allocations or loop bounds are refused above their limits
  /// with the option named (exit 64 from the argument parser, 2 from the readers), never a trap.
  @Test func optionsHaveUpperBounds() throws {
    let dir = try temporaryDirectory()
    for (args, option) in [
      (["simulate", "--sbml", "Examples/fit/model_cartmath.xml", "--duration", "10", "--steps", "9223372036854775807"], "--steps"),
      (["simulate", "--sbml", "Examples/fit/model_cartmath.xml", "--duration", "10", "--steps", "100000000000"], "--steps"),
      (["simulate", "--sbml", "Examples/fit/model_cartmath.xml", "--duration", "inf"], "--duration"),
      (["bench", "--horizon", "1e300"], "--horizon"),
      (["bench", "--repeats", "100000000000"], "--repeats"),
      (["trial", "--patients", "1000000000000"], "--patients"),
      (["trial", "--threads", "100000"], "--threads"),
      (["trial", "--shard", "0/100000000000"], "--shard"),
      (
        [
          "population", "--sbml", "Examples/fit/model_cartmath.xml", "--n", "10", "--omega", "0.1", "--duration", "10",
          "--steps", "100000000000", "--out", dir,
        ], "--steps"
      ),
      (
        [
          "design", "oc", "--design", "boin", "--target", "0.3", "--p-true", "0.1,0.3", "--cohorts", "4611686018427387904",
          "--cohort-size", "3",
        ], "--cohorts"
      ),
      (["serve", "--queue", "-1"], "--queue"),
      (["petab", "simulate", "Examples/fit/cartmath.yaml", "--gradient", "forward", "--repeat", "1000000"], "--repeat"),
      (["sbml", "test", "Examples", "--time-limit", "-1"], "--time-limit"),
      (["design", "oc", "--design", "mtpi2", "--target", "0.3", "--p-true", "0.1,0.3", "--epsilon1", "1e-300"], "--epsilon1"),
      (
        ["design", "oc", "--design", "boin", "--target", "0.3", "--p-true", "0.1,0.3", "--start-dose", "-9223372036854775808"],
        "--start-dose"
      ),
    ] {
      let r = try run(
        args
          + (args.contains("--out") ? [] : ["--out", dir + "/out"]).filter { _ in !["serve", "bench", "design", "sbml"].contains(args[0]) })
      #expect(r.status == 64 || r.status == 2, "\(args): \(r.status) \(r.err)")
      #expect(r.err.contains(option), "\(args): \(r.err)")
    }
    #expect(!FileManager.default.fileExists(atPath: dir + "/out/patients.csv"))
  }

  @Test func modelsListAndShow() throws {
    let list = try run(["models"])
    #expect(list.status == 0 && list.out.contains("heros") && list.out.contains("cartmath-hdlm2"))
    let show = try run(["models", "show", "heros"])
    #expect(show.status == 0 && show.out.contains("K_C") && show.out.contains("Kimmel"))
    let bad = try run(["models", "show", "nope"])
    #expect(bad.status == 64 && bad.err.contains("'nope' is invalid") && bad.err.contains("heros"), "\(bad.err)")
  }

  @Test func simulateWritesResults() throws {
    let dir = try temporaryDirectory()
    let r = try run(["simulate", "Examples/heros1.json", "--out", dir])
    #expect(r.status == 0, "\(r.err)")
    #expect(r.out.contains("HEROS 1.0: Success"))
    for f in ["timecourse.csv", "summary.json", "plots/car_t_blood.svg", "plots/tumour_sld.svg", "plots/il6.svg"] {
      #expect(FileManager.default.fileExists(atPath: dir + "/" + f), "\(f)")
    }
  }

  /// `petab simulate --gradient`: the adjoint gradient equals the forward one where the
  /// model has no events (Boehm); the CAR T example, with its infusion events, is
  /// differentiated forward whichever method is asked for, and says so.
  @Test func petabGradient() throws {
    let dir = try temporaryDirectory()
    func gradient(_ problem: String, _ method: String) throws -> (method: String, gradient: [String: Double]) {
      let out = dir + "/\(method)-\(UUID().uuidString)"
      let r = try run(["petab", "simulate", problem, "--gradient", method, "--repeat", "2", "--out", out])
      #expect(r.status == 0, "\(r.err)")
      #expect(r.out.contains("gradient (\(method == "adjoint" && problem.contains("cartmath") ? "forward" : method))"), "\(r.out)")
      let doc = try JSONDecoder().decode(PEtabRun.SimulationResult.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/result.json")))
      #expect((doc.gradient_seconds ?? 0) > 0)
      return (doc.gradient_method ?? "", doc.gradient ?? [:])
    }
    let boehm = sharedRoot.appendingPathComponent("petab-benchmarks/Boehm_JProteomeRes2014/Boehm_JProteomeRes2014.yaml").path
    let f = try gradient(boehm, "forward"), a = try gradient(boehm, "adjoint")
    #expect(f.method == "forward" && a.method == "adjoint")
    #expect(f.gradient.keys.sorted() == a.gradient.keys.sorted() && f.gradient.count == 9)
    let scale = f.gradient.values.map { abs($0) }.max() ?? 0
    for (id, g) in f.gradient { #expect(abs(g - (a.gradient[id] ?? .nan)) < 5e-3 * scale, "\(id)") }
    let cart = try gradient("Examples/fit/cartmath.yaml", "adjoint")
    #expect(cart.method == "forward" && !cart.gradient.isEmpty)
  }

  @Test func badInputIsRefusedWithoutOutput() throws {
    let dir = try temporaryDirectory()
    let bad = dir + "/bad.json"
    try #"{"car_t": {"dose": -1}}"#.write(toFile: bad, atomically: true, encoding: .utf8)
    let r = try run(["simulate", bad, "--out", dir + "/out"])
    #expect(r.status == 2)
    #expect(r.err.contains("bad.json: car_t.dose: must be > 0"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
    let missing = try run(["simulate", dir + "/missing.json", "--out", dir + "/out"])
    #expect(missing.status == 2 && missing.err.contains("missing.json: cannot read"))
    let method = try run(["simulate", "Examples/heros1.json", "--method", "euler", "--out", dir + "/out"])
    #expect(method.status != 0 && method.err.contains("--method"))
  }

  /// A trial and its shards through the command line: the files, a merge equal to the
  /// unsharded run, and refusals of bad specs and options.
  @Test func trialAndMerge() throws {
    let (spec, dir) = try smallTrial(patients: 3)
    let r = try run(["trial", spec, "--out", dir + "/full", "--threads", "2"])
    #expect(r.status == 0, "\(r.err)")
    for f in ["patients.csv", "summary.json", "km.csv", "report.html", "aggregate.json", "plots/km_pfs.svg", "plots/waterfall.svg"] {
      #expect(FileManager.default.fileExists(atPath: dir + "/full/" + f), "\(f)")
    }
    for i in 0..<2 {
      let s = try run(["trial", spec, "--shard", "\(i)/2", "--out", dir + "/s\(i)"])
      #expect(s.status == 0, "\(s.err)")
      #expect(!FileManager.default.fileExists(atPath: dir + "/s\(i)/summary.json"))
    }
    let m = try run(["merge", dir + "/s1", dir + "/s0", "--out", dir + "/merged"])
    #expect(m.status == 0, "\(m.err)")
    #expect(try read(dir + "/merged", "summary.json") == read(dir + "/full", "summary.json"))
    #expect(try read(dir + "/merged", "patients.csv") == read(dir + "/full", "patients.csv"))

    let badShard = try run(["trial", spec, "--shard", "2/2", "--out", dir + "/x"])
    #expect(badShard.status != 0 && badShard.err.contains("--shard"))
    let text = try String(contentsOfFile: spec, encoding: .utf8).replacingOccurrences(of: #""rho": 0.8"#, with: #""rho": "high""#)
    try text.write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
    let bad = try run(["trial", dir + "/bad.json", "--out", dir + "/y"])
    #expect(bad.status == 2)
    #expect(bad.err.contains("bad.json: population.correlations[0].rho: expected a number, found a string"), "\(bad.err)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/y/patients.csv"))
  }

  /// Dose finding on model-derived curves runs end to end and reports them.
  @Test func designFromModel() throws {
    let (spec, _) = try smallTrial(patients: 3)
    let r = try run([
      "design", "oc", "--design", "3+3", "--target", "0.3", "--from-model", spec, "--arm", "Flu/Cy, 3 infusions",
      "--dose-levels", "1e6,1e8,1e9", "--dose-basis", "car_t_cells_per_m2", "--model-patients", "4",
      "--dlt", "crs>=2:28", "--trials", "200", "--json",
    ])
    #expect(r.status == 0, "\(r.err)")
    let j = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
    let curves = j["model_curves"] as! [String: Any]
    #expect((curves["p_dlt"] as! [Double]).count == 3)
    #expect((j["selection_percent"] as! [Double]).count == 3)
    let bad = try run(["design", "oc", "--design", "boin", "--target", "0.3", "--from-model", spec, "--dose-levels", "1e8,1e6"])
    #expect(bad.status == 2 && bad.err.contains("--dose-levels"))
  }

  /// `cartsim design oc --json` prints the library's report, the same text `/api/design/oc`
  /// answers; the CRM start-up sequence is an option; errors name the option.
  @Test func designPrintsTheLibrarysReport() throws {
    let r = try run([
      "design", "oc", "--design", "crm", "--target", "0.25", "--p-true", "0.05,0.12,0.25,0.4",
      "--skeleton", "0.08,0.16,0.25,0.35", "--start-sequence", "1,1,1,2,2,2", "--trials", "300", "--seed", "4",
      "--threads", "1", "--json",
    ])
    #expect(r.status == 0, "\(r.err)")
    var settings = DesignSettings(target: 0.25)
    settings.skeleton = [0.08, 0.16, 0.25, 0.35]
    settings.startSequence = [1, 1, 1, 2, 2, 2]
    var runSettings = OCRunSettings(curves: .given(pTrue: [0.05, 0.12, 0.25, 0.4], pResponse: nil))
    runSettings.trials = 300
    runSettings.seed = 4
    runSettings.threads = 2
    #expect(r.out == DesignJSON.render(try DesignStudy.operatingCharacteristics(design: "crm", settings: settings, run: runSettings)))
    let bad = try run([
      "design", "oc", "--design", "crm", "--target", "0.25", "--p-true", "0.05,0.12", "--skeleton", "0.1,0.2",
      "--start-sequence", "2,1",
    ])
    #expect(bad.status == 2 && bad.err.contains("command line: --start-sequence: must not decrease"), "\(bad.err)")
  }

  /// `cartsim population`: exit status 2 and the file or option named.
  @Test func populationRefusals() throws {
    let dir = try temporaryDirectory()
    let file = packageRoot.appendingPathComponent("Examples/fit/model_cartmath.xml").path
    let base = ["population", "--duration", "1", "--steps", "2", "--out", dir + "/out"]
    let missing = try run(base + ["--sbml", dir + "/missing.xml", "--n", "2", "--omega", "0.1"])
    #expect(missing.status == 2 && missing.err.contains("missing.xml"))
    let n = try run(base + ["--sbml", file, "--n", "0", "--omega", "0.1"])
    #expect(n.status == 2 && n.err.contains("--n"))
    let omega = try run(base + ["--sbml", file, "--n", "2", "--omega=-0.1"])
    #expect(omega.status == 2 && omega.err.contains("--omega"))
    let good = try run(base + ["--sbml", file, "--n", "3", "--omega", "0.1", "--threads", "1"])
    #expect(good.status == 0, "\(good.err)")
    #expect(good.err.contains("patients/s on 1 thread,"))
  }
}

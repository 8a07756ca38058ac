import Foundation
import Testing

/// The `cartsim` executable, run as a user would: help, exit codes and messages.
struct CLITests {
  /// The binary built next to the test bundle.
  static var binary: URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if dir.lastPathComponent == "MacOS" { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    return dir.appendingPathComponent("cartsim")
  }

  func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
    let bin = Self.binary
    guard FileManager.default.isExecutableFile(atPath: bin.path) else {
      throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "cartsim not built at \(bin.path)"])
    }
    let p = Process()
    p.executableURL = bin
    p.arguments = args
    p.currentDirectoryURL = packageRoot
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }

  @Test func help() throws {
    let r = try run(["--help"])
    #expect(r.status == 0)
    for sub in ["simulate", "validate", "models", "bench"] { #expect(r.out.contains(sub)) }
    let s = try run(["simulate", "--help"])
    #expect(s.out.contains("--out") && s.out.contains("embedded HEROS 2.0 cohort B"))
  }

  @Test func modelsListAndShow() throws {
    let list = try run(["models"])
    #expect(list.status == 0 && list.out.contains("heros") && list.out.contains("cartmath-hdlm2"))
    let show = try run(["models", "show", "heros"])
    #expect(show.status == 0 && show.out.contains("K_C") && show.out.contains("Kimmel"))
    let bad = try run(["models", "show", "nope"])
    #expect(bad.status != 0 && bad.err.contains("unknown model 'nope'"))
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
}

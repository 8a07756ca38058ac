import Foundation

/// What the test targets share: where the package and its reference material are, temporary
/// folders, the example files, a small trial spec, and the `cartsim` executable run as a user
/// runs it.

/// The package root, from this file's path.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `../shared` next to the package (read-only reference material).
public let sharedRoot = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")

/// `../shared`, or an error saying where it was expected.
public func sharedDirectory() throws -> URL {
  guard FileManager.default.fileExists(atPath: sharedRoot.path) else {
    throw CocoaError(
      .fileNoSuchFile,
      userInfo: [NSLocalizedDescriptionKey: "shared reference folder not found at \(sharedRoot.path) (expected next to the package)"])
  }
  return sharedRoot
}

/// `Examples/NAME.json`.
public func example(_ name: String) -> String { packageRoot.appendingPathComponent("Examples/\(name).json").path }

/// A fresh temporary directory.
public func temporaryDirectory() throws -> String {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cartsim-test-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  return dir.path
}

/// A file of `dir`, as text.
public func read(_ dir: String, _ name: String) throws -> String {
  try String(contentsOfFile: (dir as NSString).appendingPathComponent(name), encoding: .utf8)
}

/// A small trial spec (two arms of the HEROS examples, a population with covariates,
/// variability and a correlation) in a fresh folder with the scenario files it names.
public func smallTrial(patients: Int = 10, extra: String = "") throws -> (spec: String, dir: String) {
  let dir = try temporaryDirectory()
  for name in ["heros1", "heros2-cohortB"] {
    try FileManager.default.copyItem(atPath: example(name), toPath: (dir as NSString).appendingPathComponent("\(name).json"))
  }
  let spec = """
    {
      "name": "small", "seed": 7, "patients_per_arm": \(patients), "follow_up_days": 200,
      "population": {
        "covariates": {
          "weight_kg": {"median": 50, "omega": 0.4, "min": 15, "max": 120},
          "height_cm": {"distribution": "normal", "mean": 155, "sd": 20, "min": 95, "max": 200},
          "subtype": {"categories": {"osteosarcoma": 0.7, "other": 0.3}}
        },
        "variability": {"rho_Ag": {"omega": 0.3}, "r_T": {"median": 0.025, "omega": 0.3}},
        "correlations": [{"between": ["weight_kg", "height_cm"], "rho": 0.8}]
        \(extra)
      },
      "arms": [{"name": "no LD", "scenario": "heros1.json"}, {"name": "Flu/Cy, 3 infusions", "scenario": "heros2-cohortB.json"}]
    }
    """
  let path = (dir as NSString).appendingPathComponent("trial.json")
  try spec.write(toFile: path, atomically: true, encoding: .utf8)
  return (path, dir)
}

/// Runs the `cartsim` built next to the test bundle with `args`, from the package root.
public func cartsim(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
  var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
  if dir.lastPathComponent == "MacOS" { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
  let bin = dir.appendingPathComponent("cartsim")
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

/// Runs a program found on `PATH` (through `/usr/bin/env`) from the package root; returns its
/// exit status and its standard output and error together.
public func runTool(_ arguments: [String]) throws -> (status: Int32, output: String) {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  p.arguments = arguments
  p.currentDirectoryURL = packageRoot
  let out = Pipe()
  p.standardOutput = out
  p.standardError = out
  try p.run()
  let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  p.waitUntilExit()
  return (p.terminationStatus, text)
}

// One libFuzzer binary for every input reader; CARTSIM_FUZZ_TARGET picks the reader
// (Scripts/fuzz.sh sets it). The program's own entry point hands control to libFuzzer's
// driver (LLVMFuzzerRunDriver), so the fuzzer runtime's `main` is not needed.
//
// A reader passes when it returns or throws its own error type for any bytes; a crash, a
// trap, a leak or an address error is what the fuzzer reports.
import CARTSimCore
import DoseFinding
import Estimation
import Foundation
import NLME
import SBMLDocument
import SBMLKit

/// The fuzz targets by name, each a reader fed the input bytes.
let targets: [String: @Sendable (Data) -> Void] = [
  "scenario": { data in _ = try? Scenario.parse(data, file: "fuzz.json") },
  "trial-spec": { data in
    guard let json = try? JSONValue.decode(data, file: "fuzz.json") else { return }
    // As the server reads uploads: arm scenarios come from the embedded examples only.
    _ = try? TrialSpec.parse(json, file: "fuzz.json") { rel in
      guard let text = EmbeddedScenarios.files[rel] else { return nil }
      return (try JSONValue.decode(Data(text.utf8), file: rel), rel)
    }
  },
  "sbml": { data in
    guard let model = try? SBMLModel.parse(data) else { return }
    _ = try? CompiledSBML(model)
  },
  "mathml": { data in
    // The bytes as the math of an assignment rule, compiled and evaluated once.
    let doc = """
      <?xml version="1.0" encoding="UTF-8"?>
      <sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2"><model id="m">
      <listOfParameters><parameter id="x" value="2" constant="true"/><parameter id="y" constant="false"/></listOfParameters>
      <listOfRules><assignmentRule variable="y"><math xmlns="http://www.w3.org/1998/Math/MathML">
      """ + String(decoding: data, as: UTF8.self) + "</math></assignmentRule></listOfRules></model></sbml>"
    guard let model = try? SBMLModel.parse(Data(doc.utf8)), let compiled = try? CompiledSBML(model) else { return }
    _ = SBMLSystem(compiled).simulate(start: 0, duration: 1, steps: 1, variables: [("y", .symbol)])
  },
  "accrued-csv": { data in _ = try? AccruedData(csv: String(decoding: data, as: UTF8.self), source: "fuzz.csv", doses: 5) },
  "patients-csv": { data in
    // The bytes as the patients.csv beside a real aggregate.json, read as merge reads a shard.
    let dir = patientsFixture
    try? data.write(to: URL(fileURLWithPath: dir + "/patients.csv"))
    _ = try? TrialResults.load(dir: dir)
  },
  "covariate-csv": { data in _ = try? PopulationSpec.checkCovariateTable(String(decoding: data, as: UTF8.self), file: "fuzz.csv") },
  "petab-table": { data in _ = try? PEtabTable(text: String(decoding: data, as: UTF8.self), file: "fuzz.tsv") },
  "petab-formula": { data in _ = try? Formula(String(decoding: data, as: UTF8.self)) },
  "petab-yaml": { data in _ = try? YAML.parse(String(decoding: data, as: UTF8.self), file: "fuzz.yaml") },
  "nlme-control-stream": { data in
    // The bytes as a control stream, its model compiled and run on a small fixed dataset.
    guard let stream = try? ControlStream(text: String(decoding: data, as: UTF8.self), file: "fuzz.mod") else { return }
    nlmeRun(stream)
  },
  "nlme-json": { data in
    guard let stream = try? ControlStream(json: String(decoding: data, as: UTF8.self), file: "fuzz.json") else { return }
    nlmeRun(stream)
  },
  "nlme-dataset": { data in
    // The bytes as a dataset with every item NONMEM reserves.
    let names = ["ID", "TIME", "AMT", "RATE", "II", "ADDL", "SS", "CMT", "EVID", "MDV", "DV", "CENS", "WT"]
    let input = names.map { ControlStream.InputItem(name: $0, synonym: nil, dropped: false) }
    _ = try? Dataset(
      text: String(decoding: data, as: UTF8.self), source: "fuzz.csv", input: input,
      record: ControlStream.DataRecord(path: "fuzz.csv", line: 1))
  },
]

/// A fuzzed model's objective on three subjects (doses, infusions, observations, a reset).
func nlmeRun(_ stream: ControlStream) {
  var stream = stream
  stream.input = ["ID", "TIME", "AMT", "RATE", "CMT", "EVID", "DV", "WT"].map {
    ControlStream.InputItem(name: $0, synonym: nil, dropped: false)
  }
  let data =
    "1 0 10 0 0 1 0 70\n1 1 0 0 0 0 2 70\n1 2 5 2.5 0 1 0 70\n1 4 0 0 0 0 1 70\n2 0 0 0 0 0 1 50\n2 3 0 0 0 3 0 50\n2 5 0 0 0 0 1 50"
  guard let problem = try? NLMEProblem(stream: stream, dataText: data, dataSource: "fuzz.csv") else { return }
  var objective = FirstOrderObjective(model: problem.model, data: problem.data, method: .focei)
  objective.maxInnerIterations = 5
  _ = PopulationObjective(objective: objective, threads: 1).ofv(problem.initial)
}

/// libFuzzer's driver: runs the fuzzing loop with `callback` on each input, taking its
/// options from the command line (`-max_total_time=…`, corpus folders).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
  _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// A folder holding the aggregate.json of a tiny HEROS trial, made once (patients-csv).
nonisolated(unsafe) var patientsFixture = ""

let name = ProcessInfo.processInfo.environment["CARTSIM_FUZZ_TARGET"] ?? ""
if name == "patients-csv" {
  patientsFixture = NSTemporaryDirectory() + "cartsim-fuzz-patients-\(getpid())"
  var spec = try TrialSpec.embeddedHEROS()
  for i in spec.arms.indices { spec.arms[i].patients = 2 }
  var options = TrialRunner.Options()
  options.threads = 1
  try TrialRunner.run(spec, options: options, to: patientsFixture)
  // The real file is the seed of the corpus (Scripts/fuzz.sh names the folder).
  if let seeds = ProcessInfo.processInfo.environment["CARTSIM_FUZZ_SEED_DIR"] {
    try? FileManager.default.copyItem(atPath: patientsFixture + "/patients.csv", toPath: seeds + "/trial-patients.csv")
  }
}
guard let target = targets[name] else {
  FileHandle.standardError.write(
    Data("cartsim-fuzz: set CARTSIM_FUZZ_TARGET to one of: \(targets.keys.sorted().joined(separator: ", "))\n".utf8))
  exit(2)
}
nonisolated(unsafe) var selected: @Sendable (Data) -> Void = target

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(
  LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in
    selected(bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
  })

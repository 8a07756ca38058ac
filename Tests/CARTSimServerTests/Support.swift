import CARTSimCore
import Foundation
import Hummingbird
import HummingbirdTesting

@testable import CARTSimServer

/// A fresh data folder under the temporary directory.
func tempDataDir(_ tag: String = #function) -> String {
  let d = (NSTemporaryDirectory() as NSString).appendingPathComponent(
    "cartsim-server-tests-\(tag.filter(\.isLetter))-\(UUID().uuidString.prefix(8))")
  try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
  return d
}

func testConfig(_ dir: String, token: String? = nil, maxBody: Int = 1 << 20, shardPatients: Int = 4) -> ServerConfig {
  var c = ServerConfig()
  c.dataDir = dir
  c.token = token
  c.maxBodyBytes = maxBody
  c.threadsPerJob = 1
  c.shardPatients = shardPatients
  c.logRequests = false
  return c
}

extension TestResponse {
  var text: String { String(buffer: body) }
  var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
}

extension TestClientProtocol {
  func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
    try await execute(uri: uri, method: .get, headers: headers)
  }
  /// A POST as the pages send it: a JSON body (an empty one for actions).
  func post(_ uri: String, _ body: String, headers: HTTPFields = [.contentType: "application/json"]) async throws -> TestResponse {
    try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
  }
}

/// The embedded HEROS trial made tiny: `patients` per arm, `days` of follow-up.
func tinyTrial(patients: Int = 4, days: Int = 100, seed: Int = 7) throws -> String {
  var spec = try JSONSerialization.jsonObject(with: Data(EmbeddedScenarios.files["heros-trial.json"]!.utf8)) as! [String: Any]
  spec["patients_per_arm"] = patients
  spec["follow_up_days"] = days
  spec["seed"] = seed
  return String(decoding: try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys]), as: UTF8.self)
}

/// A scenario example with some fields changed.
func scenario(_ name: String = "heros2-cohortB.json", _ change: (inout [String: Any]) -> Void = { _ in }) -> String {
  var s = try! JSONSerialization.jsonObject(with: Data(EmbeddedScenarios.files[name]!.utf8)) as! [String: Any]
  change(&s)
  return String(decoding: try! JSONSerialization.data(withJSONObject: s), as: UTF8.self)
}

/// Polls until `check` holds (or the time is up).
func eventually(seconds: Double = 120, _ check: () async throws -> Bool) async throws -> Bool {
  let end = Date().addingTimeInterval(seconds)
  while Date() < end {
    if try await check() { return true }
    try await Task.sleep(for: .milliseconds(50))
  }
  return false
}

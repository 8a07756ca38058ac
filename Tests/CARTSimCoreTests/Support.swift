import CARTSimCore
import Foundation

/// The package root, from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func example(_ name: String) -> String { packageRoot.appendingPathComponent("Examples/\(name).json").path }

/// Parses scenario JSON text (file name `test.json` in messages).
func parse(_ json: String) throws -> Scenario { try Scenario.parse(Data(json.utf8), file: "test.json") }

/// A fresh temporary directory.
func temporaryDirectory() throws -> String {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cartsim-test-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  return dir.path
}

import Foundation

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let sharedRoot = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")

func benchmark(_ name: String) -> String {
  sharedRoot.appendingPathComponent("petab-benchmarks/\(name)/\(name).yaml").path
}
func suiteCase(_ id: String) -> String {
  sharedRoot.appendingPathComponent("petab-test-suite/cases/\(id)/_\(id).yaml").path
}

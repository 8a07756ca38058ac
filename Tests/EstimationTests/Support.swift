import Foundation
import TestSupport

func benchmark(_ name: String) -> String {
  sharedRoot.appendingPathComponent("petab-benchmarks/\(name)/\(name).yaml").path
}
func suiteCase(_ id: String) -> String {
  sharedRoot.appendingPathComponent("petab-test-suite/cases/\(id)/_\(id).yaml").path
}

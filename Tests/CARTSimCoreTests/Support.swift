import CARTSimCore
import Foundation

/// Parses scenario JSON text (file name `test.json` in messages).
func parse(_ json: String) throws -> Scenario { try Scenario.parse(Data(json.utf8), file: "test.json") }

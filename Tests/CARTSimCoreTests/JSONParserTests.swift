import Foundation
import TestSupport
import Testing

@testable import CARTSimCore

/// ``JSONParser`` gives exactly what `JSONDecoder` gives (``JSONValue/decodeWithFoundation``),
/// and leaves to it everything it is not sure of.
struct JSONParserTests {
  /// Every JSON file of the package's examples, guides' fixtures and test fixtures.
  @Test func filesMatchFoundation() throws {
    var files: [URL] = []
    for folder in ["Examples", "Tests", "Guides"] {
      let root = packageRoot.appendingPathComponent(folder)
      let walk = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
      while let u = walk?.nextObject() as? URL {
        if u.pathExtension == "json" && !u.path.contains("/.build/") { files.append(u) }
      }
    }
    #expect(files.count > 10)
    for u in files {
      let data = try Data(contentsOf: u)
      let reference = try? JSONValue.decodeWithFoundation(data, file: u.path)
      let parsed = JSONParser.parse(data)
      #expect(parsed == reference, "\(u.lastPathComponent)")
    }
  }

  /// A trial's aggregate.json (the document it was written for: MBs of numbers).
  @Test func aggregateMatchesFoundation() throws {
    let dir = try temporaryDirectory()
    var spec = try TrialSpec.embeddedHEROS()
    for i in spec.arms.indices { spec.arms[i].patients = 20 }
    var options = TrialRunner.Options()
    options.threads = 2
    _ = try TrialRunner.run(spec, options: options, to: dir)
    let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/aggregate.json"))
    let parsed = try #require(JSONParser.parse(data))
    #expect(parsed == (try JSONValue.decodeWithFoundation(data, file: "aggregate.json")))
  }

  /// Random documents from a fixed seed: nested arrays and objects, numbers written as
  /// integers, decimals, exponents, negative zero, subnormals and long integers, and strings
  /// with every escape, non-ASCII text and surrogate pairs.
  @Test func randomDocumentsMatchFoundation() throws {
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    func next() -> UInt64 {
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      return state
    }
    func pick(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    func number() -> String {
      switch pick(9) {
      case 0: return String(Int64(bitPattern: next()) >> pick(60))
      case 1: return "-0"
      case 2: return String(Double(bitPattern: next() >> 2))  // any magnitude, Swift's shortest form
      case 3: return "\(pick(1000)).\(pick(100_000))e\(pick(2) == 0 ? "-" : "+")\(pick(320))"
      case 4: return "4.9406564584124654e-324"
      case 5: return "123456789012345678901234567890"
      case 6: return "0.\(String(repeating: "0", count: pick(20)))\(pick(1_000_000))E\(pick(30))"
      case 7: return pick(16) != 0 ? "-\(pick(10)).\(pick(10))" : "\(1 + pick(9))e-\(320 + pick(100))"  // underflow past 4.9e-324
      default: return String(Double(pick(1_000_000)) / 7)
      }
    }
    func string() -> String {
      let pieces = [
        "a", "é", "Ω", "😀", "\\n", "\\t", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\u00e9", "\\ud83d\\ude00", "\\u0000", "mg/m²", " ",
      ]
      return "\"" + (0..<pick(8)).map { _ in pieces[pick(pieces.count)] }.joined() + "\""
    }
    func value(_ depth: Int) -> String {
      let space = [" ", "", "\n  ", "\t"][pick(4)]
      switch depth > 4 ? pick(4) : pick(6) {
      case 0: return number()
      case 1: return string()
      case 2: return ["true", "false", "null"][pick(3)]
      case 3: return number()
      case 4: return "[" + space + (0..<pick(6)).map { _ in value(depth + 1) }.joined(separator: "," + space) + space + "]"
      default:
        let keys = Set((0..<pick(6)).map { _ in string() })
        return "{" + space + keys.map { "\($0)" + space + ":" + space + value(depth + 1) }.joined(separator: ",") + "}"
      }
    }
    var parsedCount = 0
    for _ in 0..<3000 {
      let text = value(0)
      let data = Data(text.utf8)
      let reference = try? JSONValue.decodeWithFoundation(data, file: "random")
      let parsed = JSONParser.parse(data)
      if let parsed {
        parsedCount += 1
        // Bit-identical numbers all through (== treats 0 and -0 as equal).
        #expect(reference.map { identical(parsed, $0) } == true, "\(text)")
      } else {
        // Left to JSONDecoder: only numbers beyond a double or keys equal after unescaping.
        #expect(reference == nil || text.contains("e+3") || text.contains("\\"), "\(text)")
      }
    }
    #expect(parsedCount > 2500)
  }

  /// Equal values with numbers equal to the bit.
  func identical(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.number(let x), .number(let y)): return x.bitPattern == y.bitPattern
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { identical($0, $1) }
    case (.object(let x), .object(let y)):
      return x.count == y.count && x.allSatisfy { key, v in y[key].map { identical(v, $0) } ?? false }
    default: return a == b
    }
  }

  /// Not JSON, or not plain: left to JSONDecoder, whose error (or value) stands.
  @Test func leavesTheRestToFoundation() throws {
    let refused = [
      "", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "-", "1e", "1e+", "NaN", "Infinity", "tru", "nul",
      "\"a", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"", "[1] 2", "{\"a\" 1}",
      "{1: 2}", "1e400", "-1e400", "1e-400", "-1e-400", "2e-324", "[0.5e-330]", "{\"a\": 1, \"a\": 2}",
      String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
    ]
    for text in refused {
      let data = Data(text.utf8)
      #expect(JSONParser.parse(data) == nil, "\(text)")
      let viaDecode = Result { try JSONValue.decode(data, file: "f.json") }
      let viaFoundation = Result { try JSONValue.decodeWithFoundation(data, file: "f.json") }
      switch (viaDecode, viaFoundation) {
      case (.success(let a), .success(let b)): #expect(a == b, "\(text)")
      case (.failure(let a), .failure(let b)): #expect("\(a)" == "\("\(b)")", "\(text)")
      default: Issue.record("\(text): decode and JSONDecoder disagree")
      }
    }
    // A true zero with any exponent is zero, for both.
    for text in ["0.000e-999", "-0e-400", "[0.0E+999]"] {
      let data = Data(text.utf8)
      let parsed = try #require(JSONParser.parse(data), "\(text)")
      #expect(identical(parsed, try JSONValue.decodeWithFoundation(data, file: "f.json")), "\(text)")
    }
    // Invalid UTF-8 inside a string.
    #expect(JSONParser.parse(Data([0x22, 0xFF, 0x22])) == nil)
    // An underflowing number is refused too, and said to be too small.
    do {
      _ = try JSONValue.decode(Data(#"{"dose": 1e-400}"#.utf8), file: "f.json")
      Issue.record("accepted 1e-400")
    } catch let e as InputError {
      #expect(e.path == "dose" && e.message.contains("too small"), "\(e)")
    }
    // The error for a number beyond a double still names its place.
    do {
      _ = try JSONValue.decode(Data(#"{"a": [1, 2e400]}"#.utf8), file: "f.json")
      Issue.record("accepted 2e400")
    } catch let e as InputError {
      #expect(e.path == "a" && e.message.contains("too large"), "\(e)")
    }
  }
}

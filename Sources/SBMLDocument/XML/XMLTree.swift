import Foundation

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// A parsed XML element: name (without namespace prefix), attributes, children, text and
/// the line it starts on.
public final class XMLNode {
  public let name: String
  public var attributes: [String: String]
  public var children: [XMLNode] = []
  public var text = ""
  public let line: Int

  init(name: String, attributes: [String: String], line: Int) {
    self.name = name
    self.attributes = attributes
    self.line = line
  }

  public subscript(_ attribute: String) -> String? { attributes[attribute] }
  public func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
  public func children(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
  /// Children of the `listOfX` child, named `x`.
  public func list(_ listName: String, _ itemName: String) -> [XMLNode] { child(listName)?.children(itemName) ?? [] }
}

/// Errors reading SBML: malformed XML, unsupported constructs, bad values. Each names what
/// and where.
public struct SBMLError: Error, CustomStringConvertible, Equatable {
  public enum Kind: String, Sendable { case malformed, unsupported, invalid }
  public var kind: Kind
  public var message: String
  public var line: Int?

  public init(_ kind: Kind, _ message: String, line: Int? = nil) {
    self.kind = kind
    self.message = message
    self.line = line
  }

  public var description: String { line.map { "line \($0): \(message)" } ?? message }
}

/// Builds an ``XMLNode`` tree with Foundation's event parser.
final class XMLTreeBuilder: NSObject, XMLParserDelegate {
  /// The deepest element nesting accepted (libxml2's own default). SBML's structure is 6
  /// deep and real MathML a few dozen; the readers and compilers after this one recurse over
  /// the tree, so the bound keeps them far from the end of any thread's stack.
  static let maxDepth = 256

  var stack: [XMLNode] = []
  var root: XMLNode?
  var tooDeepAt: Int?
  weak var parser: XMLParser?

  static func parse(_ data: Data) throws -> XMLNode {
    try checkText(data)
    let p = XMLParser(data: data)
    let b = XMLTreeBuilder()
    b.parser = p
    p.delegate = b
    p.shouldProcessNamespaces = false
    let parsed = p.parse()
    if let line = b.tooDeepAt {
      throw SBMLError(.malformed, "elements nested more than \(maxDepth) deep", line: line)
    }
    guard parsed, let root = b.root else {
      let err = p.parserError.map { "\($0.localizedDescription)" } ?? "unknown error"
      throw SBMLError(.malformed, "malformed XML: \(err)", line: p.lineNumber)
    }
    // The parser reports success on a document cut short; the open elements say it was.
    if let open = b.stack.last {
      throw SBMLError(
        .malformed, "malformed XML: the document ends inside <\(open.name)> (opened on line \(open.line)); is the file truncated?",
        line: p.lineNumber)
    }
    return root
  }

  /// SBML is UTF-8 (SBML L3 §4.1), and XML has no NUL character. Foundation's parser traps on
  /// some element names that are not UTF-8, so such bytes are refused here, with their line.
  static func checkText(_ data: Data) throws {
    var decoder = UTF8()
    var bytes = data.makeIterator()
    var line = 1
    loop: while true {
      switch decoder.decode(&bytes) {
      case .scalarValue(let c):
        if c == "\n" { line += 1 }
        if c == "\0" { throw SBMLError(.malformed, "malformed XML: a NUL character", line: line) }
      case .emptyInput: break loop
      case .error: throw SBMLError(.malformed, "malformed XML: bytes that are not UTF-8 (SBML files are UTF-8)", line: line)
      }
    }
  }

  func parser(
    _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
  ) {
    guard stack.count < Self.maxDepth else {
      if tooDeepAt == nil { tooDeepAt = parser.lineNumber }
      parser.abortParsing()
      return
    }
    let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
    let node = XMLNode(name: local, attributes: attributeDict, line: parser.lineNumber)
    if let parent = stack.last {
      parent.children.append(node)
      parent.text += "\u{1}"  // marks where a child element interrupts the text (e.g. <sep/>)
    } else {
      root = node
    }
    stack.append(node)
  }

  func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
    guard tooDeepAt == nil else { return }
    _ = stack.popLast()
  }

  func parser(_ parser: XMLParser, foundCharacters string: String) {
    guard tooDeepAt == nil else { return }
    stack.last?.text += string
  }
}

import Foundation

/// Reads MathML content markup into ``Expr``.
enum MathMLReader {
  /// The expression inside a `<math>` element.
  static func read(math node: XMLNode) throws -> Expr {
    let kids = node.children.filter { $0.name != "annotation" && $0.name != "annotation-xml" }
    guard let first = kids.first else { throw SBMLError(.invalid, "empty <math>", line: node.line) }
    return try read(first)
  }

  static func text(_ node: XMLNode) -> String {
    node.text.replacingOccurrences(of: "\u{1}", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
  }

  static func read(_ node: XMLNode) throws -> Expr {
    switch node.name {
    case "semantics":
      guard let first = node.children.first(where: { $0.name != "annotation" && $0.name != "annotation-xml" }) else {
        throw SBMLError(.invalid, "empty <semantics>", line: node.line)
      }
      return try read(first)
    case "cn": return .number(try number(node))
    case "ci": return .symbol(text(node))
    case "csymbol":
      let url = node["definitionURL"] ?? ""
      if url.hasSuffix("/time") { return .time }
      if url.hasSuffix("/avogadro") { return .avogadro }
      throw SBMLError(.unsupported, "csymbol \(url) outside an <apply>", line: node.line)
    case "true": return .number(1)
    case "false": return .number(0)
    case "pi": return .number(Double.pi)
    case "exponentiale": return .number(M_E)
    case "infinity": return .number(.infinity)
    case "notanumber": return .number(.nan)
    case "piecewise":
      var pieces: [Expr] = []
      var otherwise: Expr? = nil
      for c in node.children {
        if c.name == "piece" {
          guard c.children.count == 2 else { throw SBMLError(.invalid, "<piece> needs a value and a condition", line: c.line) }
          pieces.append(try read(c.children[0]))
          pieces.append(try read(c.children[1]))
        } else if c.name == "otherwise", let v = c.children.first {
          otherwise = try read(v)
        }
      }
      return .piecewise(pieces, otherwise)
    case "apply": return try apply(node)
    default:
      throw SBMLError(.unsupported, "MathML element <\(node.name)>", line: node.line)
    }
  }

  static func number(_ node: XMLNode) throws -> Double {
    let parts = node.text.split(separator: "\u{1}").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    let type = node["type"] ?? "real"
    func d(_ s: String) throws -> Double {
      if let v = Double(s) { return v }
      switch s.lowercased() {
      case "inf", "infinity": return .infinity
      case "-inf", "-infinity": return -.infinity
      case "nan", "notanumber": return .nan
      default: throw SBMLError(.invalid, "not a number in <cn>: '\(s)'", line: node.line)
      }
    }
    switch type {
    case "e-notation":
      guard parts.count == 2 else { throw SBMLError(.invalid, "e-notation <cn> needs mantissa<sep/>exponent", line: node.line) }
      return try d(parts[0]) * pow(10, try d(parts[1]))
    case "rational":
      guard parts.count == 2 else { throw SBMLError(.invalid, "rational <cn> needs numerator<sep/>denominator", line: node.line) }
      return try d(parts[0]) / d(parts[1])
    default:
      guard parts.count == 1 else { throw SBMLError(.invalid, "<cn> has \(parts.count) parts", line: node.line) }
      return try d(parts[0])
    }
  }

  static func apply(_ node: XMLNode) throws -> Expr {
    guard let head = node.children.first else { throw SBMLError(.invalid, "empty <apply>", line: node.line) }
    var argNodes = Array(node.children.dropFirst())
    // Qualifiers.
    var logbase: Expr? = nil, degree: Expr? = nil
    if let i = argNodes.firstIndex(where: { $0.name == "logbase" }) {
      logbase = try read(argNodes[i].children.first!)
      argNodes.remove(at: i)
    }
    if let i = argNodes.firstIndex(where: { $0.name == "degree" }) {
      degree = try read(argNodes[i].children.first!)
      argNodes.remove(at: i)
    }
    let args = try argNodes.map { try read($0) }
    switch head.name {
    case "ci": return .call(text(head), args)
    case "csymbol":
      let url = head["definitionURL"] ?? ""
      if url.hasSuffix("/delay") {
        guard args.count == 2 else { throw SBMLError(.invalid, "delay needs 2 arguments", line: node.line) }
        return .delay(args[0], args[1])
      }
      if url.hasSuffix("/rateOf") {
        guard args.count == 1 else { throw SBMLError(.invalid, "rateOf needs 1 argument", line: node.line) }
        return .rateOf(args[0])
      }
      throw SBMLError(.unsupported, "csymbol function \(url)", line: node.line)
    case "log":
      guard args.count == 1 else { throw SBMLError(.invalid, "log needs 1 argument", line: node.line) }
      return .apply(.log, [logbase ?? .number(10), args[0]])
    case "root":
      guard args.count == 1 else { throw SBMLError(.invalid, "root needs 1 argument", line: node.line) }
      return .apply(.root, [degree ?? .number(2), args[0]])
    default:
      guard let op = Expr.Op(rawValue: head.name) else {
        throw SBMLError(.unsupported, "MathML operator <\(head.name)>", line: head.line)
      }
      return .apply(op, args)
    }
  }
}

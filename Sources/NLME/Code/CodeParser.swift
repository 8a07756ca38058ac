import Foundation

/// Reads NM-TRAN abbreviated code: one statement per line, `;` comments, assignments,
/// `IF (…) X = …`, `IF (…) THEN` / `ELSE IF (…) THEN` / `ELSE` / `ENDIF`, Fortran operators
/// (`.GT.` … `.NE.`, `.AND.`, `.OR.`, `.NOT.`, and `>`, `<=`, `==`, `/=`), `**`, and the
/// intrinsic functions of ``Expr/Function``. Names are case-insensitive (kept upper case).
/// What is not of that subset (`CALL`, `EXIT`, `DO WHILE`, verbatim code, unknown functions)
/// is refused with its line.
struct CodeParser {
  /// Names of arrays indexed by a positive integer: `THETA(2)`, `A(1)`, … `ERR(n)` is read as
  /// `EPS(n)`, as NM-TRAN does for population data.
  static let arrays: Set<String> = ["THETA", "ETA", "EPS", "ERR", "A", "DADT", "A_0", "MTIME"]
  static let refused: Set<String> = ["CALL", "EXIT", "DO", "ENDDO", "WHILE", "RETURN", "GOTO", "CONTINUE", "COMRES", "MPAST", "MNOW"]

  let file: String
  var symbols: SymbolTable
  /// How deep the expression being read is nested (parentheses, unary signs, powers): limited
  /// so that no input can exhaust the stack.
  var depth = 0
  static let maxDepth = 200
  static let maxTokens = 2000

  /// Parses the lines of one record (`lines[k]` is at file line `firstLine + k`).
  mutating func block(_ record: String, lines: [(number: Int, text: String)]) throws -> CodeBlock {
    // The open IF blocks: the finished branches and the one being read.
    var stack: [(done: [Statement.Branch], current: Statement.Branch, line: Int)] = []
    var top: [Statement] = []
    func append(_ s: Statement) {
      if stack.isEmpty { top.append(s) } else { stack[stack.count - 1].current.body.append(s) }
    }
    for (number, raw) in lines {
      var text = Substring(raw)
      if let semi = text.firstIndex(of: ";") { text = text[..<semi] }
      let tokens = try Lexer(file: file, line: number).tokens(String(text))
      if tokens.isEmpty { continue }
      // A bound on every tree the statement makes (and so on the recursion that reads,
      // compiles and evaluates it).
      guard tokens.count <= Self.maxTokens else {
        throw NLMEError(file, line: number, "more than \(Self.maxTokens) tokens in one statement")
      }
      var p = TokenStream(tokens: tokens, file: file, line: number)
      let head = p.peekName()
      switch head {
      case "IF":
        p.advance()
        let condition = try parenthesised(&p)
        if p.peekName() == "THEN" {
          p.advance()
          try p.end()
          guard stack.count < NLMELimits.maxNesting else { throw p.error("IF blocks nested deeper than \(NLMELimits.maxNesting)") }
          stack.append(([], .init(condition: condition, body: []), number))
        } else {
          let s = try assignment(&p)
          append(.branches([.init(condition: condition, body: [s])]))
        }
      case "ELSEIF", "ELSE":
        guard let open = stack.last else { throw p.error("\(head ?? "ELSE") without an open IF (…) THEN") }
        guard open.current.condition != nil else { throw p.error("a branch after ELSE") }
        p.advance()
        var condition: Expr? = nil
        if head == "ELSEIF" || p.peekName() == "IF" {
          if head == "ELSE" { p.advance() }
          condition = try parenthesised(&p)
          guard p.peekName() == "THEN" else { throw p.error("ELSE IF (…) must end in THEN") }
          p.advance()
        }
        try p.end()
        stack[stack.count - 1].done.append(open.current)
        stack[stack.count - 1].current = .init(condition: condition, body: [])
      case "ENDIF", "END":
        p.advance()
        if head == "END" {
          guard p.peekName() == "IF" else { throw p.error("END without IF") }
          p.advance()
        }
        try p.end()
        guard let b = stack.popLast() else { throw p.error("ENDIF without an open IF (…) THEN") }
        append(.branches(b.done + [b.current]))
      default:
        if let h = head, Self.refused.contains(h) { throw p.error("\(h) statements are not supported") }
        append(try assignment(&p))
      }
    }
    if let open = stack.last { throw NLMEError(file, line: open.line, "IF (…) THEN without ENDIF in \(record)") }
    return CodeBlock(record: record, statements: top)
  }

  private mutating func parenthesised(_ p: inout TokenStream) throws -> Expr {
    try p.expect(.open)
    let e = try expression(&p)
    try p.expect(.close)
    return e
  }

  private mutating func assignment(_ p: inout TokenStream) throws -> Statement {
    guard case .name(let name) = p.next() else { throw p.error("expected an assignment NAME = expression") }
    let target = try symbolName(name, &p)
    if ["THETA", "ETA", "EPS", "A"].contains(where: { target.hasPrefix($0 + "(") }) {
      throw p.error("\(target) cannot be assigned")
    }
    try p.expect(.assign)
    let e = try expression(&p)
    try p.end()
    return .assign(symbols.slot(target), e)
  }

  /// `NAME` or `ARRAY(n)` as a slot name.
  private func symbolName(_ name: String, _ p: inout TokenStream) throws -> String {
    guard Self.arrays.contains(name) else { return name }
    try p.expect(.open)
    guard case .number(let v) = p.next(), v == v.rounded(), v >= 1, v <= Double(NLMELimits.maxIndex) else {
      throw p.error("\(name)(n) needs an integer index 1–\(NLMELimits.maxIndex)")
    }
    try p.expect(.close)
    return "\(name == "ERR" ? "EPS" : name)(\(Int(v)))"
  }

  private mutating func expression(_ p: inout TokenStream) throws -> Expr {
    var l = try conjunction(&p)
    while p.peek == .op(.or) {
      p.advance()
      l = .binary(.or, l, try conjunction(&p))
    }
    return l
  }

  private mutating func conjunction(_ p: inout TokenStream) throws -> Expr {
    var l = try negation(&p)
    while p.peek == .op(.and) {
      p.advance()
      l = .binary(.and, l, try negation(&p))
    }
    return l
  }

  private mutating func negation(_ p: inout TokenStream) throws -> Expr {
    depth += 1
    defer { depth -= 1 }
    guard depth <= Self.maxDepth else { throw p.error("an expression nested deeper than \(Self.maxDepth)") }
    if p.peek == .not {
      p.advance()
      return .not(try negation(&p))
    }
    return try comparison(&p)
  }

  private mutating func comparison(_ p: inout TokenStream) throws -> Expr {
    let l = try additive(&p)
    if case .op(let op) = p.peek, [.less, .lessEqual, .greater, .greaterEqual, .equal, .notEqual].contains(op) {
      p.advance()
      return .binary(op, l, try additive(&p))
    }
    return l
  }

  private mutating func additive(_ p: inout TokenStream) throws -> Expr {
    var l: Expr
    if p.peek == .op(.subtract) {
      p.advance()
      l = .negate(try term(&p))
    } else {
      if p.peek == .op(.add) { p.advance() }
      l = try term(&p)
    }
    while case .op(let op) = p.peek, op == .add || op == .subtract {
      p.advance()
      l = .binary(op, l, try term(&p))
    }
    return l
  }

  private mutating func term(_ p: inout TokenStream) throws -> Expr {
    var l = try factor(&p)
    while case .op(let op) = p.peek, op == .multiply || op == .divide {
      p.advance()
      l = .binary(op, l, try factor(&p))
    }
    return l
  }

  private mutating func factor(_ p: inout TokenStream) throws -> Expr {
    depth += 1
    defer { depth -= 1 }
    guard depth <= Self.maxDepth else { throw p.error("an expression nested deeper than \(Self.maxDepth)") }
    let base = try primary(&p)
    if p.peek == .op(.power) {
      p.advance()
      return .binary(.power, base, try factor(&p))
    }
    return base
  }

  private mutating func primary(_ p: inout TokenStream) throws -> Expr {
    depth += 1
    defer { depth -= 1 }
    guard depth <= Self.maxDepth else { throw p.error("an expression nested deeper than \(Self.maxDepth)") }
    switch p.next() {
    case .number(let v): return .constant(v)
    case .open:
      let e = try expression(&p)
      try p.expect(.close)
      return e
    case .op(.subtract): return .negate(try factor(&p))
    case .op(.add): return try factor(&p)
    case .name(let name):
      if let f = Expr.Function(rawValue: name) {
        try p.expect(.open)
        let e = try expression(&p)
        try p.expect(.close)
        return .call(f, e)
      }
      if Self.refused.contains(name) { throw p.error("\(name) is not supported (compare T with the model event time instead)") }
      if p.peek == .open && !Self.arrays.contains(name) { throw p.error("unknown function \(name)") }
      return .slot(symbols.slot(try symbolName(name, &p)))
    default: throw p.error("expected a number, a name or (")
    }
  }
}

enum Token: Equatable {
  case number(Double)
  case name(String)
  case op(Expr.BinaryOp)
  case not, open, close, comma, assign
}

struct TokenStream {
  var tokens: [Token]
  var position = 0
  let file: String
  let line: Int

  var peek: Token? { position < tokens.count ? tokens[position] : nil }
  func peekName() -> String? {
    if case .name(let n) = peek { return n }
    return nil
  }
  mutating func advance() { position += 1 }
  mutating func next() -> Token? {
    defer { position += 1 }
    return peek
  }
  mutating func expect(_ t: Token) throws {
    guard next() == t else { throw error("expected \(t)") }
  }
  func end() throws {
    guard position >= tokens.count else { throw error("unexpected text after the statement") }
  }
  func error(_ message: String) -> NLMEError { NLMEError(file, line: line, message) }
}

/// Splits one line of abbreviated code into tokens.
struct Lexer {
  let file: String
  let line: Int
  static let dotted: [String: Token] = [
    "GT": .op(.greater), "GE": .op(.greaterEqual), "LT": .op(.less), "LE": .op(.lessEqual),
    "EQ": .op(.equal), "NE": .op(.notEqual), "EQN": .op(.equal), "NEN": .op(.notEqual),
    "AND": .op(.and), "OR": .op(.or), "NOT": .not,
  ]

  func tokens(_ text: String) throws -> [Token] {
    let c = Array(text.uppercased().utf8)
    var out: [Token] = []
    var i = 0
    func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    func isLetter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || b == 95 }
    while i < c.count {
      let b = c[i]
      if b == 32 || b == 9 || b == 13 {
        i += 1
        continue
      }
      // A dotted operator (.GT.) unless the dot starts a number (.5).
      if b == 46, i + 1 < c.count, isLetter(c[i + 1]) {
        var j = i + 1
        while j < c.count, isLetter(c[j]) { j += 1 }
        let word = String(decoding: c[(i + 1)..<j], as: UTF8.self)
        guard j < c.count, c[j] == 46, let t = Self.dotted[word] else { throw NLMEError(file, line: line, "unknown operator .\(word).") }
        out.append(t)
        i = j + 1
        continue
      }
      if isDigit(b) || b == 46 {
        var j = i
        while j < c.count, isDigit(c[j]) || c[j] == 46 {
          // 1.GT.2: the dot belongs to the operator.
          if c[j] == 46, j + 1 < c.count, isLetter(c[j + 1]), c[j + 1] != 69, c[j + 1] != 68 { break }
          if c[j] == 46, j + 2 < c.count, c[j + 1] == 69 || c[j + 1] == 68, isLetter(c[j + 2]) { break }
          j += 1
        }
        if j < c.count, c[j] == 69 || c[j] == 68 {  // E or D exponent
          var k = j + 1
          if k < c.count, c[k] == 43 || c[k] == 45 { k += 1 }
          if k < c.count, isDigit(c[k]) {
            while k < c.count, isDigit(c[k]) { k += 1 }
            j = k
          }
        }
        let s = String(decoding: c[i..<j], as: UTF8.self).replacingOccurrences(of: "D", with: "E")
        guard let v = Double(s), v.isFinite else { throw NLMEError(file, line: line, "malformed number \(s)") }
        out.append(.number(v))
        i = j
        continue
      }
      if isLetter(b) {
        var j = i
        while j < c.count, isLetter(c[j]) || isDigit(c[j]) { j += 1 }
        out.append(.name(String(decoding: c[i..<j], as: UTF8.self)))
        i = j
        continue
      }
      let next: UInt8 = i + 1 < c.count ? c[i + 1] : 0
      switch (b, next) {
      case (42, 42):
        out.append(.op(.power))
        i += 2
      case (62, 61), (60, 61), (61, 61), (47, 61):
        out.append(.op([62: .greaterEqual, 60: .lessEqual, 61: .equal, 47: .notEqual][b] ?? .equal))
        i += 2
      case (62, _), (60, _):
        out.append(.op(b == 62 ? .greater : .less))
        i += 1
      case (43, _), (45, _), (42, _), (47, _):
        out.append(.op([43: .add, 45: .subtract, 42: .multiply, 47: .divide][b] ?? .add))
        i += 1
      case (40, _), (41, _), (44, _), (61, _):
        out.append([40: .open, 41: .close, 44: .comma, 61: .assign][b] ?? .comma)
        i += 1
      default:
        throw NLMEError(file, line: line, "unexpected character '\(String(decoding: [b], as: UTF8.self))'")
      }
    }
    return out
  }
}

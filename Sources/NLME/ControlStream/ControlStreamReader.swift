import Foundation
import StatKit

extension ControlStream {
  /// The supported ADVANs: closed forms 1–4, 11, 12 and general ODEs 6 and 13.
  public static let closedFormAdvans: Set<Int> = [1, 2, 3, 4, 11, 12]
  public static let odeAdvans: Set<Int> = [6, 13]

  /// Reads a control stream.
  /// - Throws: ``NLMEError`` naming the file, the line and the record or option at fault.
  public init(text: String, file: String) throws {
    self.file = file
    // Records: `$NAME` at the start of a line (after blanks) opens one; its lines follow.
    var records: [(name: String, line: Int, lines: [(number: Int, text: String)])] = []
    for (k, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\t", with: " ")
      let trimmed = line.drop { $0 == " " }
      if trimmed.hasPrefix("$") {
        let word = trimmed.dropFirst().prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        records.append((word.uppercased(), k + 1, [(k + 1, String(trimmed.dropFirst(1 + word.count)))]))
      } else if records.isEmpty {
        if !trimmed.isEmpty && !trimmed.hasPrefix(";") { throw NLMEError(file, line: k + 1, "text before the first record") }
      } else {
        records[records.count - 1].lines.append((k + 1, line))
      }
    }
    var parser = CodeParser(file: file, symbols: SymbolTable())
    for r in records {
      guard let record = Record.named(r.name) else {
        throw NLMEError(file, line: r.line, field: "$\(r.name)", "this record is not supported")
      }
      switch record {
      case .problem: problem = r.lines.first.map { $0.text.trimmingCharacters(in: .whitespaces) } ?? ""
      case .input: input = try readInput(r.lines)
      case .data: data = try readData(r.lines, line: r.line)
      case .subroutines: try readSubroutines(r.lines, line: r.line)
      case .model: compartments += try readModel(r.lines)
      case .pk, .error, .pred, .des:
        let block = try parser.block("$" + record.rawValue, lines: r.lines)
        switch record {
        case .pk: pk = block
        case .error: error = block
        case .pred: pred = block
        default: des = block
        }
      case .theta: thetas += try readThetas(r.lines)
      case .omega: omegas += try readVariances(r.lines, record: "$OMEGA", previous: omegas)
      case .sigma: sigmas += try readVariances(r.lines, record: "$SIGMA", previous: sigmas)
      case .estimation: estimations.append(try readEstimation(r.lines, line: r.line, previous: estimations.last))
      case .covariance: covariance = try readCovariance(r.lines, line: r.line)
      case .table: tables.append(try readTable(r.lines, line: r.line))
      }
    }
    symbols = parser.symbols
    try check()
  }

  /// What the records must say together.
  func check() throws {
    if pred == nil, sbml == nil {
      guard let advan else { throw NLMEError(file, field: "$SUBROUTINES", "a model needs $PRED or $SUBROUTINES ADVANn") }
      guard pk != nil else { throw NLMEError(file, field: "$PK", "ADVAN\(advan) needs $PK") }
      guard error != nil else { throw NLMEError(file, field: "$ERROR", "ADVAN\(advan) needs $ERROR") }
      if Self.odeAdvans.contains(advan) {
        guard des != nil, !compartments.isEmpty else { throw NLMEError(file, field: "$DES", "ADVAN\(advan) needs $MODEL and $DES") }
      }
    } else if sbml == nil, pk != nil || advan != nil {
      throw NLMEError(file, field: "$PRED", "$PRED cannot be combined with $PK or $SUBROUTINES")
    } else if sbml != nil, error == nil {
      throw NLMEError(file, field: "error", "an SBML model needs the error model (\"error\": \"Y = F + F*EPS(1)\")")
    }
    guard data != nil else { throw NLMEError(file, field: "$DATA", "missing") }
    guard !input.isEmpty else { throw NLMEError(file, field: "$INPUT", "missing") }
    guard !thetas.isEmpty else { throw NLMEError(file, field: "$THETA", "missing") }
    // Every THETA/ETA/EPS the code uses must be declared.
    for name in symbols.names {
      for (array, count, record) in [("THETA", thetas.count, "$THETA"), ("ETA", etaCount, "$OMEGA"), ("EPS", epsCount, "$SIGMA")] {
        if name.hasPrefix(array + "("), let k = Int(name.dropFirst(array.count + 1).dropLast()), k > count {
          throw NLMEError(file, field: record, "\(name) is used but only \(count) are declared")
        }
      }
    }
  }

  // MARK: Options

  /// Splits a record's text into words: blanks and commas separate them, `KEY = VALUE` is one
  /// word `KEY=VALUE`, parentheses and quotes keep their content together; `;` starts a comment.
  static func words(_ lines: [(number: Int, text: String)]) -> [(word: String, line: Int)] {
    var out: [(String, Int)] = []
    for (number, text) in lines {
      var current = ""
      var depth = 0
      var quote: Character? = nil
      func flush() {
        if !current.isEmpty { out.append((current, number)) }
        current = ""
      }
      for ch in text {
        if let q = quote {
          current.append(ch)
          if ch == q { quote = nil }
          continue
        }
        if ch == ";" && depth == 0 { break }
        switch ch {
        case "'", "\"":
          quote = ch
          current.append(ch)
        case "(":
          depth += 1
          current.append(ch)
        case ")":
          depth = max(0, depth - 1)
          current.append(ch)
        case " ", ",":
          if depth > 0 { current.append(ch) } else { flush() }
        case "=":
          // Join `KEY = VALUE` into one word.
          if depth == 0, current.isEmpty, let last = out.last, last.1 == number {
            current = out.removeLast().0
          }
          current.append(ch)
        default:
          if depth == 0, current.isEmpty, let last = out.last, last.1 == number, last.0.hasSuffix("=") {
            current = out.removeLast().0
          }
          current.append(ch)
        }
      }
      flush()
    }
    return out
  }

  private func unquote(_ s: String) -> String {
    if s.count >= 2, let f = s.first, f == "'" || f == "\"", s.last == f { return String(s.dropFirst().dropLast()) }
    return s
  }

  // MARK: Records

  private func readInput(_ lines: [(number: Int, text: String)]) throws -> [InputItem] {
    try Self.words(lines).map { w, line in
      let parts = w.uppercased().split(separator: "=", omittingEmptySubsequences: false).map(String.init)
      guard parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }) else {
        throw NLMEError(file, line: line, field: "$INPUT", "malformed item \(w)")
      }
      if parts.count == 1 { return InputItem(name: parts[0], synonym: nil, dropped: false) }
      if parts[1] == "DROP" || parts[1] == "SKIP" { return InputItem(name: parts[0], synonym: nil, dropped: true) }
      if parts[0] == "DROP" || parts[0] == "SKIP" { return InputItem(name: parts[1], synonym: nil, dropped: true) }
      return InputItem(name: parts[0], synonym: parts[1], dropped: false)
    }
  }

  private func readData(_ lines: [(number: Int, text: String)], line: Int) throws -> DataRecord {
    let words = Self.words(lines)
    guard let first = words.first else { throw NLMEError(file, line: line, field: "$DATA", "no file named") }
    var d = DataRecord(path: unquote(first.word), line: line)
    for (w, l) in words.dropFirst() {
      let upper = w.uppercased()
      if upper.hasPrefix("IGNORE=(") || upper.hasPrefix("ACCEPT=(") {
        let conditions = try dataConditions(String(upper.dropFirst(8).dropLast()), line: l)
        if upper.hasPrefix("IGNORE") { d.ignore += conditions } else { d.accept += conditions }
      } else if upper.hasPrefix("IGNORE=") {
        let c = unquote(String(w.dropFirst(7)))
        guard c.count == 1, let ch = c.first else {
          throw NLMEError(file, line: l, field: "$DATA IGNORE", "expected one character or (conditions)")
        }
        d.ignoreCharacter = ch
      } else if upper == "NOWIDE" || upper == "WIDE" || upper == "NOREWIND" || upper == "REWIND" {
        continue
      } else {
        throw NLMEError(file, line: l, field: "$DATA", "option \(w) is not supported")
      }
    }
    if !d.ignore.isEmpty && !d.accept.isEmpty {
      throw NLMEError(file, line: line, field: "$DATA", "IGNORE=(…) and ACCEPT=(…) cannot both be given")
    }
    return d
  }

  /// `ID.EQ.2, TIME.GT.24` (also `ID==2`, `TIME>24`).
  private func dataConditions(_ text: String, line: Int) throws -> [DataCondition] {
    try text.split(separator: ",").map { part in
      let tokens = try Lexer(file: file, line: line).tokens(String(part))
      var item: String?
      var value: Double?
      var op: Expr.BinaryOp?
      var sign = 1.0
      for t in tokens {
        switch t {
        case .name(let n) where item == nil: item = n
        case .op(let o) where op == nil && item != nil: op = o
        case .op(.subtract) where op != nil: sign = -1
        case .number(let v) where op != nil: value = sign * v
        default: throw NLMEError(file, line: line, field: "$DATA", "malformed condition \(part)")
        }
      }
      guard let item, let op, let value, [.less, .lessEqual, .greater, .greaterEqual, .equal, .notEqual].contains(op) else {
        throw NLMEError(file, line: line, field: "$DATA", "malformed condition \(part)")
      }
      return DataCondition(item: item, op: op, value: value)
    }
  }

  mutating func readSubroutines(_ lines: [(number: Int, text: String)], line: Int) throws {
    for (w, l) in Self.words(lines) {
      let u = w.uppercased()
      if u.hasPrefix("ADVAN"), let n = Int(u.dropFirst(5)) {
        guard Self.closedFormAdvans.contains(n) || Self.odeAdvans.contains(n) else {
          throw NLMEError(file, line: l, field: "$SUBROUTINES", "ADVAN\(n) is not supported (ADVAN1–4, 6, 11–13 are)")
        }
        advan = n
      } else if u.hasPrefix("TRANS"), let n = Int(u.dropFirst(5)) {
        guard [1, 2, 4].contains(n) else {
          throw NLMEError(file, line: l, field: "$SUBROUTINES", "TRANS\(n) is not supported (TRANS1, 2, 4 are)")
        }
        trans = n
      } else if u.hasPrefix("TOL=") || u.hasPrefix("ATOL=") {
        guard let n = Int(u.drop { $0 != "=" }.dropFirst()), (1...15).contains(n) else {
          throw NLMEError(file, line: l, field: "$SUBROUTINES", "\(w): expected an integer 1–15 (significant digits)")
        }
        if u.hasPrefix("TOL=") { tolerance = n } else { absoluteTolerance = n }
      } else {
        throw NLMEError(file, line: l, field: "$SUBROUTINES", "\(w) is not supported")
      }
    }
    guard advan != nil else { throw NLMEError(file, line: line, field: "$SUBROUTINES", "no ADVAN named") }
  }

  private func readModel(_ lines: [(number: Int, text: String)]) throws -> [Compartment] {
    var out: [Compartment] = []
    for (w, l) in Self.words(lines) {
      let u = w.uppercased()
      if u.hasPrefix("NCOMP") || u.hasPrefix("NEQUIL") || u.hasPrefix("NPARAM") || u.hasPrefix("NCOMPS") { continue }
      guard u.hasPrefix("COMP=") || u.hasPrefix("COMP(") || u.hasPrefix("COMP=(") else {
        throw NLMEError(file, line: l, field: "$MODEL", "\(w) is not supported (COMP=(NAME [DEFDOSE] [DEFOBS]))")
      }
      var body = u.hasPrefix("COMP=") ? String(u.dropFirst(5)) : String(u.dropFirst(4))
      if body.hasPrefix("(") && body.hasSuffix(")") { body = String(body.dropFirst().dropLast()) }
      let parts = body.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
      guard let name = parts.first else { throw NLMEError(file, line: l, field: "$MODEL", "a compartment without a name") }
      for o in parts.dropFirst() where !["DEFDOSE", "DEFOBS", "DEFOBSERVATION", "NODOSE", "INITIALOFF", "NOOFF"].contains(o) {
        throw NLMEError(file, line: l, field: "$MODEL", "compartment option \(o) is not supported")
      }
      out.append(
        Compartment(name: name, defaultDose: parts.contains("DEFDOSE"), defaultObservation: parts.contains { $0.hasPrefix("DEFOBS") }))
      guard out.count <= NLMELimits.maxCompartments else {
        throw NLMEError(file, line: l, field: "$MODEL", "more than \(NLMELimits.maxCompartments) compartments")
      }
    }
    return out
  }

  private func number(_ s: String, line: Int, record: String) throws -> Double {
    let u = s.uppercased()
    if u == "INF" || u == "+INF" { return .infinity }
    if u == "-INF" { return -.infinity }
    guard let v = Double(u.replacingOccurrences(of: "D", with: "E")), v.isFinite else {
      throw NLMEError(file, line: line, field: record, "malformed number \(s)")
    }
    return v
  }

  private func readThetas(_ lines: [(number: Int, text: String)]) throws -> [Theta] {
    var out: [Theta] = []
    for (w, l) in Self.words(lines) {
      let u = w.uppercased()
      if u == "FIX" || u == "FIXED" {
        guard !out.isEmpty else { throw NLMEError(file, line: l, field: "$THETA", "FIX before any value") }
        out[out.count - 1].fixed = true
        continue
      }
      var fixed = false
      var body = u
      if body.hasPrefix("(") {
        guard body.hasSuffix(")") else { throw NLMEError(file, line: l, field: "$THETA", "unclosed (") }
        body = String(body.dropFirst().dropLast())
      }
      var parts = body.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
      if let last = parts.last, last == "FIX" || last == "FIXED" {
        fixed = true
        parts.removeLast()
      }
      let v = try parts.map { try number($0, line: l, record: "$THETA") }
      var t: Theta
      switch v.count {
      case 1: t = Theta(lower: -.infinity, initial: v[0], upper: .infinity, fixed: fixed)
      case 2: t = Theta(lower: v[0], initial: v[1], upper: .infinity, fixed: fixed)
      case 3: t = Theta(lower: v[0], initial: v[1], upper: v[2], fixed: fixed)
      default: throw NLMEError(file, line: l, field: "$THETA", "expected (low, init, up), (low, init) or init: \(w)")
      }
      guard t.fixed || (t.lower < t.initial && t.initial < t.upper) else {
        throw NLMEError(
          file, line: l, field: "$THETA", "THETA(\(out.count + 1)) initial value \(t.initial) is not strictly inside its bounds")
      }
      out.append(t)
      guard out.count <= NLMELimits.maxIndex else { throw NLMEError(file, line: l, field: "$THETA", "more than \(NLMELimits.maxIndex)") }
    }
    return out
  }

  private func readVariances(_ lines: [(number: Int, text: String)], record: String, previous: [VarianceBlock]) throws -> [VarianceBlock] {
    var block: Int? = nil
    var same = false
    var fixed = false
    var values: [Double] = []
    var fixedValues: Set<Int> = []
    var line = lines.first?.number ?? 0
    for (w, l) in Self.words(lines) {
      line = l
      let u = w.uppercased()
      if u.hasPrefix("BLOCK(") || u.hasPrefix("DIAGONAL(") {
        guard let n = Int(u.drop { $0 != "(" }.dropFirst().dropLast()), (1...NLMELimits.maxIndex).contains(n) else {
          throw NLMEError(file, line: l, field: record, "malformed \(w)")
        }
        if u.hasPrefix("BLOCK") { block = n }
      } else if u == "BLOCK" {
        block = 1
      } else if u == "SAME" {
        same = true
      } else if u == "FIX" || u == "FIXED" {
        fixed = true
        // In a diagonal record FIX holds the value before it only (NM-TRAN's $OMEGA, form 1).
        if block == nil {
          guard !values.isEmpty else { throw NLMEError(file, line: l, field: record, "FIX before any value") }
          fixedValues.insert(values.count - 1)
        }
      } else if u == "SD" || u == "STANDARD" || u == "CORRELATION" || u == "CHOLESKY" {
        throw NLMEError(file, line: l, field: record, "\(u) is not supported: give variances and covariances")
      } else {
        var body = u
        if body.hasPrefix("(") && body.hasSuffix(")") { body = String(body.dropFirst().dropLast()) }
        // `(init FIX)` or `(FIX init)`: the option belongs to the value in the same parentheses.
        let parts = body.split(whereSeparator: { $0 == " " || $0 == "," })
        let groupFixed = parts.contains { $0 == "FIX" || $0 == "FIXED" }
        for part in parts where part != "FIX" && part != "FIXED" {
          if groupFixed { fixedValues.insert(values.count) }
          values.append(try number(String(part), line: l, record: record))
        }
        if groupFixed { fixed = true }
      }
    }
    if same {
      guard let b = block, let last = previous.last, last.block, last.size == b, values.isEmpty else {
        throw NLMEError(file, line: line, field: record, "BLOCK(n) SAME needs a BLOCK(n) of the same size before it")
      }
      return [VarianceBlock(size: b, block: true, values: last.values, fixed: true, same: true)]
    }
    if let n = block {
      guard values.count == n * (n + 1) / 2 else {
        throw NLMEError(file, line: line, field: record, "BLOCK(\(n)) needs \(n * (n + 1) / 2) values, found \(values.count)")
      }
      let b = VarianceBlock(size: n, block: true, values: values, fixed: fixed, same: false)
      try checkPositiveDefinite(ControlStream.matrix([b]), n, record: record, line: line)
      return [b]
    }
    guard !values.isEmpty, values.allSatisfy({ $0 >= 0 }) else {
      throw NLMEError(file, line: line, field: record, "variances must be given and not negative")
    }
    guard fixed else { return [VarianceBlock(size: values.count, block: false, values: values, fixed: false, same: false)] }
    // With FIX anywhere the record is one block of dimension one per value, as NONMEM describes it.
    return values.indices.map { VarianceBlock(size: 1, block: false, values: [values[$0]], fixed: fixedValues.contains($0), same: false) }
  }

  private func checkPositiveDefinite(_ m: [Double], _ n: Int, record: String, line: Int) throws {
    guard cholesky(m, n) != nil else { throw NLMEError(file, line: line, field: record, "the block is not positive definite") }
  }

  private func readEstimation(_ lines: [(number: Int, text: String)], line: Int, previous: EstimationStep?) throws -> EstimationStep {
    var method = previous?.method ?? .fo
    var interaction = false
    var laplace = false
    var conditional = false
    var maxEval: Int? = nil
    var step = EstimationStep(method: .fo, line: line)
    let harmless = [
      "PRINT", "NOABORT", "SIGDIG", "NSIG", "SIGL", "POSTHOC", "FORMAT", "NOPRIOR", "FNLETA", "NOTHETABOUNDTEST",
      "NOOMEGABOUNDTEST", "NOSIGMABOUNDTEST", "CTYPE", "NOCOV", "FILE",
    ]
    func integer(_ value: String, _ key: String, _ range: ClosedRange<Int>, _ l: Int) throws -> Int {
      guard let n = Int(value), range.contains(n) else {
        throw NLMEError(file, line: l, field: "$ESTIMATION \(key)", "expected an integer \(range.lowerBound)–\(range.upperBound)")
      }
      return n
    }
    for (w, l) in Self.words(lines) {
      let u = w.uppercased()
      let key = u.split(separator: "=").first.map(String.init) ?? u
      let value = u.contains("=") ? String(u.drop { $0 != "=" }.dropFirst()) : ""
      switch key {
      case "METHOD", "METH":
        switch value {
        case "0", "ZERO": method = .fo
        case "1", "COND", "CONDITIONAL": conditional = true
        case "SAEM": method = .saem
        case "IMP": method = .imp
        default: throw NLMEError(file, line: l, field: "$ESTIMATION METHOD", "\(value) is not supported (0, 1/COND, SAEM, IMP are)")
        }
      case "INTERACTION", "INTER": interaction = true
      case "NOINTERACTION": interaction = false
      case "LAPLACIAN", "LAPLACE": laplace = true
      case "MAXEVAL", "MAXEVALS":
        guard let n = Int(value), (0...1_000_000).contains(n) else {
          throw NLMEError(file, line: l, field: "$ESTIMATION MAXEVAL", "expected an integer 0–1000000")
        }
        maxEval = n
      case "ISAMPLE": step.samples = try integer(value, key, 1...100_000, l)
      case "NBURN": step.burnIn = try integer(value, key, 0...100_000, l)
      case "NITER": step.iterations = try integer(value, key, 1...100_000, l)
      case "SEED": step.seed = UInt64(try integer(value, key, 0...Int(Int32.max), l))
      case "EONLY": step.evaluateOnly = try integer(value, key, 0...1, l) == 1
      default:
        guard harmless.contains(key) else { throw NLMEError(file, line: l, field: "$ESTIMATION", "option \(w) is not supported") }
      }
    }
    if conditional { method = laplace ? .laplace : (interaction ? .focei : .foce) }
    step.method = method
    step.maxEvaluations = maxEval
    return step
  }

  private func readCovariance(_ lines: [(number: Int, text: String)], line: Int) throws -> CovarianceStep {
    var c = CovarianceStep(matrix: .sandwich)
    for (w, l) in Self.words(lines) {
      let u = w.uppercased()
      switch u {
      case "MATRIX=R": c.matrix = .r
      case "MATRIX=S": c.matrix = .s
      case "UNCONDITIONAL", "CONDITIONAL", "PRINT=E", "PRINT=R", "PRINT=S", "COMPRESS", "SLOW": continue
      default: throw NLMEError(file, line: l, field: "$COVARIANCE", "option \(w) is not supported")
      }
    }
    return c
  }

  private func readTable(_ lines: [(number: Int, text: String)], line: Int) throws -> TableRecord {
    var t = TableRecord(items: [], file: nil, firstOnly: false, noAppend: false)
    for (w, l) in Self.words(lines) {
      let u = w.uppercased()
      if u.hasPrefix("FILE=") {
        let name = unquote(String(w.dropFirst(5)))
        guard !name.isEmpty, !name.contains("/"), !name.contains("\\"), name != "..", name != "." else {
          throw NLMEError(file, line: l, field: "$TABLE FILE", "a plain file name is needed, not \(name)")
        }
        t.file = name
      } else if u == "NOAPPEND" {
        t.noAppend = true
      } else if u == "FIRSTONLY" || u == "FIRSTRECORDONLY" {
        t.firstOnly = true
      } else if ["NOPRINT", "PRINT", "ONEHEADER", "ONEHEADERALL", "NOHEADER", "NOTITLE", "NOLABEL"].contains(u) || u.hasPrefix("FORMAT=") {
        continue
      } else if u.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "(" || $0 == ")" }) {
        t.items.append(u)
      } else {
        throw NLMEError(file, line: l, field: "$TABLE", "option \(w) is not supported")
      }
    }
    return t
  }
}

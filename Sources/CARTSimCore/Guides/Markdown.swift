import Foundation

/// A small Markdown-to-HTML converter for the model guides: headings, paragraphs, bullet and
/// numbered lists, pipe tables, fenced code, and inline code, bold, italics and links.
/// Everything is escaped first; relative links (to files in the repository) become plain text.
package enum Markdown {
  package static func esc(_ s: some StringProtocol) -> String {
    var o = ""
    o.reserveCapacity(s.count)
    for c in s {
      switch c {
      case "&": o += "&amp;"
      case "<": o += "&lt;"
      case ">": o += "&gt;"
      case "\"": o += "&quot;"
      default: o.append(c)
      }
    }
    return o
  }

  package static func html(_ text: String) -> String {
    var out: [String] = []
    let lines = text.components(separatedBy: "\n")
    var i = 0
    var paragraph: [String] = []
    func flush() {
      if !paragraph.isEmpty { out.append("<p>" + inline(paragraph.joined(separator: " ")) + "</p>") }
      paragraph = []
    }
    while i < lines.count {
      let line = lines[i]
      let t = line.trimmingCharacters(in: .whitespaces)
      if t.hasPrefix("```") {
        flush()
        var code: [String] = []
        i += 1
        while i < lines.count, !lines[i].trimmingCharacters(in: .whitespaces).hasPrefix("```") {
          code.append(lines[i])
          i += 1
        }
        out.append("<pre><code>" + esc(code.joined(separator: "\n")) + "</code></pre>")
        i += 1
        continue
      }
      if t.isEmpty {
        flush()
        i += 1
        continue
      }
      if let level = heading(t) {
        flush()
        let title = t.drop(while: { $0 == "#" }).trimmingCharacters(in: .whitespaces)
        out.append("<h\(level + 1)>" + inline(title) + "</h\(level + 1)>")
        i += 1
        continue
      }
      if t.hasPrefix("|") {
        flush()
        var rows: [String] = []
        while i < lines.count, lines[i].trimmingCharacters(in: .whitespaces).hasPrefix("|") {
          rows.append(lines[i].trimmingCharacters(in: .whitespaces))
          i += 1
        }
        out.append(table(rows))
        continue
      }
      if isBullet(t) || isNumbered(t) {
        flush()
        let ordered = isNumbered(t)
        var items: [String] = []
        while i < lines.count {
          let u = lines[i].trimmingCharacters(in: .whitespaces)
          if isBullet(u) || isNumbered(u) {
            items.append(String(ordered ? u.drop(while: { $0 != "." }).dropFirst() : u.dropFirst(2)).trimmingCharacters(in: .whitespaces))
          } else if !u.isEmpty, lines[i].hasPrefix(" "), !items.isEmpty {
            items[items.count - 1] += " " + u
          } else {
            break
          }
          i += 1
        }
        let tag = ordered ? "ol" : "ul"
        out.append("<\(tag)>" + items.map { "<li>" + inline($0) + "</li>" }.joined() + "</\(tag)>")
        continue
      }
      paragraph.append(t)
      i += 1
    }
    flush()
    return out.joined(separator: "\n")
  }

  static func heading(_ t: String) -> Int? {
    let n = t.prefix(while: { $0 == "#" }).count
    guard n >= 1, n <= 6, t.dropFirst(n).hasPrefix(" ") else { return nil }
    return n
  }
  static func isBullet(_ t: String) -> Bool { t.hasPrefix("- ") || t.hasPrefix("* ") }
  static func isNumbered(_ t: String) -> Bool {
    let d = t.prefix(while: { $0.isNumber })
    return !d.isEmpty && t.dropFirst(d.count).hasPrefix(". ")
  }

  static func cells(_ row: String) -> [String] {
    var r = row
    if r.hasPrefix("|") { r.removeFirst() }
    if r.hasSuffix("|") { r.removeLast() }
    // Split on pipes outside inline code.
    var cells: [String] = [], cur = "", code = false
    for c in r {
      if c == "`" { code.toggle() }
      if c == "|" && !code {
        cells.append(cur)
        cur = ""
      } else {
        cur.append(c)
      }
    }
    cells.append(cur)
    return cells.map { $0.trimmingCharacters(in: .whitespaces) }
  }

  static func table(_ rows: [String]) -> String {
    guard !rows.isEmpty else { return "" }
    let isRule = { (r: String) in r.allSatisfy { "|-: ".contains($0) } }
    var h = "<table class=\"md\">"
    let header = cells(rows[0])
    var body = Array(rows.dropFirst())
    if let f = body.first, isRule(f) { body.removeFirst() }
    h += "<thead><tr>" + header.map { "<th>" + inline($0) + "</th>" }.joined() + "</tr></thead><tbody>"
    for r in body { h += "<tr>" + cells(r).map { "<td>" + inline($0) + "</td>" }.joined() + "</tr>" }
    return h + "</tbody></table>"
  }

  /// Inline markup on one line of text.
  static func inline(_ s: String) -> String {
    var out = ""
    var rest = Substring(s)
    while let tick = rest.firstIndex(of: "`") {
      out += spans(rest[..<tick])
      let after = rest[rest.index(after: tick)...]
      guard let end = after.firstIndex(of: "`") else {
        out += spans(rest[tick...])
        return out
      }
      out += "<code>" + esc(after[..<end]) + "</code>"
      rest = after[after.index(after: end)...]
    }
    return out + spans(rest)
  }

  /// Links, bold and italics (no code inside).
  static func spans(_ s: Substring) -> String {
    var t = esc(s)
    // Links [text](url): external ones are kept, repository-relative ones become text.
    while let open = t.range(of: "["), let mid = t.range(of: "](", range: open.upperBound..<t.endIndex),
      let close = t.range(of: ")", range: mid.upperBound..<t.endIndex)
    {
      let label = String(t[open.upperBound..<mid.lowerBound]), url = String(t[mid.upperBound..<close.lowerBound])
      let rep = url.hasPrefix("http://") || url.hasPrefix("https://") ? "<a href=\"\(url)\">\(label)</a>" : label
      t.replaceSubrange(open.lowerBound..<close.upperBound, with: rep)
    }
    t = pairs(t, "**", "strong")
    return t
  }

  static func pairs(_ s: String, _ mark: String, _ tag: String) -> String {
    let parts = s.components(separatedBy: mark)
    guard parts.count >= 3 else { return s }
    var o = ""
    for (k, p) in parts.enumerated() {
      if k == 0 {
        o += p
        continue
      }
      let closing = k % 2 == 0
      if k == parts.count - 1 && k % 2 == 1 {
        o += mark + p
        break
      }
      o += (closing ? "</\(tag)>" : "<\(tag)>") + p
    }
    return o
  }
}

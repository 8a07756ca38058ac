import Foundation

/// The credibility report as one self-contained HTML file: Guides/Credibility.md (compiled in)
/// followed by a calibration run's own report (`cartsim calibrate` writes it as credibility.html).
public enum CredibilityReport {
  public static func html(run: String) -> String {
    var body = run
    if let a = run.range(of: "<body>"), let b = run.range(of: "</body>", options: .backwards) {
      body = String(run[a.upperBound..<b.lowerBound])
    }
    return """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>HEROS model credibility — CARTSim</title>
      <style>
      body { font-family: Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; line-height: 1.45; }
      table { border-collapse: collapse; margin: 12px 0 24px; font-size: 14px; }
      th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; }
      th { background: #f3f3f3; }
      code { background: #f5f5f5; padding: 0 3px; }
      .note { color: #555; font-size: 13px; }
      .out { background: #fde2e2; }
      </style></head><body>
      \(Markdown.html(EmbeddedGuides.files["Credibility.md"] ?? ""))
      <hr><h1>This calibration run</h1>
      \(body)
      </body></html>

      """
  }
}

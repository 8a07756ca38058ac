import CARTSimCore
import DoseFinding
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CARTSimServer

/// `/api/design/*` and the dose-finding page: the answers are the library's reports, byte for
/// byte (the command line prints the same, see CLITests), and bad settings are 400s naming the field.
@Suite("Dose finding API") struct DesignAPITests {
  @Test func ocIsTheLibrarysReport() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      let r = try await client.post(
        "/api/design/oc", #"{"design": "boin", "target": 0.3, "p_true": [0.05, 0.1, 0.3, 0.5], "trials": 400, "seed": 3}"#)
      #expect(r.status == .ok)
      var run = OCRunSettings(curves: .given(pTrue: [0.05, 0.1, 0.3, 0.5], pResponse: nil))
      run.trials = 400
      run.seed = 3
      run.threads = 1
      let expected = try DesignStudy.operatingCharacteristics(design: "boin", settings: DesignSettings(target: 0.3), run: run)
      #expect(r.text == DesignJSON.render(expected))
      let selection = (r.json["selection_percent"] as? [Double] ?? []).reduce(0, +) + (r.json["stop_percent"] as? Double ?? .nan)
      #expect(abs(selection - 100) < 1e-9)
      // The command line's comma-separated text is accepted for lists.
      let text = try await client.post(
        "/api/design/oc", #"{"design": "boin", "target": 0.3, "p_true": "0.05,0.1,0.3,0.5", "trials": 400, "seed": 3}"#)
      #expect(text.text == r.text)
    }
    await server.shutdown()
  }

  @Test func compareBoundariesAndNext() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      let body =
        #"{"target": 0.25, "p_true": [0.05, 0.12, 0.25, 0.4], "skeleton": [0.08, 0.16, 0.25, 0.35], "trials": 200, "start_sequence": [1, 1, 1, 2, 2, 2]}"#
      let c = try await client.post("/api/design/compare", body)
      #expect(c.status == .ok)
      #expect(((c.json["designs"] as? [[String: Any]]) ?? []).map { $0["design"] as? String } == ["boin", "3+3", "crm", "mtpi2"])
      let svg = try await client.post("/api/design/compare?chart=svg", body)
      #expect(svg.status == .ok && svg.headers[.contentType] == "image/svg+xml" && svg.text.hasPrefix("<svg"))
      // BOIN's published table for φ = 0.3 (Liu & Yuan 2015, Table 1): λe = 0.236, λd = 0.359 (three decimals).
      let b = try await client.post("/api/design/boundaries", #"{"target": 0.3, "cohorts": 2}"#)
      #expect(b.json["escalate_if_dlts_le"] as? [Int] == [0, 1] && b.json["deescalate_if_dlts_ge"] as? [Int] == [2, 3])
      #expect(abs((b.json["lambda_e"] as? Double ?? 0) - 0.236) < 6e-4 && abs((b.json["lambda_d"] as? Double ?? 0) - 0.359) < 6e-4)
      // 0/3 at dose 1: BOIN escalates.
      let n = try await client.post(
        "/api/design/next", #"{"design": "boin", "target": 0.3, "doses": 4, "data": "dose,patients,dlts\n1,3,0\n"}"#)
      #expect(n.json["decision"] as? String == "escalate" && n.json["next_dose"] as? Int == 2)
      let page = try await client.get("/design")
      #expect(page.status == .ok && page.text.contains("design-run"))
    }
    await server.shutdown()
  }

  @Test func badSettingsNameTheField() async throws {
    let server = try await CARTSimServer(config: testConfig(tempDataDir()))
    try await server.makeApplication().test(.router) { client in
      for (body, field) in [
        (#"{"design": "boin", "target": 0.3, "p_true": [0.1, "x"]}"#, "p_true[1]"),
        (#"{"design": "boin", "target": 1.3, "p_true": [0.1, 0.3]}"#, "target"),
        (#"{"design": "boin", "target": 0.3, "p_true": [0.1, 0.3], "trials": 100000000}"#, "trials"),
        (#"{"design": "boin", "target": 0.3, "p_true": [0.1, 0.3], "p_ture": [0.1]}"#, "p_ture"),
        (#"{"design": "crm", "target": 0.3, "p_true": [0.1, 0.3], "skeleton": [0.1, 0.2, 0.3]}"#, "skeleton"),
        (#"{"design": "crm", "target": 0.3, "p_true": [0.1, 0.3], "skeleton": [0.1, 0.2], "start_sequence": [2, 1]}"#, "start_sequence"),
        (#"{"design": "boin", "target": 0.3, "from_model": "../etc/passwd", "dose_levels": [1e6]}"#, "from_model"),
        (
          #"{"design": "boin", "target": 0.3, "from_model": "heros-trial.json", "dose_levels": [1e6], "model_patients": 5000}"#,
          "model_patients"
        ),
        (#"{"design": "wacky", "target": 0.3, "p_true": [0.1, 0.3]}"#, "design"),
      ] {
        let r = try await client.post("/api/design/oc", body)
        #expect(r.status == .badRequest && r.json["field"] as? String == field, "\(body) → \(r.status) \(r.text)")
      }
      let next = try await client.post(
        "/api/design/next", #"{"design": "boin", "target": 0.3, "doses": 3, "data": "dose,patients,dlts\n4,3,0\n"}"#)
      #expect(next.status == .badRequest && (next.json["message"] as? String ?? "").contains("line 2"))
      let chart = try await client.post("/api/design/compare?chart=png", #"{"target": 0.3, "p_true": [0.1, 0.3], "skeleton": [0.1, 0.3]}"#)
      #expect(chart.status == .badRequest && chart.json["field"] as? String == "chart")
    }
    await server.shutdown()
  }
}

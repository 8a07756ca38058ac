import ArgumentParser
import CARTSimCore
import Foundation
import NLME

extension ControlStream.EstimationStep.Method: ExpressibleByArgument {
  public init?(argument: String) {
    let a = argument.uppercased().replacingOccurrences(of: "_", with: "-")
    self.init(rawValue: a == "FOCEI" ? "FOCE-I" : a)
  }
}

struct NLMECommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nlme", abstract: "Population (nonlinear mixed-effects) models: NONMEM control streams and datasets.",
    subcommands: [NLMEFit.self])
}

struct NLMEFit: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fit", abstract: "Fit a population model written as a NONMEM control stream.",
    discussion: """
      Reads MODEL.mod and its $DATA (relative to the control stream's folder, or --data), \
      estimates THETA, OMEGA and SIGMA by the method of the last $ESTIMATION (or --method: fo, \
      foce, focei, laplace), runs the covariance step if the control stream has $COVARIANCE, on all cores \
      with results independent of --threads. Writes DIR/fit.json (ofv, theta, omega and sigma as \
      lower triangles, se, shrinkage, status, history), DIR/sdtab.csv (ID TIME DV PRED IPRED RES \
      WRES CWRES IWRES NPDE CENS ETAs), the $TABLE files, and the plots dv_vs_pred.svg, \
      dv_vs_ipred.svg, cwres_vs_time.svg, cwres_vs_pred.svg, individual_fits.svg and \
      eta_vs_covariates.svg.
      """)

  @Argument(help: "The NONMEM control stream (.mod, .ctl).")
  var model: String

  @Option(help: "The dataset in place of the control stream's $DATA file.")
  var data: String?

  @Option(help: "Estimation method: fo, foce, focei or laplace (default: the control stream's $ESTIMATION).")
  var method: ControlStream.EstimationStep.Method?

  @Flag(help: "Skip the covariance step.")
  var noCovariance = false

  @Option(help: "Simulations per subject for NPDE (0 for none, at most 100000).")
  var npdeSamples = 1000

  @Option(help: "Seed of the NPDE simulations.")
  var seed: UInt64 = 1

  @OptionGroup var threadsOption: ThreadsOption

  @Option(help: "Output folder.")
  var out: String

  @OptionGroup var progress: ProgressOption

  func validate() throws {
    try checkOption(npdeSamples, 0...100_000, "--npde-samples")
  }

  func run() throws {
    var settings = NLMERun.Settings()
    settings.dataPath = data
    settings.method = method
    settings.threads = threadsOption.count
    settings.covariance = !noCovariance
    settings.npdeSamples = npdeSamples
    settings.seed = seed
    let quiet = !progress.shown
    let doc = try NLMERun.fit(model: model, settings: settings, out: out) { it in
      if !quiet {
        let values = it.parameters.map { String(format: "%.5g", $0) }.joined(separator: " ")
        FileHandle.standardError.write(Data("evaluation \(it.evaluation)  OFV \(String(format: "%.6f", it.ofv))  \(values)\n".utf8))
      }
    }
    print(
      "\(doc.method): OFV \(String(format: "%.6f", doc.ofv)), \(doc.status), \(doc.evaluations) evaluations, \(String(format: "%.2f", doc.seconds)) s"
    )
    if let status = doc.covariance_status { print("covariance step (\(doc.covariance_matrix ?? "")): \(status)") }
    print("wrote \(out)/fit.json, sdtab.csv and the plots")
  }
}

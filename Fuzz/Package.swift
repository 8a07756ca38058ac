// swift-tools-version: 6.0
// libFuzzer targets for CARTSim's input readers, built by Scripts/fuzz.sh with
// `-sanitize=fuzzer,address` (Linux). Kept out of the main package so that a normal build
// never needs the fuzzer runtime.
import Foundation
import PackageDescription

// A path dependency is named by its folder, whatever the clone is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let cartsim = root.lastPathComponent.lowercased()

let package = Package(
  name: "CARTSimFuzz",
  dependencies: [.package(path: "..")],
  targets: [
    .executableTarget(
      name: "cartsim-fuzz",
      dependencies: [
        .product(name: "CARTSimCore", package: cartsim),
        .product(name: "DoseFinding", package: cartsim),
        .product(name: "SBMLDocument", package: cartsim),
        .product(name: "SBMLKit", package: cartsim),
        .product(name: "Estimation", package: cartsim),
        .product(name: "NLME", package: cartsim),
      ])
  ])

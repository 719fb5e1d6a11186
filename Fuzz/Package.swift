// swift-tools-version: 6.0
// libFuzzer targets for wstrace (issue 7). Not part of the main build.
//
// The pipeline's pure modules are reached through symlinks in Sources/ (Sources/WSDecode ->
// ../../Sources/WSDecode, ...): the main package exports only the `wstrace` executable, so
// `.package(path: "..")` cannot reach its library targets. libpcap (WSCapture) is left out:
// target (a) splits pcap records itself.
//
// Build (see run.sh):
//   swift build --package-path Fuzz -c debug -Xswiftc -sanitize=fuzzer,address \
//       -Xswiftc -parse-as-library --scratch-path .build-fuzz
import PackageDescription

let package = Package(
    name: "wstrace-fuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        // The compiler's prefetch builtin (header only), as in the main package.
        .systemLibrary(name: "CPrefetch"),
        // Base64 with AVX2 (header only), as in the main package.
        .systemLibrary(name: "CBase64"),
        .target(name: "WSDecode"),
        .target(name: "WSReassembly", dependencies: ["WSDecode", "CPrefetch"]),
        .target(name: "WSTLS", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ]),
        .target(name: "WSDissector", dependencies: ["CZlib", "CIsal", "CPrefetch", "CBase64", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "WSApp"),
        .target(name: "WSTimeline", dependencies: ["WSDecode", "WSReassembly", "WSTLS", "WSDissector", "WSApp", "CPrefetch"]),
        .target(name: "WSDiagnosis", dependencies: ["WSTimeline", "WSApp", "WSDecode", "WSDissector", "WSReassembly", "WSTLS"]),
        .target(name: "WSFilter", dependencies: ["WSTimeline", "WSApp", "WSDiagnosis", "WSDecode", "WSDissector", "WSReassembly"]),
        .target(name: "WSOutput", dependencies: ["WSTimeline", "WSDiagnosis", "WSDecode", "WSTLS", "WSDissector", "WSReassembly", "WSApp", "WSFilter"]),
        // (a) capture-file bytes -> pcap records -> Analyzer -> text + JSON renderers.
        .executableTarget(name: "FuzzCapture", dependencies: ["WSDecode", "WSTimeline", "WSOutput"]),
        // (b) one TCP byte stream per direction -> WebSocketSession.
        .executableTarget(name: "FuzzStreams", dependencies: ["WSDissector"]),
        // (c) TLS records of both directions -> the TLS stage (with and without keys) -> WebSocketSession.
        .executableTarget(name: "FuzzTLS", dependencies: ["WSTLS", "WSDissector"]),
        // (d) WebSocket messages -> the App stage (every application protocol); filter expressions -> the compiler.
        .executableTarget(name: "FuzzApp", dependencies: ["WSApp", "WSFilter"]),
    ]
)

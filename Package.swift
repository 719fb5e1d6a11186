// swift-tools-version: 6.0
// wstrace — a WebSocket protocol analyzer.
// The targets are the pipeline: capture → decode → reassembly → websocket → timeline → output → CLI.
import PackageDescription

/// Hot-path modules: exclusivity is proven by design (one thread, no overlapping access);
/// the dynamic checks cost about 7% of a release run.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "wstrace",
    products: [
        .executable(name: "wstrace", targets: ["wstrace"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Every cryptographic primitive of the TLS stage (AEAD, AES-CBC, HKDF, HMAC, hashes) and
        // the handshake's SHA-1: nothing of the kind is hand-written.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // System libraries.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // ISA-L's inflate: whole permessage-deflate messages, zlib's speed twice over.
        .systemLibrary(name: "CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        // A header-only module: the compiler's prefetch builtin, which Swift does not expose.
        .systemLibrary(name: "CPrefetch"),
        // A header-only module: base64 with AVX2 where the CPU has it (payloads in JSON).
        .systemLibrary(name: "CBase64"),

        // capture: the only module that calls libpcap (zlib: what a gzip-compressed file holds).
        .target(name: "WSCapture", dependencies: ["CPcap", "CZlib", "WSDecode"]),
        // decode: link → IPv4/IPv6 → TCP, pure parsers over borrowed bytes.
        .target(name: "WSDecode", swiftSettings: hotPath),
        // reassembly: connection table, lifecycle, ordered byte streams per direction.
        .target(name: "WSReassembly", dependencies: ["WSDecode", "CPrefetch"], swiftSettings: hotPath),
        // tls: TLS records, handshake, key log, decryption: ciphertext in, plaintext out.
        .target(name: "WSTLS", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ], swiftSettings: hotPath),
        // websocket: HTTP Upgrade, frames, messages, permessage-deflate, violations.
        .target(name: "WSDissector", dependencies: ["CZlib", "CIsal", "CPrefetch", "CBase64", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: hotPath),
        // app: the application protocols inside WebSocket messages (Socket.IO, MQTT, STOMP,
        // GraphQL over WebSocket, JSON-RPC, JSON) and their request/response pairing.
        .target(name: "WSApp", swiftSettings: hotPath),
        // timeline: joins the layers into ordered events and per-connection summaries.
        .target(name: "WSTimeline", dependencies: ["WSDecode", "WSReassembly", "WSTLS", "WSDissector", "WSApp", "CPrefetch"], swiftSettings: hotPath),
        // filter: display filters (-Y), compiled once and applied to rows.
        .target(name: "WSFilter", dependencies: ["WSTimeline", "WSApp", "WSDiagnosis", "WSDecode", "WSDissector", "WSReassembly"], swiftSettings: hotPath),
        // diagnosis: why each connection ended, its health figures, capture-wide patterns and stats.
        .target(name: "WSDiagnosis", dependencies: ["WSTimeline", "WSApp", "WSDecode", "WSDissector", "WSReassembly", "WSTLS"]),
        // output: text, JSON and NDJSON renderers.
        .target(name: "WSOutput", dependencies: ["WSTimeline", "WSDiagnosis", "WSDecode", "WSTLS", "WSDissector", "WSReassembly", "WSApp", "WSFilter"], swiftSettings: hotPath),
        // engine: one reader, flow workers, ordered merge (a capture on several cores).
        .target(name: "WSEngine", dependencies: ["WSCapture", "WSDecode", "WSTimeline", "WSDiagnosis", "WSOutput", "WSFilter"], swiftSettings: hotPath),
        // CLI: argument parsing and wiring only.
        .executableTarget(name: "wstrace", dependencies: [
            "WSCapture", "WSTimeline", "WSOutput", "WSTLS", "WSEngine", "WSDiagnosis", "WSApp", "WSFilter",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared by the tests: reads real fixtures without libpcap.
        .target(name: "WSTestSupport", path: "Tests/WSTestSupport"),
        // Benchmark tools: a realistic capture generator and a bare libpcap read loop.
        .executableTarget(name: "wsbench", dependencies: ["CPcap", "CZlib", "WSDissector", "WSTLS", "WSCapture", "WSDecode", "WSEngine",
                                                          .product(name: "Crypto", package: "swift-crypto")]),

        .testTarget(name: "WSDecodeTests", dependencies: ["WSDecode", "WSTestSupport"]),
        .testTarget(name: "WSCaptureTests", dependencies: ["WSCapture"]),
        .testTarget(name: "WSReassemblyTests", dependencies: ["WSReassembly", "WSDecode", "WSTestSupport"]),
        .testTarget(name: "WSDissectorTests", dependencies: ["WSDissector", "CZlib", "CBase64"]),
        .testTarget(name: "WSTLSTests", dependencies: ["WSTLS", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "WSTimelineTests", dependencies: ["WSTimeline", "WSOutput", "WSCapture", "WSDecode", "WSDissector", "WSReassembly", "WSTestSupport"]),
        .testTarget(name: "WSDiagnosisTests", dependencies: ["WSDiagnosis", "WSTimeline", "WSOutput", "WSCapture", "WSDecode", "WSDissector", "WSReassembly", "WSTestSupport"]),
        .testTarget(name: "WSEngineTests", dependencies: ["WSEngine", "WSDiagnosis", "WSCapture", "WSDecode", "WSTimeline", "WSOutput"]),
        .testTarget(name: "WSAppTests", dependencies: ["WSApp", "WSTestSupport"]),
        .testTarget(name: "WSFilterTests", dependencies: ["WSFilter", "WSTimeline", "WSApp", "WSDecode", "WSDissector", "WSReassembly"]),
        .testTarget(name: "IntegrationTests", dependencies: ["wstrace"]),
    ]
)

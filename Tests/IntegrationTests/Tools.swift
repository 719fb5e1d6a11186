import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `wstrace` binary and tshark for end-to-end tests.
enum Tools {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Fixtures")

    /// The wstrace binary next to the test bundle (swift build puts both in one folder).
    static var wstrace: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("wstrace")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/wstrace")
    }

    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs a program to its end, feeding `stdin` and collecting both outputs.
    static func run(_ executable: URL, _ arguments: [String], stdin: Data? = nil,
                    environment: [String: String]? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin {
            signal(SIGPIPE, SIG_IGN)  // a child that exits early must not take the test process with it
            let fd = input.fileHandleForWriting.fileDescriptor
            stdin.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 { if errno == EINTR { continue } else { break } }
                    offset += n
                }
            }
        }
        try? input.fileHandleForWriting.close()
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        let errFD = err.fileHandleForReading.fileDescriptor
        DispatchQueue.global().async {
            errBox.data = readAll(errFD)
            group.leave()
        }
        let outData = readAll(out.fileHandleForReading.fileDescriptor)
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: outData, stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// Reads a descriptor to its end, retrying on EINTR (FileHandle.readDataToEndOfFile traps on it).
    static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: buffer[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            return data
        }
    }

    static func wstrace(_ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil) throws -> Result {
        try run(wstrace, arguments, stdin: stdin, environment: environment)
    }

    static func which(_ name: String) -> URL? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let url = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }

    /// tshark options for TCP-level comparisons: its SOCKS dissector gives a tunnelled CONNECT a
    /// tcp.stream number of its own, shifting every later stream (ndpi/tls_heur__vmess-websocket).
    static let tsharkTCPOptions = ["--disable-protocol", "socks"]

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// tshark, or nil when absent outside CI. Under CI a missing tshark is a failure, never a skip.
    static func tshark() -> URL? {
        if let t = which("tshark") { return t }
        if isCI { Issue.record("tshark is required under CI (apt-get install tshark)") }
        return nil
    }

    /// Every capture the conformance tests read, all inside the repository: our fixtures (minus
    /// the deliberately damaged ones) and, unless `includeExternal` is false, the other projects'
    /// captures under Fixtures/external (listed in its SOURCES.tsv).
    static func captures(includeExternal: Bool = true) -> [String] {
        var out: [String] = []
        guard let e = FileManager.default.enumerator(atPath: fixtures.path) else { return out }
        for case let p as String in e where p.hasSuffix(".pcap") || p.hasSuffix(".pcapng") {
            if p.contains("not-a-capture") || p.contains("truncated-mid-record") { continue }
            if !includeExternal && p.hasPrefix("external/") { continue }
            out.append(fixtures.appendingPathComponent(p).path)
        }
        return out.sorted()
    }

    /// The key log recorded beside a wss capture (NAME.keys), if there is one.
    static func keyLog(for capture: String) -> String? {
        let keys = URL(fileURLWithPath: capture).deletingPathExtension().path + ".keys"
        return FileManager.default.fileExists(atPath: keys) ? keys : nil
    }

    static func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}

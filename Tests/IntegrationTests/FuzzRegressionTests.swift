import Foundation
import Testing

/// Every input the fuzzers (Fuzz/, issue 7) found crashing or hanging wstrace, kept in
/// Tests/FuzzRegressions/ and run through `wstrace read` in text and JSON and through
/// `wstrace report`: each must finish (the subprocess would hang the test otherwise), exit 0 or
/// 1 (1: a damaged capture file), and never die of a signal; the JSON must parse.
@Suite struct FuzzRegressionTests {
    static let dir = Tools.root.appendingPathComponent("Tests/FuzzRegressions")

    static var inputs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasSuffix(".pcap") }.sorted()
    }

    @Test func thereAreRegressions() {
        #expect(!Self.inputs.isEmpty)
    }

    @Test(arguments: inputs) func readsWithoutCrashing(_ name: String) throws {
        let path = Self.dir.appendingPathComponent(name).path
        let start = Date()
        let text = try Tools.wstrace(["read", path, "--no-color"])
        #expect(text.status == 0 || text.status == 1, "\(name): exit \(text.status)\n\(text.stderr.prefix(2000))")
        #expect(!text.stderr.contains("Fatal error") && !text.stderr.contains("Backtracing"), "\(name): \(text.stderr.prefix(2000))")
        let json = try Tools.wstrace(["read", path, "--format", "json"])
        #expect(json.status == 0 || json.status == 1, "\(name) json: exit \(json.status)")
        #expect((try? JSONSerialization.jsonObject(with: json.stdout)) != nil, "\(name): JSON does not parse")
        let report = try Tools.wstrace(["report", path, "-o", "-"])
        #expect(report.status == 0 || report.status == 1, "\(name) report: exit \(report.status)\n\(report.stderr.prefix(2000))")
        #expect(Date().timeIntervalSince(start) < 30, "\(name): too slow (was a hang)")
    }
}

import Foundation
import Testing

/// Text and JSON output of selected fixtures, compared with files a person read through
/// (Tests/Golden/README.md).
@Suite struct GoldenTests {
    static let cases: [(fixture: String, golden: String, arguments: [String])] = [
        ("seed-walkthrough.pcap", "seed-walkthrough.txt", ["--no-color"]),
        ("seed-walkthrough.pcap", "seed-walkthrough.json", ["--format", "json"]),
        ("websocket/ws-fragmented.pcap", "ws-fragmented.txt", ["--no-color"]),
        ("websocket/ws-deflate-takeover.pcap", "ws-deflate-takeover.txt", ["--no-color"]),
        ("websocket/ws-midstream-deflate.pcap", "ws-midstream-deflate.txt", ["--no-color"]),
        ("tcp/tcp-missing-segment.pcap", "tcp-missing-segment.txt", ["--no-color"]),
        ("websocket/ws-rejected-upgrade.pcap", "ws-rejected-upgrade.txt", ["--no-color"]),
    ]

    @Test(arguments: cases.indices)
    func matchesGolden(index: Int) throws {
        let c = Self.cases[index]
        let path = Tools.fixtures.appendingPathComponent(c.fixture).path
        var r = try Tools.wstrace(["read", path] + c.arguments)
        #expect(r.status == 0)
        let golden = Tools.root.appendingPathComponent("Tests/Golden").appendingPathComponent(c.golden)
        // The JSON document names the file it read: compare it by its path relative to the repository.
        if c.golden.hasSuffix(".json") {
            r.stdout = Data(r.text.replacingOccurrences(of: Tools.root.path + "/", with: "").utf8)
        }
        if ProcessInfo.processInfo.environment["WSTRACE_UPDATE_GOLDEN"] == "1" {
            try r.stdout.write(to: golden)
            return
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        let actual = r.text
        if actual != expected {
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(a, e).enumerated().first { $0.element.0 != $0.element.1 }
            Issue.record("\(c.golden) differs at line \((first?.offset ?? min(a.count, e.count)) + 1):\n  got:      \(first.map { String($0.element.0) } ?? "<end>")\n  expected: \(first.map { String($0.element.1) } ?? "<end>")")
        }
    }
}

import Foundation
import Testing

/// Time stamps beyond what wstrace's clock holds (`CaptureClock`: nanoseconds in an `Int64`,
/// kept within ±(2^62 − 1)), and a clock that goes back by years. Real fixtures with a few
/// bytes changed in the test (hand-modified: the malformed case): read without a crash, every
/// packet kept, the held times said.
@Suite struct TimeStampRangeTests {
    /// A copy of `fixture` with `change` applied, in a fresh temporary directory.
    static func patched(_ fixture: String, as name: String, _ change: (inout [UInt8]) throws -> Void) throws -> URL {
        var bytes = [UInt8](try Data(contentsOf: Tools.fixtures.appendingPathComponent(fixture)))
        try change(&bytes)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wstrace-clock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    static func u32(_ b: [UInt8], _ at: Int) -> Int {
        Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24
    }

    /// dumpcap's pcapng with its interface's `if_tsresol` changed from 10^-9 to 10^-6: its
    /// stamps (about 1.8e18) now mean microseconds, dates near the year 58,870, which no
    /// nanosecond count in 64 bits reaches. tshark reads the file; wstrace reads every packet
    /// (on one thread and on two), exits 0 and says that their times are held. Before
    /// `CaptureClock` the conversion to nanoseconds overflowed and the process trapped.
    @Test func microsecondStampsBeyondTheClock() throws {
        let url = try Self.patched("linktypes/dumpcap.pcapng", as: "usec.pcapng") { b in
            #expect(Self.u32(b, 0) == 0x0a0d_0d0a && Self.u32(b, 8) == 0x1a2b_3c4d, "a little-endian section")
            var at = Self.u32(b, 4)  // the block after the section header
            while at + 8 <= b.count, Self.u32(b, at) != 1 { at += Self.u32(b, at + 4) }
            let end = at + Self.u32(b, at + 4) - 4
            var option = at + 16
            while option + 4 <= end {
                let code = Int(b[option]) | Int(b[option + 1]) << 8, length = Int(b[option + 2]) | Int(b[option + 3]) << 8
                if code == 0 { break }
                if code == 9 {
                    #expect(b[option + 4] == 9)
                    b[option + 4] = 6
                    return
                }
                option += 4 + (length + 3) / 4 * 4
            }
            Issue.record("no if_tsresol option in the interface description")
        }
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        var expected = 22
        if let tshark = Tools.tshark() {
            let t = try Tools.run(tshark, ["-r", url.path, "-T", "fields", "-e", "frame.number"])
            #expect(t.status == 0, "tshark reads it")
            expected = t.text.split(separator: "\n").count
        }
        for threads in ["1", "2"] {
            let r = try Tools.wstrace(["read", url.path, "--format", "json", "--summary", "--threads", threads])
            #expect(r.status == 0, "threads \(threads): exit \(r.status), \(r.stderr.prefix(500))")
            let capture = try #require(try Tools.json(r.stdout)["capture"] as? [String: Any])
            #expect(capture["packets"] as? Int == expected)
            let warnings = capture["warnings"] as? [String] ?? []
            #expect(warnings == ["\(expected) packet(s) have time stamps outside what wstrace can hold (1823-11-12 to 2116-02-20, "
                                 + "nanoseconds in 64 bits); their times are shown at the nearest of those bounds"])
            #expect(r.stderr.contains("time stamps outside what wstrace can hold"))
        }
        let text = try Tools.wstrace(["read", url.path, "--no-color"])
        #expect(text.status == 0)
    }

    /// The seed capture with its first packet moved to 2038: every later packet, and every
    /// message, is twelve years before the first event. The report's message chart placed each
    /// message by that distance in bins and trapped converting it to an `Int` (found by the
    /// capture fuzzer once the report was among its renderers); now each goes to the first bin.
    @Test func clockGoingBackYearsInTheReport() throws {
        let url = try Self.patched("seed-walkthrough.pcap", as: "time-back.pcap") { b in
            #expect(Self.u32(b, 0) == 0xa1b2_c3d4, "a little-endian microsecond pcap")
            b.replaceSubrange(24..<28, with: [0x00, 0xff, 0xff, 0x7f])  // 0x7fffff00 s: January 2038
        }
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let report = try Tools.wstrace(["report", url.path, "-o", "-"])
        #expect(report.status == 0, "exit \(report.status), \(report.stderr.prefix(500))")
        let page = String(decoding: report.stdout, as: UTF8.self)
        #expect(page.contains("<h3>Messages over time</h3>"))
        let json = try Tools.wstrace(["read", url.path, "--format", "json", "--summary"])
        let messages = try #require((try Tools.json(json.stdout)["capture"] as? [String: Any])?["messages"] as? Int)
        #expect(messages > 0)
        #expect(page.components(separatedBy: "<rect class=\"bin\"").count == 2, "one bin drawn")
        #expect(page.contains("<rect class=\"bin\" data-count=\"\(messages)\" x=\"70.0\""), "all \(messages) messages in the first bin")
        for command in [["stats", url.path], ["read", url.path, "--summary"]] {
            let r = try Tools.wstrace(command)
            #expect(r.status == 0, "\(command[0]): exit \(r.status)")
            #expect(!r.stderr.contains("time stamps outside"), "\(command[0]): 2038 is within the clock")
        }
    }
}

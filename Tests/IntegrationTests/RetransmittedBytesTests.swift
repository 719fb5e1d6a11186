import Foundation
import Testing

/// A retransmission is compared with the bytes first delivered: read back from the capture file
/// where the reading knows their place (a regular pcap or pcapng file, on one thread or on
/// workers, one file or a set), copied as they pass otherwise (standard input, libpcap's
/// reading). The capture is a real one (netem-clean) with two copies of a server segment
/// spliced in 2.2 ms after it, so that they are retransmissions, not the packet captured twice:
/// one as sent, one with its last byte changed (hand-modified: the malformed case). Every way of
/// reading must label every packet alike, and only the changed copy `overlap-conflict`.
@Suite struct RetransmittedBytesTests {
    struct Record {
        var header: [UInt8]
        var data: [UInt8]
    }

    static func u32(_ b: [UInt8], _ at: Int) -> Int {
        Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24
    }

    static func setU32(_ b: inout [UInt8], _ at: Int, _ v: Int) {
        for i in 0..<4 { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }

    /// The fixture's global header and records (a little-endian microsecond pcap).
    static func records() throws -> (global: [UInt8], records: [Record]) {
        let bytes = [UInt8](try Data(contentsOf: Tools.fixtures.appendingPathComponent("tcp/netem-clean.pcap")))
        #expect(u32(bytes, 0) == 0xa1b2_c3d4, "a little-endian microsecond pcap")
        var out: [Record] = []
        var at = 24
        while at + 16 <= bytes.count {
            let length = u32(bytes, at + 8)
            out.append(Record(header: Array(bytes[at..<(at + 16)]), data: Array(bytes[(at + 16)..<(at + 16 + length)])))
            at += 16 + length
        }
        return (Array(bytes[0..<24]), out)
    }

    /// The capture with packet 40 (1,448 server bytes) sent again twice after packet 50.
    static func spliced() throws -> (global: [UInt8], records: [Record]) {
        var (global, records) = try records()
        #expect(records.count == 64)
        let original = records[39]
        #expect(original.data.count == 14 + 20 + 32 + 1448, "packet 40: Ethernet, IPv4, TCP with timestamps, 1448 bytes")
        var same = original, changed = original
        // Packet 50 is at 7.894 ms, 2.237 ms after packet 40: later than a copy captured twice.
        let after = records[49].header
        for (i, copy) in [same, changed].enumerated() {
            var header = copy.header
            for k in 0..<8 { header[k] = after[k] }
            setU32(&header, 4, u32(after, 4) + 1 + i)
            if i == 0 { same.header = header } else { changed.header = header }
        }
        // The last byte changed, and the TCP checksum with it (RFC 1624), as a sender's would be:
        // an equal checksum and IPv4 ID would make the copies one packet captured twice.
        let n = changed.data.count
        let word = { (d: [UInt8]) in UInt32(d[n - 2]) << 8 | UInt32(d[n - 1]) }
        let before = word(changed.data)
        changed.data[n - 1] ^= 0x5a
        var sum = UInt32(~(UInt16(changed.data[50]) << 8 | UInt16(changed.data[51]))) + (~before & 0xffff) + word(changed.data)
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        changed.data[50] = UInt8(checksum >> 8)
        changed.data[51] = UInt8(checksum & 0xff)
        records.insert(contentsOf: [same, changed], at: 50)
        return (global, records)
    }

    static func write(_ global: [UInt8], _ records: ArraySlice<Record>, to url: URL) throws {
        var out = global
        for r in records { out += r.header + r.data }
        try Data(out).write(to: url)
    }

    /// Each packet's TCP analysis labels, from NDJSON.
    static func labels(_ arguments: [String], stdin: Data? = nil) throws -> [Int: [String]] {
        let r = try Tools.wstrace(["read"] + arguments + ["--format", "ndjson", "--payloads", "none"], stdin: stdin)
        #expect(r.status == 0, "\(arguments): exit \(r.status), \(r.stderr.prefix(300))")
        var out: [Int: [String]] = [:]
        for line in r.stdout.split(separator: UInt8(ascii: "\n")) {
            let row = try Tools.json(Data(line))
            guard row["type"] as? String == "event", let n = row["packet"] as? Int,
                  let tcp = row["tcp"] as? [String: Any], out[n] == nil else { continue }
            out[n] = tcp["analysis"] as? [String] ?? []
        }
        return out
    }

    @Test func everyWayOfReadingComparesTheSameBytes() throws {
        let (global, records) = try Self.spliced()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wstrace-retrans-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let whole = dir.appendingPathComponent("whole.pcap")
        try Self.write(global, records[...], to: whole)
        // A rotated pair: the first copy of packet 40 in the first file, its copies in the second.
        let set = dir.appendingPathComponent("set")
        try FileManager.default.createDirectory(at: set, withIntermediateDirectories: true)
        try Self.write(global, records[0..<45], to: set.appendingPathComponent("a.pcap"))
        try Self.write(global, records[45...], to: set.appendingPathComponent("b.pcap"))

        // Standard input: libpcap reads it, and the delivered bytes are copied.
        let reference = try Self.labels(["-"], stdin: try Data(contentsOf: whole))
        #expect(reference.count == 66)
        #expect(reference[51] == ["retransmission"], "the copy as sent")
        #expect(reference[52] == ["retransmission", "overlap-conflict"], "the changed copy")
        #expect(reference.filter { $0.value.contains("overlap-conflict") }.map(\.key) == [52])

        var ways: [(String, [String])] = []
        for threads in ["1", "2", "3"] {
            ways.append(("whole, \(threads) thread(s)", [whole.path, "--threads", threads]))
            ways.append(("set, \(threads) thread(s)", [set.path, "--threads", threads]))
        }
        if let editcap = Tools.which("editcap") {
            let ng = dir.appendingPathComponent("whole.pcapng")
            let r = try Tools.run(editcap, ["-F", "pcapng", whole.path, ng.path])
            #expect(r.status == 0)
            for threads in ["1", "2"] { ways.append(("pcapng, \(threads) thread(s)", [ng.path, "--threads", threads])) }
        } else if Tools.isCI {
            Issue.record("editcap is required under CI (apt-get install tshark brings it)")
        }
        for (name, arguments) in ways {
            let got = try Self.labels(arguments)
            #expect(got == reference, "\(name)")
        }
    }
}

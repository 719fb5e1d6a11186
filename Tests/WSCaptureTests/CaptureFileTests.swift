import Foundation
import Testing
@testable import WSCapture

func fixture(_ path: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(path).path
}

/// Hand-built pcapng bytes in either byte order, for what no tool here writes.
struct PcapngBytes {
    let bigEndian: Bool

    func u32(_ v: UInt32) -> [UInt8] {
        let b = [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
        return bigEndian ? b.reversed() : b
    }

    func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xff)] : [UInt8(v & 0xff), UInt8(v >> 8)] }

    /// A block of `type` around `body` (padded to 4 bytes), its length before and after.
    func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
        let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
        return u32(type) + u32(UInt32(12 + padded.count)) + padded + u32(UInt32(12 + padded.count))
    }

    /// A section header block, version 1.0, no section length, no options.
    var sectionHeader: [UInt8] {
        [0x0a, 0x0d, 0x0d, 0x0a] + u32(28) + u32(0x1a2b_3c4d) + u16(1) + u16(0) + u32(0xffff_ffff) + u32(0xffff_ffff) + u32(28)
    }
}

@Suite struct CaptureFileTests {
    func read(_ path: String, filter: String? = nil) throws -> [PacketHeader] {
        let file = try CaptureFile(path: fixture(path))
        if let filter { try file.setFilter(filter) }
        var headers: [PacketHeader] = []
        try file.forEach { h, bytes in
            #expect(bytes.count == h.capturedLength)
            headers.append(h)
            return true
        }
        return headers
    }

    @Test(arguments: ["seed-walkthrough.pcap", "linktypes/bigendian-usec.pcap", "linktypes/bigendian-nsec.pcap",
                      "linktypes/nanosecond.pcap", "linktypes/dumpcap.pcapng"])
    func readsEveryFormat(path: String) throws {
        let headers = try read(path)
        #expect(headers.count == 22)
        #expect(headers.map(\.number) == Array(1...22))
        // Timestamps are in ns since the epoch and never go backwards in these captures.
        #expect(headers[0].timestampNanoseconds > 1_700_000_000_000_000_000)
        #expect(zip(headers, headers.dropFirst()).allSatisfy { $0.timestampNanoseconds <= $1.timestampNanoseconds })
    }

    @Test func nanosecondPrecisionIsKept() throws {
        let file = try CaptureFile(path: fixture("linktypes/nanosecond.pcap"))
        #expect(file.timestampDecimals == 9)
        var nonMicro = 0
        try file.forEach { h, _ in
            if h.timestampNanoseconds % 1000 != 0 { nonMicro += 1 }
            return true
        }
        #expect(nonMicro > 0)
        #expect(try CaptureFile(path: fixture("seed-walkthrough.pcap")).timestampDecimals == 6)
        #expect(try CaptureFile(path: fixture("linktypes/bigendian-nsec.pcap")).timestampDecimals == 9)
        // pcapng: the interfaces' if_tsresol (dumpcap writes nanoseconds; the other file says none).
        #expect(try CaptureFile(path: fixture("linktypes/dumpcap.pcapng")).timestampDecimals == 9)
        #expect(try CaptureFile(path: fixture("tls/wss-tls13-aes128gcm.pcapng")).timestampDecimals == 6)
    }

    /// if_tsresol read from a pcapng header, both byte orders and both kinds of resolution.
    /// Hand-built blocks (no tool here writes a binary resolution or a big-endian section).
    @Test func pcapngResolutionFromTheInterfaces() throws {
        func pcapng(bigEndian: Bool, resolutions: [UInt8?]) -> [UInt8] {
            let b = PcapngBytes(bigEndian: bigEndian)
            let u32 = b.u32, u16 = b.u16
            var out = b.sectionHeader
            for r in resolutions {
                var options: [UInt8] = []
                if let r { options = u16(9) + u16(1) + [r, 0, 0, 0] + u16(0) + u16(0) }
                let length = UInt32(20 + options.count)
                out += u32(1) + u32(length) + u16(1) + u16(0) + u32(262_144) + options + u32(length)
            }
            return out + u32(6) + u32(32)  // the first packet block ends the walk
        }
        for big in [false, true] {
            #expect(CaptureFile.timestampDecimals(header: pcapng(bigEndian: big, resolutions: [nil])) == 6)
            #expect(CaptureFile.timestampDecimals(header: pcapng(bigEndian: big, resolutions: [9])) == 9)
            #expect(CaptureFile.timestampDecimals(header: pcapng(bigEndian: big, resolutions: [3, nil])) == 6)
            #expect(CaptureFile.timestampDecimals(header: pcapng(bigEndian: big, resolutions: [nil, 7])) == 7)
            #expect(CaptureFile.timestampDecimals(header: pcapng(bigEndian: big, resolutions: [0x80 | 20])) == 7)  // 2^-20 s
            #expect(CaptureFile.timestampDecimals(header: pcapng(bigEndian: big, resolutions: [12])) == 9)
        }
        // Cut or odd headers: microseconds, no trap.
        let whole = pcapng(bigEndian: false, resolutions: [9])
        for n in 0...whole.count { _ = CaptureFile.timestampDecimals(header: Array(whole.prefix(n))) }
        #expect(CaptureFile.timestampDecimals(header: Array(whole.prefix(30))) == 6)
    }

    @Test func bigEndianAndLittleEndianAgree() throws {
        let le = try read("seed-walkthrough.pcap")
        let be = try read("linktypes/bigendian-usec.pcap")
        #expect(le.map(\.wireLength) == be.map(\.wireLength))
    }

    @Test func filterKeepsFileNumbering() throws {
        let all = try read("seed-walkthrough.pcap")
        let fins = try read("seed-walkthrough.pcap", filter: "tcp[tcpflags] & tcp-fin != 0")
        #expect(fins.count == 2)
        #expect(fins.map(\.number) == [19, 21])
        #expect(fins.allSatisfy { $0.number <= all.count })
    }

    @Test func badFilterIsReported() throws {
        let file = try CaptureFile(path: fixture("seed-walkthrough.pcap"))
        #expect(throws: CaptureError.self) { try file.setFilter("tcp port banana") }
        do {
            try file.setFilter("tcp port banana")
        } catch {
            #expect(error.description.hasPrefix("bad filter 'tcp port banana'"))
        }
    }

    @Test func missingFile() {
        do {
            _ = try CaptureFile(path: "/nonexistent/x.pcap")
            Issue.record("opened a missing file")
        } catch {
            #expect(error == .cannotOpen(path: "/nonexistent/x.pcap", reason: "No such file or directory"))
        }
    }

    @Test func notACaptureFile() {
        do {
            _ = try CaptureFile(path: fixture("linktypes/not-a-capture.pcap"))
            Issue.record("opened a text file")
        } catch {
            guard case .notACaptureFile = error else { Issue.record("wrong error \(error)"); return }
            #expect(error.description.contains("not-a-capture.pcap: not a pcap or pcapng capture file"))
        }
    }

    @Test func directoryIsNotAFile() {
        #expect(throws: CaptureError.self) { _ = try CaptureFile(path: fixture("linktypes")) }
    }

    @Test func cutFileHandsOutEverythingBeforeTheDamage() throws {
        let file = try CaptureFile(path: fixture("linktypes/truncated-mid-record.pcap"))
        var count = 0
        do {
            try file.forEach { _, _ in count += 1; return true }
            Issue.record("no error for a cut file")
        } catch {
            guard case let .damaged(_, reason, last) = error else { Issue.record("wrong error"); return }
            #expect(last == 9)
            #expect(reason.contains("truncated"))
        }
        #expect(count == 9)
    }
}

/// The chunked reader must hand out exactly what libpcap hands out, and give way to
/// libpcap (same records after, same error text) at the first record it does not take.
@Suite struct ChunkedReadingTests {
    struct Record: Equatable {
        var header: PacketHeader
        var bytes: [UInt8]
    }

    /// A record's `fileOffset`, when known, says where its bytes are in the file: checked here
    /// against the file's own bytes, then left out of the comparison (libpcap's reading knows none).
    static func placed(_ header: PacketHeader, _ bytes: [UInt8], in file: [UInt8], path: String) -> PacketHeader {
        var header = header
        if header.fileOffset >= 0 {
            let at = Int(header.fileOffset)
            #expect(at + bytes.count <= file.count && Array(file[at..<(at + bytes.count)]) == bytes,
                    "\(path): packet \(header.number)'s bytes are not at file offset \(at)")
            header.fileOffset = -1
        }
        return header
    }

    func read(_ path: String, fastPath: Bool) -> (records: [Record], error: String?) {
        var records: [Record] = []
        let contents = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
        do {
            let file = try CaptureFile(path: path, fastPath: fastPath)
            try file.forEach { h, bytes in
                #expect(fastPath || h.fileOffset == -1, "libpcap's reading knows no file offset")
                records.append(Record(header: Self.placed(h, Array(bytes), in: contents, path: path), bytes: Array(bytes)))
                return true
            }
            return (records, nil)
        } catch {
            return (records, error.description)
        }
    }

    @Test(arguments: ["seed-walkthrough.pcap", "linktypes/bigendian-usec.pcap", "linktypes/bigendian-nsec.pcap",
                      "linktypes/nanosecond.pcap", "linktypes/truncated-mid-record.pcap", "linktypes/dumpcap.pcapng",
                      "tls/wss-tls13-aes128gcm.pcapng", "external/ndpi/tls_1.2_unidirectional_server.pcapng",
                      "external/ndpi/tls_missing_ch_frag.pcapng", "external/ndpi/mqtt.pcapng",
                      "external/ndpi/tls_false_positives.pcapng", "external/ndpi/tls_heur__vmess-websocket.pcapng",
                      "external/zeek/websocket__oversized-close-frame.pcapng"])
    func chunkedEqualsLibpcap(path: String) {
        let viaChunks = read(fixture(path), fastPath: true)
        let viaLibpcap = read(fixture(path), fastPath: false)
        #expect(viaChunks.records.count > 0)
        #expect(viaChunks.records == viaLibpcap.records)
        #expect(viaChunks.error == viaLibpcap.error)
    }

    /// The records of `path` read by `fill` in batches of `capacity` bytes, and how many of them
    /// the chunked walk read.
    func filled(_ path: String, capacity: Int, fastPath: Bool = true) -> (records: [Record], walked: Int, error: String?) {
        var records: [Record] = []
        guard let file = try? CaptureFile(path: path, fastPath: fastPath) else { return ([], 0, "cannot open") }
        let batch = RecordBatch(capacity: capacity)
        let contents = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
        do {
            while try file.fill(batch) {
                for r in batch.records {
                    let h = PacketHeader(number: r.number, timestampNanoseconds: r.time, capturedLength: r.length,
                                         wireLength: r.wireLength, fileOffset: r.fileOffset, link: r.link)
                    records.append(Record(header: Self.placed(h, Array(batch.bytes(of: r)), in: contents, path: path), bytes: Array(batch.bytes(of: r))))
                }
                batch.reset()
            }
        } catch {
            return (records, file.walkedRecords, error.description)
        }
        return (records, file.walkedRecords, nil)
    }

    /// pcapng files read by the chunked walk, from where libpcap stands once it has opened them,
    /// give libpcap's records, times, numbers and errors. Real captures converted by editcap
    /// (microseconds; nanoseconds), the same cut mid-block (hand-cut: the walk gives way to
    /// libpcap at the cut block, which reports it), and two files merged by mergecap with an
    /// interface each (libpcap reads the second interface's block: the walk gives way at once).
    /// `forEach`, `fill` in batches of 512 bytes (blocks larger than a batch), 2 KiB (blocks
    /// crossing batches) and 1 MiB, and chunks
    /// (`PcapChunks`) equal libpcap's reading; `fill`'s walk reads every record (none of the merge).
    @Test func pcapngWalkedAsLibpcapReadsIt() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let tool = { (name: String) in
            path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let editcap = tool("editcap"), let mergecap = tool("mergecap") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("editcap and mergecap are required under CI (apt-get install tshark brings them)")
            }
            return
        }
        func run(_ tool: String, _ arguments: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = arguments
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(tool) \(arguments)")
        }
        let dir = NSTemporaryDirectory() + "wstrace-pcapng-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Whether the walk reads every record libpcap gives (else none).
        var cases: [(path: String, walksAll: Bool)] = []
        for name in ["seed-walkthrough.pcap", "websocket/ws-concurrent.pcap", "linktypes/nanosecond.pcap", "tcp/netem-reorder.pcap"] {
            let out = dir + "/" + name.replacingOccurrences(of: "/", with: "-") + "ng"
            try run(editcap, ["-F", "pcapng", fixture(name), out])
            cases.append((out, true))
        }
        var cut = try [UInt8](Data(contentsOf: URL(fileURLWithPath: cases[0].path)))
        cut.removeLast(37)
        try Data(cut).write(to: URL(fileURLWithPath: dir + "/cut.pcapng"))
        cases.append((dir + "/cut.pcapng", true))
        try run(mergecap, ["-I", "none", "-F", "pcapng", "-w", dir + "/merged.pcapng", fixture("seed-walkthrough.pcap"),
                           fixture("websocket/ws-concurrent.pcap")])
        cases.append((dir + "/merged.pcapng", false))
        for (path, walksAll) in cases {
            let libpcap = read(path, fastPath: false)
            #expect(libpcap.records.count > 10, "\(path)")
            let viaWalk = read(path, fastPath: true)
            #expect(viaWalk.records == libpcap.records, "\(path)")
            #expect(viaWalk.error == libpcap.error, "\(path)")
            for capacity in [512, 2 << 10, 1 << 20] {
                let viaFill = filled(path, capacity: capacity)
                #expect(viaFill.records == libpcap.records, "\(path) fill \(capacity)")
                #expect(viaFill.error == libpcap.error, "\(path) fill \(capacity)")
                #expect(viaFill.walked == (walksAll ? libpcap.records.count : 0),
                        "\(path) fill \(capacity): \(viaFill.walked) of \(libpcap.records.count) walked")
            }
            // Copied in chunks as a parallel run copies them, then sequenced.
            let chunks = PcapChunksTests()
            let one = try chunks.plain(path)
            for chunkBytes in [333, 4096] {
                let got = try chunks.chunked(path, chunkBytes: chunkBytes)
                #expect(got.records == one.records && got.damage == one.damage, "\(path) chunks of \(chunkBytes)")
            }
        }
        // The nanosecond capture keeps its nanoseconds.
        #expect(read(cases[2].path, fastPath: true).records.contains { $0.header.timestampNanoseconds % 1000 != 0 })
    }

    /// Hand-built (no tool here writes a big-endian section): a real capture's records as
    /// pcapng in both byte orders, µs and ns, with a name resolution block among the packets
    /// and a statistics block at the end (both passed over), and packet options. The walk reads
    /// them all, as libpcap does; in chunks too.
    @Test func pcapngOfEitherByteOrderWalkedAsLibpcapReadsIt() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("websocket/ws-concurrent.pcap"))))
        var records: [(seconds: UInt32, micros: UInt32, wire: UInt32, data: [UInt8])] = []
        var at = 24
        func le32(_ i: Int) -> UInt32 { UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24 }
        while at + 16 <= bytes.count {
            let length = Int(le32(at + 8))
            records.append((le32(at), le32(at + 4), le32(at + 12), Array(bytes[(at + 16)..<(at + 16 + length)])))
            at += 16 + length
        }
        let dir = NSTemporaryDirectory() + "wstrace-pcapng-order-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for bigEndian in [false, true] {
            for nanoseconds in [false, true] {
                let b = PcapngBytes(bigEndian: bigEndian)
                let u32 = b.u32, u16 = b.u16, block = b.block
                var file = b.sectionHeader
                let resolution = nanoseconds ? u16(9) + u16(1) + [9, 0, 0, 0] : []
                file += block(1, u16(1) + u16(0) + u32(262_144) + resolution + (resolution.isEmpty ? [] : u16(0) + u16(0)))
                for (i, r) in records.enumerated() {
                    let stamp = UInt64(r.seconds) * (nanoseconds ? 1_000_000_000 : 1_000_000)
                        + UInt64(r.micros) * (nanoseconds ? 1000 : 1) + (nanoseconds ? UInt64(i % 1000) : 0)
                    let data = r.data + [UInt8](repeating: 0, count: (4 - r.data.count % 4) % 4)
                    // Every third packet carries an epb_flags option (direction: inbound).
                    let options = i % 3 == 0 ? u16(2) + u16(4) + u32(1) + u16(0) + u16(0) : []
                    file += block(6, u32(0) + u32(UInt32(stamp >> 32)) + u32(UInt32(stamp & 0xffff_ffff))
                                  + u32(UInt32(r.data.count)) + u32(r.wire) + data + options)
                    if i == records.count / 2 {
                        file += block(4, u16(1) + u16(8) + [127, 0, 0, 1] + Array("lo\0\0".utf8) + u16(0) + u16(0))
                    }
                }
                file += block(5, u32(0) + u32(0) + u32(0))
                let path = dir + "/\(bigEndian ? "be" : "le")-\(nanoseconds ? "ns" : "us").pcapng"
                try Data(file).write(to: URL(fileURLWithPath: path))
                let libpcap = read(path, fastPath: false)
                #expect(libpcap.error == nil && libpcap.records.count == records.count, "\(path): \(libpcap.error ?? "")")
                #expect(read(path, fastPath: true).records == libpcap.records, "\(path)")
                let viaFill = filled(path, capacity: 4 << 10)
                #expect(viaFill.records == libpcap.records && viaFill.walked == records.count, "\(path): \(viaFill.walked) walked")
                let chunks = PcapChunksTests()
                let one = try chunks.plain(path)
                for chunkBytes in [333, 4096] {
                    #expect(try chunks.chunked(path, chunkBytes: chunkBytes).records == one.records, "\(path) chunks of \(chunkBytes)")
                }
            }
        }
    }

    /// Records crossing chunk boundaries (chunks are 1 MiB; no fixture is that large). Built from
    /// the seed capture's real records, repeated past 3 MiB, with one 200 KiB record (the seed's
    /// first packet padded) placed across the first boundary.
    @Test func recordsAcrossChunkBoundaries() throws {
        let (header, records, large) = try ChunkedReadingTests.seedWithLargeRecord()
        var data = header
        let length = large.count - 16
        while data.count < (1 << 20) - 50_000 { data += records }
        data += large
        while data.count < 3 << 20 { data += records }
        let path = NSTemporaryDirectory() + "wstrace-chunks-\(getpid()).pcap"
        try Data(data).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let viaChunks = read(path, fastPath: true)
        let viaLibpcap = read(path, fastPath: false)
        #expect(viaChunks.records.count > 10_000)
        #expect(viaChunks.records.contains { $0.bytes.count == length })
        #expect(viaChunks.records == viaLibpcap.records)
        #expect(viaChunks.error == nil && viaLibpcap.error == nil)
    }

    /// Hand-made parts for captures no peer writes: the seed capture's file header with a
    /// snapshot length of 262,144, its records, and its first record padded to 200 KiB.
    static func seedWithLargeRecord() throws -> (header: [UInt8], records: [UInt8], large: [UInt8]) {
        let seed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("seed-walkthrough.pcap"))))
        var header = Array(seed[0..<24])
        header[16] = 0; header[17] = 0; header[18] = 4; header[19] = 0  // snapshot length 262,144
        let firstLength = Int(seed[32]) | Int(seed[33]) << 8 | Int(seed[34]) << 16
        var large = Array(seed[24..<(24 + 16 + firstLength)])
        large += [UInt8](repeating: 0x5a, count: 200 << 10)
        let length = large.count - 16
        for i in 0..<4 { large[8 + i] = UInt8(truncatingIfNeeded: length >> (8 * i)); large[12 + i] = large[8 + i] }
        return (header, Array(seed[24...]), large)
    }

    /// Hand-made (the only way to get it): the seed capture with its snapshot length lowered to
    /// 100 bytes, so that the first record longer than that stops the chunked walk mid-file and
    /// libpcap reads the rest (cutting those records to 100 bytes).
    @Test func libpcapTakesOverMidFile() throws {
        var data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("seed-walkthrough.pcap"))))
        data[16] = 100; data[17] = 0; data[18] = 0; data[19] = 0
        let path = NSTemporaryDirectory() + "wstrace-snaplen-\(getpid()).pcap"
        try Data(data).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let viaChunks = read(path, fastPath: true)
        let viaLibpcap = read(path, fastPath: false)
        #expect(viaChunks.records.count == 22)
        #expect(viaChunks.records.contains { $0.header.wireLength > 100 })
        #expect(viaChunks.records == viaLibpcap.records)
        #expect(viaChunks.error == viaLibpcap.error)
    }
}

/// Chunks copied in any order, by any thread (`PcapChunks`), then sequenced, give exactly the
/// records of the one-thread reading (numbers, times, lengths, bytes), hand the reading back
/// at the first record the walk does not take, and leave the same damage report.
@Suite struct PcapChunksTests {
    struct Record: Equatable {
        var number: Int
        var time: Int64
        var wire: Int
        var bytes: [UInt8]
        var file = 0
        /// Where the bytes are in their file: the chunks' must be the one-thread reading's.
        var fileOffset: Int64 = -1
    }

    func collect(_ batch: RecordBatch, into records: inout [Record]) {
        for r in batch.records {
            records.append(Record(number: r.number + batch.numberOffset, time: r.time, wire: r.wireLength,
                                  bytes: Array(batch.bytes(of: r)), file: r.file, fileOffset: r.fileOffset))
        }
    }

    /// The one-thread reading: `fill` until the end.
    func plain(_ path: String, filter: String? = nil) throws -> (records: [Record], damage: [String]) {
        try plain(paths: [path], filter: filter)
    }

    func plain(paths: [String], filter: String? = nil) throws -> (records: [Record], damage: [String]) {
        let reader = try CaptureReader(paths: paths, filter: filter)
        let batch = RecordBatch()
        var records: [Record] = []
        while reader.fill(batch) {
            collect(batch, into: &records)
            batch.reset()
        }
        return (records, reader.damage.map(\.description))
    }

    /// Chunks of `chunkBytes` copied eight at a time, last first, then sequenced in order; what
    /// the chunks hand back read by `fill`. Also counts the chunks walked again.
    func chunked(_ path: String, chunkBytes: Int, filter: String? = nil) throws
        -> (records: [Record], damage: [String], chunks: Int, rewalked: Int, handedBack: Int) {
        try chunked(paths: [path], chunkBytes: chunkBytes, filter: filter)
    }

    func chunked(paths: [String], chunkBytes: Int, filter: String? = nil) throws
        -> (records: [Record], damage: [String], chunks: Int, rewalked: Int, handedBack: Int) {
        let reader = try CaptureReader(paths: paths, filter: filter)
        let chunks = try #require(reader.chunks(bytes: chunkBytes))
        let window = (0..<8).map { _ in RecordBatch(capacity: chunks.batchCapacity) }
        var records: [Record] = []
        var rewalked = 0
        var next = 0
        var more = true
        while more && next < chunks.count {
            let upTo = min(chunks.count, next + window.count)
            for k in (next..<upTo).reversed() { chunks.copy(k, into: window[k - next]) }
            for k in next..<upTo {
                let result = chunks.sequence(k, window[k - next])
                if result.changed { rewalked += 1 }
                collect(window[k - next], into: &records)
                #expect(result.more || result.endedFile || k + 1 <= chunks.count)
                if !result.more { more = false; break }
            }
            next = upTo
        }
        let fromChunks = records.count
        let batch = RecordBatch()
        while reader.fill(batch) {
            collect(batch, into: &records)
            batch.reset()
        }
        return (records, reader.damage.map(\.description), chunks.count, rewalked, records.count - fromChunks)
    }

    @Test(arguments: ["seed-walkthrough.pcap", "linktypes/bigendian-usec.pcap", "linktypes/bigendian-nsec.pcap",
                      "linktypes/nanosecond.pcap", "linktypes/truncated-mid-record.pcap", "websocket/ws-concurrent.pcap",
                      "tcp/tcp-captured-twice.pcap", "linktypes/ipv4-fragments.pcap", "websocket/ws-sizes.pcap",
                      "linktypes/dumpcap.pcapng", "tls/wss-tls13-aes128gcm.pcapng", "external/ndpi/mqtt.pcapng",
                      "external/ndpi/tls_false_positives.pcapng", "external/zeek/websocket__oversized-close-frame.pcapng"])
    func chunksGiveTheRecordsOfOneReading(path: String) throws {
        let want = try plain(fixture(path))
        #expect(!want.records.isEmpty)
        for chunkBytes in [100, 333, 1000, 1514, 4096, 65536, 1 << 20] {
            let got = try chunked(fixture(path), chunkBytes: chunkBytes)
            #expect(got.records == want.records, "\(path) chunks of \(chunkBytes)")
            #expect(got.damage == want.damage, "\(path) chunks of \(chunkBytes)")
            // A sound file is read in chunks to its end; nothing is handed back to `fill`.
            if want.damage.isEmpty { #expect(got.handedBack == 0, "\(path) chunks of \(chunkBytes)") }
        }
    }

    /// A set of files read in chunks, one file after the other, gives what the merge of the set
    /// gives (records, numbers, files, damage) as long as each file's records come before the
    /// next files' first, and gives the reading back to the merge at the first that does not.
    /// Real records (a real capture's, cut into files here): a rotated set; sets whose files
    /// overlap in time (a record past the bound mid-file, hands back there); the files given
    /// in the wrong order (hands back before the first record); a filter; a file cut short.
    @Test func setsReadInChunksAsTheirMerge() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("external/zeek/websocket__wstunnel-ssh.pcap"))))
        #expect(bytes.starts(with: [0xd4, 0xc3, 0xb2, 0xa1]))
        var records: [[UInt8]] = []
        var at = 24
        while at + 16 <= bytes.count {
            let length = Int(bytes[at + 8]) | Int(bytes[at + 9]) << 8 | Int(bytes[at + 10]) << 16 | Int(bytes[at + 11]) << 24
            records.append(Array(bytes[at..<(at + 16 + length)]))
            at += 16 + length
        }
        let n = records.count
        #expect(n > 100)
        let dir = NSTemporaryDirectory() + "wstrace-set-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, _ parts: [[[UInt8]]]) throws -> [String] {
            try parts.enumerated().map { i, part in
                let path = "\(dir)/\(name)-\(i).pcap"
                try Data(Array(bytes[0..<24]) + part.flatMap { $0 }).write(to: URL(fileURLWithPath: path))
                return path
            }
        }
        let rotated = try write("rotated", [Array(records[..<(n / 4)]), Array(records[(n / 4)..<(n / 2)]),
                                            Array(records[(n / 2)..<(n - 7)]), Array(records[(n - 7)...])])
        let overlapping = try write("overlap", [Array(records[..<(2 * n / 3)]), Array(records[(n / 3)...])])
        let third = try write("third", [Array(records[..<(n / 3)]), Array(records[(n / 3)..<(n / 2)]),
                                        Array(records[(n / 4)...])])
        // The first file cut 5 bytes short of its end: damage, told in the set's numbers.
        let cut = try write("cut", [Array(records[..<(n / 2)]), Array(records[(n / 2)...])])
        let cutFile = try [UInt8](Data(contentsOf: URL(fileURLWithPath: cut[0])))
        try Data(cutFile.dropLast(5)).write(to: URL(fileURLWithPath: cut[0]))
        let cases: [(String, [String], handsBack: Bool)] = [
            ("rotated", rotated, false), ("overlapping", overlapping, true), ("third overlaps", third, true),
            ("reversed", rotated.reversed(), true), ("cut", cut, true),
        ]
        for (name, paths, handsBack) in cases {
            let want = try plain(paths: paths)
            #expect(want.records.count >= n - 1, "\(name)")
            #expect(want.damage.isEmpty == (name != "cut"), "\(name)")
            for chunkBytes in [333, 4096, 1 << 20] {
                let got = try chunked(paths: paths, chunkBytes: chunkBytes)
                #expect(got.records == want.records, "\(name), chunks of \(chunkBytes)")
                #expect(got.damage == want.damage, "\(name), chunks of \(chunkBytes)")
                #expect((got.handedBack > 0) == handsBack, "\(name), chunks of \(chunkBytes): \(got.handedBack) handed back")
            }
            let filter = "tcp[tcpflags] & tcp-push != 0"
            let filtered = try plain(paths: paths, filter: filter)
            #expect(filtered.records.count < want.records.count)
            #expect(try chunked(paths: paths, chunkBytes: 700, filter: filter).records == filtered.records, "\(name), filtered")
        }
        // The rotated set's records say their files.
        #expect(Set(try plain(paths: rotated).records.map(\.file)) == [0, 1, 2, 3])
    }

    /// A filter that skips more than a batch's worth of records in a row: `fill` goes on to
    /// the end (it once looped for ever, its buffer full of skipped records).
    @Test func fillPassesOverABatchOfFilteredRecords() throws {
        let path = fixture("websocket/ws-sizes.pcap")
        let all = try plain(path)
        let reader = try CaptureReader(paths: [path], filter: "tcp port 1")
        let batch = RecordBatch(capacity: 64 << 10)
        var fills = 0
        while reader.fill(batch) && fills < 1000 {
            #expect(batch.isEmpty == false)
            batch.reset()
            fills += 1
        }
        #expect(fills == 0)
        #expect(reader.files[0].packetsRead == all.records.count)
        #expect(reader.damage.isEmpty)
    }

    /// A filter skips records in the copies as in one reading: numbered, not handed out.
    @Test func filterAppliesInCopies() throws {
        let want = try plain(fixture("websocket/ws-concurrent.pcap"), filter: "tcp[tcpflags] & tcp-push != 0")
        let all = try plain(fixture("websocket/ws-concurrent.pcap"))
        #expect(want.records.count > 0 && want.records.count < all.records.count)
        for chunkBytes in [700, 4096] {
            let got = try chunked(fixture("websocket/ws-concurrent.pcap"), chunkBytes: chunkBytes,
                                  filter: "tcp[tcpflags] & tcp-push != 0")
            #expect(got.records == want.records)
        }
    }

    /// Real traffic: the guessed first record of a chunk is nearly always the true one (a chunk
    /// walked again costs its walk on the sequencing thread, out of the copying core's cache).
    @Test(arguments: [("tcp/tcp-one-byte-segments.pcap", 1024), ("websocket/ws-concurrent.pcap", 400),
                      ("tls/wss-tls13-large.pcap", 16 << 10), ("external/zeek/websocket__wstunnel-ssh.pcap", 1000),
                      ("external/ndpi/tls_heur__vmess-websocket.pcapng", 1000)])
    func guessesHoldOnRealTraffic(path: String, chunkBytes: Int) throws {
        let got = try chunked(fixture(path), chunkBytes: chunkBytes)
        #expect(got.chunks >= 20)
        #expect(got.rewalked * 20 <= got.chunks, "\(got.rewalked) of \(got.chunks) chunks walked again")
        #expect(got.handedBack == 0)
    }

    /// Hand-made (the only way to get these): the seed capture's records repeated, one of them
    /// padded to 200 KiB so that it spans many small chunks, and the snapshot length lowered
    /// in a second copy so that a record longer than it hands the reading back mid-file.
    @Test func largeRecordsAndHandingBack() throws {
        let (header, records, large) = try ChunkedReadingTests.seedWithLargeRecord()
        var data = header
        let length = large.count - 16
        for _ in 0..<20 { data += records }
        data += large
        for _ in 0..<20 { data += records }
        let path = NSTemporaryDirectory() + "wstrace-pcapchunks-\(getpid()).pcap"
        try Data(data).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let want = try plain(path)
        #expect(want.records.contains { $0.bytes.count == length })
        for chunkBytes in [512, 4096, 100_000] {
            let got = try chunked(path, chunkBytes: chunkBytes)
            #expect(got.records == want.records, "chunks of \(chunkBytes)")
        }
        // Snapshot length 100: the first longer record stops the chunks; libpcap reads on.
        data[16] = 100; data[17] = 0; data[18] = 0; data[19] = 0
        try Data(data).write(to: URL(fileURLWithPath: path))
        let cut = try plain(path)
        #expect(cut.records.contains { $0.wire > 100 })
        for chunkBytes in [512, 4096] {
            let got = try chunked(path, chunkBytes: chunkBytes)
            #expect(got.records == cut.records, "snapshot 100, chunks of \(chunkBytes)")
            #expect(got.damage == cut.damage)
        }
    }

    /// The key logs of a pcapng file's Decryption Secrets Blocks are found through a small
    /// window read as through the whole file in memory: on a real file (editcap's DSB), and on
    /// hand-built sections (no tool here writes a big-endian section, a DSB after packets or one
    /// larger than the window) with a cut last block, which ends the walk.
    @Test func pcapngSecretsReadThroughAWindow() throws {
        let real = fixture("tls/wss-tls13-aes128gcm.pcapng")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: real)))
        let inMemory = bytes.withUnsafeBytes { PcapngSecrets.walk($0, fullScan: true) }
        #expect(inMemory.count == 1 && inMemory[0].contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET"))
        for window in [64, 1000, 1 << 20] {
            #expect(PcapngSecrets.tlsKeyLogs(path: real, window: window) == inMemory, "window \(window)")
        }

        func section(bigEndian: Bool, secrets: [String], packetsFirst: Bool) -> [UInt8] {
            let b = PcapngBytes(bigEndian: bigEndian)
            let u32 = b.u32, u16 = b.u16, block = b.block
            let packet = block(6, u32(0) + u32(0) + u32(0) + u32(60) + u32(60) + [UInt8](repeating: 0xab, count: 60))
            var out = b.sectionHeader
            out += block(1, u16(1) + u16(0) + u32(262_144))
            if packetsFirst { for _ in 0..<50 { out += packet } }
            for text in secrets {
                out += block(0x0A, u32(0x544C_534B) + u32(UInt32(text.utf8.count)) + Array(text.utf8))
                for _ in 0..<20 { out += packet }
            }
            return out
        }
        let big = "CLIENT_RANDOM " + String(repeating: "ab", count: 3000)
        let file = section(bigEndian: false, secrets: ["CLIENT_RANDOM 01 02", big], packetsFirst: false)
            + section(bigEndian: true, secrets: ["SERVER_HANDSHAKE_TRAFFIC_SECRET 03 04"], packetsFirst: true)
            + [0x06, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3]  // a block cut by the end of the file
        let path = NSTemporaryDirectory() + "wstrace-dsb-\(getpid()).pcapng"
        try Data(file).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let all = ["CLIENT_RANDOM 01 02", big, "SERVER_HANDSHAKE_TRAFFIC_SECRET 03 04"]
        for window in [64, 256, 4096, 1 << 20] {
            #expect(PcapngSecrets.tlsKeyLogs(path: path, window: window) == all, "window \(window)")
            // Past the full-scan limit, only what comes before the first packet block.
            #expect(PcapngSecrets.tlsKeyLogs(path: path, fullScanLimit: 100, window: window) == ["CLIENT_RANDOM 01 02"])
        }
        // A classic pcap file has none.
        #expect(PcapngSecrets.tlsKeyLogs(path: fixture("seed-walkthrough.pcap"), window: 64).isEmpty)
    }

}

/// `CaptureFileBytes`: what the analysis reads back of the files it read.
@Suite struct CaptureFileBytesTests {
    /// The bytes read back for a retransmission's comparison come from the file the reader
    /// opened: a path that now names another file (a ring of rotated files writes its oldest
    /// name anew) gives nothing back, and the comparison counts them unknown. A file opened
    /// before it was replaced is still read (its descriptor holds the old file).
    @Test func bytesReadBackOnlyFromTheFileRead() throws {
        let dir = NSTemporaryDirectory() + "wstrace-identity-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("seed-walkthrough.pcap"))))
        let other = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("linktypes/nanosecond.pcap"))))
        #expect(original.count > 1000 && other.count > 1000 && original[100..<164] != other[100..<164])
        let path = dir + "/capture.pcap"
        func replace() throws {
            // Written beside it and renamed over it: a new file under the old name.
            try Data(other).write(to: URL(fileURLWithPath: path + ".new"))
            #expect(rename(path + ".new", path) == 0)
        }
        func read(_ bytes: CaptureFileBytes) -> [UInt8]? {
            var got = [UInt8](repeating: 0, count: 64)
            let ok = got.withUnsafeMutableBytes { bytes.read(file: 0, offset: 100, count: 64, into: $0.baseAddress!) }
            return ok ? got : nil
        }

        try Data(original).write(to: URL(fileURLWithPath: path))
        var reader = try CaptureReader(paths: [path], filter: nil)
        #expect(reader.files[0].identity != nil)
        #expect(read(reader.fileBytes()) == Array(original[100..<164]))
        // Replaced before its bytes were first read back: nothing, not the new file's bytes.
        var bytes = reader.fileBytes()
        try replace()
        #expect(read(bytes) == nil)
        #expect(read(bytes) == nil)
        // With no identities to check, the path is trusted (what the check prevents).
        #expect(read(CaptureFileBytes(paths: [path])) == Array(other[100..<164]))

        // Opened (read once) before the replacement: the old file's bytes still.
        try Data(original).write(to: URL(fileURLWithPath: path))
        reader = try CaptureReader(paths: [path], filter: nil)
        bytes = reader.fileBytes()
        #expect(read(bytes) == Array(original[100..<164]))
        try replace()
        #expect(read(bytes) == Array(original[100..<164]))
    }
}

/// The Decryption Secrets Blocks watched as a stream goes by, in pieces of any size, are those
/// the walk over the whole file finds; anything that is not pcapng gives none.
@Test func secretsAreFoundInAStreamCutAnywhere() throws {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("tls/wss-tls13-aes128gcm.pcapng"))))
    let expected = bytes.withUnsafeBytes { PcapngSecrets.walk($0, fullScan: true) }
    #expect(expected.count == 1 && expected[0].contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET"))
    for piece in [1, 3, 7, 12, 13, 100, 4096, bytes.count] {
        var sniffer = SecretsSniffer()
        var found: [String] = []
        bytes.withUnsafeBytes { raw in
            var at = 0
            while at < raw.count {
                let n = min(piece, raw.count - at)
                sniffer.feed(UnsafeRawBufferPointer(rebasing: raw[at..<(at + n)])) { found.append($0) }
                at += n
            }
        }
        #expect(found == expected, "pieces of \(piece)")
    }
    let pcap = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixture("seed-walkthrough.pcap"))))
    var sniffer = SecretsSniffer()
    var found: [String] = []
    pcap.withUnsafeBytes { sniffer.feed($0) { found.append($0) } }
    #expect(found.isEmpty)
}

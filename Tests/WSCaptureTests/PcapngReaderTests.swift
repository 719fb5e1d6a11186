import Foundation
import Testing
import WSDecode
@testable import WSCapture

/// pcapng files that libpcap cannot read whole: interfaces of different link types (dumpcap's
/// capture of `lo` and `any` at once), further sections, simple and obsolete packet blocks,
/// time stamps in binary resolutions and with offsets (`PcapngReader`).
@Suite struct PcapngReaderTests {
    struct Read: Equatable {
        var number: Int
        var time: Int64
        var wire: Int
        var link: LinkType
        var bytes: [UInt8]
    }

    /// Every record of `path` by `forEach`, or by `fill` in batches of `capacity` bytes, and
    /// the error that ended the reading.
    func read(_ path: String, fill capacity: Int? = nil, filter: String? = nil) -> (records: [Read], error: String?) {
        var out: [Read] = []
        do {
            let file = try CaptureFile(path: path)
            if let filter { try file.setFilter(filter) }
            if let capacity {
                let batch = RecordBatch(capacity: capacity)
                while try file.fill(batch) {
                    for r in batch.records {
                        out.append(Read(number: r.number, time: r.time, wire: r.wireLength, link: r.link, bytes: Array(batch.bytes(of: r))))
                    }
                    batch.reset()
                }
            } else {
                try file.forEach { h, bytes in
                    out.append(Read(number: h.number, time: h.timestampNanoseconds, wire: h.wireLength, link: h.link, bytes: Array(bytes)))
                    return true
                }
            }
        } catch {
            return (out, error.description)
        }
        return (out, nil)
    }

    static let twoInterfaces = fixture("linktypes/dumpcap-two-interfaces.pcapng")

    /// dumpcap on `lo` (EN10MB, the session on port 18008) and `any` (LINUX_SLL, port 18009) at
    /// once: every packet decodes with its own interface's link type to its own session's port
    /// (tshark: 22 packets on each interface). libpcap alone stops at the second interface.
    @Test func interfacesOfDifferentLinkTypesInOneFile() throws {
        let whole = read(Self.twoInterfaces)
        #expect(whole.error == nil)
        #expect(whole.records.map(\.number) == Array(1...44))
        var ports: [Int: [UInt16]] = [:]
        for r in whole.records {
            let decoder = PacketDecoder(linkType: r.link)
            let d = r.bytes.withUnsafeBytes { decoder.decode($0, wireLength: r.wire) }
            let tcp = try #require(d.tcp, "#\(r.number)")
            let server = [tcp.sourcePort, tcp.destinationPort].first { $0 == 18008 || $0 == 18009 }
            #expect(server == (r.link == .ethernet ? 18008 : 18009), "#\(r.number) \(r.link)")
            ports[r.link == .ethernet ? 0 : 1, default: []].append(server ?? 0)
        }
        #expect(ports[0]?.count == 22 && ports[1]?.count == 22)
        #expect(Set(whole.records.map { "\($0.link)" }) == ["ethernet", "linuxSLL"])
        // dumpcap writes each interface's packets as it gets them: times go back where the
        // interfaces alternate (as tshark shows), never within one.
        for link in [LinkType.ethernet, .linuxSLL] {
            let times = whole.records.filter { $0.link == link }.map(\.time)
            #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 })
        }
        // Batches of every size, a gzip copy (a stream) and standard input give the same records.
        for capacity in [64, 300, 4096, 1 << 20] {
            #expect(read(Self.twoInterfaces, fill: capacity).records == whole.records, "batches of \(capacity)")
        }
        let gz = FileManager.default.temporaryDirectory.appendingPathComponent("two-\(UUID().uuidString).pcapng.gz")
        defer { try? FileManager.default.removeItem(at: gz) }
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/sh")
        gzip.arguments = ["-c", "gzip -c '\(Self.twoInterfaces)' > '\(gz.path)'"]
        try gzip.run()
        gzip.waitUntilExit()
        #expect(gzip.terminationStatus == 0)
        let streamed = read(gz.path)
        #expect(streamed.error == nil)
        #expect(streamed.records == whole.records)
        let file = try CaptureFile(path: Self.twoInterfaces)
        #expect(file.linkTypeName == "EN10MB, LINUX_SLL")
    }

    /// A filter is compiled for each interface's link type: a port picks one session whichever
    /// interface carried it, and the numbers stay the file's.
    @Test func aFilterAppliesToEachInterfaceInItsOwnLinkType() {
        let whole = read(Self.twoInterfaces).records
        for (port, link) in [(18008, LinkType.ethernet), (18009, .linuxSLL)] {
            for capacity in [nil, 4096] {
                let filtered = read(Self.twoInterfaces, fill: capacity, filter: "tcp port \(port)")
                #expect(filtered.error == nil)
                #expect(filtered.records == whole.filter { $0.link == link }, "port \(port)")
            }
        }
    }

    /// The fixture cut at every length: what comes before the cut is read as in the whole file;
    /// a cut inside a block is told (where the reader holds state libpcap does not: it read
    /// the second interface), a cut at a block's end is a shorter file.
    @Test func aCutFileGivesWhatComesBeforeTheCut() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.twoInterfaces)))
        let whole = read(Self.twoInterfaces).records
        var ends: Set<Int> = []
        var offset = 0
        bytes.withUnsafeBytes { file in
            PcapngBlocks.forEach(file) { block in
                offset += block.bytes.count
                ends.insert(offset)
                return true
            }
        }
        #expect(offset == bytes.count)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cut-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // (Past the second interface's description: libpcap opens every cut from there on.)
        for cut in stride(from: 400, to: bytes.count, by: 7) {
            let path = dir.appendingPathComponent("\(cut).pcapng").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes[..<cut])))
            let got = read(path)
            #expect(got.records == Array(whole.prefix(got.records.count)), "cut at \(cut)")
            if ends.contains(cut) {
                #expect(got.error == nil, "cut at \(cut)")
            } else {
                #expect(got.error?.contains("ends inside a block") == true, "cut at \(cut): \(got.error ?? "no error")")
            }
            #expect(read(path, fill: 4096).records == got.records)
        }
    }

    /// Hand-built (no tool here writes these): a little-endian section with an Ethernet
    /// interface (nanoseconds) and a raw IP one (2^-20 s, offset 100 s), an unknown block, a
    /// simple and an obsolete packet block; then a big-endian section with one LINUX_SLL2
    /// interface (microseconds), whose packet is its interface 0.
    @Test func sectionsInterfacesAndEveryPacketBlock() throws {
        let le = PcapngBytes(bigEndian: false), be = PcapngBytes(bigEndian: true)
        func interface(_ b: PcapngBytes, link: UInt16, snap: UInt32 = 262_144, options: [UInt8] = []) -> [UInt8] {
            b.block(1, b.u16(link) + b.u16(0) + b.u32(snap) + options + (options.isEmpty ? [] : b.u16(0) + b.u16(0)))
        }
        func enhanced(_ b: PcapngBytes, _ index: UInt32, _ stamp: UInt64, _ data: [UInt8]) -> [UInt8] {
            b.block(6, b.u32(index) + b.u32(UInt32(stamp >> 32)) + b.u32(UInt32(stamp & 0xffff_ffff))
                    + b.u32(UInt32(data.count)) + b.u32(UInt32(data.count + 10)) + data)
        }
        let ether = [UInt8](repeating: 0xee, count: 14) + [1, 2, 3]
        let raw: [UInt8] = [0x45, 0, 0, 20]
        let cooked = [UInt8](repeating: 0x5c, count: 21)
        var file = le.sectionHeader
        file += interface(le, link: 1, options: le.u16(9) + le.u16(1) + [9, 0, 0, 0])
        file += interface(le, link: 101, options: le.u16(9) + le.u16(1) + [0x80 | 20, 0, 0, 0]
                          + le.u16(14) + le.u16(8) + le.u32(100) + le.u32(0))
        file += enhanced(le, 0, 1_700_000_000_123_456_789, ether)
        file += enhanced(le, 1, (1_700_000_000 << 20) | (1 << 19), raw)
        file += le.block(0x0000_0999, [1, 2, 3, 4, 5])
        file += le.block(3, le.u32(UInt32(ether.count)) + ether)
        file += le.block(2, le.u16(1) + le.u16(0) + le.u32(UInt32((1_700_000_001 << 20) >> 32))
                         + le.u32(UInt32(((1_700_000_001 << 20) as UInt64) & 0xffff_ffff)) + le.u32(4) + le.u32(4) + raw)
        file += be.sectionHeader
        file += interface(be, link: 276)
        file += enhanced(be, 0, 1_700_000_002_000_001, cooked)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("blocks-\(UUID().uuidString).pcapng").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let want = [
            Read(number: 1, time: 1_700_000_000_123_456_789, wire: ether.count + 10, link: .ethernet, bytes: ether),
            Read(number: 2, time: 1_700_000_100_500_000_000, wire: raw.count + 10, link: .raw, bytes: raw),
            Read(number: 3, time: 0, wire: ether.count, link: .ethernet, bytes: ether),
            Read(number: 4, time: 1_700_000_101_000_000_000, wire: 4, link: .raw, bytes: raw),
            Read(number: 5, time: 1_700_000_002_000_001_000, wire: cooked.count + 10, link: .linuxSLL2, bytes: cooked),
        ]
        let got = read(path)
        #expect(got.error == nil)
        #expect(got.records == want)
        #expect(read(path, fill: 4096).records == want)
        // LINKTYPE_RAW (101) is libpcap's DLT_RAW (12): named as libpcap names it. (The
        // second section's interface comes after packets: the names are those described first.)
        #expect(try CaptureFile(path: path).linkTypeName == "EN10MB, RAW")
        // An enhanced packet block of an interface the section does not describe ends the
        // reading there, told.
        var bad = file
        bad += enhanced(be, 1, 1, cooked)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bad)))
        let damaged = read(path)
        #expect(damaged.records == want)
        #expect(damaged.error?.contains("a packet of interface 1, which is not described at byte \(file.count)") == true,
                "\(damaged.error ?? "no error")")
        // A packet longer than the largest snapshot length, once the reader keeps the state...
        let long = [UInt8](repeating: 0xee, count: 262_145)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file + enhanced(be, 0, 1, long))))
        let tooLong = read(path)
        #expect(tooLong.records == want)
        #expect(tooLong.error?.contains("a packet of 262145 bytes is longer than the snapshot length 262144") == true,
                "\(tooLong.error ?? "no error")")
        // ...and one longer than the interface's before it (libpcap's state): libpcap tells it.
        let short = le.sectionHeader + interface(le, link: 1, snap: 16) + enhanced(le, 0, 1, ether)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(short)))
        let cut = read(path)
        #expect(cut.records.isEmpty)
        #expect(cut.error?.contains("bigger than snaplen of 16") == true, "\(cut.error ?? "no error")")
    }

    /// The fixture with bytes changed past its opening blocks (hand-made damage, 400 changes
    /// from a fixed seed): no trap, and `forEach` and `fill` read the same records and stop at
    /// the same damage.
    @Test func changedBytesNeverTrap() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.twoInterfaces)))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("changed-\(UUID().uuidString).pcapng").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var seed: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 33)
        }
        var damaged = 0
        for _ in 0..<400 {
            var changed = bytes
            for _ in 0..<(1 + next() % 3) {
                changed[380 + next() % (bytes.count - 380)] = UInt8(truncatingIfNeeded: next())
            }
            #expect(FileManager.default.createFile(atPath: path, contents: Data(changed)))
            let a = read(path), b = read(path, fill: 4096)
            #expect(a.records == b.records)
            #expect(a.error == b.error)
            if a.error != nil { damaged += 1 }
        }
        #expect(damaged > 10)
    }

    /// Hand-built: an empty section first, then one with an Ethernet and a raw IP interface.
    /// libpcap opens it past both section headers (it passes over the empty one); the reader
    /// takes its state from there, so the raw interface's packet is read, not refused as an
    /// interface of another link type.
    @Test func anEmptySectionBeforeTheInterfaces() throws {
        let le = PcapngBytes(bigEndian: false)
        let ether = [UInt8](repeating: 0xee, count: 14) + [1, 2, 3], raw: [UInt8] = [0x45, 0, 0, 20]
        func enhanced(_ index: UInt32, _ data: [UInt8]) -> [UInt8] {
            le.block(6, le.u32(index) + le.u32(0x0006_0a24) + le.u32(0x1234_5678) + le.u32(UInt32(data.count))
                     + le.u32(UInt32(data.count)) + data)
        }
        let bytes = le.sectionHeader + le.sectionHeader + le.block(1, le.u16(1) + le.u16(0) + le.u32(262_144))
            + enhanced(0, ether) + le.block(1, le.u16(101) + le.u16(0) + le.u32(262_144)) + enhanced(1, raw)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sections-\(UUID().uuidString).pcapng").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        for capacity in [nil, 4096] {
            let got = read(path, fill: capacity)
            #expect(got.error == nil, "\(got.error ?? "")")
            #expect(got.records.map(\.link) == [.ethernet, .raw])
            #expect(got.records.map(\.bytes) == [ether, raw])
        }
    }

    /// Hand-built (no tool here writes one): pcapng sections that describe no interface, so
    /// hold no packet. libpcap refuses such a file ("no Interface Description Blocks"); tshark
    /// reads it as empty, and so does wstrace, alone or in a set (where it ended the run).
    /// Cut short, or with a block whose lengths differ, it is still refused.
    @Test func sectionsWithoutInterfacesAreEmpty() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let le = PcapngBytes(bigEndian: false), be = PcapngBytes(bigEndian: true)
        let names = le.block(4, le.u16(0) + le.u16(0))
        let empties = [le.sectionHeader, be.sectionHeader + be.block(0xBAD, [1, 2, 3]), le.sectionHeader + names + be.sectionHeader]
        for (i, bytes) in empties.enumerated() {
            let path = dir.appendingPathComponent("empty-\(i).pcapng").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            let file = try CaptureFile(path: path)
            #expect(file.linkTypes.isEmpty && file.linkTypeName.isEmpty)
            let got = read(path), filled = read(path, fill: 4096)
            #expect(got.records.isEmpty && got.error == nil && filled.records.isEmpty && filled.error == nil, "\(i)")
            let reader = try CaptureReader(paths: [path, fixture("seed-walkthrough.pcap")], filter: nil)
            var numbers: [Int] = []
            reader.forEach { h, file, _ in
                #expect(file == 1)
                numbers.append(h.number)
                return true
            }
            #expect(numbers == Array(1...22))
            #expect(reader.damage.isEmpty)
        }
        var odd = le.sectionHeader + names
        odd[odd.count - 1] = 0x7f  // the name block's trailing length differs from its length
        for bytes in [Array(le.sectionHeader.prefix(20)), odd, le.sectionHeader + [0, 0, 0, 0], names + le.sectionHeader] {
            let path = dir.appendingPathComponent("odd.pcapng").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            #expect(throws: CaptureError.self) { _ = try CaptureFile(path: path) }
        }
    }

    /// Hand-built: a file of one interface whose time stamps are not micro- or nanoseconds, or
    /// carry an offset: the chunked walk leaves it (it scales by 10^3 or 1 only), and every
    /// packet has its time in the interface's own resolution.
    @Test func oneInterfaceInAnyResolution() throws {
        let le = PcapngBytes(bigEndian: false)
        let ether = [UInt8](repeating: 0xee, count: 14) + [1, 2, 3]
        let cases: [(options: [UInt8], stamp: UInt64, time: Int64)] = [
            (le.u16(9) + le.u16(1) + [3, 0, 0, 0], 1_700_000_000_123, 1_700_000_000_123_000_000),
            (le.u16(9) + le.u16(1) + [0x80 | 20, 0, 0, 0], (1_700_000_000 << 20) | (1 << 18), 1_700_000_000_250_000_000),
            (le.u16(9) + le.u16(1) + [9, 0, 0, 0] + le.u16(14) + le.u16(8) + le.u32(5) + le.u32(0),
             1_700_000_000_000_000_007, 1_700_000_005_000_000_007),
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("resolution-\(UUID().uuidString).pcapng").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        for c in cases {
            var file = le.sectionHeader + le.block(1, le.u16(1) + le.u16(0) + le.u32(262_144) + c.options + le.u16(0) + le.u16(0))
            for _ in 0..<2 {
                file += le.block(6, le.u32(0) + le.u32(UInt32(c.stamp >> 32)) + le.u32(UInt32(c.stamp & 0xffff_ffff))
                                 + le.u32(UInt32(ether.count)) + le.u32(UInt32(ether.count)) + ether)
            }
            #expect(FileManager.default.createFile(atPath: path, contents: Data(file)))
            for capacity in [nil, 4096] {
                let got = read(path, fill: capacity)
                #expect(got.error == nil)
                #expect(got.records.map(\.time) == [c.time, c.time], "\(c.options)")
            }
        }
    }

    @Test func timeStampsInEveryResolution() {
        func interface(_ units: UInt64, _ offset: Int64 = 0) -> PcapngReader.Interface {
            PcapngReader.Interface(dlt: 1, link: .ethernet, snapshotLength: 0, unitsPerSecond: units, offsetSeconds: offset)
        }
        #expect(PcapngReader.time(1_700_000_000_000_001, interface(1_000_000)) == 1_700_000_000_000_001_000)
        #expect(PcapngReader.time(1_700_000_000_999_999_999, interface(1_000_000_000)) == 1_700_000_000_999_999_999)
        #expect(PcapngReader.time(1_700_000_000_5, interface(10)) == 1_700_000_000_500_000_000)
        // 2^-30 s: the fraction scaled down to whole nanoseconds, as libpcap does.
        #expect(PcapngReader.time((1_700_000_000 << 30) | 1, interface(1 << 30)) == 1_700_000_000_000_000_000)
        #expect(PcapngReader.time((1_700_000_000 << 30) | (1 << 29) | 3, interface(1 << 30)) == 1_700_000_000_500_000_002)
        // if_tsoffset moves the seconds either way.
        #expect(PcapngReader.time(5_000_000, interface(1_000_000, -3)) == 2_000_000_000)
        #expect(PcapngReader.time(0, interface(1_000_000, 1_700_000_000)) == 1_700_000_000_000_000_000)
    }
}

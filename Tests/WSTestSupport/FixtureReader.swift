import Foundation

/// Test support shared by the test targets.
/// Reads a classic pcap file (either byte order, µs or ns) into records, for tests only:
/// the product reads captures through libpcap; the decode tests need real packet bytes without it.
public struct FixtureRecord {
    public var bytes: [UInt8]
    public var wireLength: Int
    public var time: Int64
}

public struct FixtureFile {
    public var linkType: Int32
    public var records: [FixtureRecord]

    public static func fixturesDirectory() -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    public init(_ relativePath: String) throws {
        let data = try Data(contentsOf: FixtureFile.fixturesDirectory().appendingPathComponent(relativePath))
        let bytes = [UInt8](data)
        func u32(_ o: Int, _ big: Bool) -> UInt32 {
            let v = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
            return big ? v.byteSwapped : v
        }
        let magicLE = u32(0, false)
        let nano = magicLE == 0xa1b23c4d || magicLE == 0x4d3cb2a1
        let big: Bool
        switch magicLE {
        case 0xa1b2c3d4, 0xa1b23c4d: big = false
        case 0xd4c3b2a1, 0x4d3cb2a1: big = true
        default: throw CocoaError(.fileReadCorruptFile)
        }
        linkType = Int32(bitPattern: u32(20, big) & 0x0fff_ffff)
        records = []
        var o = 24
        while o + 16 <= bytes.count {
            let caplen = Int(u32(o + 8, big)), len = Int(u32(o + 12, big))
            guard o + 16 + caplen <= bytes.count else { break }
            let time = Int64(u32(o, big)) * 1_000_000_000 + Int64(u32(o + 4, big)) * (nano ? 1 : 1000)
            records.append(FixtureRecord(bytes: Array(bytes[(o + 16)..<(o + 16 + caplen)]), wireLength: len, time: time))
            o += 16 + caplen
        }
    }
}

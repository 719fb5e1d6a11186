#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Writes a classic little-endian microsecond pcap file (Ethernet) with a large stdio buffer.
final class PcapWriter {
    private let file: UnsafeMutablePointer<FILE>
    private(set) var bytesWritten = 0
    private(set) var packets = 0

    init?(path: String) {
        guard let f = fopen(path, "wb") else { return nil }
        file = f
        setvbuf(f, nil, _IOFBF, 4 << 20)
        var header: [UInt8] = []
        header.appendLE32(0xa1b2_c3d4)
        header.appendLE16(2)
        header.appendLE16(4)
        header.appendLE32(0)
        header.appendLE32(0)
        header.appendLE32(262_144)
        header.appendLE32(1)
        write(header)
    }

    func record(time: Int64, _ bytes: [UInt8]) {
        var h: [UInt8] = []
        h.reserveCapacity(16)
        h.appendLE32(UInt32(time / 1_000_000_000))
        h.appendLE32(UInt32((time % 1_000_000_000) / 1000))
        h.appendLE32(UInt32(bytes.count))
        h.appendLE32(UInt32(bytes.count))
        write(h)
        write(bytes)
        packets += 1
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
        bytesWritten += bytes.count
    }

    func close() { fclose(file) }
}

extension Array where Element == UInt8 {
    mutating func appendLE16(_ v: UInt16) { append(UInt8(v & 0xff)); append(UInt8(v >> 8)) }
    mutating func appendLE32(_ v: UInt32) { for i in 0..<4 { append(UInt8((v >> (8 * UInt32(i))) & 0xff)) } }
    mutating func appendBE16(_ v: UInt16) { append(UInt8(v >> 8)); append(UInt8(v & 0xff)) }
    mutating func appendBE32(_ v: UInt32) { for i in (0..<4).reversed() { append(UInt8((v >> (8 * UInt32(i))) & 0xff)) } }
    mutating func appendBE64(_ v: UInt64) { for i in (0..<8).reversed() { append(UInt8((v >> (8 * UInt64(i))) & 0xff)) } }
}

/// A small deterministic generator (xorshift64*), so every run writes the same capture.
struct Rng {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    mutating func range(_ lo: Int, _ hi: Int) -> Int { lo + below(hi - lo + 1) }
}

/// A decoded TCP header.
public struct TCPHeader: Sendable, Equatable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequence: UInt32
    public var acknowledgment: UInt32
    public var flags: TCPFlags
    /// The window field as sent (unscaled).
    public var window: UInt16
    public var urgentPointer: UInt16
    /// The checksum field as sent (covers the payload: equal copies have equal checksums).
    public var checksum: UInt16 = 0
    public var headerLength: Int
    public var options: TCPOptions

    /// Parses a TCP header at the start of `bytes`; `options: false` leaves the options area
    /// unread (`options` stays empty) for callers that never show them.
    public static func parse(_ bytes: UnsafeRawBufferPointer, options parseOptions: Bool = true) -> Result<TCPHeader, DecodeIssue> {
        var issue: DecodeIssue?
        if let header = read(bytes, options: parseOptions, issue: &issue) { return .success(header) }
        return .failure(issue!)
    }

    /// `parse` for the decoder: the header, or nil with `issue` set.
    @inline(__always)
    static func read(_ bytes: UnsafeRawBufferPointer, options parseOptions: Bool, issue: inout DecodeIssue?) -> TCPHeader? {
        guard bytes.count >= 20 else {
            issue = .truncated(layer: .tcp, needed: 20, available: bytes.count)
            return nil
        }
        let offsetAndFlags = bytes.u16(12)
        let headerLength = Int(offsetAndFlags >> 12) * 4
        guard headerLength >= 20 else {
            issue = .malformed(layer: .tcp, reason: .dataOffset(headerLength))
            return nil
        }
        guard bytes.count >= headerLength else {
            issue = .truncated(layer: .tcp, needed: headerLength, available: bytes.count)
            return nil
        }
        return TCPHeader(
            sourcePort: bytes.u16(0), destinationPort: bytes.u16(2),
            sequence: bytes.u32(4), acknowledgment: bytes.u32(8),
            flags: TCPFlags(rawValue: offsetAndFlags & 0x1ff),
            window: bytes.u16(14), urgentPointer: bytes.u16(18), checksum: bytes.u16(16),
            headerLength: headerLength,
            options: parseOptions ? TCPOptions(parsing: bytes.slice(20, headerLength - 20)) : TCPOptions())
    }
}

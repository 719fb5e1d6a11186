/// The protocol layers of a packet, for diagnostics.
public enum Layer: String, Sendable, Equatable {
    case link = "link"
    case ethernet = "Ethernet"
    case vlan = "802.1Q"
    case sll = "Linux cooked (SLL)"
    case sll2 = "Linux cooked v2 (SLL2)"
    case null = "BSD loopback"
    case ipv4 = "IPv4"
    case ipv6 = "IPv6"
    case ipv6Extension = "IPv6 extension header"
    case tcp = "TCP"
    case udp = "UDP"
    case icmp = "ICMP"
}

/// Why a packet could not be decoded to the end.
public enum DecodeIssue: Error, Sendable, Equatable, CustomStringConvertible {
    /// The captured bytes end inside the header of `layer`.
    case truncated(layer: Layer, needed: Int, available: Int)
    /// The header of `layer` holds an impossible value.
    case malformed(layer: Layer, reason: MalformedReason)

    public var description: String {
        switch self {
        case let .truncated(layer, needed, available):
            return "truncated \(layer.rawValue) header: \(available) of \(needed) bytes captured"
        case let .malformed(layer, reason):
            return "malformed \(layer.rawValue) header: \(reason)"
        }
    }
}

/// Which impossible value a header holds, and the value: plain numbers, so that a decoded
/// packet (every packet has one, and most have no issue) is copied and dropped with no
/// reference counting.
public enum MalformedReason: Sendable, Equatable, CustomStringConvertible {
    /// A BSD loopback header's address family.
    case addressFamily(UInt32)
    /// The version nibble of a raw IP packet (neither 4 nor 6).
    case ipVersion(UInt8)
    /// The version nibble of an IPv4 or IPv6 header.
    case version(UInt8)
    /// An IPv4 header length below 20 bytes.
    case headerLength(Int)
    /// An IPv4 total length below its header length.
    case totalLength(Int, headerLength: Int)
    /// A TCP data offset below 20 bytes.
    case dataOffset(Int)

    public var description: String {
        switch self {
        case let .addressFamily(family): return "unknown address family \(family)"
        case let .ipVersion(v): return "IP version \(v)"
        case let .version(v): return "version \(v)"
        case let .headerLength(length): return "header length \(length) is below 20"
        case let .totalLength(total, header): return "total length \(total) below header length \(header)"
        case let .dataOffset(length): return "data offset \(length) bytes is below 20"
        }
    }
}

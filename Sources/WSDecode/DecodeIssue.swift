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
    case malformed(layer: Layer, reason: String)

    public var description: String {
        switch self {
        case let .truncated(layer, needed, available):
            return "truncated \(layer.rawValue) header: \(available) of \(needed) bytes captured"
        case let .malformed(layer, reason):
            return "malformed \(layer.rawValue) header: \(reason)"
        }
    }
}

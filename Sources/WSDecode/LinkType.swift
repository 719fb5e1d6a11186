/// The link layers wstrace decodes, named by their libpcap DLT values.
public enum LinkType: Sendable, Equatable {
    case ethernet
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    case null
    /// OpenBSD loopback: 4-byte address family in network byte order.
    case loop
    /// Raw IP, version taken from the first nibble.
    case raw
    case ipv4
    case ipv6
    /// Linux cooked capture v1 (16-byte header).
    case linuxSLL
    /// Linux cooked capture v2 (20-byte header).
    case linuxSLL2
    /// A link layer not decoded (a pcapng interface of another kind beside supported ones):
    /// its packets are counted, not decoded.
    case unsupported

    /// Maps a DLT value as libpcap reports it (`pcap_datalink`); nil when unsupported.
    public init?(dlt: Int32) {
        switch dlt {
        case 1: self = .ethernet
        case 0: self = .null
        case 108: self = .loop
        case 12, 14, 101: self = .raw
        case 228: self = .ipv4
        case 229: self = .ipv6
        case 113: self = .linuxSLL
        case 276: self = .linuxSLL2
        default: return nil
        }
    }

    /// The DLT value that names it to libpcap (to compile a filter for it); nil for `unsupported`.
    public var dlt: Int32? {
        switch self {
        case .ethernet: return 1
        case .null: return 0
        case .loop: return 108
        case .raw: return 12
        case .ipv4: return 228
        case .ipv6: return 229
        case .linuxSLL: return 113
        case .linuxSLL2: return 276
        case .unsupported: return nil
        }
    }

    /// A capture interface's link type by its DLT value: `unsupported` when not decoded.
    public static func of(dlt: Int32) -> LinkType { LinkType(dlt: dlt) ?? .unsupported }
}

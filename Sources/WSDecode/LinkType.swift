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
}

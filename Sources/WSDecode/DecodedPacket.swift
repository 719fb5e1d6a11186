/// The transport layer of a decoded packet.
public enum Transport: Sendable, Equatable {
    /// No transport header was reached (non-IP, truncated, or a held IP fragment).
    case none
    case tcp(TCPHeader)
    case udp(sourcePort: UInt16, destinationPort: UInt16, length: UInt16)
    case icmp(type: UInt8, code: UInt8, v6: Bool)
    /// An IP protocol wstrace does not decode (by its protocol number).
    case other(protocolNumber: UInt8)
}

/// What happened to an IPv4 fragment.
public enum FragmentNote: Sendable, Equatable {
    /// Held until the datagram is complete.
    case held(id: UInt16, offset: Int, length: Int)
    /// This packet completed a datagram of `fragments` fragments, decoded here.
    case reassembled(id: UInt16, fragments: Int)
    /// An IPv6 fragment (not reassembled).
    case ipv6Fragment(id: UInt32, offset: Int)
}

/// One packet decoded from link layer to transport layer.
///
/// `payload` borrows either the packet's bytes or the decoder's reassembly buffer: it is valid
/// until the decoder's next call.
public struct DecodedPacket {
    /// EtherType (or SLL protocol) of the network layer when the link layer names one.
    public var etherType: UInt16?
    /// 802.1Q / 802.1ad VLAN IDs, outermost first (up to two).
    public var vlanIDs: (UInt16?, UInt16?) = (nil, nil)
    /// 4 or 6; 0 when no IP header was decoded.
    public var ipVersion: UInt8 = 0
    public var source: IPAddress?
    public var destination: IPAddress?
    /// The protocol carried by IP (after IPv6 extension headers).
    public var ipProtocol: UInt8?
    /// IPv4 identification field (nil for IPv6): with the TCP fields it tells a packet
    /// captured twice from a retransmission.
    public var ipID: UInt16?
    public var transport: Transport = .none
    /// The transport payload as captured.
    public var payload: UnsafeRawBufferPointer
    /// The payload length the headers declare (larger than `payload.count` when cut).
    public var payloadLength: Int = 0
    /// The capture cut this packet (caplen < wire length) before its payload ended.
    public var truncated = false
    /// Why decoding stopped early, if it did.
    public var issue: DecodeIssue?
    public var fragment: FragmentNote?

    @inlinable
    public init(payload: UnsafeRawBufferPointer) {
        self.payload = payload
    }

    /// The TCP header, when the packet is TCP.
    public var tcp: TCPHeader? {
        if case let .tcp(header) = transport { return header }
        return nil
    }
}

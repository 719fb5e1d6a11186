/// What reassembly concluded about one TCP segment.
public struct SegmentReport: Sendable {
    /// Wireshark-style stream index, from 0 in order of first appearance.
    public var stream: Int
    public var direction: Direction
    /// The connection's index among those open now: below the table's connection cap, reused
    /// once the connection is released. Callers keep per-connection state in an array by it.
    public var slot = 0
    /// This segment opened a new stream.
    public var isNewStream = false
    /// The connection's start (its SYN) was not captured.
    public var midstream = false
    /// Sequence and acknowledgment numbers relative to each side's initial sequence number.
    public var relativeSeq: UInt32 = 0
    public var relativeAck: UInt32 = 0
    /// Payload bytes as the headers declare.
    public var payloadLength = 0
    public var handshake: HandshakeStep?
    /// On handshake step 3: the time from the first SYN to this ACK, in ns.
    public var initialRTT: Int64?
    /// A SYN or SYN-ACK sent again.
    public var handshakeRetransmission = false
    public var teardown: TeardownSteps = []
    /// Both sides sent FIN before seeing the other's.
    public var simultaneousClose = false
    /// This segment reset the connection; `stateAtReset` says what it was doing.
    public var reset = false
    public var stateAtReset: ConnectionState?
    public var analysis: TCPAnalysis = []
    /// For duplicate ACKs: how many so far for the same ACK number.
    public var duplicateAckCount = 0
    /// With `.late`: how many of the segment's bytes fell in holes already declared lost.
    public var lateBytes = 0
    /// With `.duplicate`: the packet this one is a copy of.
    public var duplicateOf = 0
    /// The stream offset in the other direction that this ACK acknowledges, when it moved forward.
    public var ackedOffset: UInt64?
    /// The connection ended with this segment (last teardown ACK or RST).
    public var connectionEnded = false
    public var state: ConnectionState = .established

    public init(stream: Int, direction: Direction) {
        self.stream = stream
        self.direction = direction
    }
}

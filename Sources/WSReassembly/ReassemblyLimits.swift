/// Caps on what the connection table may hold. Hitting one is reported (a gap or a release),
/// never silent growth.
public struct ReassemblyLimits: Sendable, Equatable {
    /// Out-of-order bytes held per connection before the hole is declared a gap.
    public var maxBufferedPerConnection: Int
    /// Out-of-order bytes held across all connections.
    public var maxBufferedTotal: Int
    /// Connections tracked at once; past it the least recently active is released.
    public var maxConnections: Int
    /// Capture time without packets after which a connection is released.
    public var idleTimeoutNanoseconds: Int64
    /// Capture time a finished connection is kept for late packets (retransmitted FINs, ACKs).
    public var closedLingerNanoseconds: Int64
    /// When an ACK covers bytes the capture has not shown, how long the hole waits for them
    /// before it is declared lost: this many more segments of the connection, or this much
    /// capture time, whichever comes first (captures from multi-queue NICs, `-i any` or merged
    /// taps often hold the ACK before the data).
    public var ackGraceSegments: Int
    public var ackGraceNanoseconds: Int64

    public init(maxBufferedPerConnection: Int = 4 << 20, maxBufferedTotal: Int = 32 << 20,
                maxConnections: Int = 32_768, idleTimeoutNanoseconds: Int64 = 3_600_000_000_000,
                closedLingerNanoseconds: Int64 = 10_000_000_000,
                ackGraceSegments: Int = 8, ackGraceNanoseconds: Int64 = 200_000_000) {
        self.maxBufferedPerConnection = maxBufferedPerConnection
        self.maxBufferedTotal = maxBufferedTotal
        self.maxConnections = maxConnections
        self.idleTimeoutNanoseconds = idleTimeoutNanoseconds
        self.closedLingerNanoseconds = closedLingerNanoseconds
        self.ackGraceSegments = ackGraceSegments
        self.ackGraceNanoseconds = ackGraceNanoseconds
    }
}

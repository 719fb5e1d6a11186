import WSDecode

/// One TCP connection: its roles, its two half-streams and its lifecycle.
final class Connection {
    // Declared in the order a segment reads them: with a thousand connections open, the
    // object is rarely in cache at its next packet, and every line it spans costs a miss.
    // The first line (after the 16-byte object header) has what finding the segment's
    // direction and half-streams reads (16 + 20 bytes, then the slot at 56); the second what
    // every segment updates; the rest is read at the handshake, the teardown and rarer
    // segments (a retransmission reads the initial RTT).
    /// The half-streams' addresses, for prefetching without touching their reference counts
    /// (a retain writes to the object: the very miss the prefetch is meant to hide).
    let halfAddresses: (toServer: UnsafeMutableRawPointer, toClient: UnsafeMutableRawPointer)
    let client: Endpoint
    /// Index among the connections open now, reused after release (see `SegmentReport.slot`).
    var slot = 0
    let stream: Int
    var lastSeen: Int64
    /// Segments of this connection seen so far (the grace of an acknowledged hole counts them).
    var packets = 0
    var state: ConnectionState
    let midstream: Bool
    var handshakeDone = false
    var synAckSeen = false
    var ended = false
    /// A half may have an acknowledged hole in its grace (cleared lazily once none has), and a
    /// half has declared a hole lost mid-connection: the per-packet checks of the halves' cold
    /// fields run only then.
    var maybeGrace = false
    var holesDeclared = false
    var firstFIN: Direction?
    var firstFINAcked = false
    var secondFINAcked = false
    var endedAt: Int64 = 0
    var firstSYNTime: Int64?
    var initialRTT: Int64?
    let server: Endpoint
    let toServer = HalfStream()
    let toClient = HalfStream()

    init(stream: Int, client: Endpoint, server: Endpoint, midstream: Bool, time: Int64) {
        self.stream = stream
        self.client = client
        self.server = server
        self.midstream = midstream
        self.state = midstream ? .established : .handshake
        self.lastSeen = time
        halfAddresses = (Unmanaged.passUnretained(toServer).toOpaque(), Unmanaged.passUnretained(toClient).toOpaque())
    }

    var heldBytes: Int { toServer.heldBytes + toClient.heldBytes }

    @inline(__always)
    func direction(from source: Endpoint) -> Direction {
        source == client ? .clientToServer : .serverToClient
    }

    @inline(__always)
    func half(_ direction: Direction) -> HalfStream {
        direction == .clientToServer ? toServer : toClient
    }

    func withHalf<R>(_ direction: Direction, _ body: (HalfStream) -> R) -> R {
        body(half(direction))
    }

    /// The half-stream of `direction` and the other one, lent to `body` without a retain: the
    /// connection holds both in constants for its whole life, so they live as long as it does
    /// (the caller's reference). Per packet, a retain and its release are two atomic writes
    /// to objects often not in cache (callgrind, 100 MiB `--summary`: 0.9 M of 4.5 M).
    @inline(__always)
    func borrowHalves<R>(_ direction: Direction, _ body: (_ mine: HalfStream, _ peer: HalfStream) -> R) -> R {
        let (mine, peer) = direction == .clientToServer ? (halfAddresses.toServer, halfAddresses.toClient)
            : (halfAddresses.toClient, halfAddresses.toServer)
        return Unmanaged<HalfStream>.fromOpaque(mine)._withUnsafeGuaranteedRef { h in
            Unmanaged<HalfStream>.fromOpaque(peer)._withUnsafeGuaranteedRef { o in body(h, o) }
        }
    }
}

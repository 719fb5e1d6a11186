import WSDissector
import WSReassembly

/// What one side of a connection did, as the diagnosis and health figures need it: TCP
/// retransmissions, duplicate ACKs and zero windows, the pings it sent and the pongs that
/// answered them, the sizes and times of its messages. Updated as packets and frames pass
/// (a few comparisons per packet); the Diagnosis stage reads it from the summary.
public struct SideFacts: Sendable {
    // Declared in the order the work touches them: what every segment of the side reads or
    // writes first (two cache lines), then what an acknowledgment of new bytes and a frame
    // touch, then what only rare events (retransmissions, zero windows, pings) do. With a
    // thousand connections open the facts are rarely in cache: fields read together that sat
    // in different lines cost a miss each.

    /// Last packet (any) from this side.
    public var lastPacket: (time: Int64, packet: Int)?
    /// Last packet from this side with new payload bytes (not a retransmission or keep-alive).
    public var lastPayload: (time: Int64, packet: Int)?
    /// A data segment being timed for the TCP RTT: its end (relative sequence) and when it left.
    var timedEnd: UInt32?
    var timedAt: Int64 = 0
    /// The zero window it advertises now: since when, and the packet that first said so.
    public var zeroWindowSince: (time: Int64, packet: Int)?
    /// The last time this side acknowledged new bytes of its peer.
    public var lastAckAdvance: (time: Int64, packet: Int)?
    /// Retransmissions since the peer last acknowledged anything new: their count, the
    /// first and last (time, packet), and the first few times (for the backoff). All four
    /// are set together, and cleared together: the count alone says whether any is set.
    public var unackedRetransmissions = 0
    public var unackedTimes: [Int64] = []
    public var unackedFirst: (time: Int64, packet: Int)?
    public var unackedLast: (time: Int64, packet: Int)?

    // TCP, rarer
    public var retransmissions = 0
    public var duplicateAcks = 0
    /// Time this side advertised a zero window (receive buffer full), ns, closed intervals.
    public var zeroWindowNs: Int64 = 0
    /// The first zero-window packet of the connection from this side.
    public var firstZeroWindowPacket: Int?
    /// The window was still zero when the connection ended.
    public var zeroWindowOpenAtEnd = false

    // WebSocket: what every frame and message updates first
    /// The last frame of any kind (packet, opcode).
    public var lastFrame: (packet: Int, time: Int64, opcode: UInt8)?
    public var messages = 0
    /// Payload sizes of the messages this side completed, in order (the first `sampleLimit`).
    public var messageSizes: [UInt32] = []
    public var firstMessageTime: Int64?
    public var lastMessageTime: Int64?
    /// The last message: packet, size; and the largest message before it.
    public var lastMessage: (packet: Int, size: UInt64, opcode: UInt8)?
    public var largestBeforeLast: UInt64 = 0
    /// Pings this side sent, and pongs (from the peer) that answered one of them.
    public var pingsSent = 0
    public var pingsAnswered = 0
    /// Pings still waiting for a pong: a hash of the payload, the packet and the time.
    public var pendingPings: [(hash: UInt64, packet: Int, time: Int64)] = []
    /// The last pong from the peer that answered one of this side's pings.
    public var lastAnsweringPong: (time: Int64, packet: Int)?
    /// Pongs from the peer that answered no ping of this side (unsolicited, RFC 6455 §5.5.3).
    public var unsolicitedPongs = 0
    /// Ping → pong round trips, ns, and the times of the pongs (the first `rttLimit`).
    public var pingRTTs: [Int64] = []
    public var pongTimes: [Int64] = []
    /// The last packet whose bytes from this side broke a rule, and which rule.
    public var lastViolation: (packet: Int, code: ViolationCode)?

    /// Bounds on what one side keeps for percentiles: 1 MiB of message sizes, 1 MiB of round trips.
    public static let sampleLimit = 1 << 18
    public static let rttLimit = 1 << 16
    static let pendingLimit = 256
    static let backoffLimit = 64

    public init() {}
}

/// The connection-wide facts: both sides' `SideFacts`, TCP round trips, silences, and the
/// fingerprint of its first messages (to pair the two legs of a proxy).
public struct ConnectionFacts: Sendable {
    // What every segment reads first (see `SideFacts`), then each side's facts.
    /// The last packet that carried new payload bytes, either side.
    public var lastPayload: (time: Int64, packet: Int)?
    /// The longest time without new payload bytes between two payload packets (or from the
    /// handshake to the first), ns, and the packet that ended it.
    public var longestSilenceNs: Int64 = 0
    /// TCP round trips measured on data ACKs, ns (the first `SideFacts.rttLimit`).
    public var tcpRTTs: [Int64] = []
    /// The first FIN or RST: time, packet, side, and the silence before it (time since the
    /// last payload, or since the connection's start when it had none).
    public var ending: (time: Int64, packet: Int, side: Side, reset: Bool, silenceNs: Int64)?
    public var client = SideFacts()
    public var server = SideFacts()
    public var longestSilenceEndPacket: Int?
    /// The first messages (at most `fingerprintLimit`): a hash over (side, opcode, length) each,
    /// and their times, for proxy-leg pairing. Not over the payload: only the modes that show
    /// payloads keep it (a `--summary` keeps none), and every output must pair the same legs.
    public var fingerprint: UInt64 = 0xcbf29ce484222325
    public var fingerprintTimes: [(side: Side, time: Int64)] = []

    public static let fingerprintLimit = 8

    public init() {}

    public func side(_ s: Side) -> SideFacts { s == .client ? client : server }

    mutating func withSide(_ s: Side, _ body: (inout SideFacts) -> Void) {
        if s == .client { body(&client) } else { body(&server) }
    }

    /// A TCP segment from `side` (never called for a packet captured twice).
    mutating func segment(from side: Side, report: SegmentReport, window: UInt16, packet: Int, time: Int64, start: Int64) {
        let a = report.analysis
        let retransmission = a.contains(.retransmission)
        let payload = report.payloadLength > 0 && !retransmission && !a.contains(.keepAlive)
            && !a.contains(.zeroWindowProbe) && !a.contains(.late)
        let isSynOrFin = report.handshake != nil || !report.teardown.isEmpty
        let peer = side.peer
        var peerTimed: UInt32?
        var peerTimedAt: Int64 = 0
        if report.ackedOffset != nil {
            // New bytes of the peer acknowledged: the peer's retransmissions got through.
            withSide(peer) { p in
                // Cleared only when set: a store to a line not in cache costs its miss too.
                if p.unackedRetransmissions != 0 {
                    p.unackedRetransmissions = 0
                    p.unackedFirst = nil
                    p.unackedLast = nil
                    if !p.unackedTimes.isEmpty { p.unackedTimes = [] }
                }
                peerTimed = p.timedEnd
                peerTimedAt = p.timedAt
            }
        }
        if let end = peerTimed, Int32(bitPattern: report.relativeAck &- end) >= 0 {
            if tcpRTTs.count < SideFacts.rttLimit { tcpRTTs.append(time - peerTimedAt, reservingFirst: 16) }
            withSide(peer) { $0.timedEnd = nil }
        }
        withSide(side) { s in
            s.lastPacket = (time, packet)
            if report.ackedOffset != nil { s.lastAckAdvance = (time, packet) }
            if retransmission {
                s.retransmissions += 1
                // Karn: a segment sent again is not timed.
                s.timedEnd = nil
                s.unackedRetransmissions += 1
                if s.unackedFirst == nil { s.unackedFirst = (time, packet) }
                s.unackedLast = (time, packet)
                if s.unackedTimes.count < SideFacts.backoffLimit { s.unackedTimes.append(time) }
            }
            if a.contains(.duplicateAck) { s.duplicateAcks += 1 }
            if window == 0 && !isSynOrFin && !report.reset {
                if s.zeroWindowSince == nil { s.zeroWindowSince = (time, packet) }
                if s.firstZeroWindowPacket == nil { s.firstZeroWindowPacket = packet }
            } else if window > 0, let since = s.zeroWindowSince {
                s.zeroWindowNs += time - since.time
                s.zeroWindowSince = nil
            }
            if payload {
                s.lastPayload = (time, packet)
                if s.timedEnd == nil {
                    s.timedEnd = report.relativeSeq &+ UInt32(truncatingIfNeeded: report.payloadLength)
                    s.timedAt = time
                }
            }
        }
        if payload {
            let silence = time - (lastPayload?.time ?? start)
            if silence > longestSilenceNs {
                longestSilenceNs = silence
                longestSilenceEndPacket = packet
            }
            lastPayload = (time, packet)
        }
        if ending == nil && (report.reset || report.teardown.contains(.firstFIN)) {
            ending = (time, packet, side, report.reset, time - (lastPayload?.time ?? start))
        }
    }

    /// A WebSocket frame from `f.side`, reported on `packet`.
    mutating func frame(_ f: FrameInfo, packet: Int, time: Int64) {
        let peer = f.side.peer
        switch f.opcode {
        case 9:
            let hash = Self.controlHash(f.payload)
            withSide(f.side) { s in
                s.pingsSent += 1
                if s.pendingPings.count >= SideFacts.pendingLimit { s.pendingPings.removeFirst() }
                s.pendingPings.append((hash, packet, time))
            }
        case 10:
            let hash = Self.controlHash(f.payload)
            withSide(peer) { p in
                // The pong answers the ping with its payload; earlier pings it leaves behind
                // count as answered too (an endpoint may answer only the latest, §5.5.3).
                if let i = p.pendingPings.lastIndex(where: { $0.hash == hash }) {
                    let ping = p.pendingPings[i]
                    p.pingsAnswered += i + 1
                    p.pendingPings.removeFirst(i + 1)
                    if p.pingRTTs.count < SideFacts.rttLimit {
                        p.pingRTTs.append(time - ping.time)
                        p.pongTimes.append(time)
                    }
                    p.lastAnsweringPong = (time, packet)
                } else {
                    p.unsolicitedPongs += 1
                }
            }
        default:
            break
        }
        withSide(f.side) { s in
            s.lastFrame = (packet, time, f.opcode)
            if let m = f.message {
                s.messages += 1
                if s.messageSizes.count < SideFacts.sampleLimit {
                    s.messageSizes.append(UInt32(truncatingIfNeeded: min(m.length, UInt64(UInt32.max))), reservingFirst: 16)
                }
                if s.firstMessageTime == nil { s.firstMessageTime = time }
                s.lastMessageTime = time
                if let last = s.lastMessage { s.largestBeforeLast = max(s.largestBeforeLast, last.size) }
                s.lastMessage = (packet, m.length, m.opcode)
            }
        }
        if let m = f.message, fingerprintTimes.count < Self.fingerprintLimit {
            var h = fingerprint
            Self.mix(&h, f.side == .client ? 1 : 2)
            Self.mix(&h, UInt64(m.opcode))
            Self.mix(&h, m.length)
            fingerprint = h
            fingerprintTimes.append((f.side, time), reservingFirst: Self.fingerprintLimit)
        }
    }

    mutating func violation(from side: Side, code: ViolationCode, packet: Int) {
        withSide(side) { $0.lastViolation = (packet, code) }
    }

    /// Closes what is still open at the end of the connection (a zero window still advertised).
    mutating func finish(at time: Int64) {
        for side in [Side.client, .server] {
            withSide(side) { s in
                if let since = s.zeroWindowSince {
                    s.zeroWindowNs += time - since.time
                    s.zeroWindowSince = nil
                    // Kept as open: the diagnosis reads it as a window still shut at the end.
                    s.zeroWindowOpenAtEnd = true
                }
            }
        }
    }

    /// The hash that pairs a pong with its ping: over the first 125 bytes of the payload, the
    /// most a control frame may carry and what every mode keeps of one (a timeline may keep
    /// more of an oversized one), so that every mode pairs the same frames.
    static func controlHash(_ payload: UnsafeRawBufferPointer) -> UInt64 {
        hash(UnsafeRawBufferPointer(rebasing: payload.prefix(125)))
    }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h ^ UInt64(bytes.count)
    }

    static func mix(_ h: inout UInt64, _ v: UInt64) {
        h = (h ^ v) &* 0x100000001b3
        h ^= h >> 29
    }
}

import CPrefetch
import WSDecode

/// Tracks every TCP connection of a capture: stream indexes, roles, handshake and teardown
/// steps, analysis labels, and the ordered byte stream of each direction.
///
/// Pure: segments in, a `SegmentReport` and `StreamEvent`s out; time comes from the packets.
public final class ConnectionTable {
    public let limits: ReassemblyLimits
    /// Streams opened so far (the next stream index).
    public private(set) var streamsOpened = 0
    /// Connections released because the table was full.
    public private(set) var evictions = 0
    /// Tracked connections by 4-tuple (unowned references), and their owners by slot (a slot
    /// past the end has never been used).
    private var connections = FlowTable()
    private var owners: [Connection?] = []
    /// Slots of released connections.
    private var freeSlots: [Int] = []
    private var totalHeld = 0
    private var lastSweep: Int64 = 0
    /// The most connections tracked at once, and the most out-of-order bytes held at once.
    public private(set) var peakCount = 0
    public private(set) var peakBufferedBytes = 0

    /// Whether retransmitted bytes are compared with the first copy, for the
    /// `overlapConflict` label. Off when no label will be shown (summaries only): nothing is
    /// copied into the per-direction history then, and `overlapConflict` is never set.
    public var comparesRetransmittedBytes = true
    /// Reads delivered bytes back from the capture files: with it, a direction remembers where
    /// its delivered bytes lie in the file (`packetOrigin`) instead of copying them.
    public var capturedBytes: CapturedBytesReader?
    /// Where the packet being processed lies in its file (set by the caller before `process`).
    public var packetOrigin = PacketOrigin.unknown

    public init(limits: ReassemblyLimits = ReassemblyLimits()) {
        self.limits = limits
    }

    /// Connections tracked now.
    public var count: Int { connections.count }

    /// Out-of-order bytes held across all connections now.
    public var bufferedBytes: Int { totalHeld }

    /// Client and server of a tracked stream's connection (nil once released).
    public func endpoints(source: Endpoint, destination: Endpoint) -> (client: Endpoint, server: Endpoint)? {
        connections[FlowKey(source, destination)].map { ($0.client, $0.server) }
    }

    /// Processes one TCP segment. `payload` is what was captured of the payload;
    /// `payloadLength` what the headers declare (larger when a snaplen cut the packet).
    /// `onConnection` receives the connection's slot and the segment's direction as soon as
    /// they are known (to prefetch state kept by slot); `onReport` receives the segment's
    /// report before any of its bytes are delivered to `emit`.
    public func process(_ tcp: TCPHeader, source: Endpoint, destination: Endpoint,
                        payload: UnsafeRawBufferPointer, payloadLength: Int,
                        packet: Int, time: Int64, ipID: UInt16? = nil,
                        onConnection: (_ slot: Int, _ direction: Direction) -> Void = { _, _ in },
                        onReport: (SegmentReport) -> Void = { _ in },
                        emit: (StreamEvent) -> Void) -> SegmentReport {
        advanceClock(to: time, emit: emit)
        let key = FlowKey(source, destination)
        let flags = tcp.flags
        var portReuse = false
        if let tracked = connections.reference(key) {
            // A fresh SYN on a finished 4-tuple, or one with another ISN after the handshake,
            // starts a new stream (port reuse).
            let reused = flags.contains(.syn) && !flags.contains(.ack) && tracked._withUnsafeGuaranteedRef { existing in
                existing.ended || existing.state == .halfClosed
                    || (existing.state != .handshake && tcp.sequence != existing.half(existing.direction(from: source)).isn)
            }
            if !reused {
                // Borrowed: nothing below releases a connection (only the clock's sweep, port
                // reuse and eviction do, all before this point), so its owner holds it throughout.
                return tracked._withUnsafeGuaranteedRef { connection in
                    process(tcp, connection, source: source, payload: payload, payloadLength: payloadLength, packet: packet,
                            time: time, ipID: ipID, isNew: false, portReuse: false, onConnection: onConnection,
                            onReport: onReport, emit: emit)
                }
            }
            release(key, reason: .reused, emit: emit)
            portReuse = true
        }
        let connection = open(key, tcp: tcp, source: source, destination: destination, payload: payload, time: time, emit: emit)
        return process(tcp, connection, source: source, payload: payload, payloadLength: payloadLength, packet: packet,
                       time: time, ipID: ipID, isNew: true, portReuse: portReuse, onConnection: onConnection,
                       onReport: onReport, emit: emit)
    }

    /// The segment of a connection found or opened.
    @inline(__always)
    private func process(_ tcp: TCPHeader, _ connection: Connection, source: Endpoint,
                         payload: UnsafeRawBufferPointer, payloadLength: Int, packet: Int, time: Int64, ipID: UInt16?,
                         isNew: Bool, portReuse: Bool, onConnection: (_ slot: Int, _ direction: Direction) -> Void,
                         onReport: (SegmentReport) -> Void, emit: (StreamEvent) -> Void) -> SegmentReport {
        connection.lastSeen = time
        // The half-streams are separate objects, likely not in cache: ask for both now, so
        // that their misses overlap each other and the work below. The caller may do the same
        // for its own per-connection state.
        wstrace_prefetch_lines(connection.halfAddresses.toServer)
        wstrace_prefetch_lines(connection.halfAddresses.toClient)
        let direction = connection.direction(from: source)
        onConnection(connection.slot, direction)
        var report = SegmentReport(stream: connection.stream, direction: direction)
        report.slot = connection.slot
        report.isNewStream = isNew
        report.midstream = connection.midstream
        report.payloadLength = payloadLength
        if portReuse { report.analysis.insert(.portReuse) }

        // The same packet captured twice: reported as a copy, nothing analysed or delivered again.
        let copy = HalfStream.SegmentCopy(sequence: tcp.sequence, acknowledgment: tcp.acknowledgment,
                                          length: UInt32(truncatingIfNeeded: payloadLength), flags: tcp.flags.rawValue,
                                          window: tcp.window, checksum: tcp.checksum, ipID: ipID ?? 0,
                                          packet: packet, time: time)
        if let original = connection.borrowHalves(direction, { h, _ in h.duplicate(of: copy) }) {
            let h = connection.half(direction), o = connection.half(direction.reversed)
            report.analysis = .duplicate
            report.duplicateOf = original
            report.relativeSeq = tcp.sequence &- h.isn
            if tcp.flags.contains(.ack) { report.relativeAck = tcp.acknowledgment &- o.isn }
            report.state = connection.state
            onReport(report)
            return report
        }
        analyze(connection, tcp, direction: direction, payload: payload, payloadLength: payloadLength,
                packet: packet, time: time, report: &report, onReport: onReport, emit: emit)
        return report
    }

    /// Moves capture time to `time` without a segment: connections idle or finished for long
    /// enough are released, exactly as `process` would before its segment. A table that sees
    /// only some flows of a capture (one shard of a parallel run) calls it for the others'
    /// segments, so it releases its connections at the same packets as a table seeing all.
    public func advanceClock(to time: Int64, emit: (StreamEvent) -> Void) {
        if clockWouldSweep(at: time) {
            sweep(now: time, emit: emit)
            lastSweep = time
        }
    }

    /// When the clock last swept (`clockWouldSweep` is false for a time from there to a
    /// second later): a caller moving the clock for many packets tests it without a call.
    public var lastSweepTime: Int64 { lastSweep }

    /// Whether moving the clock to `time` sweeps (a second of capture time since the last
    /// sweep, or time going back).
    @inline(__always)
    public func clockWouldSweep(at time: Int64) -> Bool {
        time - lastSweep > 1_000_000_000 || time < lastSweep
    }

    /// Ends the input: every hole becomes a gap, every direction ends, every connection is released.
    public func finish(emit: (StreamEvent) -> Void) {
        let all = connections.entries.map(\.connection).sorted { $0.stream < $1.stream }
        for connection in all {
            flush(connection, reason: .endOfCapture, reset: false, emit: emit)
            emit(.released(stream: connection.stream, reason: .endOfCapture))
        }
        connections.removeAll()
        owners.removeAll()
        freeSlots.removeAll()
        totalHeld = 0
    }

    // MARK: - Opening and releasing

    private func open(_ key: FlowKey, tcp: TCPHeader, source: Endpoint, destination: Endpoint,
                      payload: UnsafeRawBufferPointer, time: Int64, emit: (StreamEvent) -> Void) -> Connection {
        if connections.count >= limits.maxConnections { evictLeastRecent(emit: emit) }
        let flags = tcp.flags
        let sourceIsClient: Bool
        let midstream: Bool
        if flags.contains(.syn) {
            sourceIsClient = !flags.contains(.ack)
            midstream = flags.contains(.ack)  // the SYN itself was not captured
        } else {
            midstream = true
            sourceIsClient = ConnectionTable.guessSourceIsClient(source: source, destination: destination, payload: payload)
        }
        let connection = Connection(stream: streamsOpened,
                                    client: sourceIsClient ? source : destination,
                                    server: sourceIsClient ? destination : source,
                                    midstream: midstream, time: time)
        streamsOpened += 1
        if !comparesRetransmittedBytes {
            connection.toServer.keepsHistory = false
            connection.toClient.keepsHistory = false
        }
        if let free = freeSlots.popLast() {
            connection.slot = free
            owners[free] = connection
        } else {
            connection.slot = owners.count
            owners.append(connection)
        }
        connections.insert(connection, for: key)
        if connections.count > peakCount { peakCount = connections.count }
        return connection
    }

    /// Roles for a connection whose SYN was not captured, in this order: an HTTP request line
    /// marks the client, an HTTP status line the server; a masked WebSocket frame header marks
    /// the client and an unmasked one the server; otherwise the lower port is the server.
    static func guessSourceIsClient(source: Endpoint, destination: Endpoint, payload: UnsafeRawBufferPointer) -> Bool {
        if payload.count >= 5 {
            let methods: [[UInt8]] = [Array("GET ".utf8), Array("POST ".utf8), Array("PUT ".utf8), Array("HEAD ".utf8),
                                      Array("OPTIONS ".utf8), Array("DELETE ".utf8), Array("PATCH ".utf8)]
            for m in methods where payload.count >= m.count && zip(payload.prefix(m.count), m).allSatisfy({ $0 == $1 }) {
                return true
            }
            if payload.prefix(5).elementsEqual("HTTP/".utf8) { return false }
        }
        if payload.count >= 2 {
            let opcode = payload[0] & 0x0f
            if [0, 1, 2, 8, 9, 10].contains(opcode) && payload[0] & 0x30 == 0 {
                return payload[1] & 0x80 != 0
            }
        }
        if source.port != destination.port { return source.port > destination.port }
        return true
    }

    private func release(_ key: FlowKey, reason: ReleaseReason, emit: (StreamEvent) -> Void) {
        guard let connection = connections[key] else { return }
        if !connection.ended {
            flush(connection, reason: .endOfCapture, reset: false, emit: emit)
        }
        totalHeld -= connection.heldBytes
        connections.remove(key)
        owners[connection.slot] = nil
        freeSlots.append(connection.slot)
        emit(.released(stream: connection.stream, reason: reason))
    }

    private func flush(_ connection: Connection, reason: GapReason, reset: Bool, emit: (StreamEvent) -> Void) {
        for direction in [Direction.clientToServer, .serverToClient] {
            let before = connection.half(direction).heldBytes
            connection.withHalf(direction) { half in
                half.flushAll(reason: reason, stream: connection.stream, direction: direction, emit: emit)
                // A finished direction delivers nothing more: its history goes now, not after the linger.
                half.dropHistory()
                if !half.ended {
                    half.ended = true
                    if reset || half.finOffset == nil {
                        emit(.end(stream: connection.stream, direction: direction, reset: reset))
                    }
                }
            }
            totalHeld -= before - connection.half(direction).heldBytes
        }
    }

    private func evictLeastRecent(emit: (StreamEvent) -> Void) {
        // Release the oldest sixteenth at once so eviction costs O(1) amortized per connection.
        // Ties (the same last time) go by stream: the table's slot order is random per run.
        let batch = max(1, connections.count / 16)
        let victims = connections.entries.sorted {
            ($0.connection.lastSeen, $0.connection.stream) < ($1.connection.lastSeen, $1.connection.stream)
        }.prefix(batch).map(\.key)
        for key in victims {
            evictions += 1
            release(key, reason: .evicted, emit: emit)
        }
    }

    @inline(__always)
    private func graceOver(_ half: HalfStream, _ c: Connection, _ time: Int64) -> Bool {
        c.packets - half.graceStart.packets > limits.ackGraceSegments || time - half.graceStart.time > limits.ackGraceNanoseconds
    }

    /// Skips the hole the peer acknowledged (its grace is over): a gap, then what was held.
    private func declareAckedHoleLost(_ c: Connection, _ d: Direction, emit: (StreamEvent) -> Void) {
        let half = c.half(d)
        guard let limit = half.ackedHole else { return }
        half.ackedHole = nil
        c.holesDeclared = true
        let heldBefore = half.heldBytes
        while half.next < limit && !half.ended {
            let progress = half.next
            half.skipHole(upTo: limit, reason: .ackedUnseen, stream: c.stream, direction: d, emit: emit)
            if half.next == progress { break }
        }
        totalHeld += half.heldBytes - heldBefore
    }

    private func sweep(now: Int64, emit: (StreamEvent) -> Void) {
        var stale: [(FlowKey, ReleaseReason, Int)] = []
        var graceOver: [(Connection, Direction)] = []
        for (key, c) in connections.entries {
            for d in [Direction.clientToServer, .serverToClient] where c.maybeGrace && c.half(d).ackedHole != nil
                && now - c.half(d).graceStart.time > limits.ackGraceNanoseconds {
                graceOver.append((c, d))
            }
            if c.ended && now - c.endedAt > limits.closedLingerNanoseconds {
                stale.append((key, .finished, c.stream))
            } else if now - c.lastSeen > limits.idleTimeoutNanoseconds {
                stale.append((key, .idle, c.stream))
            }
        }
        // Connection by connection in stream order (its holes, then its release): what each
        // emits concerns its own stream only, so a parallel run can merge its workers' sweeps
        // by stream.
        graceOver.sort { ($0.0.stream, $0.1 == .clientToServer ? 0 : 1) < ($1.0.stream, $1.1 == .clientToServer ? 0 : 1) }
        stale.sort { $0.2 < $1.2 }
        var g = 0
        for (key, reason, stream) in stale {
            while g < graceOver.count && graceOver[g].0.stream <= stream {
                declareAckedHoleLost(graceOver[g].0, graceOver[g].1, emit: emit)
                g += 1
            }
            release(key, reason: reason, emit: emit)
        }
        while g < graceOver.count {
            declareAckedHoleLost(graceOver[g].0, graceOver[g].1, emit: emit)
            g += 1
        }
    }

    // MARK: - Per-segment analysis

    private func analyze(_ c: Connection, _ tcp: TCPHeader, direction: Direction,
                         payload: UnsafeRawBufferPointer, payloadLength: Int,
                         packet: Int, time: Int64, report: inout SegmentReport,
                         onReport: (SegmentReport) -> Void, emit: (StreamEvent) -> Void) {
        // The two halves, borrowed without a retain (`c` is alive for the call).
        c.borrowHalves(direction) { h, o in
            analyze(c, h, o, tcp, direction: direction, payload: payload, payloadLength: payloadLength,
                    packet: packet, time: time, report: &report, onReport: onReport, emit: emit)
        }
    }

    private func analyze(_ c: Connection, _ h: HalfStream, _ o: HalfStream, _ tcp: TCPHeader, direction: Direction,
                         payload: UnsafeRawBufferPointer, payloadLength: Int,
                         packet: Int, time: Int64, report: inout SegmentReport,
                         onReport: (SegmentReport) -> Void, emit: (StreamEvent) -> Void) {
        let flags = tcp.flags
        let other = direction.reversed
        let stream = c.stream
        c.packets += 1

        // 1. Labels. Nothing is delivered until the report is out.

        if flags.contains(.syn) {
            let retransmitted = h.synSeen && h.isn == tcp.sequence
            if !retransmitted {
                h.isn = tcp.sequence
                h.anchored = true
                h.synSeen = true
                h.next = 0
                h.highest = 0
            } else {
                report.handshakeRetransmission = true
                report.analysis.insert(.retransmission)
            }
            if !flags.contains(.ack) {
                report.handshake = .syn
                if c.firstSYNTime == nil { c.firstSYNTime = time }
            } else {
                report.handshake = .synAck
                c.synAckSeen = true
            }
        } else if !h.anchored {
            h.isn = tcp.sequence &- 1
            h.anchored = true
        }
        if flags.contains(.ack) && !o.anchored {
            // Guess the other side's anchor from what this side acknowledges; the other side's
            // own first segment replaces the guess.
            o.isn = tcp.acknowledgment &- 1
        }

        report.relativeSeq = tcp.sequence &- h.isn
        if flags.contains(.ack) { report.relativeAck = tcp.acknowledgment &- o.isn }

        // Handshake step 3: the client's ACK of the SYN-ACK.
        if !flags.contains(.syn) && flags.contains(.ack) && direction == .clientToServer && !c.handshakeDone
            && c.synAckSeen && c.half(.clientToServer).synSeen
            && tcp.acknowledgment == c.half(.serverToClient).isn &+ 1 {
            c.handshakeDone = true
            report.handshake = .ack
            if let syn = c.firstSYNTime {
                report.initialRTT = time - syn
                c.initialRTT = time - syn
            }
            if c.state == .handshake { c.state = .established }
        } else if !flags.contains(.syn) && c.state == .handshake && (payloadLength > 0 || flags.contains(.fin)) {
            c.state = .established
        }

        // Sequence analysis.
        let seqStart = h.offset(of: flags.contains(.syn) ? tcp.sequence &+ 1 : tcp.sequence)
        let control = flags.contains(.syn) || flags.contains(.fin) || flags.contains(.rst)
        let before = h
        var skipData = false
        if payloadLength <= 1 && !control && before.sawSegment && seqStart == Int64(before.highest) - 1 {
            skipData = true
            report.analysis.insert(.keepAlive)
        } else if payloadLength == 1 && !control && seqStart == Int64(before.highest) && o.lastWindow == 0 {
            skipData = true
            report.analysis.insert(.zeroWindowProbe)
        }
        let finBit: Int64 = flags.contains(.fin) ? 1 : 0
        // A bare ACK whose sequence number jumps past every byte seen: bytes before it were missed.
        if payloadLength == 0 && !control && !skipData && before.sawSegment && seqStart > Int64(before.highest) {
            report.analysis.insert(.previousSegmentNotCaptured)
        }
        if (payloadLength > 0 || flags.contains(.fin)) && !skipData && !flags.contains(.syn) && before.sawSegment {
            let segEnd = seqStart + Int64(payloadLength) + finBit
            let highest = Int64(before.highest)
            if seqStart > highest {
                report.analysis.insert(.previousSegmentNotCaptured)
            } else if seqStart < highest {
                // Below the highest byte seen: out of order when it comes soon after the
                // segment that set the highest byte (within the initial RTT, or 3 ms) and does
                // not end exactly there; else a retransmission (Wireshark's rule).
                let threshold = c.initialRTT.map { $0 > 0 ? $0 : 3_000_000 } ?? 3_000_000
                let peer = o
                let fastRetransmission = peer.duplicateAcks >= 2 && peer.lastAck == tcp.sequence
                    && time - peer.lastAckTime < 20_000_000
                // Bytes the peer already acknowledged are a (spurious) retransmission.
                let spurious = peer.lastAck.map { segEnd - finBit <= before.offset(of: $0) } ?? false
                // A segment stamped before the one that set the highest byte (a stitched capture)
                // is no reordering: Wireshark's unsigned difference makes it a retransmission too.
                let sinceHighest = time - before.highestTime
                if !fastRetransmission && !spurious && sinceHighest >= 0 && sinceHighest < threshold && segEnd != highest {
                    report.analysis.insert(.outOfOrder)
                } else {
                    report.analysis.insert(.retransmission)
                }
            }
        }
        // Bytes the capture never showed are not retransmissions: in a hole the peer had already
        // acknowledged (they arrive after their ACK), or in one declared lost (late).
        var late = 0
        if payloadLength > 0 && !skipData && !flags.contains(.syn) && (c.holesDeclared || c.maybeGrace) {
            late = before.lateBytes(offset: seqStart, length: payloadLength)
            if late > 0 {
                report.analysis.subtract([.retransmission, .outOfOrder])
                report.analysis.insert(.late)
                report.lateBytes = late
            } else if before.fillsAckedHole(offset: seqStart) {
                report.analysis.subtract([.retransmission, .outOfOrder])
                report.analysis.insert(.arrivedAfterAck)
            }
        }
        // Only bytes seen before can conflict: below `next` (delivered) or among held segments.
        if payloadLength > 0 && !skipData && late == 0 && comparesRetransmittedBytes
            && (seqStart < Int64(before.next) || !before.held.isEmpty)
            && (before.conflicts(offset: seqStart, bytes: payload) || before.conflictsWithHistory(offset: seqStart, bytes: payload, reader: capturedBytes)) {
            report.analysis.insert(.overlapConflict)
        }
        let otherWasKeepAlive = o.lastWasKeepAlive
        h.sawSegment = true
        h.lastWasKeepAlive = report.analysis.contains(.keepAlive)
        let end = max(0, seqStart) + Int64(payloadLength) + finBit
        if end > Int64(h.highest) && !skipData {
            h.highest = UInt64(end)
            h.highestTime = time
        }

        // FIN: its offset and the teardown step.
        if flags.contains(.fin) && h.finOffset == nil {
            if c.firstFIN == nil {
                c.firstFIN = direction
                report.teardown.insert(.firstFIN)
                if c.state != .reset { c.state = .halfClosed }
            } else if c.firstFIN != direction {
                report.teardown.insert(.secondFIN)
                let firstFinOffset = o.finOffset ?? 0
                let acksIt = flags.contains(.ack) && o.offset(of: tcp.acknowledgment) > Int64(firstFinOffset)
                if !acksIt && !c.firstFINAcked { report.simultaneousClose = true }
            }
            h.finOffset = UInt64(max(0, seqStart + Int64(payloadLength)))
        }

        // ACK analysis.
        if flags.contains(.ack) {
            let ackOffset = o.offset(of: tcp.acknowledgment)
            let otherHalf = o
            // Flagged once per acknowledgment beyond what was seen, as Wireshark does.
            if otherHalf.sawSegment && ackOffset > Int64(otherHalf.highest) && ackOffset > Int64(h.unseenAckFlagged)
                && !flags.contains(.syn) {
                report.analysis.insert(.ackedUnseenSegment)
                h.unseenAckFlagged = UInt64(ackOffset)
            }
            if ackOffset > 0 && UInt64(ackOffset) > h.ackedThrough {
                h.ackedThrough = UInt64(ackOffset)
                report.ackedOffset = UInt64(ackOffset)
            }
            // The peer has every byte below its ACK: a hole there was lost by the capture, or
            // its bytes come later. The grace starts now.
            if otherHalf.sawSegment && ackOffset > Int64(otherHalf.next) && !otherHalf.ended {
                var limit = UInt64(ackOffset)
                if let fin = otherHalf.finOffset, limit > fin { limit = fin }
                if limit > otherHalf.next {
                    if otherHalf.ackedHole == nil { otherHalf.graceStart = (c.packets, time) }
                    otherHalf.ackedHole = max(otherHalf.ackedHole ?? 0, limit)
                    c.maybeGrace = true
                }
            }
            if let fin = o.finOffset, ackOffset > Int64(fin) {
                if c.firstFIN == other && !c.firstFINAcked {
                    c.firstFINAcked = true
                    report.teardown.insert(.firstFINAck)
                } else if c.firstFIN == direction && !c.secondFINAcked {
                    c.secondFINAcked = true
                    report.teardown.insert(.secondFINAck)
                }
            }
            // Duplicate ACK and window update, on Wireshark's conditions.
            if payloadLength == 0 && !control && !skipData && h.lastAck == tcp.acknowledgment
                && seqStart == Int64(h.highest) {
                if otherWasKeepAlive && tcp.window != 0 && h.lastWindow == tcp.window {
                    report.analysis.insert(.keepAliveAck)
                } else if tcp.window != 0 && h.lastWindow == tcp.window {
                    h.duplicateAcks += 1
                    report.analysis.insert(.duplicateAck)
                    report.duplicateAckCount = h.duplicateAcks
                } else if h.lastWindow != nil && h.lastWindow != tcp.window {
                    report.analysis.insert(.windowUpdate)
                }
            } else if h.lastAck != tcp.acknowledgment {
                h.duplicateAcks = 0
            }
            h.lastAck = tcp.acknowledgment
            h.lastWindow = tcp.window
            h.lastAckTime = time
        }
        if tcp.window == 0 && !control { report.analysis.insert(.zeroWindow) }

        let resets = flags.contains(.rst) && !c.ended
        if resets {
            report.reset = true
            report.stateAtReset = c.state
            c.state = .reset
            c.ended = true
            c.endedAt = time
            report.connectionEnded = true
        } else if c.firstFINAcked && c.secondFINAcked && !c.ended {
            c.state = .closed
            c.ended = true
            c.endedAt = time
            report.connectionEnded = true
        }
        report.state = c.state

        onReport(report)

        // 2. Delivery.

        if payloadLength > 0 && !skipData && !h.ended {
            let heldBefore = h.heldBytes
            let origin = capturedBytes != nil && h.keepsHistory ? packetOrigin.fileOffset(of: payload) : -1
            _ = h.accept(offset: seqStart, bytes: payload, declaredLength: payloadLength, packet: packet,
                         stream: stream, direction: direction, file: packetOrigin.file, fileOffset: origin, emit: emit)
            totalHeld += h.heldBytes - heldBefore
            if totalHeld > peakBufferedBytes { peakBufferedBytes = totalHeld }
        }
        if flags.contains(.fin) && !h.ended {
            h.drain(stream: stream, direction: direction, emit: emit)
        }
        // Acknowledged holes whose grace is over were lost by the capture.
        if c.maybeGrace {
            if h.ackedHole != nil && graceOver(h, c, time) { declareAckedHoleLost(c, direction, emit: emit) }
            if o.ackedHole != nil && graceOver(o, c, time) { declareAckedHoleLost(c, other, emit: emit) }
            if h.ackedHole == nil && o.ackedHole == nil { c.maybeGrace = false }
        }
        // Caps on held bytes (`h` and `o` are `c`'s halves: read through them, not through
        // `c.heldBytes`, whose references sit in a line of `c` no segment reads otherwise).
        if h.heldBytes + o.heldBytes > limits.maxBufferedPerConnection || totalHeld > limits.maxBufferedTotal {
            for d in [Direction.clientToServer, .serverToClient] where !c.half(d).held.isEmpty {
                let heldBefore = c.half(d).heldBytes
                c.withHalf(d) { h in
                    while !h.held.isEmpty && h.heldBytes > limits.maxBufferedPerConnection / 2 {
                        let progress = h.next
                        h.skipHole(upTo: nil, reason: .bufferLimit, stream: stream, direction: d, emit: emit)
                        c.holesDeclared = true
                        if h.next == progress { break }
                    }
                }
                totalHeld -= heldBefore - c.half(d).heldBytes
            }
            if totalHeld > limits.maxBufferedTotal {
                for d in [Direction.clientToServer, .serverToClient] {
                    let heldBefore = c.half(d).heldBytes
                    c.withHalf(d) { h in
                        while !h.held.isEmpty {
                            c.holesDeclared = true
                            h.skipHole(upTo: nil, reason: .bufferLimit, stream: stream, direction: d, emit: emit)
                        }
                    }
                    totalHeld -= heldBefore - c.half(d).heldBytes
                }
            }
        }
        if report.connectionEnded {
            flush(c, reason: resets ? .reset : .endOfCapture, reset: resets, emit: emit)
        }
    }
}


import WSApp
import CPrefetch
import WSDecode
import WSDissector
import WSReassembly
import WSTLS

/// The whole analysis pipeline for one capture: decode → reassembly → WebSocket → timeline.
///
/// Pure and push-style: feed it packets in file order; it calls `emit` for each timeline event
/// (in packet order) and `summary` when a connection ends (or at `finish`). Events borrow
/// buffers valid only during the `emit` call.
public final class Analyzer {
    public let options: AnalyzerOptions
    public private(set) var counters = CaptureCounters()
    /// Sees every reassembled chunk (stream, sender, bytes) and every gap (bytes nil, size),
    /// before dissection: for `follow --raw` and for tests.
    public var streamObserver: ((_ stream: Int, _ side: Side, _ bytes: UnsafeRawBufferPointer?, _ gap: UInt64) -> Void)?
    private let decoder: PacketDecoder
    private let table: ConnectionTable
    /// One unmasking buffer for every connection: it stays in cache.
    private let scratch = UnmaskScratch()
    /// Bytes held while mid-stream connections are recognised, across the capture.
    private let recognitionBudget: RecognitionBudget
    /// TLS 1.2 sessions seen in this capture, for the connections that resume them.
    private let tlsCache = TLSSessionCache()
    /// One record-decryption buffer for every TLS connection: it stays in cache.
    private let sealScratch = SealScratch()
    private var trackers: [Int: ConnectionTracker] = [:]
    /// The same trackers by the reassembly's connection slot: the per-packet lookup. Not
    /// owned (`trackers` owns them, and a tracker leaves its slot when it leaves `trackers`):
    /// read without a retain, which would write to the object (often not in cache) and,
    /// for a prefetch, take the very miss it is meant to hide.
    private var trackersBySlot: [Unmanaged<ConnectionTracker>?] = []
    /// The last tracker looked up: most stream events belong to the packet's own connection.
    private var cached: ConnectionTracker?

    /// The tracker of `stream` lent to `body` (nothing when there is none): without a retain
    /// when it is the one `currentReference` names (most delivered bytes are the packet's own).
    @inline(__always)
    private func withTracker(_ stream: Int, _ body: (ConnectionTracker) -> Void) {
        if currentHolds(stream), let current = currentReference {
            current._withUnsafeGuaranteedRef(body)
        } else if let t = tracker(stream) {
            body(t)
        }
    }

    /// Whether `currentReference` is the tracker of `stream`.
    @inline(__always)
    private func currentHolds(_ stream: Int) -> Bool {
        currentReference?._withUnsafeGuaranteedRef { $0.stream == stream } ?? false
    }

    private func tracker(_ stream: Int) -> ConnectionTracker? {
        // Most stream events belong to the packet's own connection (already held: looking it
        // up here, rather than caching it in `begin`, saves a retain and a release a packet).
        if currentHolds(stream), let c = currentReference { return c.takeUnretainedValue() }
        if let c = cached, c.stream == stream { return c }
        let t = trackers[stream]
        cached = t
        return t
    }

    // The packet being processed.
    private var number = 0
    private var time: Int64 = 0
    private var wireLength = 0
    private var capturedLength = 0
    private var truncated = false
    /// The TCP details of the packet's events (valid while `hasTCPInfo`): kept unwrapped, since
    /// binding or assigning the large optional copied it through an outlined helper per event.
    private var tcpInfo = TCPEventInfo.absent
    private var hasTCPInfo = false
    /// What the current packet's ACK acknowledges, if notable.
    private var acknowledges: Acknowledged?
    private var eventsThisPacket = 0
    private var pendingViolations: [Violation] = []
    /// The current packet's endpoints and sender, while it is processed.
    private var packetEndpoints: (source: Endpoint, destination: Endpoint, side: Side)?

    public init(linkType: LinkType, options: AnalyzerOptions = AnalyzerOptions()) {
        self.options = options
        recognitionBudget = RecognitionBudget(limit: options.maxRecognitionHeld)
        decoder = PacketDecoder(linkType: linkType)
        // Options only appear in events' Info and JSON.
        decoder.parsesTCPOptions = options.buildsEvents
        table = ConnectionTable(limits: options.reassembly)
        // TCP analysis labels only appear in events, and only they need the byte comparison.
        table.comparesRetransmittedBytes = options.buildsEvents
        table.capturedBytes = options.capturedBytes
    }

    /// Processes one captured packet.
    /// `routed`: the caller (a parallel engine's reader) already found this plain TCP packet
    /// to belong to this analyzer's shard.
    /// `fileOffset`: where `bytes` lie in capture file `file` (-1: not known).
    /// `link`: the packet's link layer, when the capture has several (nil: the last one).
    public func process(number: Int, time: Int64, wireLength: Int, bytes: UnsafeRawBufferPointer, link: LinkType? = nil,
                        routed: Bool = false, file: Int = 0, fileOffset: Int64 = -1,
                        emit: (TimelineEvent) -> Void, summary: (ConnectionSummary) -> Void) {
        if let link, link != decoder.linkType { decoder.linkType = link }
        table.packetOrigin = PacketOrigin(bytes: bytes, file: file, offset: fileOffset)
        self.number = number
        self.time = time
        self.wireLength = wireLength
        self.capturedLength = bytes.count
        // A shard's run: a plain TCP packet belongs to the shard of its flow, which alone
        // counts it; other shards only move their clock. Anything else every shard decodes
        // (fragments, tunnels of headers), and shard 0 counts it.
        var countsPackets = true
        if !routed, let shard = options.shard {
            if let (a, b) = decoder.quickTCPEndpoints(bytes) {
                guard shard.owns(a, b) else { return sweepClock(emit: emit, summary: summary) }
            } else {
                countsPackets = shard.index == 0
            }
        }
        if countsPackets {
            counters.packets += 1
            counters.bytes += UInt64(wireLength)
            if counters.firstTime == nil { counters.firstTime = time }
            counters.lastTime = time
            if CaptureClock.isHeld(time) { counters.heldTimes += 1 }
        }
        eventsThisPacket = 0
        hasTCPInfo = false
        // Cleared only when set: assigning nil to an optional copies it every packet.
        if acknowledges != nil { acknowledges = nil }
        if packetEndpoints != nil { packetEndpoints = nil }

        var decoded = DecodedPacket(payload: UnsafeRawBufferPointer(start: bytes.baseAddress, count: 0))
        decoder.decode(bytes, wireLength: wireLength, time: time, into: &decoded)
        truncated = bytes.count < wireLength
        if truncated && countsPackets { counters.truncated += 1 }
        guard let tcp = decoded.tcp, let src = decoded.source, let dst = decoded.destination else {
            // What looks like TCP at a glance moves the clock even when it does not decode (a
            // cut TCP header): a parallel run's other workers, which only glance, do the same.
            if decoder.quickTCPEndpoints(bytes) != nil {
                sweepClock(emit: emit, summary: summary)
                eventsThisPacket = 0
            }
            if countsPackets { emitNonTCP(decoded, emit: emit) }
            return
        }
        if countsPackets { counters.tcp += 1 }
        let source = Endpoint(address: src, port: tcp.sourcePort)
        let destination = Endpoint(address: dst, port: tcp.destinationPort)
        // A routed packet is the shard's by the reader's glance at the same headers.
        if !routed, let shard = options.shard, !shard.owns(source, destination) {
            return sweepClock(emit: emit, summary: summary)
        }
        currentReference = nil
        // Capture time moves first: what that releases (idle connections, holes whose grace is
        // over) belongs to other connections, and must not count as this packet's own events.
        sweepClock(emit: emit, summary: summary)
        eventsThisPacket = 0
        // Closures passed straight as arguments stay on the stack (no context allocation per packet).
        let report = table.process(tcp, source: source, destination: destination, payload: decoded.payload,
                                   payloadLength: decoded.payloadLength, packet: number, time: time, ipID: decoded.ipID,
                                   onConnection: { slot, direction in self.prefetchState(slot: slot, direction: direction) },
                                   onReport: { report in self.begin(report, tcp: tcp, source: source, destination: destination) },
                                   emit: { event in self.handleStream(event, emit: emit, summary: summary) })
        guard let current = currentReference else { return }
        let currentSide = packetEndpoints?.side ?? .client
        // Borrowed: `trackers` holds it (nothing after `begin` releases a connection).
        current._withUnsafeGuaranteedRef { tracker in
            if eventsThisPacket == 0 {
                let phase = tracker.phase(for: report, acknowledges: acknowledges)
                emitEvent(tracker: tracker, side: currentSide, proto: "TCP", phase: phase, detail: .tcp,
                          violations: [], emit: emit)
            }
            if let session = tracker.sessionReference { noteHints(tracker.slot, session) }
            if report.connectionEnded, !tracker.summarized {
                tracker.summarized = true
                finalize(tracker)
                summary(tracker.summary)
                // The connection is over: its dissector state (parsers, buffers, inflaters) goes
                // now, so memory follows open connections, not the connections a capture ever had.
                tracker.session = nil
            }
        }
    }

    /// A plain TCP packet of another shard, seen by a parallel engine's worker: only the clock
    /// moves, and what it releases is reported as at that packet, exactly as a run over every
    /// flow reports it (the same packet's number, time and lengths, no TCP details).
    public func advanceClock(number: Int, time: Int64, wireLength: Int, capturedLength: Int,
                             emit: (TimelineEvent) -> Void, summary: (ConnectionSummary) -> Void) {
        guard table.clockWouldSweep(at: time) else { return }
        self.number = number
        self.time = time
        self.wireLength = wireLength
        self.capturedLength = capturedLength
        truncated = capturedLength < wireLength
        eventsThisPacket = 0
        hasTCPInfo = false
        if acknowledges != nil { acknowledges = nil }
        if packetEndpoints != nil { packetEndpoints = nil }
        currentReference = nil
        sweepClock(emit: emit, summary: summary)
    }

    /// When the clock last swept: `advanceClock` does nothing for a packet from then to a
    /// second later (a parallel engine's worker skips the call for other workers' packets).
    public var lastSweepTime: Int64 { table.lastSweepTime }

    /// Whether what is being emitted comes from capture time moving (other connections
    /// released, holes given up) rather than from the packet itself.
    public private(set) var inClockSweep = false

    @inline(__always)
    private func sweepClock(emit: (TimelineEvent) -> Void, summary: (ConnectionSummary) -> Void) {
        guard table.clockWouldSweep(at: time) else { return }
        inClockSweep = true
        table.advanceClock(to: time) { event in handleStream(event, emit: emit, summary: summary) }
        inClockSweep = false
    }

    /// Called with each new stream's index and first packet, as the stream opens.
    public var onStreamOpened: ((_ stream: Int, _ packet: Int) -> Void)?

    /// The most connections tracked at once and the most out-of-order bytes held at once: a
    /// sharded run compares their sums with the limits to know that no cap acted differently.
    public var peakConnections: Int { table.peakCount }
    public var peakBufferedBytes: Int { table.peakBufferedBytes }
    public var peakRecognitionBytes: Int { recognitionBudget.peak }

    /// Asks for the tracker, the session and the sender's frame parser of the connection in
    /// `slot`, likely not in cache, all at once while the reassembly works on the segment
    /// (reaching the parser through the session waited for the session's line first).
    private func prefetchState(slot: Int, direction: Direction) {
        guard slot < trackersBySlot.count, let tracker = trackersBySlot[slot] else { return }
        wstrace_prefetch_lines(tracker.toOpaque())  // the per-packet fields span the first two lines
        guard slot < hintsBySlot.count else { return }
        let hints = hintsBySlot[slot]
        if let session = hints.session { wstrace_prefetch_lines(session) }
        if let frames = direction == .clientToServer ? hints.client : hints.server { wstrace_prefetch_lines(frames) }
    }

    /// Where the session and frame parsers of each slot's connection were at its last packet.
    /// Hints only, never read through: a stale one (the slot taken by another connection, the
    /// session gone) costs a prefetch of nothing useful.
    private struct PrefetchHints {
        var session: UnsafeRawPointer?
        var client: UnsafeRawPointer?
        var server: UnsafeRawPointer?
    }
    private var hintsBySlot: [PrefetchHints] = []

    @inline(__always)
    private func noteHints(_ slot: Int, _ session: Unmanaged<WebSocketSession>) {
        if slot >= hintsBySlot.count {
            hintsBySlot.append(contentsOf: repeatElement(PrefetchHints(), count: slot + 1 - hintsBySlot.count))
        }
        let a = session._withUnsafeGuaranteedRef { $0.prefetchAddresses }
        hintsBySlot[slot] = PrefetchHints(session: a.session, client: a.client, server: a.server)
    }

    /// The connection of the current packet, once its report is in (nil before), unowned:
    /// `trackers` holds it, and the reference is cleared where the tracker leaves `trackers`
    /// (no retain or release either way).
    private var currentReference: Unmanaged<ConnectionTracker>?

    /// A segment's report arrived: find or make its tracker and note the TCP facts.
    private func begin(_ report: SegmentReport, tcp: TCPHeader, source: Endpoint, destination: Endpoint) {
        // Per packet: the slot's tracker, borrowed.
        if report.slot < trackersBySlot.count, let bySlot = trackersBySlot[report.slot],
           bySlot._withUnsafeGuaranteedRef({ $0.stream == report.stream }) {
            bySlot._withUnsafeGuaranteedRef { begin($0, report, tcp: tcp, source: source, destination: destination) }
            return
        }
        let tracker: ConnectionTracker
        if let existing = self.tracker(report.stream) {
            tracker = existing
        } else {
            let roles = table.endpoints(source: source, destination: destination)
            tracker = ConnectionTracker(stream: report.stream, client: roles?.client ?? source,
                                        server: roles?.server ?? destination, midstream: report.midstream,
                                        packet: number, time: time)
            trackers[report.stream] = tracker
            if report.slot >= trackersBySlot.count {
                trackersBySlot.append(contentsOf: repeatElement(nil, count: report.slot + 1 - trackersBySlot.count))
            }
            trackersBySlot[report.slot] = Unmanaged.passUnretained(tracker)
            tracker.slot = report.slot
            cached = tracker
            counters.connections += 1
            onStreamOpened?(report.stream, number)
        }
        begin(tracker, report, tcp: tcp, source: source, destination: destination)
    }

    /// The packet's tracker found: it becomes the current one, and notes the TCP facts.
    @inline(__always)
    private func begin(_ tracker: ConnectionTracker, _ report: SegmentReport, tcp: TCPHeader, source: Endpoint,
                       destination: Endpoint) {
        currentReference = Unmanaged.passUnretained(tracker)
        let side: Side = report.direction == .clientToServer ? .client : .server
        packetEndpoints = (source, destination, side)
        noteSegment(tracker, report: report, tcp: tcp, side: side)
    }

    /// Ends the input: flushes every connection and hands out the remaining summaries.
    /// `step` is told when each of the three steps begins (0: TLS records still held, 1: the
    /// reassembly's remains, 2: the summaries not yet given), each going by stream: a parallel
    /// engine merges its workers' ends by (step, stream).
    public func finish(emit: (TimelineEvent) -> Void, summary: (ConnectionSummary) -> Void,
                       step: (Int) -> Void = { _ in }) {
        step(0)
        for stream in trackers.keys.sorted() {
            guard let t = trackers[stream], let tls = t.tls else { continue }
            atLastPacket(of: t)
            tls.finish { out in handleTLS(out, tracker: t, emit: emit) }
        }
        step(1)
        table.finish { event in
            if let stream = event.stream, let t = trackers[stream] { atLastPacket(of: t) }
            handleStream(event, emit: emit, summary: summary)
        }
        step(2)
        for stream in trackers.keys.sorted() {
            guard let tracker = trackers[stream] else { continue }
            if !tracker.summarized {
                tracker.summarized = true
                finalize(tracker)
                summary(tracker.summary)
            }
        }
        trackers.removeAll()
        trackersBySlot.removeAll()
        hintsBySlot.removeAll()
        currentReference = nil
        cached = nil
    }

    /// What the end of the input flushes for `t` is reported on its last packet: that packet's
    /// number, time and lengths, no TCP details of its own (they were shown), nothing of the
    /// packet read last (another connection's, or another worker's).
    private func atLastPacket(of t: ConnectionTracker) {
        number = t.lastPacket
        time = t.lastTime
        wireLength = Int(t.lastLengths.wire)
        capturedLength = Int(t.lastLengths.captured)
        truncated = capturedLength < wireLength
        eventsThisPacket = 1  // flushed events belong to packets already shown
        hasTCPInfo = false
        if acknowledges != nil { acknowledges = nil }
        packetEndpoints = nil
    }

    // MARK: - TCP

    private func noteSegment(_ t: ConnectionTracker, report: SegmentReport, tcp: TCPHeader, side: Side) {
        // The per-packet fields live in the tracker's first cache lines (see ConnectionTracker).
        t.lastTime = time
        t.lastPacket = number
        t.lastLengths = (Int32(truncatingIfNeeded: wireLength), Int32(truncatingIfNeeded: capturedLength))
        t.state = report.state
        // A packet captured twice is one packet on the wire: its copy counts once, as a duplicate.
        let copy = report.analysis.contains(.duplicate)
        if copy {
            t.summary.duplicatePackets += 1
            counters.duplicates += 1
        } else if side == .client {
            t.clientPackets += 1
            t.clientTCPBytes += UInt64(report.payloadLength)
        } else {
            t.serverPackets += 1
            t.serverTCPBytes += UInt64(report.payloadLength)
        }
        if !copy {
            t.summary.facts.segment(from: side, report: report, window: tcp.window, packet: number, time: time,
                                    start: t.summary.start)
        }
        switch report.handshake {
        case .syn?:
            if report.handshakeRetransmission { t.summary.handshake.synRetransmissions += 1 }
            if t.summary.handshake.synPacket == nil { t.summary.handshake.synPacket = number }
        case .synAck?:
            if t.summary.handshake.synAckPacket == nil { t.summary.handshake.synAckPacket = number }
        case .ack?:
            t.summary.handshake.ackPacket = number
            t.summary.handshake.rtt = report.initialRTT
        case nil: break
        }
        let steps = report.teardown
        if !steps.isEmpty {
            if steps.contains(.firstFIN) || steps.contains(.secondFIN) {
                t.summary.teardown.finPackets.append(number)
                t.summary.teardown.finSides.append(side)
                t.finSeen = true
            }
            if steps.contains(.firstFIN) { t.summary.teardown.steps[1] = number }
            if steps.contains(.firstFINAck) { t.summary.teardown.steps[2] = number }
            if steps.contains(.secondFIN) { t.summary.teardown.steps[3] = number }
            if steps.contains(.secondFINAck) { t.summary.teardown.steps[4] = number }
            if steps.contains(.secondFINAck) { t.summary.teardown.complete = true }
        }
        if report.simultaneousClose { t.summary.teardown.simultaneous = true }
        if report.reset {
            t.summary.teardown.rstPacket = number
            t.summary.teardown.rstFrom = side
            t.summary.teardown.rstState = report.stateAtReset
            t.finSeen = true
        }
        var milestone: Acknowledged.Milestone?
        if let acked = report.ackedOffset {
            milestone = t.acknowledged(by: side, upTo: acked)
        }
        let fin = !steps.isEmpty && (steps.contains(.firstFINAck) || steps.contains(.secondFINAck))
        let acknowledges = milestone != nil || fin ? Acknowledged(milestone: milestone, fin: fin) : nil
        self.acknowledges = acknowledges
        guard options.buildsEvents else { return }
        tcpInfo = TCPEventInfo(flags: tcp.flags, seq: report.relativeSeq, ack: report.relativeAck,
                               length: report.payloadLength, window: tcp.window, options: tcp.options,
                               report: report, acknowledged: acknowledges)
        hasTCPInfo = true
    }

    private func handleStream(_ event: StreamEvent, emit: (TimelineEvent) -> Void,
                              summary: (ConnectionSummary) -> Void) {
        switch event {
        case let .data(stream, direction, bytes, _, offset):
            withTracker(stream) { t in
                let side: Side = direction == .clientToServer ? .client : .server
                streamObserver?(stream, side, bytes, 0)
                t.chunkEnd = offset + UInt64(bytes.count)
                if !t.tlsChecked {
                    // The TLS stage joins a connection whose first payload is the client's ClientHello.
                    t.tlsChecked = true
                    if offset == 0 && side == .client && !t.summary.midstream && TLSSession.startsHandshake(bytes) {
                        t.tls = TLSSession(keyLog: options.keyLog, cache: options.tlsSessions ?? tlsCache, limits: options.tls, scratch: sealScratch)
                    }
                }
                if let tls = t.tls {
                    tls.receive(bytes, fromClient: side == .client, packet: number, time: time) { out in
                        self.handleTLS(out, tracker: t, emit: emit)
                    }
                    return
                }
                dissect(bytes, from: side, tracker: t, emit: emit)
            }
        case let .gap(stream, direction, size, _, reason):
            guard let t = tracker(stream) else { return }
            let side: Side = direction == .clientToServer ? .client : .server
            streamObserver?(stream, side, nil, size)
            counters.gaps += 1
            t.summary.gaps += 1
            t.summary.gapBytes += size
            if let tls = t.tls {
                let before = eventsThisPacket
                tls.gap(size, fromClient: side == .client, packet: number, time: time) { out in
                    self.handleTLS(out, tracker: t, emit: emit)
                }
                if eventsThisPacket == before {
                    emitEvent(tracker: t, side: side, proto: "TCP", phase: .data,
                              detail: .streamGap(size: size, reason: reason), violations: [], emit: emit)
                }
            } else if t.session != nil {
                dissectGap(size, from: side, tracker: t, emit: emit)
            } else {
                emitEvent(tracker: t, side: side, proto: "TCP", phase: .data,
                          detail: .streamGap(size: size, reason: reason), violations: [], emit: emit)
            }
        case let .end(stream, direction, _):
            guard let t = tracker(stream) else { return }
            let side: Side = direction == .clientToServer ? .client : .server
            if let tls = t.tls {
                tls.end(fromClient: side == .client, packet: number) { out in
                    self.handleTLS(out, tracker: t, emit: emit)
                }
            }
            guard let session = t.session else { return }
            session.end(from: side, packet: number) { d in
                self.handleDissector(d, tracker: t, emit: emit)
            }
        case let .released(stream, reason):
            guard let t = tracker(stream) else { return }
            t.summary.releaseReason = reason
            if !t.summarized {
                t.summarized = true
                finalize(t)
                summary(t.summary)
            }
            trackers[stream] = nil
            if t.slot < trackersBySlot.count && trackersBySlot[t.slot]?.toOpaque() == Unmanaged.passUnretained(t).toOpaque() {
                trackersBySlot[t.slot] = nil
            }
            if cached === t { cached = nil }
            if currentReference?.toOpaque() == Unmanaged.passUnretained(t).toOpaque() { currentReference = nil }
        }
    }

    // MARK: - TLS

    /// What the TLS stage hands on: its own rows, and plaintext for the WebSocket stage (the
    /// same dissector as cleartext).
    private func handleTLS(_ out: TLSOutput, tracker t: ConnectionTracker, emit: (TimelineEvent) -> Void) {
        switch out {
        case let .record(r):
            let side: Side = r.fromClient ? .client : .server
            var phase: Phase = .data
            for item in r.items {
                switch item {
                case .clientHello, .serverHello, .helloRetryRequest, .changeCipherSpec, .handshakeDone:
                    phase = .tls
                case let .handshake(type, _) where type != 4 && type != 24:
                    phase = .tls
                case .alert:
                    if t.closeSeen || t.finSeen {
                        phase = .close
                    } else if !t.requestSeen && t.tls?.info.handshakeDonePacket == nil {
                        phase = .tls  // an alert that ends the handshake
                    }
                default: break
                }
            }
            if phase == .data && t.closeSeen { phase = .close }
            emitEvent(tracker: t, side: side, proto: "TLS", phase: phase, detail: .tlsRecord(r), violations: [], emit: emit)
        case let .plaintext(bytes, fromClient):
            let side: Side = fromClient ? .client : .server
            dissect(bytes, from: side, tracker: t, emit: emit)
        case let .gap(size, fromClient):
            dissectGap(size, from: fromClient ? .client : .server, tracker: t, emit: emit)
        }
    }

    // MARK: - WebSocket

    /// Application bytes (cleartext, or decrypted by the TLS stage) into the connection's dissector.
    private func dissect(_ bytes: UnsafeRawBufferPointer, from side: Side, tracker t: ConnectionTracker,
                         emit: (TimelineEvent) -> Void) {
        // Borrowed once made: the tracker holds its session (dropped only at the end of
        // `process`, once the connection is summarized, never while it dissects).
        if let session = t.sessionReference {
            session._withUnsafeGuaranteedRef { session in
                session.receive(bytes, from: side, packet: number) { d in self.handleDissector(d, tracker: t, emit: emit) }
            }
            return
        }
        t.session(limits: options.dissector, scratch: scratch, budget: recognitionBudget).receive(bytes, from: side, packet: number) { d in
            self.handleDissector(d, tracker: t, emit: emit)
        }
    }

    /// Application bytes lost, for a dissector that has begun.
    private func dissectGap(_ size: UInt64, from side: Side, tracker t: ConnectionTracker, emit: (TimelineEvent) -> Void) {
        t.session?.gap(size, from: side, packet: number) { d in
            self.handleDissector(d, tracker: t, emit: emit)
        }
    }

    private func handleDissector(_ event: DissectorEvent, tracker t: ConnectionTracker, emit: (TimelineEvent) -> Void) {
        switch event {
        case let .httpRequest(r):
            t.requestSeen = true
            t.mark(.client, r.isWebSocketUpgrade ? .upgradeRequest : .httpRequest)
            t.summary.httpRequests += 1
            if t.summary.firstRequest == nil { t.summary.firstRequest = concatenated(r.method, " ", r.target) }
            if r.isWebSocketUpgrade && t.summary.upgrade == nil {
                var u = UpgradeSummary(path: r.target, host: r.host, origin: r.origin, requestPacket: number,
                                       requestTime: time)
                u.offeredProtocols = r.offeredProtocols
                u.offeredExtensions = r.offeredExtensions.map(Analyzer.extensionText)
                t.summary.upgrade = u
            }
            emitEvent(tracker: t, side: r.side, proto: "HTTP", phase: .upgrade, detail: .httpRequest(r),
                      violations: r.violations, emit: emit)
        case let .httpResponse(r):
            t.responseSeen = true
            t.mark(.server, r.upgraded ? .response101 : .httpResponse)
            if t.summary.firstResponse == nil { t.summary.firstResponse = concatenated(String(r.status), " ", r.reason) }
            // In place: a copy of the upgrade written back retained and released all it holds.
            if t.summary.upgrade != nil && t.summary.upgrade!.status == nil {
                let packet = number, time = time
                modify(&t.summary.upgrade!) { u in
                    u.status = r.status
                    u.reason = r.reason
                    u.responsePacket = packet
                    u.responseTime = time
                    u.subprotocol = r.selectedProtocol
                    u.extensions = r.selectedExtensions.map(Analyzer.extensionText)
                    u.acceptValid = r.acceptValid
                    u.deflate = r.deflate
                    u.upgraded = r.upgraded
                }
            }
            if r.upgraded {
                t.summary.isWebSocket = true
                counters.webSocketConnections += 1
                startApp(t)
            }
            emitEvent(tracker: t, side: r.side, proto: "HTTP", phase: .upgrade, detail: .httpResponse(r),
                      violations: r.violations, emit: emit)
        case let .frame(f):
            counters.frames += 1
            if !t.summary.isWebSocket {
                t.summary.isWebSocket = true  // recognised mid-stream
                counters.webSocketConnections += 1
            }
            var role: CloseRole?
            t.summary.facts.frame(f, packet: number, time: time)
            t.summary.withCounts(f.side) { c in
                c.frames += 1
                c.wireBytes.addSaturating(UInt64(f.headerLength))
                c.wireBytes.addSaturating(f.payloadLength)
                switch f.opcode {
                case 8: c.close += 1
                case 9: c.ping += 1
                case 10: c.pong += 1
                default: break
                }
                if let m = f.message {
                    if m.opcode == 1 { c.text += 1 } else { c.binary += 1 }
                    c.bytes += m.length
                    if m.compressed {
                        c.compressedWire.addSaturating(m.wireLength)
                        c.compressedInflated += m.length
                    }
                }
            }
            if let m = f.message {
                counters.messages += 1
                if !m.complete { t.summary.incompleteMessages += 1 }
            }
            if f.opcode == 8 {
                t.mark(f.side, .closeFrame)
                if t.summary.close != nil {
                    let packet = number, time = time
                    modify(&t.summary.close!) { close in
                        guard close.initiator != f.side && close.replyPacket == nil else { return }
                        close.replyPacket = packet
                        close.replyCode = f.closeCode
                        close.replyReason = f.closeReason
                        close.latency = time - close.initiatorTime
                        role = CloseRole(initiates: false, latency: close.latency)
                    }
                } else {
                    t.summary.close = CloseSummary(initiator: f.side, code: f.closeCode, reason: f.closeReason,
                                                   initiatorPacket: number, initiatorTime: time)
                    role = CloseRole(initiates: true, latency: nil)
                }
                t.closeSeen = true
            }
            let phase: Phase = f.opcode == 8 || t.closeSeen ? .close : .data
            let app = f.message.map { applicationMessages($0, tracker: t) } ?? []
            emitEvent(tracker: t, side: f.side, proto: "WebSocket", phase: phase, detail: .frame(f, role),
                      violations: f.violations, app: app, emit: emit)
        case let .progress(p):
            let proto: String
            if case .httpHeader = p.unit { proto = "HTTP" } else { proto = "WebSocket" }
            let phase: Phase = proto == "HTTP" ? .upgrade : (t.closeSeen ? .close : .data)
            emitEvent(tracker: t, side: p.side, proto: proto, phase: phase, detail: .progress(p), violations: [], emit: emit)
        case let .tls(info):
            // A ClientHello the TLS stage did not see first (not at the stream's start).
            if info.kind == .clientHello && t.tls == nil && t.summary.tls == nil {
                var summary = TLSConnectionInfo()
                summary.serverName = info.serverName
                summary.offeredALPN = info.alpn
                summary.detail = "ClientHello not at the start of the stream: not decrypted"
                t.summary.tls = summary
            }
            emitEvent(tracker: t, side: info.side, proto: "TLS", phase: info.kind == .records ? .data : .upgrade,
                      detail: .tls(info), violations: [], emit: emit)
        case let .opaque(info):
            let proto = info.kind == .httpBody ? "HTTP" : "TCP"
            emitEvent(tracker: t, side: info.side, proto: proto, phase: t.closeSeen ? .close : .data,
                      detail: .opaque(info), violations: [], emit: emit)
        case let .gap(info):
            emitEvent(tracker: t, side: info.side, proto: t.summary.isWebSocket ? "WebSocket" : "TCP",
                      phase: t.closeSeen ? .close : .data, detail: .gap(info), violations: [], emit: emit)
        case let .violation(v):
            if let side = packetEndpoints?.side { t.summary.facts.violation(from: side, code: v.code, packet: number) }
            pendingViolations.append(v)
            t.addViolations([v], packet: number)
            counters.violations += 1
        }
    }

    // MARK: - Events

    /// `detail` is built only when events are (a frame's detail is a large copy that a
    /// `--summary` never reads).
    private func emitEvent(tracker t: ConnectionTracker, side: Side, proto: String, phase: Phase,
                           detail: @autoclosure () -> EventDetail, violations: [Violation], app: [AppMessage] = [],
                           emit: (TimelineEvent) -> Void) {
        var all = violations
        if !violations.isEmpty {
            t.summary.facts.violation(from: side, code: violations[violations.count - 1].code, packet: number)
            t.addViolations(violations, packet: number)
            counters.violations += violations.count
        }
        if !pendingViolations.isEmpty {
            all += pendingViolations
            pendingViolations.removeAll()
        }
        counters.events += 1
        t.notePhase(phase, packet: number, time: time)
        guard options.buildsEvents else {
            eventsThisPacket += 1
            return
        }
        let source: Endpoint, destination: Endpoint
        var otherDirection = false
        if let p = packetEndpoints {
            source = p.source
            destination = p.destination
            otherDirection = p.side != side
        } else {
            let fromClient = side == .client
            source = fromClient ? t.summary.client : t.summary.server
            destination = fromClient ? t.summary.server : t.summary.client
        }
        let event = TimelineEvent(
            packet: number, time: time, stream: t.stream,
            source: source, destination: destination,
            sourceText: nil, destinationText: nil, proto: proto, wireLength: wireLength,
            capturedLength: capturedLength, phase: phase, side: side, detail: detail(), hasTCP: hasTCPInfo,
            tcpInfo: hasTCPInfo ? tcpInfo : .absent, showsTCPLabels: eventsThisPacket == 0, violations: all, truncated: truncated,
            otherDirection: otherDirection, decrypted: t.tls != nil && (proto == "WebSocket" || proto == "HTTP"), app: app)
        eventsThisPacket += 1
        emit(event)
    }

    private func emitNonTCP(_ d: DecodedPacket, emit: (TimelineEvent) -> Void) {
        var proto: String
        var summary: String
        switch d.transport {
        case let .udp(sp, dp, length):
            counters.udp += 1
            proto = "UDP"
            summary = "\(sp) → \(dp) Len=\(max(0, Int(length) - 8))"
        case let .icmp(type, code, v6):
            counters.icmp += 1
            proto = v6 ? "ICMPv6" : "ICMP"
            summary = Analyzer.icmpText(type: type, code: code, v6: v6)
        case let .other(p):
            counters.otherIP += 1
            proto = d.ipVersion == 6 ? "IPv6" : "IPv4"
            summary = "IP protocol \(p)"
        case .tcp:
            counters.undecodable += 1
            proto = "TCP"
            summary = "TCP"
        case .none:
            if d.issue != nil {
                counters.undecodable += 1
                proto = d.ipVersion == 6 ? "IPv6" : d.ipVersion == 4 ? "IPv4" : "Ethernet"
                summary = "undecodable"
            } else if case .held? = d.fragment {
                counters.otherIP += 1
                proto = "IPv4"
                summary = "fragment"
            } else if decoder.linkType == .unsupported {
                // A pcapng interface of a link type not decoded.
                counters.nonIP += 1
                proto = "Frame"
                summary = "link type not decoded"
            } else if d.ipVersion == 0 {
                counters.nonIP += 1
                proto = Analyzer.etherTypeName(d.etherType)
                summary = d.etherType.map { "EtherType 0x" + String($0, radix: 16, uppercase: false) } ?? "not IP"
            } else {
                counters.otherIP += 1
                proto = d.ipVersion == 6 ? "IPv6" : "IPv4"
                summary = "IP"
            }
        }
        if case let .held(id, offset, length)? = d.fragment {
            summary = "Fragmented IP protocol (id=0x\(String(id, radix: 16)), off=\(offset), len=\(length)) held for reassembly"
            proto = "IPv4"
        }
        if let issue = d.issue { summary += " [\(issue.description)]" }
        let event = TimelineEvent(
            packet: number, time: time, stream: nil,
            source: d.source.map { Endpoint(address: $0, port: 0) },
            destination: d.destination.map { Endpoint(address: $0, port: 0) },
            sourceText: d.source?.text ?? "", destinationText: d.destination?.text ?? "",
            proto: proto, wireLength: wireLength, capturedLength: capturedLength, phase: .other, side: nil,
            detail: .nonTCP(NonTCPInfo(summary: summary, issue: d.issue)), hasTCP: false, tcpInfo: .absent, showsTCPLabels: false,
            violations: [], truncated: truncated)
        counters.events += 1
        emit(event)
    }

    // MARK: - The App stage

    /// The App stage for a connection that now carries WebSocket messages (at its 101, or at
    /// its first frame when picked up mid-stream).
    @discardableResult
    private func startApp(_ t: ConnectionTracker) -> AppSession? {
        guard options.app.enabled else { return nil }
        if let app = t.app { return app }
        let app = AppSession(subprotocol: t.summary.upgrade?.subprotocol, path: t.summary.upgrade?.path,
                             decodeAs: options.app.decodeAs)
        app.jsonFallback = options.app.jsonFallback
        t.app = app
        keepMessages(t, app)
        return app
    }

    /// While the stage reads a connection's messages, its dissector keeps them whatever is
    /// displayed: the opening that detection reads while nothing is chosen, up to the stage's
    /// retention once a protocol is.
    private func keepMessages(_ t: ConnectionTracker, _ app: AppSession) {
        // Plain JSON (no protocol) is only shown: it reads what is kept for display, and so
        // does detection once the JSON fallback is chosen (every row alike).
        let want: Int?
        if app.chosen == nil && app.isDetecting {
            want = max(AppSession.detectionPrefix, options.dissector.payloadRetention)
        } else if app.chosen != nil && app.chosen != .json {
            want = max(options.app.retention, options.dissector.payloadRetention)
        } else {
            want = nil
        }
        if t.session?.messageRetention != want { t.session?.messageRetention = want }
    }

    /// What the application protocol said in a completed message; counted in the summary.
    private func applicationMessages(_ m: MessageInfo, tracker t: ConnectionTracker) -> [AppMessage] {
        guard let app = startApp(t) else { return [] }
        let before = app.latencies.count
        let found = app.message(fromClient: m.side == .client, text: m.opcode == 1, payload: m.payload, length: m.length,
                                payloadComplete: m.complete && !m.truncated, packet: number, time: time)
        // The summary counts application protocols; plain JSON is only shown (its rows and
        // `--summary` read different amounts of each message, the summary must not differ).
        if let first = found.first(where: { $0.proto != .json }) {
            var summary = t.summary.app ?? AppSummary(proto: first.proto, subprotocol: t.summary.upgrade?.subprotocol)
            for x in found where x.proto != .json {
                summary.note(x)
                if summary.proto == .engineIO && x.proto == .socketIO { summary.proto = x.proto }
            }
            let answers = app.latencies
            if answers.count > before {
                for l in answers[before...] { summary.answered(l, keepAll: options.app.keepsLatencies) }
            }
            t.summary.app = summary
        }
        keepMessages(t, app)
        return found
    }

    private func finalize(_ t: ConnectionTracker) {
        if let app = t.app, t.summary.app != nil { t.summary.app?.pending = app.pendingRequests }
        t.syncSummary()
        t.summary.end = max(t.summary.end, t.summary.start)
        t.summary.facts.finish(at: t.summary.end)
        if t.summary.teardown.rstFrom == nil && t.summary.teardown.complete { t.summary.state = .closed }
    }

    static func extensionText(_ e: ExtensionOffer) -> String {
        ([e.name] + e.parameters.map { p in p.value.map { "\(p.name)=\($0)" } ?? p.name }).joined(separator: "; ")
    }

    static func etherTypeName(_ type: UInt16?) -> String {
        switch type {
        case 0x0806?: return "ARP"
        case 0x88cc?: return "LLDP"
        case 0x8035?: return "RARP"
        default: return "Ethernet"
        }
    }

    static func icmpText(type: UInt8, code: UInt8, v6: Bool) -> String {
        if v6 {
            switch type {
            case 128: return "Echo (ping) request"
            case 129: return "Echo (ping) reply"
            case 1: return "Destination unreachable"
            case 135: return "Neighbor solicitation"
            case 136: return "Neighbor advertisement"
            default: return "type \(type), code \(code)"
            }
        }
        switch type {
        case 8: return "Echo (ping) request"
        case 0: return "Echo (ping) reply"
        case 3: return "Destination unreachable (code \(code))"
        case 11: return "Time-to-live exceeded"
        default: return "type \(type), code \(code)"
        }
    }
}

extension StreamEvent {
    var stream: Int? {
        switch self {
        case let .data(stream, _, _, _, _): return stream
        case let .gap(stream, _, _, _, _): return stream
        case let .end(stream, _, _): return stream
        case let .released(stream, _): return stream
        }
    }
}

/// Runs `body` on `value` where it lies (one exclusive access, no copy).
@inline(__always)
private func modify<T>(_ value: inout T, _ body: (inout T) -> Void) {
    body(&value)
}

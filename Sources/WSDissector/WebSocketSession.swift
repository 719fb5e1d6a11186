import CPrefetch
/// Dissects one TCP connection's two byte streams: HTTP (Upgrade or not), TLS hellos,
/// WebSocket frames and messages. Feed each side's bytes in order; events come out through
/// `emit`, on the packet whose bytes completed them. Every `receive` call yields at least one
/// event.
///
/// Unfinished units at `end(from:)` are reported as `.gap` events whose `resync` says the
/// stream ended (`size` = bytes known to be missing, 0 when unknown), plus a `.frame` with
/// `payloadTruncated` for a frame cut short.
public final class WebSocketSession {
    private enum Mode {
        /// Nothing seen yet: the first bytes decide (HTTP, TLS, frames when mid-stream, unknown).
        case sniff
        case httpHeader
        case httpBody(remaining: UInt64)
        /// Client bytes after an Upgrade request, held until the server answers.
        case holding
        case frames
        case tlsHello
        case tlsRecords
        case opaque(OpaqueInfo.Kind)
        /// Mid-stream: bytes held by the `MidstreamRecognizer` until it decides.
        case recognizing
    }

    private struct Direction {
        var mode: Mode = .sniff
        /// Sniffed bytes, the header block being accumulated, held bytes or a TLS hello record.
        var buffer: [UInt8] = []
        /// Held bytes included lost ones.
        var holdBroken = false
        var heldViolationReported = false
    }

    private let limits: DissectorLimits
    private let midstream: Bool
    let scratch: UnmaskScratch
    private var client = Direction()
    private var server = Direction()
    private var clientFrames: FrameStream?
    private var serverFrames: FrameStream?
    /// The frame parsers' addresses, set with them (a parser is never replaced or dropped):
    /// `prefetch` and the per-packet `receive` reach them without a retain.
    private var framesAddresses: (client: UnsafeMutableRawPointer?, server: UnsafeMutableRawPointer?) = (nil, nil)
    /// The last Upgrade request, waiting for its response.
    private var pendingUpgrade: Handshake.Offer?
    /// Mid-stream: what decides the protocol, while it has not decided.
    private var recognizer: MidstreamRecognizer?
    /// Mid-stream: the recognizer has decided (later first bytes are read as at a stream's start).
    private var recognitionDone = false

    /// What the payload was recognised as, and on what evidence (nil before any payload).
    public private(set) var recognition: Recognition?

    /// Whether the connection is WebSocket now (101 seen, or frames recognized mid-stream).
    public private(set) var isWebSocket = false
    /// Whether the WebSocket was recognized from frame structure, without a captured handshake.
    public private(set) var isMidstream = false
    /// Whether the connection began with a TLS handshake.
    public private(set) var isTLS = false
    /// permessage-deflate parameters selected by the server's 101 response.
    public private(set) var negotiatedDeflate: DeflateParameters?

    /// - Parameters:
    ///   - limits: caps on what the connection may make the dissector hold.
    ///   - midstream: the connection was picked up after its start: recognize WebSocket frames
    ///     from their structure when the first bytes are neither HTTP nor TLS.
    ///   - scratch: where masked payload is unmasked; one shared by every session of a capture
    ///     stays in cache (a fresh one is made when nil).
    ///   - budget: the capture-wide cap on bytes held while mid-stream connections are being
    ///     recognised (a fresh one of 32 MiB when nil).
    public init(limits: DissectorLimits = DissectorLimits(), midstream: Bool = false, scratch: UnmaskScratch? = nil,
                budget: RecognitionBudget? = nil) {
        self.limits = limits
        self.midstream = midstream
        self.scratch = scratch ?? UnmaskScratch()
        self.budget = budget
    }

    private let budget: RecognitionBudget?

    /// Bytes of each message's payload kept (nil: `limits.payloadRetention`): raised while the
    /// application-protocol stage reads this connection's messages, whatever is displayed.
    public var messageRetention: Int? {
        didSet {
            let n = messageRetention ?? limits.payloadRetention
            clientFrames?.messageRetention = n
            serverFrames?.messageRetention = n
        }
    }

    // MARK: - Public entry points

    /// Where the session and its frame parsers are, for a caller that asks the CPU for them
    /// ahead of `receive` (a prefetch hint: the parsers, once made, are never replaced).
    public var prefetchAddresses: (session: UnsafeRawPointer, client: UnsafeRawPointer?, server: UnsafeRawPointer?) {
        (UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque()),
         framesAddresses.client.map { UnsafeRawPointer($0) }, framesAddresses.server.map { UnsafeRawPointer($0) })
    }

    /// In-order bytes from one side. `packet` is the capture's packet number carrying them
    /// (events are reported on it).
    public func receive(_ bytes: UnsafeRawBufferPointer, from side: Side, packet: Int,
                        _ emit: (DissectorEvent) -> Void) {
        guard bytes.count > 0 else { return }
        var emitted = false
        func tracked(_ event: DissectorEvent) { emitted = true; emit(event) }
        process(bytes, side: side, packet: packet, tracked)
        if !emitted {
            emit(.progress(Progress(side: side, unit: .httpHeader, received: UInt64(bufferCount(side)),
                                    expected: nil)))
        }
    }

    /// `size` bytes from `side` were never captured (a TCP gap). Reports what was lost and
    /// resynchronizes.
    public func gap(_ size: UInt64, from side: Side, packet: Int, _ emit: (DissectorEvent) -> Void) {
        guard size > 0 else { return }
        switch mode(side) {
        case .frames:
            frames(side)?.gap(size, packet: packet, emit)
        case .httpBody(let remaining):
            if size < remaining {
                setMode(.httpBody(remaining: remaining - size), side)
                emit(.gap(GapInfo(side: side, size: size, lost: "\(size) bytes of an HTTP body",
                                  resync: "body length known: the body goes on")))
            } else if size == remaining {
                setMode(.httpHeader, side)
                emit(.gap(GapInfo(side: side, size: size, lost: "the last \(size) bytes of an HTTP body",
                                  resync: "body length known: the next HTTP header starts after the gap")))
            } else {
                setMode(.opaque(.unknown), side)
                emit(.gap(GapInfo(side: side, size: size, lost: "the end of an HTTP body and \(size - remaining) bytes after it",
                                  resync: "none: the rest of this direction is not interpreted")))
            }
        case .sniff:
            if midstream && !recognitionDone {
                emit(.gap(GapInfo(side: side, size: size, lost: "\(size) bytes before any byte was seen",
                                  resync: "the protocol is recognised from the bytes that follow")))
            } else {
                setMode(.opaque(.unknown), side)
                emit(.gap(GapInfo(side: side, size: size, lost: "the first \(size) bytes of the stream",
                                  resync: "none: the protocol is unknown")))
            }
        case .httpHeader:
            let seen = bufferCount(side)
            clearBuffer(side)
            setMode(.opaque(.unknown), side)
            emit(.gap(GapInfo(side: side, size: size, lost: "\(size) bytes of an HTTP header block (\(seen) bytes seen)",
                              resync: "none: the rest of this direction is not interpreted")))
        case .holding:
            client.holdBroken = true
            emit(.gap(GapInfo(side: side, size: size, lost: "\(size) bytes sent before the Upgrade response",
                              resync: "if the upgrade succeeds, scanning for a plausible frame header")))
        case .tlsHello:
            clearBuffer(side)
            setMode(.tlsRecords, side)
            emit(.gap(GapInfo(side: side, size: size, lost: "\(size) bytes of a TLS handshake",
                              resync: "counting TLS records")))
        case .tlsRecords:
            emit(.gap(GapInfo(side: side, size: size, lost: "\(size) bytes of TLS records", resync: "counting TLS records")))
        case .opaque:
            emit(.gap(GapInfo(side: side, size: size, lost: "\(size) uninterpreted bytes", resync: "none needed")))
        case .recognizing:
            // Frames and records do not chain across a hole: decide on what came before it.
            if let r = recognizer {
                apply(r.interrupted(), emit)
                gap(size, from: side, packet: packet, emit)
            }
        }
    }

    /// `side` finished sending (FIN or RST, or end of capture): reports an unfinished
    /// frame/message/header as truncated.
    public func end(from side: Side, packet: Int, _ emit: (DissectorEvent) -> Void) {
        if case .recognizing = mode(side), let r = recognizer {
            if let verdict = r.end(from: side) {
                apply(verdict, emit)
                // Both sides may have ended while the decision waited.
                for ended in [side.peer, side] where r.held(ended).ended { endDecided(ended, packet: packet, emit) }
            }
            return
        }
        endDecided(side, packet: packet, emit)
    }

    private func endDecided(_ side: Side, packet: Int, _ emit: (DissectorEvent) -> Void) {
        switch mode(side) {
        case .frames:
            frames(side)?.end(packet: packet, emit)
        case .httpHeader:
            let seen = bufferCount(side)
            if seen > 0 {
                emit(.gap(GapInfo(side: side, size: 0, lost: "end of stream inside an HTTP header block (\(seen) bytes seen)",
                                  resync: "none: the stream ended")))
            }
        case .sniff:
            let seen = bufferCount(side)
            if seen > 0 {
                emit(.gap(GapInfo(side: side, size: 0, lost: "end of stream after \(seen) bytes too few to identify the protocol",
                                  resync: "none: the stream ended")))
            }
        case .httpBody(let remaining):
            emit(.gap(GapInfo(side: side, size: remaining, lost: "end of stream with \(remaining) HTTP body bytes missing",
                              resync: "none: the stream ended")))
        case .holding:
            let held = client.buffer.count
            if held > 0 {
                emit(.gap(GapInfo(side: side, size: 0,
                                  lost: "end of stream with \(held) bytes held, sent after the Upgrade request and never answered",
                                  resync: "none: the stream ended")))
            }
        case .tlsHello:
            let seen = bufferCount(side)
            if seen > 0 {
                emit(.gap(GapInfo(side: side, size: 0, lost: "end of stream inside a TLS hello (\(seen) bytes seen)",
                                  resync: "none: the stream ended")))
            }
        case .tlsRecords, .opaque, .recognizing:
            break
        }
        clearBuffer(side)
    }

    // MARK: - Dispatch

    private func direction(_ side: Side) -> Direction { side == .client ? client : server }
    /// The mode alone: no copy of the direction's buffer (this runs once per chunk).
    private func mode(_ side: Side) -> Mode { side == .client ? client.mode : server.mode }
    private func bufferCount(_ side: Side) -> Int { side == .client ? client.buffer.count : server.buffer.count }
    private func setMode(_ mode: Mode, _ side: Side) {
        if side == .client { client.mode = mode } else { server.mode = mode }
    }
    private func clearBuffer(_ side: Side) {
        if side == .client { client.buffer = [] } else { server.buffer = [] }
    }
    private func frames(_ side: Side) -> FrameStream? { side == .client ? clientFrames : serverFrames }
    private func framesAddress(_ side: Side) -> UnsafeMutableRawPointer? {
        side == .client ? framesAddresses.client : framesAddresses.server
    }

    private func startFrames(_ side: Side, scanning: Bool, midstream: Bool? = nil) {
        let stream = FrameStream(side: side, limits: limits, deflate: negotiatedDeflate, scanning: scanning,
                                 midstream: midstream, scratch: scratch)
        if let messageRetention { stream.messageRetention = messageRetention }
        if side == .client { clientFrames = stream } else { serverFrames = stream }
        let address = Unmanaged.passUnretained(stream).toOpaque()
        if side == .client { framesAddresses.client = address } else { framesAddresses.server = address }
        setMode(.frames, side)
        if scanning && !isWebSocket { isMidstream = true }
    }

    private func process(_ bytes: UnsafeRawBufferPointer, side: Side, packet: Int, _ emit: (DissectorEvent) -> Void) {
        var rest = bytes
        while rest.count > 0 {
            let used: Int
            switch mode(side) {
            case .sniff:
                used = sniff(rest, side: side, packet: packet, emit)
            case .httpHeader:
                used = httpHeader(rest, side: side, packet: packet, emit)
            case .httpBody(let remaining):
                let n = UInt64(rest.count) < remaining ? rest.count : Int(remaining)
                emit(.opaque(OpaqueInfo(side: side, kind: .httpBody, bytes: n)))
                setMode(UInt64(n) == remaining ? .httpHeader : .httpBody(remaining: remaining - UInt64(n)), side)
                used = n
            case .holding:
                used = hold(rest, packet: packet, emit)
            case .frames:
                // Borrowed through the address kept beside it: the session holds the parser, and
                // nothing the parser reports replaces it (a retain and a release per data packet).
                if let address = framesAddress(side) {
                    Unmanaged<FrameStream>.fromOpaque(address)._withUnsafeGuaranteedRef { stream in
                        stream.receive(rest, packet: packet, emit)
                        if stream.state != .scanning { isWebSocket = true }
                    }
                }
                used = rest.count
            case .tlsHello:
                used = tlsHello(rest, side: side, emit)
            case .tlsRecords:
                emit(.tls(TLSInfo(side: side, kind: .records, serverName: nil, alpn: [], bytes: rest.count)))
                used = rest.count
            case .opaque(let kind):
                emit(.opaque(OpaqueInfo(side: side, kind: kind, bytes: rest.count)))
                used = rest.count
            case .recognizing:
                recognize(rest, side: side, packet: packet, emit)
                used = rest.count
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[used...])
        }
    }

    // MARK: - First bytes

    /// Decides what the direction carries. Returns the bytes consumed (0 when a mode was chosen
    /// and the bytes are to be read in it).
    private func sniff(_ bytes: UnsafeRawBufferPointer, side: Side, packet: Int,
                       _ emit: (DissectorEvent) -> Void) -> Int {
        var pending = direction(side).buffer
        if !pending.isEmpty {
            // Too few bytes were seen before: decide on everything together.
            pending.append(contentsOf: bytes)
            clearBuffer(side)
            if let mode = decide(pending, side: side) {
                choose(mode, side: side)
                pending.withUnsafeBytes { process($0, side: side, packet: packet, emit) }
            } else {
                if side == .client { client.buffer = pending } else { server.buffer = pending }
                emit(.progress(Progress(side: side, unit: .httpHeader, received: UInt64(pending.count), expected: nil)))
            }
            return bytes.count
        }
        if let mode = decide(bytes, side: side) {
            choose(mode, side: side)
            return 0
        }
        if side == .client { client.buffer = Array(bytes) } else { server.buffer = Array(bytes) }
        emit(.progress(Progress(side: side, unit: .httpHeader, received: UInt64(bytes.count), expected: nil)))
        return bytes.count
    }

    private func decide(_ bytes: [UInt8], side: Side) -> Mode? {
        bytes.withUnsafeBytes { decide($0, side: side) }
    }

    private func decide(_ bytes: UnsafeRawBufferPointer, side: Side) -> Mode? {
        // Mid-stream, nothing is interpreted before the recognizer has seen enough.
        if midstream && !recognitionDone { return .recognizing }
        let tls = TLSHello.looksLikeHandshakeRecord(bytes)
        let http = side == .client ? HTTPHeaderParser.looksLikeRequest(bytes) : HTTPHeaderParser.looksLikeResponse(bytes)
        if tls == true { return .tlsHello }
        if http == true { return .httpHeader }
        if (tls == nil || http == nil) && bytes.count < 24 { return nil }
        if recognition == nil {
            recognition = Recognition(.unknown, .none, "the first bytes from the \(side == .client ? "client" : "server") are neither an HTTP start line nor a TLS handshake record")
        }
        return .opaque(.unknown)
    }

    private func choose(_ mode: Mode, side: Side) {
        switch mode {
        case .frames: startFrames(side, scanning: true)
        case .tlsHello:
            isTLS = true
            setMode(mode, side)
            if recognition?.proto != .tls {
                recognition = Recognition(.tls, .tlsHello, "TLS handshake record at the start of the \(side == .client ? "client" : "server") stream")
            }
        case .recognizing:
            if recognizer == nil { recognizer = MidstreamRecognizer(budget: budget ?? RecognitionBudget()) }
            setMode(mode, side)
        default: setMode(mode, side)
        }
    }

    // MARK: - Mid-stream recognition

    private func recognize(_ bytes: UnsafeRawBufferPointer, side: Side, packet: Int, _ emit: (DissectorEvent) -> Void) {
        guard let r = recognizer else { return }
        guard let verdict = r.add(bytes, from: side, packet: packet) else {
            emit(.opaque(OpaqueInfo(side: side, kind: .held, bytes: bytes.count)))
            return
        }
        apply(verdict, emit)
        // Nothing replays when the payload is unknown: this packet's bytes are uninterpreted.
        if case .unknown = verdict { emit(.opaque(OpaqueInfo(side: side, kind: .unknown, bytes: bytes.count))) }
    }

    /// Puts both directions in the modes the verdict calls for and replays their held bytes
    /// through them, chunk by chunk with the packet numbers they came in.
    private func apply(_ verdict: MidstreamRecognizer.Verdict, _ emit: (DissectorEvent) -> Void) {
        guard let r = recognizer else { return }
        recognizer = nil
        recognitionDone = true
        func name(_ side: Side) -> String { side == .client ? "client" : "server" }
        switch verdict {
        case let .http(side, start):
            recognition = Recognition(.http, .httpStartLine, "picked up mid-stream: HTTP \(side == .client ? "request" : "status") line at byte \(start) of the \(name(side)) stream")
            setMode(.httpHeader, side)
            setMode(.sniff, side.peer)
            replay(r, starts: side == .client ? (start, 0) : (0, start), emit)
        case let .tls(side, start, records):
            isTLS = true
            recognition = Recognition(.tls, .tlsRecords, "picked up mid-stream: \(records) TLS record(s) chained from byte \(start) of the \(name(side)) stream")
            for s in [Side.client, .server] {
                let held = r.held(s).bytes
                setMode(held.count >= 3 && held[0] == 0x16 && held[1] == 0x03 ? .tlsHello : .tlsRecords, s)
            }
            replay(r, starts: (0, 0), emit)
        case .websocket:
            recognition = Recognition(.websocket, .frames, r.webSocketDetail())
            isMidstream = true
            var starts = (client: 0, server: 0)
            for s in [Side.client, .server] {
                if case let .exact(start, _, _) = r.held(s).frames {
                    startFrames(s, scanning: false, midstream: true)
                    if s == .client { starts.client = start } else { starts.server = start }
                } else {
                    startFrames(s, scanning: true)
                }
            }
            replay(r, starts: starts, emit)
        case let .unknown(reason):
            recognition = Recognition(.unknown, .none, reason)
            for s in [Side.client, .server] { setMode(.opaque(.unknown), s) }
        }
    }

    /// Feeds both directions their held bytes in the modes just set, chunk by chunk in packet
    /// order with the packet numbers they came in; bytes before a side's start are reported as
    /// uninterpreted.
    private func replay(_ r: MidstreamRecognizer, starts: (client: Int, server: Int), _ emit: (DissectorEvent) -> Void) {
        var pieces: [(packet: Int, side: Side, range: Range<Int>)] = []
        for side in [Side.client, .server] {
            let held = r.held(side)
            let start = side == .client ? starts.client : starts.server
            if start > 0 { emit(.opaque(OpaqueInfo(side: side, kind: .unknown, bytes: start))) }
            for (i, chunk) in held.chunks.enumerated() {
                let end = i + 1 < held.chunks.count ? held.chunks[i + 1].offset : held.bytes.count
                let from = max(chunk.offset, start)
                if from < end { pieces.append((chunk.packet, side, from..<end)) }
            }
        }
        pieces.sort { $0.packet < $1.packet }
        let client = r.held(.client).bytes, server = r.held(.server).bytes
        for piece in pieces {
            (piece.side == .client ? client : server).withUnsafeBytes { raw in
                process(UnsafeRawBufferPointer(rebasing: raw[piece.range]), side: piece.side, packet: piece.packet, emit)
            }
        }
    }

    // MARK: - HTTP

    private func httpHeader(_ bytes: UnsafeRawBufferPointer, side: Side, packet: Int,
                            _ emit: (DissectorEvent) -> Void) -> Int {
        // The usual head: whole in this chunk, nothing before it. Parsed where it lies, not
        // copied into the direction's buffer first.
        if bufferCount(side) == 0 {
            let window = UnsafeRawBufferPointer(rebasing: bytes[..<min(bytes.count, limits.maxHeaderBlock)])
            if let end = HTTPHeaderParser.endOfBlock(window, from: 0) {
                headerBlock(UnsafeRawBufferPointer(rebasing: window[..<end]), side: side, packet: packet, emit)
                return end
            }
        }
        var buffer = direction(side).buffer
        clearBuffer(side)
        let old = buffer.count
        let take = min(bytes.count, max(limits.maxHeaderBlock - old, 0))
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<take]))
        let end = buffer.withUnsafeBytes { HTTPHeaderParser.endOfBlock($0, from: max(old - 3, 0)) }
        guard let end else {
            if buffer.count >= limits.maxHeaderBlock {
                emit(.violation(Violation(.headerTooLarge,
                                          "HTTP header block larger than \(limits.maxHeaderBlock) bytes: rest of this direction not interpreted")))
                setMode(.opaque(.unknown), side)
                return take
            }
            if side == .client { client.buffer = buffer } else { server.buffer = buffer }
            emit(.progress(Progress(side: side, unit: .httpHeader, received: UInt64(buffer.count), expected: nil)))
            return take
        }
        buffer.withUnsafeBytes { block in
            headerBlock(UnsafeRawBufferPointer(rebasing: block[..<end]), side: side, packet: packet, emit)
        }
        return end - old
    }

    /// A complete header block of `side`: parsed, and the request or response it is acted on
    /// (when it is no HTTP head, the direction becomes opaque).
    private func headerBlock(_ block: UnsafeRawBufferPointer, side: Side, packet: Int,
                             _ emit: (DissectorEvent) -> Void) {
        let head: HTTPHead
        do {
            head = try HTTPHeaderParser.parse(block)
        } catch {
            emit(.violation(Violation(.garbage, "not an HTTP \(side == .client ? "request" : "response") header block")))
            setMode(.opaque(.unknown), side)
            return
        }
        if recognition == nil || recognition?.proto == .unknown {
            recognition = Recognition(.http, .httpStartLine, side == .client ? "HTTP request line at the start of the client stream"
                                      : "HTTP status line at the start of the server stream")
        }
        if side == .client {
            clientHead(head, emit)
        } else {
            serverHead(head, packet: packet, emit)
        }
    }

    private func clientHead(_ head: HTTPHead, _ emit: (DissectorEvent) -> Void) {
        guard let request = Handshake.request(head, side: .client) else {
            emit(.violation(Violation(.garbage, "client sent an HTTP response")))
            client.mode = .opaque(.unknown)
            return
        }
        emit(.httpRequest(request))
        if request.isWebSocketUpgrade {
            pendingUpgrade = Handshake.Offer(request)
            client.mode = .holding
            client.heldViolationReported = false
            client.holdBroken = false
        } else {
            client.mode = bodyMode(head, isResponse: false, status: 0)
        }
    }

    private func serverHead(_ head: HTTPHead, packet: Int, _ emit: (DissectorEvent) -> Void) {
        guard let response = Handshake.response(head, side: .server, request: pendingUpgrade) else {
            emit(.violation(Violation(.garbage, "server sent an HTTP request")))
            server.mode = .opaque(.unknown)
            return
        }
        emit(.httpResponse(response))
        if response.upgraded {
            recognition = Recognition(.websocket, .handshake, "HTTP Upgrade request and 101 Switching Protocols captured")
            pendingUpgrade = nil
            isWebSocket = true
            negotiatedDeflate = response.deflate
            startFrames(.server, scanning: false)
            let held = client.buffer
            let clientWasHolding: Bool
            if case .holding = client.mode { clientWasHolding = true } else { clientWasHolding = false }
            let sane = clientWasHolding && !client.holdBroken
            client.buffer = []
            startFrames(.client, scanning: !sane)
            if !held.isEmpty {
                held.withUnsafeBytes { process($0, side: .client, packet: packet, emit) }
            }
            return
        }
        if response.status == 101 {
            // Switched to a protocol other than WebSocket.
            server.mode = .opaque(.unknown)
            client.mode = .opaque(.unknown)
            client.buffer = []
            return
        }
        if response.status < 200 {
            server.mode = .httpHeader // interim response: the final one follows
            return
        }
        if pendingUpgrade != nil {
            // Rejected upgrade: the connection goes on as HTTP.
            pendingUpgrade = nil
            if case .holding = client.mode {
                let held = client.buffer
                client.buffer = []
                client.mode = client.holdBroken ? .opaque(.unknown) : .httpHeader
                if !held.isEmpty { held.withUnsafeBytes { process($0, side: .client, packet: packet, emit) } }
            }
        }
        server.mode = bodyMode(head, isResponse: true, status: response.status)
    }

    private func bodyMode(_ head: HTTPHead, isResponse: Bool, status: Int) -> Mode {
        if head.tokens("Transfer-Encoding").contains(where: { !asciiCaseInsensitiveEquals($0, "identity") }) {
            return .opaque(.httpBody)
        }
        if let lengthText = head.first("Content-Length"), let length = UInt64(lengthText) {
            return length == 0 ? .httpHeader : .httpBody(remaining: length)
        }
        if isResponse && status != 204 && status != 304 { return .opaque(.httpBody) }
        return .httpHeader
    }

    private func hold(_ bytes: UnsafeRawBufferPointer, packet: Int, _ emit: (DissectorEvent) -> Void) -> Int {
        if !client.heldViolationReported {
            client.heldViolationReported = true
            emit(.violation(Violation(.dataBeforeUpgrade, "client sent data before the server answered its Upgrade request")))
        }
        let room = max(limits.maxHeaderBlock - client.buffer.count, 0)
        let take = min(room, bytes.count)
        client.buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<take]))
        if take < bytes.count {
            client.holdBroken = true
            emit(.opaque(OpaqueInfo(side: .client, kind: .unknown, bytes: bytes.count - take)))
        }
        emit(.progress(Progress(side: .client, unit: .frameHeader, received: UInt64(client.buffer.count), expected: nil)))
        return bytes.count
    }

    // MARK: - TLS

    private func tlsHello(_ bytes: UnsafeRawBufferPointer, side: Side, _ emit: (DissectorEvent) -> Void) -> Int {
        var buffer = direction(side).buffer
        clearBuffer(side)
        let old = buffer.count
        let cap = 5 + (1 << 14) + 256
        let take = min(bytes.count, cap - old)
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<take]))
        let recordLength = buffer.withUnsafeBytes { TLSHello.recordLength($0) }
        guard let recordLength, buffer.count >= min(recordLength, cap) else {
            if side == .client { client.buffer = buffer } else { server.buffer = buffer }
            emit(.tls(TLSInfo(side: side, kind: .records, serverName: nil, alpn: [], bytes: take)))
            return take
        }
        let recordEnd = min(recordLength, buffer.count)
        let hello = buffer.withUnsafeBytes { TLSHello.parse(UnsafeRawBufferPointer(rebasing: $0[..<recordEnd])) }
        let kind: TLSInfo.Kind = hello.map { $0.isClientHello ? .clientHello : .serverHello }
            ?? (side == .client ? .clientHello : .serverHello)
        emit(.tls(TLSInfo(side: side, kind: kind, serverName: hello?.serverName, alpn: hello?.alpn ?? [],
                          bytes: recordEnd)))
        setMode(.tlsRecords, side)
        return max(recordEnd - old, 0)
    }
}

/// One direction of a WebSocket connection: a streaming frame parser that joins messages,
/// inflates permessage-deflate, checks RFC 6455 rules and reports frames as they complete.
///
/// Memory per direction is bounded: a 14-byte header buffer, one frame payload prefix and one
/// message payload prefix (each at most `payloadRetention`; the frame that opens an uncompressed
/// message keeps its prefix in the message's; a buffer past 4 KiB is released once its frame or
/// message was reported) and, with deflate, one zlib stream. Unmasking goes through a scratch buffer
/// shared by the session's caller.
///
/// After a gap, or from the start of a mid-stream capture, the parser resynchronizes with
/// `FrameScanner` (see there for the heuristic).
///
/// Frames sent after this direction's Close frame are still parsed and reported; the first of
/// them carries a `data-after-close` violation (once per direction).
final class FrameStream {
    enum State { case header, payload, scanning }

    let side: Side
    let limits: DissectorLimits
    private(set) var state: State
    /// Negotiated permessage-deflate for this direction.
    private var deflate: Bool
    private var contextTakeover: Bool
    /// Mid-stream capture: RSV1 on a data frame means deflate with context takeover.
    private let assumeDeflateOnRSV1: Bool
    /// The compression window is known to be incomplete (gap, mid-stream).
    private var contextUncertain: Bool
    /// After resynchronization, a continuation without its first frame is no violation.
    private var tolerateOrphanContinuation: Bool
    private var closeSeen = false
    private var afterCloseReported = false

    private var headerBuffer: [UInt8] = []
    private var header = FrameHeader(fin: false, rsv: 0, opcode: 0, masked: false, maskBytes: (0, 0, 0, 0),
                                     payloadLength: 0, headerLength: 0, lengthField: 0)
    private var received: UInt64 = 0
    private var lost: UInt64 = 0
    private var maskPhase = 0
    private var firstPacket = 0
    private var frameViolations: [Violation] = []
    /// The current frame's first `limits.payloadRetention` bytes, for its event (see
    /// `frameInRetention`); empty between frames.
    private(set) var frameRetention: [UInt8] = []
    /// The current frame opens an uncompressed message that keeps at least what a frame keeps:
    /// its kept bytes are the first bytes of `message.retention`, and are not copied a second
    /// time into `frameRetention` (under `--payloads full`, every data byte was kept twice).
    private(set) var frameInRetention = false
    /// Whether the current frame's payload belongs to `message`.
    private var frameInMessage = false
    private(set) var message = MessageState()
    private var inflaterStorage: Inflater?
    /// A compressed message of one frame is gathered whole and inflated at the frame's end by
    /// the capture's `FastInflater` (ISA-L), not by this direction's zlib stream as it comes:
    /// true while its bytes are gathered into `gatheredBytes`. Only with the full 32 KiB window
    /// (a narrowed one is checked by zlib), from `limits.wholeMessageMinimum` bytes (below it
    /// zlib alone is quicker) up to `gatherLimit`. With context takeover the zlib stream must
    /// stand between blocks (it hands its window over and takes the new one back: three copies
    /// of up to 32 KiB).
    private var gathering = false
    private var gatheredBytes: [UInt8] = []
    static let gatherLimit: UInt64 = 64 << 10
    private let scratch: UnmaskScratch
    /// Bytes of each message's payload kept: `limits.payloadRetention`, or more while a later
    /// stage (the application protocols) reads messages (`WebSocketSession.messageRetention`).
    var messageRetention: Int {
        didSet {
            // The message now keeps less than the frame shows: the frame's bytes so far (all
            // in the message's buffer) are copied out, and the frame keeps its own from here.
            if frameInRetention && messageRetention < limits.payloadRetention {
                frameRetention = Array(message.retention.prefix(limits.payloadRetention))
                frameInRetention = false
            }
        }
    }

    /// - Parameters:
    ///   - deflate: negotiated permessage-deflate parameters, if any.
    ///   - scanning: start by searching for a frame header.
    ///   - midstream: the connection's handshake was not captured (defaults to `scanning`): RSV1
    ///     means deflate with an unknown window, and a leading continuation is no violation.
    init(side: Side, limits: DissectorLimits, deflate: DeflateParameters?, scanning: Bool, midstream: Bool? = nil,
         scratch: UnmaskScratch) {
        let midstream = midstream ?? scanning
        self.side = side
        self.limits = limits
        messageRetention = limits.payloadRetention
        self.deflate = deflate != nil
        if let deflate {
            contextTakeover = side == .server ? !deflate.serverNoContextTakeover : !deflate.clientNoContextTakeover
            windowBits = (side == .server ? deflate.serverMaxWindowBits : deflate.clientMaxWindowBits) ?? 15
        } else {
            contextTakeover = true
            windowBits = 15
        }
        assumeDeflateOnRSV1 = midstream && deflate == nil
        contextUncertain = midstream
        tolerateOrphanContinuation = midstream
        state = scanning ? .scanning : .header
        self.scratch = scratch
    }

    /// The window this side's compressor may use: its *_max_window_bits when negotiated.
    private let windowBits: Int

    private var inflater: Inflater {
        if let inflaterStorage { return inflaterStorage }
        let made = contextTakeover ? Inflater(windowBits: windowBits, sharedOutput: scratch.inflateOutput)
            : scratch.inflater(windowBits: windowBits)
        inflaterStorage = made
        return made
    }

    // MARK: - Bytes in

    func receive(_ bytes: UnsafeRawBufferPointer, packet: Int, _ emit: (DissectorEvent) -> Void) {
        currentPacket = packet
        guard bytes.count > 0 else { return }
        if state == .scanning && !scanCarry.isEmpty {
            // A header may have begun in the last bytes of the previous chunk: scan across.
            let combined = scanCarry + Array(bytes)
            let carried = scanCarry.count
            scanCarry.removeAll(keepingCapacity: true)
            combined.withUnsafeBytes { parse($0, chunkStart: carried, packet: packet, emit) }
        } else {
            parse(bytes, chunkStart: 0, packet: packet, emit)
        }
    }

    /// Bytes kept from the end of the last chunk while scanning (at most a header's length minus
    /// one): a header split across receive calls is found when the next chunk comes.
    private var scanCarry: [UInt8] = []

    /// Parses `bytes`, whose receive call began at `chunkStart` (earlier bytes were carried).
    private func parse(_ bytes: UnsafeRawBufferPointer, chunkStart: Int, packet: Int, _ emit: (DissectorEvent) -> Void) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var i = 0
        var scanStart = chunkStart
        while i < count {
            switch state {
            case .scanning:
                if let found = FrameScanner.findFrame(in: bytes, from: i, chunkStart: scanStart, side: side) {
                    if found > i { emit(.opaque(OpaqueInfo(side: side, kind: .unknown, bytes: found - i))) }
                    i = found
                    state = .header
                } else {
                    let keep = min(FrameHeader.maxLength - 1, count - i)
                    if count - keep > i { emit(.opaque(OpaqueInfo(side: side, kind: .unknown, bytes: count - keep - i))) }
                    scanCarry.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[(count - keep)...]))
                    i = count
                }
            case .header:
                if headerBuffer.isEmpty && count - i >= 2
                    && count - i >= FrameHeader.length(byte1: base.load(fromByteOffset: i + 1, as: UInt8.self)) {
                    header = FrameHeader.decode(base + i)
                    if !header.isPlausible(from: side), let resume = garbageEnd(bytes, at: i, emit) {
                        i = resume
                        continue
                    }
                    i += header.headerLength
                    beginFrame(packet: packet, emit)
                } else {
                    if headerBuffer.isEmpty { headerStartPacket = packet }
                    let needed = headerBuffer.count < 2 ? 2 : FrameHeader.length(byte1: headerBuffer[1])
                    let take = min(needed - headerBuffer.count, count - i)
                    headerBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                    i += take
                    if headerBuffer.count >= 2 && headerBuffer.count == FrameHeader.length(byte1: headerBuffer[1]) {
                        header = headerBuffer.withUnsafeBytes { FrameHeader.decode($0.baseAddress!) }
                        headerBuffer.removeAll(keepingCapacity: true)
                        beginFrame(packet: headerStartPacket ?? packet, emit)
                    }
                }
            case .payload:
                let remaining = header.payloadLength - received
                let n = UInt64(count - i) < remaining ? count - i : Int(remaining)
                payload(base + i, n)
                i += n
                received += UInt64(n)
                if received == header.payloadLength { completeFrame(emit) }
            }
            if state == .scanning { scanStart = i }
        }
        switch state {
        case .payload:
            emit(.progress(Progress(side: side, unit: .frame(opcode: header.opcode), received: received,
                                    expected: header.payloadLength)))
        case .header where !headerBuffer.isEmpty:
            emit(.progress(Progress(side: side, unit: .frameHeader, received: UInt64(headerBuffer.count), expected: nil)))
        default: break
        }
    }

    private var headerStartPacket: Int?

    /// `header`, just decoded at `i`, is not one a conforming peer sends. When the frame it
    /// announces neither ends with the bytes at hand nor is followed by a frame header, but a
    /// plausible frame begins later in these bytes, the bytes before it are garbage: reported
    /// as such, and parsing resumes there (returned). A header with a reserved opcode or RSV2/RSV3
    /// whose frame runs past the bytes starts a scan instead. Otherwise nil: the header is taken
    /// as a frame and its violations reported (a peer may really send a 2^63-byte binary frame).
    private func garbageEnd(_ bytes: UnsafeRawBufferPointer, at i: Int, _ emit: (DissectorEvent) -> Void) -> Int? {
        let count = bytes.count
        // Lengths up to 2^64 - 1 may be announced: no overflow (fuzz: streams-garbage-length-overflow).
        let (end, past) = UInt64(i + header.headerLength).addingReportingOverflow(header.payloadLength)
        if !past && end == UInt64(count) { return nil }
        if !past && end < UInt64(count) && FrameScanner.mayStartFrame(bytes, at: Int(end), side: side) { return nil }
        if let next = FrameScanner.findFrame(in: bytes, from: i + 1, chunkStart: -1, side: side) {
            emit(.violation(Violation(.garbage, "\(next - i) bytes between frames are not a frame (they read as \(opcodeName(header.opcode)) with length \(header.payloadLength)); parsing resumes at the next plausible frame")))
            emit(.opaque(OpaqueInfo(side: side, kind: .unknown, bytes: next - i)))
            return next
        }
        // A reserved opcode or RSV2/RSV3 (no extension here defines them) on a frame running past
        // these bytes: far likelier garbage than a frame, and taken as one it would swallow the
        // rest of the stream. Scan instead (across the next chunks too).
        if past || end > UInt64(count), header.isReservedOpcode || header.rsv & 0x3 != 0 {
            emit(.violation(Violation(.garbage, "bytes that read as a \(opcodeName(header.opcode)) frame header\(header.rsv & 0x3 != 0 ? " with RSV2/RSV3" : "") announcing \(header.payloadLength) bytes: not taken for a frame; scanning for the next plausible frame")))
            enterScanning()
            return i  // the scan starts here and reports what it skips
        }
        return nil
    }
    /// The packet whose bytes are being parsed (a frame completed now completes in it).
    private var currentPacket = 0

    // MARK: - Frame start

    private func beginFrame(packet: Int, _ emit: (DissectorEvent) -> Void) {
        firstPacket = packet
        headerStartPacket = nil
        received = 0
        lost = 0
        maskPhase = 0
        frameViolations.removeAll(keepingCapacity: false)
        releaseFrameRetention()
        state = .payload
        checkHeader()
        if header.payloadLength == 0 { completeFrame(emit) }
    }

    private func violation(_ code: ViolationCode, _ text: String) {
        frameViolations.append(Violation(code, text))
    }

    private func checkHeader() {
        let h = header
        // Only a violation's text names the opcode: no String for a frame that breaks nothing.
        var name: String { opcodeName(h.opcode) }
        if side == .client && !h.masked { violation(.clientFrameUnmasked, "client \(name) frame is not masked") }
        if side == .server && h.masked { violation(.serverFrameMasked, "server \(name) frame is masked") }
        if h.isReservedOpcode { violation(.reservedOpcode, "reserved opcode \(h.opcode)") }
        if h.rsv & 0x3 != 0 {
            violation(.rsvWithoutExtension, "RSV\(h.rsv & 0x2 != 0 ? 2 : 3) set without a negotiated extension")
        }
        if !h.isMinimalLength {
            violation(.nonMinimalLength, "length \(h.payloadLength) encoded in \(h.lengthField == 126 ? 16 : 64) bits")
        }
        if h.payloadLength >> 63 != 0 { violation(.lengthHighBitSet, "most significant bit of the 64-bit length is set") }
        if closeSeen && !afterCloseReported {
            afterCloseReported = true
            violation(.dataAfterClose, "\(name) frame after this side's Close frame")
        }
        let rsv1 = h.rsv & 0x4 != 0
        if h.isControl {
            if h.payloadLength > 125 { violation(.controlFrameTooLong, "\(name) frame of \(h.payloadLength) bytes (max 125)") }
            if !h.fin { violation(.controlFrameFragmented, "\(name) frame without FIN") }
            if rsv1 { violation(deflate ? .controlFrameCompressed : .rsvWithoutExtension, "RSV1 on a \(name) frame") }
            frameInMessage = false
            return
        }
        if !h.isData {
            if rsv1 && !deflate { violation(.rsvWithoutExtension, "RSV1 set without permessage-deflate") }
            frameInMessage = false
            return
        }
        if rsv1 && !deflate {
            if assumeDeflateOnRSV1 && h.opcode != 0 {
                deflate = true
                contextTakeover = true
            } else {
                violation(.rsvWithoutExtension, "RSV1 set without permessage-deflate")
            }
        }
        if h.opcode == 0 {
            if message.active {
                if rsv1 && deflate { violation(.rsv1OnContinuation, "RSV1 on a continuation frame") }
                message.frames += 1
                message.wireLength &+= h.payloadLength
                frameInMessage = true
            } else {
                if !tolerateOrphanContinuation {
                    violation(.unexpectedContinuation, "continuation frame with no message in progress")
                }
                if h.fin { tolerateOrphanContinuation = false }
                frameInMessage = false
            }
        } else {
            tolerateOrphanContinuation = false
            if message.active {
                violation(.missingContinuation,
                          "\(name) frame while a \(message.kindName) message of \(message.frames) frame(s) is unfinished (dropped)")
            }
            let compressed = rsv1 && deflate
            message.start(opcode: h.opcode, compressed: compressed, wireLength: h.payloadLength)
            frameInRetention = !compressed && messageRetention >= limits.payloadRetention
            gathering = compressed && limits.wholeMessageInflate && windowBits == 15 && h.fin
                && h.payloadLength >= limits.wholeMessageMinimum && h.payloadLength <= Self.gatherLimit
                && (!contextTakeover || inflaterStorage?.settled != false)
            if gathering {
                gatheredBytes = []
                gatheredBytes.reserveCapacity(Int(h.payloadLength))
            } else if compressed {
                if contextTakeover { inflater.prepareForMessage() } else { inflater.reset() }
            }
            frameInMessage = true
        }
    }

    // MARK: - Payload

    private func payload(_ source: UnsafeRawPointer, _ count: Int) {
        if header.masked && !needsPayloadBytes {
            // Nobody reads these bytes (binary, uncompressed, nothing retained): count them only.
            maskPhase = (maskPhase + count) & 3
            consume(UnsafeRawBufferPointer(start: source, count: count))
        } else if header.masked {
            let buffer = scratch.bytes
            var done = 0
            while done < count {
                let n = min(UnmaskScratch.size, count - done)
                maskPhase = unmask(source + done, into: buffer, count: n, mask: header.maskBytes, phase: maskPhase)
                consume(UnsafeRawBufferPointer(start: buffer, count: n))
                done += n
            }
        } else {
            consume(UnsafeRawBufferPointer(start: source, count: count))
        }
    }

    /// Whether the current frame's payload bytes are read (not only counted): retained for
    /// display, a control frame, inflated, or UTF-8 checked.
    private var needsPayloadBytes: Bool {
        if limits.payloadRetention > 0 || header.opcode >= 8 { return true }
        guard frameInMessage else { return false }
        return message.compressed || (message.opcode == 1 && !message.utf8Reported) || messageRetention > 0
    }

    private func consume(_ bytes: UnsafeRawBufferPointer) {
        // Control frames are always kept whole (≤ 125 bytes when legal): close codes and reasons
        // are read from them even when no payload is retained for display.
        if !frameInRetention {
            let keep = header.opcode >= 8 ? max(limits.payloadRetention, 125) : limits.payloadRetention
            let room = keep - frameRetention.count
            if room > 0 { append(bytes, upTo: room, to: &frameRetention) }
        }
        guard frameInMessage else { return }
        if message.compressed {
            if message.inflateStopped { return }
            if gathering {
                append(bytes, upTo: bytes.count, to: &gatheredBytes)
                return
            }
            let result = inflater.inflate(bytes, finish: false) { deliver($0) }
            if case .failure(let error) = result { inflateFailed(error) }
        } else {
            _ = deliver(bytes)
        }
    }

    private func append(_ bytes: UnsafeRawBufferPointer, upTo limit: Int, to array: inout [UInt8]) {
        guard let base = bytes.baseAddress else { return }
        let n = min(limit, bytes.count)
        array.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: n))
    }

    /// Message bytes (decompressed when compressed). Returns false to stop inflating.
    ///
    /// Violations go in the order of the bytes that caused them, whatever the pieces: the same
    /// message gives the same list when zlib hands it out packet by packet or ISA-L whole.
    private func deliver(_ input: UnsafeRawBufferPointer) -> Bool {
        var bytes = input
        var keepGoing = true
        var capped = false
        if message.compressed && message.length + UInt64(bytes.count) > limits.maxDecompressedSize {
            let allowed = Int(limits.maxDecompressedSize - min(message.length, limits.maxDecompressedSize))
            bytes = UnsafeRawBufferPointer(rebasing: bytes[..<allowed])
            message.inflateStopped = true
            message.truncated = true
            message.complete = false
            capped = true  // reported after the bytes before the cap were checked
            keepGoing = false
            // The window now misses what was not inflated: start afresh for the next message.
            contextUncertain = true
        }
        let before = message.length
        message.length += UInt64(bytes.count)
        if !message.tooBig && message.length > limits.maxMessageSize {
            let inside = Int(limits.maxMessageSize - before)  // `before` is within the limit until tooBig
            checkUTF8(UnsafeRawBufferPointer(rebasing: bytes[..<inside]))
            message.tooBig = true
            message.truncated = true
            message.complete = false
            violation(.messageTooBig, "message exceeds \(limits.maxMessageSize) bytes; rest only counted")
            checkUTF8(UnsafeRawBufferPointer(rebasing: bytes[inside...]))
        } else {
            checkUTF8(bytes)
        }
        let room = messageRetention - message.retention.count
        if room > 0 {
            // Growing for a small frame: room for all it announced at once rather than by
            // doubling (each doubling copies what was kept, and leaves unused room). Never less
            // than double, so a message of many small frames still grows geometrically; large
            // frames grow by doubling (room taken up front would be held from their first bytes).
            if !message.compressed && bytes.count < room && message.retention.capacity - message.retention.count < bytes.count {
                let announced = header.payloadLength - received  // `received` moves after the chunk
                if announced <= 16 << 10 {
                    let count = message.retention.count
                    message.retention.reserveCapacity(min(max(count + Int(announced), 2 * message.retention.capacity), count + room))
                }
            }
            append(bytes, upTo: room, to: &message.retention)
            if bytes.count > room { message.truncated = true }
        } else if bytes.count > 0 {
            message.truncated = true
        }
        if capped { violation(.messageTooBig, "decompression cap of \(limits.maxDecompressedSize) bytes reached; rest not inflated") }
        return keepGoing
    }

    @inline(__always)
    private func checkUTF8(_ bytes: UnsafeRawBufferPointer) {
        guard message.opcode == 1 && !message.utf8Reported else { return }
        message.validator.feed(bytes)
        if !message.validator.isValidSoFar {
            message.utf8Reported = true
            violation(.invalidUTF8, "Text message is not valid UTF-8")
        }
    }

    private func inflateFailed(_ error: InflateError) {
        message.inflateStopped = true
        message.complete = false
        message.inflateError = error.message
        // What came out before the error may be right, but it is not shown: never garbage.
        message.retention.removeAll(keepingCapacity: true)
        message.truncated = message.length > 0
        if !contextUncertain {
            if windowBits < 15 && error.message.contains("too far back") {
                violation(.deflateWindowExceeded,
                          "\(message.kindName) message refers back beyond the negotiated window of \(1 << windowBits) bytes (\(side == .server ? "server" : "client")_max_window_bits=\(windowBits))")
            } else {
                violation(.inflateFailed, "cannot inflate \(message.kindName) message: \(error.message)")
            }
        }
        // The Inflater reset itself: later messages may recover.
    }

    // MARK: - Frame end

    private func completeFrame(_ emit: (DissectorEvent) -> Void, endOfStream: Bool = false) {
        state = .header
        var closeCode: UInt16?
        var closeReason: String?
        if header.opcode == 8 && lost == 0 && !endOfStream {
            closeFrame(&closeCode, &closeReason)
        }
        if header.opcode == 8 { closeSeen = true }
        let finishesMessage = frameInMessage && (header.fin || endOfStream)
        if finishesMessage { finishMessage(endOfStream: endOfStream) }
        let kept = frameInRetention ? min(limits.payloadRetention, message.retention.count) : frameRetention.count
        let truncated = UInt64(kept) < header.payloadLength
        let h = header
        let violations = frameViolations
        func report(_ framePayload: UnsafeRawBufferPointer) {
            if finishesMessage {
                let m = message
                m.retention.withUnsafeBytes { messagePayload in
                    let info = MessageInfo(
                        side: side, opcode: m.opcode, length: m.length, wireLength: m.wireLength,
                        compressed: m.compressed, frames: m.frames, complete: m.complete,
                        utf8Valid: m.opcode == 1 && !m.bytesLost && !m.inflateStopped ? m.validator.isCompleteAndValid
                            : m.opcode == 1 && m.utf8Reported ? false : nil,
                        payload: messagePayload, truncated: m.truncated, inflateError: m.inflateError)
                    emit(.frame(frameInfo(h, framePayload, truncated, closeCode, closeReason, info, violations)))
                }
            } else {
                emit(.frame(frameInfo(h, framePayload, truncated, closeCode, closeReason, nil, violations)))
            }
        }
        if frameInRetention {
            message.retention.withUnsafeBytes { report(UnsafeRawBufferPointer(rebasing: $0[..<kept])) }
        } else {
            frameRetention.withUnsafeBytes { report($0) }
        }
        if finishesMessage { message.clear(keep: messageRetention) }
        frameInMessage = false
        releaseFrameRetention()
    }

    /// The frame was reported: its bytes go, and its buffer too past 4 KiB (as a message's),
    /// so an idle connection holds no copy of its last large frame. (Kept until the next frame
    /// began, and up to 256 KiB, such buffers took a one-thread `--format ndjson` of the 100 MiB
    /// benchmark capture to 107 MiB of RSS, growing as connections met larger frames.)
    private func releaseFrameRetention() {
        frameInRetention = false
        if frameRetention.capacity > 4096 { frameRetention = [] } else { frameRetention.removeAll(keepingCapacity: true) }
    }

    private func frameInfo(_ h: FrameHeader, _ payload: UnsafeRawBufferPointer, _ truncated: Bool, _ code: UInt16?,
                           _ reason: String?, _ message: MessageInfo?, _ violations: [Violation]) -> FrameInfo {
        FrameInfo(side: side, fin: h.fin, rsv: h.rsv, opcode: h.opcode, masked: h.masked, maskKey: h.maskKey,
                  payloadLength: h.payloadLength, headerLength: h.headerLength, payload: payload,
                  payloadTruncated: truncated, closeCode: code, closeReason: reason, message: message,
                  firstPacket: firstPacket, completedPacket: currentPacket, violations: violations)
    }

    /// The code and reason come from the first 125 bytes, the most a control frame may carry
    /// and what every mode keeps of one (`--summary` included): the rest of an oversized close
    /// frame is payload, shown in its event, not reason, so that every output reports the same
    /// close. A character cut at that edge is left out, not held against the reason (a byte
    /// that is not UTF-8 is, wherever it lies).
    private func closeFrame(_ code: inout UInt16?, _ reason: inout String?) {
        let legal = 125
        let body = frameRetention.prefix(legal)
        if header.payloadLength == 1 {
            violation(.closeBodyOneByte, "Close frame with a 1-byte body")
            return
        }
        guard body.count >= 2 else { return }
        let value = UInt16(body[0]) << 8 | UInt16(body[1])
        code = value
        if !closeCodeAllowedOnWire(value) {
            violation(.invalidCloseCode, "close code \(value) (\(closeCodeName(value))) must not be sent")
        }
        var reasonBytes = body[2...]
        var validator = UTF8Validator()
        reasonBytes.withUnsafeBytes { validator.feed($0) }
        var valid = validator.isCompleteAndValid
        if !valid && validator.isValidSoFar && header.payloadLength > UInt64(legal) {
            // Valid up to a character the edge cut (its lead byte and the continuation bytes
            // after it, which the validator still waits on): the reason ends before it.
            while let last = reasonBytes.last, last & 0xC0 == 0x80 { reasonBytes.removeLast() }
            reasonBytes.removeLast()
            valid = true
        }
        if !valid { violation(.invalidCloseReason, "close reason is not valid UTF-8") }
        reason = String(decoding: reasonBytes, as: UTF8.self)
    }

    private func finishMessage(endOfStream: Bool) {
        if endOfStream || lost > 0 {
            message.complete = false
            message.bytesLost = true
        }
        if gathering && endOfStream { inflateGatheredWithZlib(finish: false) }
        if message.compressed && !message.inflateStopped && !endOfStream {
            if gathering {
                inflateGathered()
            } else {
                let result = inflater.inflate(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) { deliver($0) }
                if case .failure(let error) = result { inflateFailed(error) }
            }
        }
        if message.opcode == 1 && message.complete && !message.utf8Reported && !message.validator.isCompleteAndValid {
            message.utf8Reported = true
            violation(.invalidUTF8, "Text message ends inside a UTF-8 sequence")
        }
        // Without context takeover every message starts afresh: the inflater (zlib state and a
        // 32 KiB window) is freed between messages, so idle connections hold none. After a cap or
        // an error the window misses bytes, so start afresh too (later messages then fail or recover).
        if message.compressed && !contextTakeover {
            if let done = inflaterStorage { scratch.recycle(done) }
            inflaterStorage = nil
        } else if message.compressed && message.inflateStopped {
            inflaterStorage?.reset()
        }
    }

    /// The gathered message, inflated whole by ISA-L (from the zlib stream's window, with
    /// context takeover; the stream then goes on from ISA-L's). Where ISA-L's answer might not be
    /// zlib's (an error, a stream ending inside a block), what it delivered is undone and zlib
    /// inflates the message as the streaming path would have: same output, same error words.
    private func inflateGathered() {
        let length = message.length, complete = message.complete, truncated = message.truncated
        let tooBig = message.tooBig, stopped = message.inflateStopped, validator = message.validator
        let utf8Reported = message.utf8Reported, uncertain = contextUncertain
        let kept = message.retention.count, violations = frameViolations.count
        var dictionary = UnsafeRawBufferPointer(start: nil, count: 0)
        if contextTakeover, let stream = inflaterStorage {
            dictionary = UnsafeRawBufferPointer(start: scratch.window, count: stream.window(into: scratch.window))
        }
        let fast = scratch.fastInflater
        let outcome = gatheredBytes.withUnsafeBytes { input in
            fast.inflateMessage(input, dictionary: dictionary, keepWindow: contextTakeover) { deliver($0) }
        }
        if outcome == .done && contextTakeover && !message.inflateStopped {
            // The zlib stream takes up where ISA-L left: between blocks, with its window.
            let (first, second) = fast.window(after: dictionary)
            inflater.restart(window: first, second)
        }
        if outcome == .unsettled {
            message.length = length
            message.complete = complete
            message.truncated = truncated
            message.tooBig = tooBig
            message.inflateStopped = stopped
            message.validator = validator
            message.utf8Reported = utf8Reported
            contextUncertain = uncertain
            message.retention.removeSubrange(kept...)
            frameViolations.removeSubrange(violations...)
            inflateGatheredWithZlib(finish: true)
        }
        gathering = false
        gatheredBytes = []
    }

    /// The gathered bytes through this message's zlib stream, then the 00 00 ff ff tail when
    /// `finish`; from here on the message goes on as a stream (a gap or the end came first).
    private func inflateGatheredWithZlib(finish: Bool) {
        gathering = false
        let bytes = gatheredBytes
        gatheredBytes = []
        let stream = inflater
        if contextTakeover { stream.prepareForMessage() } else { stream.reset() }
        bytes.withUnsafeBytes { input in
            if case .failure(let error) = stream.inflate(input, finish: false, output: { deliver($0) }) { inflateFailed(error) }
        }
        if finish && !message.inflateStopped {
            let result = stream.inflate(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) { deliver($0) }
            if case .failure(let error) = result { inflateFailed(error) }
        }
    }

    // MARK: - Gaps and end

    /// `size` bytes of this direction were lost.
    func gap(_ size: UInt64, packet: Int, _ emit: (DissectorEvent) -> Void) {
        currentPacket = packet
        switch state {
        case .payload:
            let remaining = header.payloadLength - received
            let inFrame = min(size, remaining)
            let what = "payload of \(frameName) frame (\(inFrame) of \(header.payloadLength) bytes lost)"
            lost += inFrame
            received += inFrame
            maskPhase = (maskPhase + Int(inFrame & 3)) & 3
            if frameInMessage {
                // What came before the gap is inflated as a zlib stream would have, as it came.
                if gathering { inflateGatheredWithZlib(finish: false) }
                message.complete = false
                message.bytesLost = true
                if message.compressed && !message.inflateStopped {
                    message.inflateStopped = true
                    message.inflateError = "compressed bytes lost in a capture gap"
                    loseContext()
                }
            }
            if size < remaining {
                emit(.gap(GapInfo(side: side, size: size, lost: what,
                                  resync: "frame length known: parsing goes on inside the same frame")))
            } else if size == remaining {
                emit(.gap(GapInfo(side: side, size: size, lost: what,
                                  resync: "frame length known: the next frame starts right after the gap")))
                completeFrame(emit)
            } else {
                let extra = size - remaining
                emit(.gap(GapInfo(side: side, size: size, lost: what + " and \(extra) bytes of following frames",
                                  resync: "scanning for the next plausible frame header")))
                completeFrame(emit)
                enterScanning()
            }
        case .header:
            let what = headerBuffer.isEmpty
                ? "\(size) bytes at a frame boundary (whole frames)"
                : "\(size) bytes from inside a frame header (\(headerBuffer.count) header bytes seen)"
            let messageWords = message.active ? "; the unfinished \(message.kindName) message of \(message.frames) frame(s) is dropped" : ""
            enterScanning()
            emit(.gap(GapInfo(side: side, size: size, lost: what + messageWords,
                              resync: "scanning for the next plausible frame header")))
        case .scanning:
            if !scanCarry.isEmpty {
                emit(.opaque(OpaqueInfo(side: side, kind: .unknown, bytes: scanCarry.count)))
                scanCarry.removeAll(keepingCapacity: true)
            }
            emit(.gap(GapInfo(side: side, size: size, lost: "\(size) bytes while resynchronizing",
                              resync: "still scanning for a plausible frame header")))
        }
    }

    private func loseContext() {
        if deflate && contextTakeover {
            inflaterStorage?.reset()
            contextUncertain = true
        }
    }

    private func enterScanning() {
        state = .scanning
        scanCarry.removeAll(keepingCapacity: true)
        headerBuffer.removeAll(keepingCapacity: true)
        headerStartPacket = nil
        if message.active { message.clear(keep: messageRetention) }
        gathering = false
        gatheredBytes = []
        tolerateOrphanContinuation = true
        loseContext()
    }

    /// This direction ended: report what was unfinished.
    func end(packet: Int, _ emit: (DissectorEvent) -> Void) {
        currentPacket = packet
        switch state {
        case .payload:
            let missing = header.payloadLength - received
            emit(.gap(GapInfo(side: side, size: missing,
                              lost: "end of stream inside payload of \(frameName) frame (\(missing) of \(header.payloadLength) bytes missing)",
                              resync: "none: the stream ended")))
            completeFrame(emit, endOfStream: true)
        case .header where !headerBuffer.isEmpty:
            emit(.gap(GapInfo(side: side, size: 0,
                              lost: "end of stream inside a frame header (\(headerBuffer.count) bytes seen)",
                              resync: "none: the stream ended")))
            headerBuffer.removeAll()
            if message.active { reportUnfinishedMessage(emit) }
        case .header:
            if message.active { reportUnfinishedMessage(emit) }
        case .scanning:
            if !scanCarry.isEmpty {
                emit(.opaque(OpaqueInfo(side: side, kind: .unknown, bytes: scanCarry.count)))
                scanCarry.removeAll()
            }
        }
        dropHeldState()
    }

    /// After the direction's end nothing more comes (a finished half-stream delivers nothing),
    /// but a finished connection lingers in the table for late packets, ten seconds of capture
    /// time by default. What was kept for bytes to come goes now: with context takeover the
    /// zlib state and its 32 KiB window (about 45 KiB a direction), the message's buffer, the
    /// gathered or carried bytes. A capture of many short connections held all of it for every
    /// connection of its last ten seconds.
    func dropHeldState() {
        if let done = inflaterStorage, !contextTakeover { scratch.recycle(done) }
        inflaterStorage = nil
        message.retention = []
        frameRetention = []
        frameInRetention = false
        gatheredBytes = []
        gathering = false
        headerBuffer = []
        scanCarry = []
    }

    /// Bytes this direction holds for what is to come (the tests' view of `dropHeldState`).
    var heldCapacity: Int {
        (inflaterStorage == nil ? 0 : 1) + message.retention.capacity + frameRetention.capacity + gatheredBytes.capacity
            + headerBuffer.capacity + scanCarry.capacity
    }

    private func reportUnfinishedMessage(_ emit: (DissectorEvent) -> Void) {
        emit(.gap(GapInfo(side: side, size: 0,
                          lost: "end of stream inside a \(message.kindName) message (\(message.frames) frame(s) seen, no final frame)",
                          resync: "none: the stream ended")))
        message.clear(keep: messageRetention)
    }

    private var frameName: String {
        switch header.opcode {
        case 0: return "Continuation"
        case 1: return "Text"
        case 2: return "Binary"
        case 8: return "Close"
        case 9: return "Ping"
        case 10: return "Pong"
        default: return "reserved-\(header.opcode)"
        }
    }
}

import WSApp
import WSTLS
import WSDecode
import WSDissector
import WSReassembly
import WSTimeline

/// Writes one timeline event as a JSON object (schema 2; see docs/schema.json).
struct EventJSON {
    let options: RenderOptions
    let formatter: InfoFormatter
    let endpointPairs = EndpointPairJSON()
    let times = (time: SecondsJSON(), relative: SecondsJSON())

    func write(_ e: TimelineEvent, firstTime: Int64, into w: inout JSONWriter) {
        var streamAt = 0
        write(e, firstTime: firstTime, into: &w, streamAt: &streamAt)
    }

    /// `streamAt`: where the stream index's digits begin in `w`'s buffer (0 when there are none).
    func write(_ e: TimelineEvent, firstTime: Int64, into w: inout JSONWriter, streamAt: inout Int) {
        // The fixed start of every event, written in one go: what `field` writes piece by piece.
        let decimals = min(options.timeDecimals, 9)
        w.beginObject()
        w.withCursor(reserving: 64) { c in
            c.literal("\"type\":\"event\",\"packet\":")
            c.decimal(e.packet)
        }
        if let fileOf = options.fileOfPacket { w.field("file", fileOf(e.packet)) }
        w.withCursor(reserving: 96) { c in
            c.literal(",\"time\":")
            times.time.write(e.time, decimals: decimals, into: &c)
            c.literal(",\"rel\":")
            times.relative.write(e.time - firstTime, decimals: decimals, into: &c)
        }
        if let stream = e.stream {
            w.withCursor(reserving: 16) { c in c.literal(",\"stream\":") }
            streamAt = w.out.count
            w.withCursor(reserving: 24) { c in c.decimal(stream) }
        }
        if e.stream != nil, let source = e.source, let destination = e.destination,
           endpointPairs.write(source, destination, into: &w) {
            // "src" and "dst" written
        } else {
            w.key("src")
            writeAddress(e.source, text: e.sourceText, withPort: e.stream != nil, into: &w)
            w.key("dst")
            writeAddress(e.destination, text: e.destinationText, withPort: e.stream != nil, into: &w)
        }
        var proto = e.proto
        let plain = proto.withUTF8 { name in
            let plain = name.count <= 64 && JSONWriter.needsNoEscape(UnsafeRawBufferPointer(name))
            if plain { w.withCursor(reserving: 80) { c in c.literal(",\"proto\":\""); c.bytes(UnsafeRawBufferPointer(name)) } }
            return plain
        }
        if !plain { w.field("proto", e.proto) }
        w.withCursor(reserving: 64) { c in
            c.literal(plain ? "\",\"phase\":\"" : ",\"phase\":\"")
            c.literal(phaseName(e.phase))
            c.literal("\",\"length\":")
            c.decimal(e.wireLength)
            c.literal(",\"info\":")
        }
        w.string { formatter.write(e, into: &$0) }
        if let side = e.side {
            w.withCursor(reserving: 32) { c in
                c.literal(side == .client ? ",\"direction\":\"client-to-server\"" : ",\"direction\":\"server-to-client\"")
            }
        }
        if e.otherDirection { w.field("other_direction", true) }
        if e.decrypted {
            w.key("tls")
            w.beginObject()
            w.field("decrypted", true)
            w.endObject()
        }
        if e.truncated { w.field("captured_length", e.capturedLength) }
        if !e.violations.isEmpty {
            w.field("violations", strings: e.violations.map(\.code.rawValue))
            w.key("violation_details")
            w.beginArray()
            for v in e.violations {
                w.beginObject()
                w.field("code", v.code.rawValue)
                w.field("message", v.message)
                w.endObject()
            }
            w.endArray()
        }
        if e.hasTCP { writeTCP(e, into: &w) }
        switch e.detail {
        case let .httpRequest(r):
            w.key("http")
            w.beginObject()
            w.field("method", r.method)
            w.field("path", r.target)
            w.field("version", r.version)
            writeHeaders(r.headers, into: &w)
            w.field("upgrade", r.isWebSocketUpgrade)
            w.endObject()
        case let .httpResponse(r):
            w.key("http")
            w.beginObject()
            w.field("status", r.status)
            w.field("reason", r.reason)
            w.field("version", r.version)
            writeHeaders(r.headers, into: &w)
            w.field("accept_valid", r.acceptValid)
            w.field("upgraded", r.upgraded)
            w.endObject()
        case let .frame(f, role):
            let shown = writeFrame(f, role: role, packet: e.packet, into: &w)
            if let m = f.message { writeMessage(m, sameBytesAs: shown, into: &w) }
            if !e.app.isEmpty { AppJSON.write(e.app, into: &w) }
        case let .progress(p):
            w.key("progress")
            w.beginObject()
            switch p.unit {
            case let .frame(opcode):
                w.field("unit", "frame")
                if let name = opcodeNameLiteral(opcode) {
                    w.field("opcode_name", literal: name)
                } else {
                    w.field("opcode_name", opcodeName(opcode))
                }
            case .frameHeader: w.field("unit", "frame-header")
            case .httpHeader: w.field("unit", "http-header")
            }
            w.field("received", p.received)
            w.field("expected", p.expected)
            w.endObject()
        case let .tls(t):
            w.key("tls")
            w.beginObject()
            switch t.kind {
            case .clientHello: w.field("kind", "client-hello")
            case .serverHello: w.field("kind", "server-hello")
            case .records: w.field("kind", "records")
            }
            w.field("sni", t.serverName)
            w.field("alpn", strings: t.alpn)
            w.field("bytes", t.bytes)
            w.endObject()
        case let .tlsRecord(r):
            writeTLS(r, into: &w)
        case let .gap(g):
            w.key("gap")
            w.beginObject()
            w.field("size", g.size)
            w.field("lost", g.lost)
            w.field("resync", g.resync)
            w.endObject()
        case let .streamGap(size, reason):
            w.key("gap")
            w.beginObject()
            w.field("size", size)
            w.field("lost", reason.rawValue)
            w.endObject()
        case .tcp, .opaque, .nonTCP:
            break
        }
        w.endObject()
    }

    /// "ip:port" in a stream, the bare address outside one; the link-layer words without IP.
    private func writeAddress(_ endpoint: Endpoint?, text: String?, withPort: Bool, into w: inout JSONWriter) {
        guard let endpoint else { w.string(text ?? ""); return }
        if withPort {
            w.string { $0.append(endpoint: endpoint) }
        } else {
            w.string { $0.append(address: endpoint.address) }
        }
    }

    /// `e.tcp`'s object (`e.hasTCP`), its fields read in place.
    private func writeTCP(_ e: TimelineEvent, into w: inout JSONWriter) {
        // Always after another field: the comma is written here.
        let flags = e.tcpInfo.flags.namesJSON
        // Fields read before the closure: capturing `e` would copy the whole event.
        let seq = e.tcpInfo.seq, ack = e.tcpInfo.ack, length = e.tcpInfo.length, window = e.tcpInfo.window
        let noAnalysis = e.tcpInfo.report.analysis.isEmpty
        w.withCursor(reserving: flags.count + 128) { c in
            c.literal(",\"tcp\":{\"flags\":")
            c.bytes(flags)
            c.literal(",\"seq\":")
            c.decimal(UInt64(seq))
            c.literal(",\"ack\":")
            c.decimal(UInt64(ack))
            c.literal(",\"len\":")
            c.decimal(length)
            c.literal(",\"window\":")
            c.decimal(UInt64(window))
            if noAnalysis { c.literal(",\"analysis\":[]") }
        }
        if !noAnalysis {
            w.field("analysis", strings: e.tcpInfo.report.analysis.names)
        }
        if let step = e.tcpInfo.report.handshake { w.field("handshake_step", step.rawValue) }
        if !e.tcpInfo.report.teardown.isEmpty { w.field("teardown_steps", e.tcpInfo.report.teardown.label) }
        if let rtt = e.tcpInfo.report.initialRTT { w.field("irtt", seconds: rtt, decimals: 9) }
        // The stored field, not `acknowledges`: a getter of the whole `tcpInfo` (from another
        // module) had this function copy its 205 bytes first, for every row.
        if let what = e.tcpInfo.acknowledged { w.field("acknowledges", what.text) }
        if e.tcpInfo.report.reset { w.field("reset", true) }
        w.endObject()
    }

    private func writeHeaders(_ headers: [HTTPHeader], into w: inout JSONWriter) {
        w.key("headers")
        w.beginArray()
        for h in headers {
            w.beginArray()
            w.string(h.name)
            w.string(h.value)
            w.endArray()
        }
        w.endArray()
    }

    /// Returns where the frame's payload went (nil without payloads), for its message.
    private func writeFrame(_ f: FrameInfo, role: CloseRole?, packet: Int, into w: inout JSONWriter) -> ShownPayload? {
        w.key("ws")
        // The fields every frame has, in one go (what `field` writes piece by piece).
        w.withCursor(reserving: 352) { c in
            c.literal(f.fin ? "{\"fin\":true,\"rsv\":" : "{\"fin\":false,\"rsv\":")
            c.decimal(Int(f.rsv))
            c.literal(",\"opcode\":")
            c.decimal(Int(f.opcode))
            c.literal(",\"opcode_name\":\"")
            if let name = opcodeNameLiteral(f.opcode) {
                c.literal(name)
            } else {
                c.literal("reserved-")  // as `opcodeName` spells it
                c.decimal(Int(f.opcode))
            }
            c.literal(f.masked ? "\",\"masked\":true,\"mask_key\":" : "\",\"masked\":false,\"mask_key\":")
            if let k = f.maskKey {
                c.byte(0x22)
                for shift in stride(from: 28, through: 0, by: -4) {
                    c.byte(hexDigit(UInt8(truncatingIfNeeded: k >> UInt32(shift)) & 0xf))
                }
                c.byte(0x22)
            } else {
                c.literal("null")
            }
            c.literal(",\"payload_length\":")
            c.decimal(f.payloadLength)
            c.literal(",\"header_length\":")
            c.decimal(f.headerLength)
            if f.firstPacket != 0 {
                c.literal(",\"first_packet\":")
                c.decimal(f.firstPacket)
            }
            // Held while a mid-stream connection was recognised: reported later than it completed.
            if f.completedPacket != 0 && f.completedPacket != packet {
                c.literal(",\"completed_packet\":")
                c.decimal(f.completedPacket)
            }
        }
        let shown = writePayload(f.payload, truncated: f.payloadTruncated, textKey: "payload_text", base64Key: "payload_base64",
                                 truncatedKey: "payload_truncated", preferText: true, into: &w)
        if f.opcode == 8 {
            w.field("close_code", f.closeCode.map { Int($0) })
            w.field("close_reason", f.closeReason)
            if let code = f.closeCode { w.field("close_code_name", closeCodeName(code)) }
            if let role {
                w.field("close_role", role.initiates ? "initiator" : "reply")
                if let l = role.latency { w.field("close_latency", seconds: l, decimals: 9) }
            }
        }
        w.endObject()
        return shown
    }

    /// `frame`: where the payload of the frame that completed the message went, when it was
    /// shown: a message of one frame shows the same bytes, copied then instead of encoded
    /// again (base64 and escaping cost about 3 instructions a byte; a copy a tenth of one).
    private func writeMessage(_ m: MessageInfo, sameBytesAs frame: ShownPayload?, into w: inout JSONWriter) {
        w.key("message")
        // The fields every message has, in one go.
        w.withCursor(reserving: 160) { c in
            c.literal(m.opcode == 1 ? "{\"opcode_name\":\"text\",\"length\":" : "{\"opcode_name\":\"binary\",\"length\":")
            c.decimal(m.length)
            c.literal(",\"wire_length\":")
            c.decimal(m.wireLength)
            c.literal(m.compressed ? ",\"compressed\":true,\"frames\":" : ",\"compressed\":false,\"frames\":")
            c.decimal(m.frames)
            c.literal(m.complete ? ",\"complete\":true" : ",\"complete\":false")
        }
        if let err = m.inflateError { w.field("inflate_error", err) }
        let isText = m.opcode == 1 && m.utf8Valid != false
        if m.opcode == 1 && m.utf8Valid == false { w.field("utf8_valid", false) }
        // Without payloads, a message with bytes shows none of them, whatever the App stage
        // happened to keep of it while it read the connection's messages.
        let truncated = m.truncated || options.payloads == .none && !m.payload.isEmpty
        writePayload(m.payload, truncated: truncated, textKey: "text", base64Key: "base64",
                     truncatedKey: "truncated", preferText: isText, forceBase64: !isText, sameBytesAs: frame, into: &w)
        w.endObject()
    }

    /// A payload as shown: the bytes (after the cut to the limit), whether as text, and where
    /// the value (quotes included) lies in the writer's buffer.
    struct ShownPayload {
        var bytes: UnsafeRawBufferPointer
        var text: Bool
        var value: Range<Int>
    }

    /// `earlier`: a payload shown before in the same event (a frame's, for its message). When
    /// this one shows the same bytes the same way, its value is copied from there.
    @discardableResult
    private func writePayload(_ bytes: UnsafeRawBufferPointer, truncated: Bool, textKey: StaticString, base64Key: StaticString,
                              truncatedKey: StaticString, preferText: Bool, forceBase64: Bool = false,
                              sameBytesAs earlier: ShownPayload? = nil, into w: inout JSONWriter) -> ShownPayload? {
        if options.payloads == .none {
            w.field(truncatedKey, truncated)
            return nil
        }
        let limit = options.payloads == .preview ? options.previewLimit : options.maxPayload
        var view = bytes
        var cut = truncated
        if view.count > limit {
            view = utf8SafePrefix(view, limit)
            cut = true
        }
        let text: Bool
        if let earlier, earlier.bytes.count == view.count,
           earlier.bytes.baseAddress == view.baseAddress || earlier.bytes.elementsEqual(view) {
            // The same bytes: valid UTF-8 or not as they were then.
            text = !forceBase64 && preferText && earlier.text
            if text == earlier.text {
                w.key(text ? textKey : base64Key)
                let start = w.out.count
                w.copyValue(earlier.value)
                w.field(truncatedKey, cut)
                return ShownPayload(bytes: view, text: text, value: start..<w.out.count)
            }
        } else {
            text = !forceBase64 && preferText && isValidUTF8(view)
        }
        w.key(text ? textKey : base64Key)
        let start = w.out.count
        if text {
            w.string { $0.append(view) }  // valid UTF-8: the bytes are the string's
        } else {
            w.base64String(view)
        }
        let shown = ShownPayload(bytes: view, text: text, value: start..<w.out.count)
        w.field(truncatedKey, cut)
        return shown
    }
}

/// `phase.rawValue` as a literal: copied, not checked for escapes.
@inline(__always)
private func phaseName(_ phase: Phase) -> StaticString {
    switch phase {
    case .handshake: return "handshake"
    case .tls: return "tls"
    case .upgrade: return "upgrade"
    case .data: return "data"
    case .close: return "close"
    case .teardown: return "teardown"
    case .other: return "other"
    }
}

/// An event's TLS facts: `tls.records`, one entry per record content or handshake message.
func writeTLS(_ r: TLSRecordEvent, into w: inout JSONWriter) {
    w.key("tls")
    w.beginObject()
    w.key("records")
    w.beginArray()
    for item in r.items {
        w.beginObject()
        switch item {
        case let .clientHello(sni, alpn):
            w.field("type", "handshake")
            w.field("message", "client_hello")
            w.field("sni", sni)
            w.field("alpn", strings: alpn)
        case let .serverHello(version, suite):
            w.field("type", "handshake")
            w.field("message", "server_hello")
            w.field("version", tlsVersionName(version))
            w.field("cipher_suite", suite)
        case .helloRetryRequest:
            w.field("type", "handshake")
            w.field("message", "hello_retry_request")
        case let .handshake(type, decrypted):
            w.field("type", "handshake")
            w.field("message", tlsHandshakeName(type).lowercased().replacing(" ", with: "_"))
            w.field("handshake_type", type)
            w.field("decrypted", decrypted)
        case .changeCipherSpec:
            w.field("type", "change_cipher_spec")
        case .handshakeDone:
            w.field("type", "handshake_done")
        case let .alert(level, description, decrypted):
            w.field("type", "alert")
            w.field("level", tlsAlertLevelName(level))
            w.field("description", tlsAlertName(description))
            w.field("code", description)
            w.field("decrypted", decrypted)
        case let .encrypted(records, bytes):
            w.field("type", "application_data")
            w.field("decrypted", false)
            w.field("count", records)
            w.field("bytes", bytes)
        case let .applicationData(records, bytes):
            w.field("type", "application_data")
            w.field("decrypted", true)
            w.field("count", records)
            w.field("bytes", bytes)
        case let .problem(text):
            w.field("type", "problem")
            w.field("detail", text)
        }
        w.endObject()
    }
    w.endArray()
    w.endObject()
}

/// An event's `app` list: one object per application message (docs/json.md).
enum AppJSON {
    static func write(_ app: [AppMessage], into w: inout JSONWriter) {
        w.key("app")
        w.beginArray()
        for a in app {
            w.beginObject()
            w.field("proto", a.proto.rawValue)
            if let s = a.subprotocol { w.field("subprotocol", s) }
            w.field("type", a.type)
            w.key("id")
            value(a.id, into: &w)
            for f in a.fields {
                w.key(named: f.name)
                value(f.value, into: &w)
            }
            if let r = a.replyTo {
                w.key("reply_to")
                w.beginObject()
                w.field("packet", r.packet)
                w.field("latency_s", seconds: r.latency)
                w.endObject()
            }
            if let p = a.problem { w.field("problem", p) }
            w.field("info", a.info)
            w.endObject()
        }
        w.endArray()
    }

    static func value(_ v: AppValue, into w: inout JSONWriter) {
        switch v {
        case .null: w.null()
        case .bool(let b): w.bool(b)
        case .int(let i): w.int(i)
        case .string(let s): w.string(s)
        case .json(let text):
            var text = text
            text.withUTF8 { w.encoded(UnsafeRawBufferPointer($0)) }
        case .list(let items):
            w.beginArray()
            for i in items { value(i, into: &w) }
            w.endArray()
        case .object(let fields):
            w.beginObject()
            for f in fields {
                w.key(named: f.name)
                value(f.value, into: &w)
            }
            w.endObject()
        }
    }
}

/// The `"src":"…","dst":"…"` part of an event in a stream, remembered for the last pairs of
/// IPv4 endpoints seen: every packet of a connection repeats one of its two, and writing the
/// addresses and ports digit by digit was 6% of an NDJSON run. Two-way set-associative by a
/// hash of the endpoints, which each slot keeps whole: a slot answers only for exactly its pair;
/// a miss replaces the way of its set used less recently (direct-mapped, a thousand connections
/// on 4,096 slots missed one lookup in four).
///
/// The table starts at `minSlots` and doubles (up to `maxSlots`) while more than one lookup in
/// 16 pushes a pair out: each worker of a parallel run has one, and sees only its share of the
/// connections (4,096 slots for each of 16 workers held 5 MiB).
final class EndpointPairJSON {
    static let minSlots = 1024
    static let maxSlots = 4096
    private static let slotSize = 64  // `"src":"` + 21 + `","dst":"` + 21 + `"` = 59 at most
    private static let empty = (UInt64.max, UInt64.max)
    /// Lookups between two looks at the miss rate.
    private static let window = 2048
    /// Slots in all: two ways in each of `slots / 2` sets.
    private(set) var slots: Int
    private var bytes: UnsafeMutablePointer<UInt8>
    private var keys: [(UInt64, UInt64)]
    private var lengths: [UInt8]
    /// Each set's way used last.
    private var recent: [UInt8]
    private var lookups = 0
    /// Lookups of this window that pushed a pair out.
    private var misses = 0

    init() {
        slots = Self.minSlots
        bytes = .allocate(capacity: slots * Self.slotSize)
        keys = Array(repeating: Self.empty, count: slots)
        lengths = Array(repeating: 0, count: slots)
        recent = Array(repeating: 0, count: slots / 2)
    }

    deinit { bytes.deallocate() }

    /// Writes the pair as the next two fields of `w`; false when an endpoint is IPv6 (not kept).
    @inline(__always)
    func write(_ source: Endpoint, _ destination: Endpoint, into w: inout JSONWriter) -> Bool {
        guard !source.address.isIPv6 && !destination.address.isIPv6 else { return false }
        // 32-bit address and 16-bit port each: never UInt64.max, the empty slot's key.
        let key = (source.address.low << 16 | UInt64(source.port), destination.address.low << 16 | UInt64(destination.port))
        lookups &+= 1
        if lookups == Self.window { resize() }
        let set = Self.hash(key) & (slots / 2 - 1)
        var slot = set << 1
        if keys[slot] != key {
            if keys[slot | 1] == key {
                slot |= 1
            } else {
                slot |= Int(recent[set] ^ 1)
                // Only a pair pushed out counts: filling an empty slot says nothing of room.
                if keys[slot] != Self.empty { misses &+= 1 }
                fill(slot, key, source, destination)
            }
        }
        recent[set] = UInt8(truncatingIfNeeded: slot & 1)
        w.encoded(UnsafeRawBufferPointer(start: bytes + slot * Self.slotSize, count: Int(lengths[slot])))
        return true
    }

    @inline(never)
    private func fill(_ slot: Int, _ key: (UInt64, UInt64), _ source: Endpoint, _ destination: Endpoint) {
        var text = ByteBuffer(capacity: Self.slotSize)
        text.append("\"src\":\"")
        text.append(endpoint: source)
        text.append("\",\"dst\":\"")
        text.append(endpoint: destination)
        text.append(0x22)
        (bytes + slot * Self.slotSize).update(from: text.base, count: text.count)
        lengths[slot] = UInt8(text.count)
        keys[slot] = key
    }

    @inline(__always)
    private static func hash(_ key: (UInt64, UInt64)) -> Int {
        var h = (key.0 &* 0x9E37_79B9_7F4A_7C15) ^ (key.1 &* 0xC2B2_AE3D_27D4_EB4F)
        h ^= h >> 29
        return Int(truncatingIfNeeded: h)
    }

    /// At the end of a window: twice the slots when more than one lookup in 16 pushed a pair
    /// out. The pairs kept move to their sets in the larger table (an old set's pairs go to the
    /// set of the same index or that plus the old count, so the two ways always hold them).
    @inline(never)
    private func resize() {
        defer { lookups = 0; misses = 0 }
        guard misses > Self.window / 16, slots < Self.maxSlots else { return }
        let old = (slots: slots, bytes: bytes, keys: keys, lengths: lengths)
        slots *= 2
        bytes = .allocate(capacity: slots * Self.slotSize)
        keys = Array(repeating: Self.empty, count: slots)
        lengths = Array(repeating: 0, count: slots)
        recent = Array(repeating: 0, count: slots / 2)
        for i in 0..<old.slots where old.keys[i] != Self.empty {
            var slot = (Self.hash(old.keys[i]) & (slots / 2 - 1)) << 1
            if keys[slot] != Self.empty { slot |= 1 }
            (bytes + slot * Self.slotSize).update(from: old.bytes + i * Self.slotSize, count: Int(old.lengths[i]))
            keys[slot] = old.keys[i]
            lengths[slot] = old.lengths[i]
        }
        old.bytes.deallocate()
    }
}

/// Seconds from nanoseconds as `JSONWriter.seconds` writes them (0 to 9 decimals), remembering the digits of the
/// last whole second: the events of a capture come second after second, and the ten digits of
/// an epoch time were a tenth of an NDJSON event's numbers.
final class SecondsJSON {
    private var last = UInt64.max
    private var digits = (UInt64(0), UInt64(0), UInt64(0))
    private var length = 0

    /// At most 1 + 20 + 1 + 9 bytes.
    @inline(__always)
    func write(_ ns: Int64, decimals: Int, into c: inout ByteCursor) {
        if ns < 0 { c.byte(0x2d) }
        let magnitude = ns.magnitude
        let seconds = magnitude / 1_000_000_000
        if seconds < 10 {
            c.byte(0x30 &+ UInt8(truncatingIfNeeded: seconds))
        } else {
            if seconds != last { remember(seconds) }
            withUnsafeBytes(of: &digits) { c.bytes(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        }
        c.fractionOfSecond(magnitude - seconds * 1_000_000_000, decimals: decimals)
    }

    @inline(never)
    private func remember(_ seconds: UInt64) {
        withUnsafeMutableBytes(of: &digits) { raw in
            var c = ByteCursor(p: raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
            c.decimal(seconds)
            length = c.p - raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
        }
        last = seconds
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import WSDecode
import WSDiagnosis
import WSDissector
import WSTimeline

/// The diagnosis and health figures of a connection in its text and JSON summary.
///
/// A summary is rendered when its connection ends (on an engine's worker, perhaps), before the
/// capture-wide pass knows its pattern or its proxy pair. So the rendered bytes carry three
/// marks that the document renderers resolve at the end (`DiagnosisSplicer`): bytes 0x01 and
/// 0x02 around the head (cause, who, one line), which the pass may change, and 0x03 where the
/// pattern goes. Neither output ever holds these bytes otherwise (JSON escapes control
/// characters, text shows them as escapes).
enum DiagnosisMarks {
    static let headStart: UInt8 = 1
    static let headEnd: UInt8 = 2
    static let pattern: UInt8 = 3
}

enum DiagnosisJSON {
    /// `"diagnosis": {...}, "health": {...}` into the connection object being written.
    /// `marks`: leave the marks for `DiagnosisSplicer` (a document kept to the end); without
    /// them (NDJSON, written as the connection ends) the pattern is null.
    static func write(_ d: Diagnosis, _ h: Health, marks: Bool, into w: inout JSONWriter) {
        w.key("diagnosis")
        w.beginObject()
        if marks {
            // Written whole between the marks (a field after a mark would take a comma first).
            w.out.append(DiagnosisMarks.headStart)
            w.out.append(head(cause: d.cause, by: d.by, summary: d.summary))
            w.out.append(DiagnosisMarks.headEnd)
        } else {
            w.field("cause", d.cause.rawValue)
            w.field("by", d.by?.rawValue)
            w.field("summary", d.summary)
        }
        w.key("evidence")
        w.beginArray()
        for e in d.evidence {
            w.beginObject()
            w.field("packet", e.packet)
            w.field("what", e.what)
            w.endObject()
        }
        w.endArray()
        w.key("figures")
        w.beginObject()
        for (name, value) in d.figures {
            w.key(named: name)
            switch value {
            case let .count(n): w.int(n)
            case let .seconds(s): w.fixed(s, 3)
            case let .text(t): w.string(t)
            }
        }
        w.endObject()
        w.key("pattern")
        if marks { w.out.append(DiagnosisMarks.pattern) } else { w.null() }
        w.endObject()

        w.key("health")
        w.beginObject()
        w.key("ping_rtt_ms")
        distribution(h.pingRTT, into: &w)
        w.field("pings", h.pingsSent)
        w.field("pongs", h.pongsAnswering)
        w.key("tcp_rtt_ms")
        distribution(h.tcpRTT, into: &w, handshake: h.handshakeRTT)
        w.field("retransmissions", h.retransmissions.client + h.retransmissions.server)
        w.field("dup_acks", h.duplicateAcks.client + h.duplicateAcks.server)
        w.key("zero_window_s")
        w.fixed(h.zeroWindow.client + h.zeroWindow.server, 3)
        w.key("longest_silence_s")
        w.fixed(h.longestSilence, 3)
        w.key("rate")
        w.beginObject()
        // Each side written by a local function with literal keys: arrays of tuples with String
        // keys, built for every connection, were a third of this object's cost.
        func rate(_ name: StaticString, _ r: Rate, _ sizes: Distribution?) {
            w.key(name)
            w.beginObject()
            w.field("messages", r.messages)
            w.field("bytes", r.bytes)
            w.key("messages_per_s")
            w.fixed(r.messagesPerSecond, 3)
            w.key("bytes_per_s")
            w.fixed(r.bytesPerSecond, 3)
            w.key("message_bytes")
            percentiles(sizes, into: &w, digits: 0)
            w.endObject()
        }
        rate("client", h.rate.client, h.messageBytes.client)
        rate("server", h.rate.server, h.messageBytes.server)
        w.endObject()
        w.key("by_side")
        w.beginObject()
        func side(_ name: StaticString, _ retrans: Int, _ dups: Int, _ zero: Double) {
            w.key(name)
            w.beginObject()
            w.field("retransmissions", retrans)
            w.field("dup_acks", dups)
            w.key("zero_window_s")
            w.fixed(zero, 3)
            w.endObject()
        }
        side("client", h.retransmissions.client, h.duplicateAcks.client, h.zeroWindow.client)
        side("server", h.retransmissions.server, h.duplicateAcks.server, h.zeroWindow.server)
        w.endObject()
        w.endObject()
    }

    /// `"cause":…,"by":…,"summary":…` (no braces): the part the capture-wide pass may change.
    static func head(cause: Cause, by: Ender?, summary: String) -> [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.field("cause", cause.rawValue)
        w.field("by", by?.rawValue)
        w.field("summary", summary)
        w.endObject()
        let bytes = w.bytes
        return Array(bytes[1..<(bytes.count - 1)])
    }

    static func distribution(_ d: Distribution?, into w: inout JSONWriter, handshake: Double?? = nil) {
        w.beginObject()
        if let handshake {
            w.key("handshake")
            if let v = handshake { w.fixed(v, 3) } else { w.null() }
        }
        w.field("count", d?.count ?? 0)
        w.key("min")
        fixedOrNull(d?.min, 3, into: &w)
        w.key("median")
        fixedOrNull(d?.median, 3, into: &w)
        w.key("max")
        fixedOrNull(d?.max, 3, into: &w)
        w.endObject()
    }

    @inline(__always)
    static func fixedOrNull(_ value: Double?, _ digits: Int, into w: inout JSONWriter) {
        if let value { w.fixed(value, digits) } else { w.null() }
    }

    static func percentiles(_ d: Distribution?, into w: inout JSONWriter, digits: Int) {
        w.beginObject()
        w.field("count", d?.count ?? 0)
        w.key("p50")
        fixedOrNull(d?.median, digits, into: &w)
        w.key("p90")
        fixedOrNull(d?.p90, digits, into: &w)
        w.key("p99")
        fixedOrNull(d?.p99, digits, into: &w)
        w.key("max")
        fixedOrNull(d?.max, digits, into: &w)
        w.endObject()
    }

    /// What replaces the pattern mark: the pattern object (or null), then the proxy pair.
    static func pattern(_ cross: CrossConnection?, stream: Int) -> [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("pattern")
        if let p = cross?.pattern(of: stream) {
            PatternsJSON.pattern(p, into: &w, streams: false)
        } else {
            w.null()
        }
        if let pair = cross?.pair(of: stream) {
            w.key("proxy")
            proxy(pair, stream: stream, into: &w)
        }
        w.endObject()
        let bytes = w.bytes
        // Drop `{"pattern":` and the closing brace: the key is already written.
        return Array(bytes[11..<(bytes.count - 1)])
    }

    /// A proxy pair: seen from one of its legs (`stream`), or on its own (nil).
    static func proxy(_ pair: ProxyPair, stream: Int?, into w: inout JSONWriter) {
        w.beginObject()
        if let stream {
            w.field("leg", pair.front == stream ? "client" : "backend")
            w.field("other_stream", pair.front == stream ? pair.back : pair.front)
        }
        w.field("front_stream", pair.front)
        w.field("back_stream", pair.back)
        w.key("relay_ms")
        w.beginObject()
        for (key, value) in [("client_to_server", pair.relayClientToServer), ("server_to_client", pair.relayServerToClient)] {
            w.key(named: key)
            if let value { w.fixed(value, 3) } else { w.null() }
        }
        w.endObject()
        w.field("ended_first_stream", pair.endedFirst)
        w.field("proxy_close_frame", pair.proxyCloseFrame)
        w.field("proxy_ended_both", pair.proxyEndedBoth)
        w.endObject()
    }
}

enum DiagnosisText {
    /// The head as the text summary shows it (`head(cause:by:summary:into:)` spells it).
    static func head(cause: Cause, by: Ender?, summary: String) -> String {
        var out = ByteBuffer(capacity: 48 + summary.utf8.count)
        head(cause: cause, by: by, summary: summary, into: &out)
        return String(decoding: out.bytes(from: 0), as: UTF8.self)
    }

    /// "[cause by ender] summary", written into `out` (no String made for every connection's summary).
    static func head(cause: Cause, by: Ender?, summary: String, into out: inout ByteBuffer) {
        out.append(0x5b)  // [
        out.appendUTF8(cause.rawValue)
        if let by {
            out.append(" by ")
            out.appendUTF8(by.rawValue)
        }
        out.append("] ")
        out.appendUTF8(summary)
    }

    /// "#packet what, ..." (nothing when there is no evidence).
    static func evidence(_ d: Diagnosis, into out: inout ByteBuffer) {
        for (i, e) in d.evidence.enumerated() {
            if i > 0 { out.append(", ") }
            out.append(0x23)
            out.appendDecimal(e.packet)
            out.append(0x20)
            out.appendUTF8(e.what)
        }
    }

    /// The health line, written in place: it is rendered for every connection.
    static func health(_ h: Health, into out: inout ByteBuffer) {
        var first = true
        func part() {
            if !first { out.append("; ") }
            first = false
        }
        func ms(_ v: Double) { out.appendFixed(v, msDigits(v)) }
        if let p = h.pingRTT {
            part()
            out.append("ping RTT ")
            ms(p.min); out.append(0x2f); ms(p.median); out.append(0x2f); ms(p.max)
            out.append(" ms min/median/max over ")
            out.appendDecimal(p.count)
            out.append(" (")
            out.appendDecimal(h.pingsSent)
            out.append(" ping(s))")
        } else if h.pingsSent > 0 {
            part()
            out.appendDecimal(h.pingsSent)
            out.append(" ping(s), none answered")
        }
        if h.handshakeRTT != nil || h.tcpRTT != nil {
            part()
            out.append("TCP RTT ")
            if let hs = h.handshakeRTT { out.append("handshake "); ms(hs); out.append(" ms") }
            if let t = h.tcpRTT {
                if h.handshakeRTT != nil { out.append(", ") }
                out.append("data ")
                ms(t.min); out.append(0x2f); ms(t.median); out.append(0x2f); ms(t.max)
                out.append(" ms over ")
                out.appendDecimal(t.count)
            }
        }
        let retrans = h.retransmissions.client + h.retransmissions.server
        let dups = h.duplicateAcks.client + h.duplicateAcks.server
        if retrans > 0 {
            part()
            out.appendDecimal(retrans)
            out.append(" retransmission(s) (client ")
            out.appendDecimal(h.retransmissions.client)
            out.append(", server ")
            out.appendDecimal(h.retransmissions.server)
            out.append(0x29)
        }
        if dups > 0 { part(); out.appendDecimal(dups); out.append(" duplicate ACK(s)") }
        if h.zeroWindow.client > 0 { part(); out.append("client zero window "); out.appendFixed(h.zeroWindow.client, 3); out.append(" s") }
        if h.zeroWindow.server > 0 { part(); out.append("server zero window "); out.appendFixed(h.zeroWindow.server, 3); out.append(" s") }
        part()
        out.append("longest silence ")
        out.appendFixed(h.longestSilence, 3)
        out.append(" s")
        for (name, r, d) in [("client" as StaticString, h.rate.client, h.messageBytes.client),
                             ("server" as StaticString, h.rate.server, h.messageBytes.server)] where r.messages > 0 {
            part()
            out.append(name)
            out.append(0x20)
            out.appendDecimal(r.messages)
            out.append(" msg ")
            out.appendDecimal(r.bytes)
            out.append(" B (")
            out.appendFixed(r.messagesPerSecond, 1)
            out.append(" msg/s, ")
            out.appendFixed(r.bytesPerSecond, 0)
            out.append(" B/s)")
            if let d {
                out.append(" sizes p50/p90/max ")
                out.appendDecimal(Int(d.median)); out.append(0x2f)
                out.appendDecimal(Int(d.p90)); out.append(0x2f)
                out.appendDecimal(Int(d.max))
                out.append(" B")
            }
        }
    }

    static func ms(_ v: Double) -> String { formatFixed(v, msDigits(v)) }

    /// Milliseconds' decimals: three below 1 ms, one above.
    static func msDigits(_ v: Double) -> Int { v < 1 ? 3 : 1 }

    /// The lines that replace the pattern mark (each "  Label      text\n").
    static func pattern(_ cross: CrossConnection?, stream: Int) -> String {
        var out = ""
        if let p = cross?.pattern(of: stream) {
            out += "  Pattern    " + String(repeating: " ", count: 40) + p.summary + " (streams " + streamList(p.streams) + ")\n"
        }
        if let pair = cross?.pair(of: stream) {
            let front = pair.front == stream
            var t = front ? "client leg of a proxy; backend leg is stream \(pair.back)" : "backend leg of a proxy; client leg is stream \(pair.front)"
            var relay: [String] = []
            if let v = pair.relayClientToServer { relay.append("client→server \(ms(v)) ms") }
            if let v = pair.relayServerToClient { relay.append("server→client \(ms(v)) ms") }
            if !relay.isEmpty { t += "; relay delay " + relay.joined(separator: ", ") }
            if let first = pair.endedFirst { t += first == stream ? "; this leg ended first" : "; the other leg ended first" }
            t += pair.proxyCloseFrame ? "; the proxy sent a close frame" : "; the proxy sent no close frame of its own"
            out += "  Proxy      " + String(repeating: " ", count: 40) + t + "\n"
        }
        return out
    }

    static func streamList(_ streams: [Int]) -> String {
        if streams.count <= 12 { return streams.map(String.init).joined(separator: ", ") }
        return streams.prefix(10).map(String.init).joined(separator: ", ") + ", … \(streams.count - 10) more"
    }
}

/// Resolves the marks of rendered summaries once every connection has ended: the text and JSON
/// documents keep a small `EndingRecord` per connection for the capture-wide pass.
final class DiagnosisSplicer {
    private(set) var records: [EndingRecord] = []
    private var cross: CrossConnection?

    func add(_ record: EndingRecord) { records.append(record) }

    /// Runs the capture-wide pass (once).
    func resolve() -> CrossConnection {
        if let cross { return cross }
        let found = PatternFinder.find(records)
        cross = found
        records = []
        return found
    }

    /// `bytes` with the marks resolved for `stream` (`text`: the text summary's marks).
    static func apply(_ bytes: [UInt8], stream: Int, text: Bool, cross: CrossConnection?) -> [UInt8] {
        var out = ByteBuffer(capacity: bytes.count + 128)
        bytes.withUnsafeBytes { apply($0, stream: stream, text: text, cross: cross, into: &out) }
        return Array(out.bytes(from: 0))
    }

    /// The same, written into `out`: the documents' summaries go straight into the output
    /// sink (one connection after the other on one thread, after the workers: no array is made
    /// and copied again for each).
    static func apply(_ raw: UnsafeRawBufferPointer, stream: Int, text: Bool, cross: CrossConnection?,
                      into out: inout ByteBuffer) {
        // The marks are bytes no output holds otherwise: memchr finds them.
        guard let a = raw.offset(of: DiagnosisMarks.headStart, from: 0), let b = raw.offset(of: DiagnosisMarks.headEnd, from: a),
              let c = raw.offset(of: DiagnosisMarks.pattern, from: b) else { return out.append(raw) }
        out.append(UnsafeRawBufferPointer(rebasing: raw[..<a]))
        if let o = cross?.overrides[stream] {
            if text {
                DiagnosisText.head(cause: o.cause, by: o.by, summary: o.summary, into: &out)
            } else {
                out.append(DiagnosisJSON.head(cause: o.cause, by: o.by, summary: o.summary))
            }
        } else {
            out.append(UnsafeRawBufferPointer(rebasing: raw[(a + 1)..<b]))
        }
        out.append(UnsafeRawBufferPointer(rebasing: raw[(b + 1)..<c]))
        if text {
            out.appendUTF8(DiagnosisText.pattern(cross, stream: stream))
        } else {
            out.append(DiagnosisJSON.pattern(cross, stream: stream))
        }
        out.append(UnsafeRawBufferPointer(rebasing: raw[(c + 1)...]))
    }
}

/// The capture-wide pass's findings as JSON: the document's `patterns` and `proxy_pairs`,
/// NDJSON's lines.
enum PatternsJSON {
    static func write(_ cross: CrossConnection, into w: inout JSONWriter) {
        w.beginArray()
        for p in cross.patterns { pattern(p, into: &w) }
        w.endArray()
    }

    static func writePairs(_ cross: CrossConnection, into w: inout JSONWriter) {
        w.beginArray()
        for pair in cross.pairs { DiagnosisJSON.proxy(pair, stream: nil, into: &w) }
        w.endArray()
    }

    /// A pattern; `streams`: with the list of its streams (the document's and NDJSON's lists;
    /// a connection's `diagnosis.pattern` leaves it out).
    static func pattern(_ p: Pattern, into w: inout JSONWriter, type: Bool = false, streams: Bool = true) {
        w.beginObject()
        if type { w.field("type", "pattern") }
        w.field("kind", p.kind.rawValue)
        w.field("connections", p.streams.count)
        w.key("window_s")
        w.fixed(p.windowSeconds, 3)
        if let idle = p.idleSeconds {
            w.key("idle_s")
            w.fixed(idle, 3)
        }
        w.field("by", p.by?.rawValue)
        w.field("graceful", p.graceful)
        w.field("summary", p.summary)
        if streams { w.field("streams", ints: p.streams) }
        w.endObject()
    }

    /// NDJSON: a `pattern` line per pattern, a `proxy_pair` line per pair, and a
    /// `diagnosis_update` line per connection the pass has something to add to.
    static func lines(_ cross: CrossConnection, stream: Int?) -> [[UInt8]] {
        var out: [[UInt8]] = []
        if stream == nil {
            for p in cross.patterns {
                var w = JSONWriter(capacity: 512)
                pattern(p, into: &w, type: true)
                out.append(w.bytes)
            }
        }
        var streams = Set(cross.patternOf.keys).union(cross.pairOf.keys).union(cross.overrides.keys)
        if let stream { streams = streams.filter { $0 == stream } }
        for s in streams.sorted() {
            var w = JSONWriter(capacity: 512)
            w.beginObject()
            w.field("type", "diagnosis_update")
            w.field("stream", s)
            if let o = cross.overrides[s] {
                w.field("cause", o.cause.rawValue)
                w.field("by", o.by?.rawValue)
                w.field("summary", o.summary)
            }
            w.key("pattern")
            w.out.append(DiagnosisJSON.pattern(cross, stream: s))
            w.endObject()
            out.append(w.bytes)
        }
        return out
    }
}

extension DiagnosisText {
    /// The capture-wide section after the summaries.
    static func captureWide(_ cross: CrossConnection) -> String {
        var out = "Across connections\n"
        for p in cross.patterns {
            out += "  \(p.kind.rawValue): \(p.summary) (streams \(streamList(p.streams)))\n"
        }
        for pair in cross.pairs {
            var t = "  proxy pair: client leg stream \(pair.front), backend leg stream \(pair.back)"
            if let v = pair.relayClientToServer { t += "; relay client→server \(ms(v)) ms" }
            if let v = pair.relayServerToClient { t += ", server→client \(ms(v)) ms" }
            t += pair.proxyEndedBoth ? "; the proxy ended both legs" : ""
            t += pair.proxyCloseFrame ? " with a close frame" : (pair.proxyEndedBoth ? " without a close frame" : "")
            out += t + "\n"
        }
        return out + "\n"
    }
}

extension JSONWriter {
    /// `v` as a JSON number with `digits` decimals, written in place.
    mutating func fixed(_ v: Double, _ digits: Int) {
        number("")
        out.appendFixed(v, digits)
    }
}

extension ByteBuffer {
    /// What `formatFixed(v, digits)` spells, written in place (no String: these are written
    /// for every connection).
    mutating func appendFixed(_ v: Double, _ digits: Int) {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (v * scale).rounded()
        guard scaled.isFinite, Swift.abs(scaled) < 9.0e18 else { return appendUTF8(formatFixed(v, digits)) }
        let n = UInt64(Swift.abs(scaled))
        if scaled < 0 && n != 0 { append(0x2d) }
        let s = UInt64(scale)
        appendDecimal(n / s)
        guard digits > 0 else { return }
        append(0x2e)
        let frac = n % s
        var width = 1
        var probe = frac
        while probe >= 10 { probe /= 10; width += 1 }
        for _ in width..<digits { append(0x30) }
        appendDecimal(frac)
    }
}

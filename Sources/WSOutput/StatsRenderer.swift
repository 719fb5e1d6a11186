import WSDecode
import WSDiagnosis
import WSDissector
import WSTimeline

/// `wstrace stats`: the capture as a whole (connections by cause, close codes, percentiles,
/// patterns, busiest connections, connections over time), as text or one JSON object.
public final class StatsRenderer: Renderer {
    private let sink: OutputSink
    private let json: Bool
    private let builder = CaptureStatsBuilder()
    private var file = ""

    public init(sink: OutputSink, json: Bool) {
        self.sink = sink
        self.json = json
    }

    public var isClosed: Bool { sink.closed }
    public func begin(file: String, linkType: String) { self.file = file }
    public func event(_ e: TimelineEvent) {}
    public func connection(_ s: ConnectionSummary) { builder.add(s) }

    public func end(counters: CaptureCounters, warnings: [String]) {
        let stats = builder.finish()
        if json {
            sink.writeJSON { Self.write(stats, file: file, counters: counters, warnings: warnings, into: &$0) }
            sink.endLine()
        } else {
            sink.write(Self.text(stats, file: file, counters: counters))
        }
        sink.flush()
    }

    static func number(_ v: Double, _ digits: Int, into w: inout JSONWriter) { w.fixed(v, digits) }

    static func percentiles(_ d: Distribution?, digits: Int, into w: inout JSONWriter) {
        w.beginObject()
        w.field("count", d?.count ?? 0)
        for (key, value) in [("p50", d?.median), ("p90", d?.p90), ("p99", d?.p99), ("max", d?.max)] {
            w.key(named: key)
            if let value { number(value, digits, into: &w) } else { w.null() }
        }
        w.endObject()
    }

    static func write(_ s: CaptureStats, file: String, counters: CaptureCounters, warnings: [String], into w: inout JSONWriter) {
        w.beginObject()
        w.field("type", "stats")
        w.field("schema", 3)
        w.field("file", file)
        w.field("packets", counters.packets)
        w.field("connections", s.connections)
        w.field("websocket_connections", s.webSocketConnections)
        w.key("by_cause")
        w.beginObject()
        for (cause, n) in s.byCause {
            w.key(named: cause.rawValue)
            w.int(n)
        }
        w.endObject()
        w.key("close_codes")
        w.beginObject()
        for (code, n) in s.closeCodes {
            w.key(named: code)
            w.int(n)
        }
        w.endObject()
        w.key("duration_s")
        percentiles(s.duration, digits: 3, into: &w)
        w.field("messages", s.messages)
        w.key("message_bytes")
        percentiles(s.messageBytes, digits: 0, into: &w)
        w.key("ping_rtt_ms")
        percentiles(s.pingRTT, digits: 3, into: &w)
        w.key("patterns")
        PatternsJSON.write(CrossConnection(patterns: s.patterns), into: &w)
        w.key("proxy_pairs")
        PatternsJSON.writePairs(CrossConnection(pairs: s.pairs), into: &w)
        w.key("busiest")
        w.beginArray()
        for b in s.busiest {
            w.beginObject()
            w.field("stream", b.stream)
            w.field("client", b.client.text)
            w.field("server", b.server.text)
            w.field("messages", b.messages)
            w.field("bytes", b.bytes)
            w.key("duration_s")
            number(b.durationSeconds, 3, into: &w)
            w.field("cause", b.cause.rawValue)
            w.endObject()
        }
        w.endArray()
        w.key("over_time")
        w.beginObject()
        w.key("bucket_s")
        number(s.bucketSeconds, 3, into: &w)
        w.key("span_s")
        number(s.spanSeconds, 3, into: &w)
        w.key("buckets")
        w.beginArray()
        for b in s.overTime {
            w.beginObject()
            w.key("start_s")
            number(b.start, 3, into: &w)
            w.field("opened", b.opened)
            w.field("ended", b.ended)
            w.field("open", b.open)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        w.field("warnings", strings: warnings)
        w.endObject()
    }

    static func text(_ s: CaptureStats, file: String, counters: CaptureCounters) -> String {
        var out = "WebSocket statistics: \(file)\n"
        out += "  \(counters.packets) packets; \(s.connections) TCP connection(s), \(s.webSocketConnections) WebSocket; \(s.messages) message(s)\n\n"
        out += "Connections by cause\n"
        let width = max(10, s.byCause.map { $0.cause.rawValue.count }.max() ?? 10)
        for (cause, n) in s.byCause {
            out += "  " + cause.rawValue + String(repeating: " ", count: width - cause.rawValue.count) + "  " + pad(String(n), 6) + "  " + cause.words + "\n"
        }
        if s.byCause.isEmpty { out += "  (none)\n" }
        out += "\nClose codes (first close frame of each connection)\n"
        for (code, n) in s.closeCodes {
            let name = UInt16(code).map(closeCodeName) ?? "no status code"
            out += "  " + pad(code, 5, left: true) + "  " + pad(String(n), 6) + "  " + name + "\n"
        }
        if s.closeCodes.isEmpty { out += "  (no close frames)\n" }
        out += "\n" + pad("", 24, left: true) + pad("count", 8) + pad("p50", 12) + pad("p90", 12) + pad("p99", 12) + pad("max", 12) + "\n"
        func row(_ label: String, _ d: Distribution?, _ digits: Int) {
            out += "  " + pad(label, 22, left: true) + pad(String(d?.count ?? 0), 8)
            for v in [d?.median, d?.p90, d?.p99, d?.max] { out += pad(v.map { formatFixed($0, digits) } ?? "-", 12) }
            out += "\n"
        }
        row("duration (s)", s.duration, 3)
        row("message size (bytes)", s.messageBytes, 0)
        row("ping RTT (ms)", s.pingRTT, 3)
        if !s.patterns.isEmpty || !s.pairs.isEmpty {
            out += "\nPatterns\n"
            for p in s.patterns { out += "  \(p.kind.rawValue): \(p.summary) (streams \(DiagnosisText.streamList(p.streams)))\n" }
            for p in s.pairs {
                out += "  proxy pair: client leg stream \(p.front), backend leg stream \(p.back)"
                if let v = p.relayClientToServer { out += "; relay client→server \(DiagnosisText.ms(v)) ms" }
                if let v = p.relayServerToClient { out += ", server→client \(DiagnosisText.ms(v)) ms" }
                out += "\n"
            }
        }
        if !s.busiest.isEmpty {
            out += "\nBusiest connections (by bytes)\n"
            for b in s.busiest {
                out += "  stream " + pad(String(b.stream), 5, left: true) + "  \(b.client.text) ⇄ \(b.server.text)  \(b.messages) msg, \(b.bytes) B, \(formatFixed(b.durationSeconds, 3)) s, \(b.cause.rawValue)\n"
            }
        }
        if !s.overTime.isEmpty {
            out += "\nConnections over time (intervals of \(formatFixed(s.bucketSeconds, 1)) s)\n"
            out += "  " + pad("from (s)", 10, left: true) + pad("opened", 8) + pad("ended", 8) + pad("open", 8) + "\n"
            for b in s.overTime {
                out += "  " + pad(formatFixed(b.start, 1), 10, left: true) + pad(String(b.opened), 8) + pad(String(b.ended), 8) + pad(String(b.open), 8) + "\n"
            }
        }
        return out
    }

    /// `s` padded to `width` columns, on the right (numbers) or the left.
    static func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
        let n = s.count
        guard n < width else { return s }
        let spaces = String(repeating: " ", count: width - n)
        return left ? s + spaces : spaces + s
    }
}

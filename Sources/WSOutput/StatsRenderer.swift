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
        DiagnosisJSON.percentiles(s.duration, into: &w, digits: 3)
        w.field("messages", s.messages)
        w.key("message_bytes")
        DiagnosisJSON.percentiles(s.messageBytes, into: &w, digits: 0)
        w.key("ping_rtt_ms")
        DiagnosisJSON.percentiles(s.pingRTT, into: &w, digits: 3)
        w.key("patterns")
        PatternsJSON.write(CrossConnection(patterns: s.patterns), into: &w)
        w.key("proxy_pairs")
        PatternsJSON.writePairs(CrossConnection(pairs: s.pairs), into: &w)
        w.key("app_latency")
        w.beginArray()
        for r in s.appLatency {
            w.beginObject()
            w.field("proto", r.proto)
            w.field("key", r.key)
            w.key("latency_ms")
            DiagnosisJSON.percentiles(r.latencyMs, into: &w, digits: 3)
            w.endObject()
        }
        w.endArray()
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
            w.fixed(b.durationSeconds, 3)
            w.field("cause", b.cause.rawValue)
            w.endObject()
        }
        w.endArray()
        w.key("over_time")
        w.beginObject()
        w.key("bucket_s")
        w.fixed(s.bucketSeconds, 3)
        w.key("span_s")
        w.fixed(s.spanSeconds, 3)
        w.key("buckets")
        w.beginArray()
        for b in s.overTime {
            w.beginObject()
            w.key("start_s")
            w.fixed(b.start, 3)
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
            out += "  " + pad(cause.rawValue, width) + "  " + pad(String(n), 6, right: true) + "  " + cause.words + "\n"
        }
        if s.byCause.isEmpty { out += "  (none)\n" }
        out += "\nClose codes (first close frame of each connection)\n"
        for (code, n) in s.closeCodes {
            let name = UInt16(code).map(closeCodeName) ?? "no status code"
            out += "  " + pad(code, 5) + "  " + pad(String(n), 6, right: true) + "  " + name + "\n"
        }
        if s.closeCodes.isEmpty { out += "  (no close frames)\n" }
        out += "\n" + pad("", 24) + pad("count", 8, right: true) + pad("p50", 12, right: true) + pad("p90", 12, right: true) + pad("p99", 12, right: true) + pad("max", 12, right: true) + "\n"
        func row(_ label: String, _ d: Distribution?, _ digits: Int) {
            out += "  " + pad(label, 22) + pad(String(d?.count ?? 0), 8, right: true)
            for v in [d?.median, d?.p90, d?.p99, d?.max] { out += pad(v.map { formatFixed($0, digits) } ?? "-", 12, right: true) }
            out += "\n"
        }
        row("duration (s)", s.duration, 3)
        row("message size (bytes)", s.messageBytes, 0)
        row("ping RTT (ms)", s.pingRTT, 3)
        if !s.appLatency.isEmpty {
            out += "\nRequest latency (ms) by method, event or topic\n"
            out += "  " + pad("protocol", 11) + pad("request", 30) + pad("count", 8, right: true) + pad("p50", 11, right: true) + pad("p90", 11, right: true) + pad("p99", 11, right: true) + pad("max", 11, right: true) + "\n"
            for r in s.appLatency.prefix(30) {
                let d = r.latencyMs
                out += "  " + pad(r.proto, 11) + pad(escapedText(r.key, limit: 28, quoted: false), 30) + pad(String(d.count), 8, right: true)
                for v in [d.median, d.p90, d.p99, d.max] { out += pad(formatFixed(v, 3), 11, right: true) }
                out += "\n"
            }
            if s.appLatency.count > 30 { out += "  (\(s.appLatency.count - 30) more in --format json)\n" }
        }
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
                out += "  stream " + pad(String(b.stream), 5) + "  \(b.client.text) ⇄ \(b.server.text)  \(b.messages) msg, \(b.bytes) B, \(formatFixed(b.durationSeconds, 3)) s, \(b.cause.rawValue)\n"
            }
        }
        if !s.overTime.isEmpty {
            out += "\nConnections over time (intervals of \(formatFixed(s.bucketSeconds, 1)) s)\n"
            out += "  " + pad("from (s)", 10) + pad("opened", 8, right: true) + pad("ended", 8, right: true) + pad("open", 8, right: true) + "\n"
            for b in s.overTime {
                out += "  " + pad(formatFixed(b.start, 1), 10) + pad(String(b.opened), 8, right: true) + pad(String(b.ended), 8, right: true) + pad(String(b.open), 8, right: true) + "\n"
            }
        }
        return out
    }
}

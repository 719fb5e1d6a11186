import WSDecode
import WSDissector
import WSReassembly
import WSTimeline

/// One of the busiest connections.
public struct BusyConnection: Sendable {
    public var stream: Int
    public var client: Endpoint
    public var server: Endpoint
    public var messages: Int
    public var bytes: UInt64
    public var durationSeconds: Double
    public var cause: Cause
}

/// Connections opened, ended and open during one interval of the capture.
public struct TimeBucket: Sendable {
    /// Seconds from the capture's first connection.
    public var start: Double
    public var opened: Int
    public var ended: Int
    public var open: Int
}

/// The capture as a whole, for `wstrace stats` (`stats` in docs/json.md).
public struct CaptureStats: Sendable {
    public var connections = 0
    public var webSocketConnections = 0
    public var byCause: [(cause: Cause, count: Int)] = []
    /// The first close frame's code per connection ("none": a close frame without a code).
    public var closeCodes: [(code: String, count: Int)] = []
    /// WebSocket connections' durations, s.
    public var duration: Distribution?
    /// Every message's size (both directions, every WebSocket connection), bytes.
    public var messageBytes: Distribution?
    public var messages = 0
    /// Every ping → pong round trip, ms.
    public var pingRTT: Distribution?
    public var patterns: [Pattern] = []
    public var pairs: [ProxyPair] = []
    public var busiest: [BusyConnection] = []
    /// Request→response latency (ms) per application protocol and method/event/topic, most
    /// requests first.
    public var appLatency: [AppLatencyRow] = []
    public var bucketSeconds: Double = 1
    public var overTime: [TimeBucket] = []
    /// Capture span (first to last connection time), s.
    public var spanSeconds: Double = 0
}

/// Builds `CaptureStats` from the connections' summaries as they end, then the capture-wide pass.
/// Latencies of one kind of request (`stats`): a JSON-RPC method, a Socket.IO event, an MQTT topic, ...
public struct AppLatencyRow: Sendable {
    public var proto: String
    public var key: String
    public var latencyMs: Distribution
}

public final class CaptureStatsBuilder {
    private var appLatencies: [String: (proto: String, key: String, ms: [Double])] = [:]
    private var causes: [Cause: Int] = [:]
    private var codes: [String: Int] = [:]
    private var durations: [Double] = []
    private var sizes: [UInt32] = []
    private var messageCount = 0
    private var rtts: [Double] = []
    private var busy: [BusyConnection] = []
    private var spans: [(start: Int64, end: Int64)] = []
    public private(set) var records: [EndingRecord] = []
    private var stats = CaptureStats()

    public init() {}

    public func add(_ s: ConnectionSummary) {
        let d = Diagnoser.diagnose(s)
        records.append(EndingRecord(s, d))
        stats.connections += 1
        causes[d.cause, default: 0] += 1
        guard s.isWebSocket else { return }
        stats.webSocketConnections += 1
        if let close = s.close { codes[close.code.map(String.init) ?? "none", default: 0] += 1 }
        durations.append(Double(s.duration) / 1e9)
        let f = s.facts
        sizes.append(contentsOf: f.client.messageSizes)
        sizes.append(contentsOf: f.server.messageSizes)
        for v in f.client.pingRTTs + f.server.pingRTTs { rtts.append(Double(v) / 1e6) }
        let messages = f.client.messages + f.server.messages
        messageCount += messages
        busy.append(BusyConnection(stream: s.stream, client: s.client, server: s.server, messages: messages,
                                   bytes: s.clientCounts.bytes + s.serverCounts.bytes,
                                   durationSeconds: Double(s.duration) / 1e9, cause: d.cause))
        if busy.count > 40 { trimBusy() }
        spans.append((s.start, s.end))
        if let a = s.app {
            for l in a.latencies {
                let id = l.proto.rawValue + "\u{0}" + l.key
                if appLatencies[id] == nil {
                    guard appLatencies.count < 10_000 else { continue }
                    appLatencies[id] = (l.proto.rawValue, l.key, [])
                }
                appLatencies[id]!.ms.append(Double(l.latency) / 1e6)
            }
        }
    }

    private func trimBusy() {
        busy.sort { ($0.bytes, -$0.stream) > ($1.bytes, -$1.stream) }
        if busy.count > 10 { busy.removeLast(busy.count - 10) }
    }

    public func finish() -> CaptureStats {
        let cross = PatternFinder.find(records)
        // Streams to records once (a mass disconnect may change thousands of heads).
        let index = Dictionary(records.indices.map { (records[$0].stream, $0) }, uniquingKeysWith: { a, _ in a })
        for (stream, o) in cross.overrides {
            if let i = index[stream], records[i].cause != o.cause {
                causes[records[i].cause, default: 0] -= 1
                if causes[records[i].cause] == 0 { causes[records[i].cause] = nil }
                causes[o.cause, default: 0] += 1
                records[i].cause = o.cause
            }
        }
        stats.byCause = Cause.allCases.compactMap { c in causes[c].map { (c, $0) } }
        stats.closeCodes = codes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        stats.duration = Distribution(durations)
        stats.messageBytes = Distribution(sizes: sizes)
        stats.messages = messageCount
        stats.pingRTT = Distribution(rtts)
        stats.patterns = cross.patterns
        stats.pairs = cross.pairs
        trimBusy()
        stats.busiest = Array(busy.prefix(10))
        for i in stats.busiest.indices {
            if let o = cross.overrides[stats.busiest[i].stream] { stats.busiest[i].cause = o.cause }
        }
        stats.appLatency = appLatencies.values.compactMap { v in Distribution(v.ms).map { AppLatencyRow(proto: v.proto, key: v.key, latencyMs: $0) } }
            .sorted { ($0.latencyMs.count, $1.proto, $1.key) > ($1.latencyMs.count, $0.proto, $0.key) }
        buckets()
        return stats
    }

    /// Connections over time, in at most 60 intervals of a round width.
    private func buckets() {
        guard let first = spans.map(\.start).min(), let last = spans.map(\.end).max() else { return }
        let span = Double(last - first) / 1e9
        stats.spanSeconds = (span * 1000).rounded() / 1000
        let widths: [Double] = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]
        let width = widths.first { span / $0 < 60 } ?? 86400
        stats.bucketSeconds = width
        let count = max(1, Int((span / width).rounded(.down)) + 1)
        var out = (0..<count).map { TimeBucket(start: Double($0) * width, opened: 0, ended: 0, open: 0) }
        let index = { (t: Int64) in min(count - 1, Int(Double(t - first) / 1e9 / width)) }
        for s in spans {
            let a = index(s.start), b = max(a, index(s.end))
            out[a].opened += 1
            out[b].ended += 1
            for k in a...b { out[k].open += 1 }
        }
        stats.overTime = out
    }
}

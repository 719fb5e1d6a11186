import WSDiagnosis
import WSDissector
import WSTimeline

/// The report's charts, drawn as inline SVG (no script): a Gantt of connections coloured by
/// the cause of their end, messages over time, ping round trips over time, close codes.
final class HTMLReportCharts {
    private var bars: [(stream: Int, start: Int64, end: Int64, cause: Cause, summary: String)] = []
    private var codes: [String: Int] = [:]
    private var pings: [(time: Int64, ms: Double)] = []
    private var messageTimes: [Int64] = []
    static let ganttLimit = 300
    static let sampleLimit = 1 << 20

    func message(at time: Int64) {
        if messageTimes.count < Self.sampleLimit { messageTimes.append(time) }
    }

    /// Connections seen (the Gantt shows the first `ganttLimit` to end).
    private var connections = 0

    func add(_ s: ConnectionSummary, _ d: Diagnosis) {
        connections += 1
        if bars.count < Self.ganttLimit { bars.append((s.stream, s.start, s.end, d.cause, d.summary)) }
        if let close = s.close { codes[close.code.map(String.init) ?? "none", default: 0] += 1 }
        for side in [s.facts.client, s.facts.server] {
            for (t, rtt) in zip(side.pongTimes, side.pingRTTs) where pings.count < Self.sampleLimit {
                pings.append((t, Double(rtt) / 1e6))
            }
        }
    }

    /// A cause's colour (the legend names them).
    static func color(_ c: Cause) -> String {
        switch c {
        case .cleanClose: return "#2e7d32"
        case .errorClose: return "#c62828"
        case .idleTimeout: return "#ef6c00"
        case .keepaliveTimeout: return "#ad1457"
        case .peerUnreachable: return "#6a1b9a"
        case .reset: return "#d84315"
        case .closedWithoutCloseFrame: return "#f9a825"
        case .receiverStalled: return "#00838f"
        case .upgradeRefused, .handshakeFailed: return "#4e342e"
        case .tlsAlert: return "#283593"
        case .openAtEnd: return "#78909c"
        case .notWebSocket: return "#bdbdbd"
        }
    }

    /// The charts' HTML, with the capture-wide pass's changes to causes applied.
    func html(cross: CrossConnection, first: Int64?) -> String {
        guard !bars.isEmpty else { return "" }
        for i in bars.indices { if let o = cross.overrides[bars[i].stream] { bars[i].cause = o.cause; bars[i].summary = o.summary } }
        bars.sort { $0.stream < $1.stream }
        let t0 = first ?? bars.map(\.start).min()!
        let t1 = max(bars.map(\.end).max()!, messageTimes.max() ?? t0, t0 + 1)
        var out = "<section id=\"charts\"><h2>Charts</h2>\n"
        out += gantt(t0, t1) + messages(t0, t1) + pingChart(t0, t1) + closeCodes()
        return out + "</section>\n"
    }

    private let width = 900.0, left = 70.0

    private func x(_ t: Int64, _ t0: Int64, _ t1: Int64) -> Double {
        left + (width - left - 10) * Double(t - t0) / Double(t1 - t0)
    }

    private func axis(_ t0: Int64, _ t1: Int64, y: Double) -> String {
        let span = Double(t1 - t0) / 1e9
        var out = "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width - 10)\" y2=\"\(y)\" stroke=\"#888\"/>"
        for k in 0...4 {
            let xv = left + (width - left - 10) * Double(k) / 4
            let anchor = k == 0 ? "start" : (k == 4 ? "end" : "middle")
            out += "<text x=\"\(formatFixed(xv, 1))\" y=\"\(y + 14)\" font-size=\"11\" text-anchor=\"\(anchor)\">\(formatFixed(span * Double(k) / 4, 2)) s</text>"
        }
        return out
    }

    private func gantt(_ t0: Int64, _ t1: Int64) -> String {
        let row = 14.0
        let height = Double(bars.count) * row + 40
        var out = "<h3>Connections by cause of their end</h3>\n"
        out += "<svg class=\"chart gantt\" role=\"img\" aria-label=\"connections over time, coloured by cause\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
        for (i, b) in bars.enumerated() {
            let y = Double(i) * row + 4
            let xa = x(b.start, t0, t1), xb = max(x(b.end, t0, t1), xa + 2)
            out += "<text x=\"\(left - 6)\" y=\"\(formatFixed(y + 10, 1))\" font-size=\"10\" text-anchor=\"end\">\(b.stream)</text>"
            out += "<rect class=\"bar cause-\(b.cause.rawValue)\" data-stream=\"\(b.stream)\" data-cause=\"\(b.cause.rawValue)\" x=\"\(formatFixed(xa, 1))\" y=\"\(formatFixed(y, 1))\" width=\"\(formatFixed(xb - xa, 1))\" height=\"\(row - 4)\" fill=\"\(Self.color(b.cause))\"><title>stream \(b.stream): \(htmlEscaped(b.cause.rawValue)): \(htmlEscaped(b.summary))</title></rect>"
        }
        out += axis(t0, t1, y: Double(bars.count) * row + 8)
        out += "</svg>\n"
        if connections > bars.count {
            out += "<p class=\"muted\">The first \(bars.count) of \(connections) connections to end.</p>\n"
        }
        out += "<p class=\"legend\">"
        let present = Cause.allCases.filter { c in bars.contains { $0.cause == c } }
        out += present.map { "<span><svg width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\" fill=\"\(Self.color($0))\"/></svg> \($0.rawValue)</span>" }.joined(separator: " ")
        return out + "</p>\n"
    }

    private func messages(_ t0: Int64, _ t1: Int64) -> String {
        guard !messageTimes.isEmpty else { return "" }
        let bins = 60
        var counts = Array(repeating: 0, count: bins)
        for t in messageTimes {
            // Clamped before the conversion: a message far before the first event (the clock
            // went back) lies billions of bins out, beyond what an Int holds.
            let at = Double(t - t0) / Double(t1 - t0) * Double(bins)
            let k = Int(min(Double(bins - 1), max(0, at)))
            counts[k] += 1
        }
        let peak = max(1, counts.max()!)
        let binSeconds = Double(t1 - t0) / 1e9 / Double(bins)
        let h = 120.0
        var out = "<h3>Messages over time</h3>\n<svg class=\"chart rate\" role=\"img\" aria-label=\"messages per interval\" width=\"\(Int(width))\" height=\"\(Int(h + 30))\" viewBox=\"0 0 \(Int(width)) \(Int(h + 30))\">"
        let w = (width - left - 10) / Double(bins)
        for (k, c) in counts.enumerated() where c > 0 {
            let bh = h * Double(c) / Double(peak)
            out += "<rect class=\"bin\" data-count=\"\(c)\" x=\"\(formatFixed(left + Double(k) * w, 1))\" y=\"\(formatFixed(h - bh + 4, 1))\" width=\"\(formatFixed(max(1, w - 1), 1))\" height=\"\(formatFixed(bh, 1))\" fill=\"#1565c0\"><title>\(c) messages</title></rect>"
        }
        out += "<text x=\"\(left - 6)\" y=\"14\" font-size=\"11\" text-anchor=\"end\">\(peak)</text>"
        out += axis(t0, t1, y: h + 4)
        return out + "</svg>\n<p class=\"muted\">\(messageTimes.count) messages in bins of \(formatFixed(binSeconds, 3)) s; peak \(peak) per bin.</p>\n"
    }

    private func pingChart(_ t0: Int64, _ t1: Int64) -> String {
        guard !pings.isEmpty else { return "" }
        let peak = max(pings.map(\.ms).max()!, 0.001)
        let h = 120.0
        var out = "<h3>Ping round trips</h3>\n<svg class=\"chart ping\" role=\"img\" aria-label=\"ping round trip times\" width=\"\(Int(width))\" height=\"\(Int(h + 30))\" viewBox=\"0 0 \(Int(width)) \(Int(h + 30))\">"
        for p in pings.prefix(5000) {
            let y = h + 4 - h * p.ms / peak
            out += "<circle class=\"rtt\" cx=\"\(formatFixed(x(p.time, t0, t1), 1))\" cy=\"\(formatFixed(y, 1))\" r=\"3\" fill=\"#ad1457\"><title>\(formatFixed(p.ms, 3)) ms</title></circle>"
        }
        out += "<text x=\"\(left - 6)\" y=\"14\" font-size=\"11\" text-anchor=\"end\">\(formatFixed(peak, 3)) ms</text>"
        out += axis(t0, t1, y: h + 4)
        return out + "</svg>\n"
    }

    private func closeCodes() -> String {
        guard !codes.isEmpty else { return "" }
        let list = codes.sorted { $0.key < $1.key }
        let peak = list.map(\.value).max()!
        let row = 20.0
        let h = Double(list.count) * row + 8
        var out = "<h3>Close codes</h3>\n<svg class=\"chart codes\" role=\"img\" aria-label=\"close codes\" width=\"\(Int(width))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(width)) \(Int(h))\">"
        for (i, (code, n)) in list.enumerated() {
            let y = Double(i) * row + 4
            let w = (width - left - 220) * Double(n) / Double(peak)
            let name = UInt16(code).map { closeCodeName($0) } ?? "no code"
            out += "<text x=\"\(left - 6)\" y=\"\(formatFixed(y + 12, 1))\" font-size=\"11\" text-anchor=\"end\">\(code)</text>"
            out += "<rect class=\"code\" data-code=\"\(code)\" data-count=\"\(n)\" x=\"\(left)\" y=\"\(formatFixed(y, 1))\" width=\"\(formatFixed(max(w, 2), 1))\" height=\"\(row - 6)\" fill=\"\(code == "1000" || code == "1001" || code == "1012" || code == "none" ? "#2e7d32" : "#c62828")\"><title>\(code) \(htmlEscaped(name)): \(n)</title></rect>"
            out += "<text x=\"\(formatFixed(left + max(w, 2) + 6, 1))\" y=\"\(formatFixed(y + 12, 1))\" font-size=\"11\">\(n) · \(htmlEscaped(name))</text>"
        }
        return out + "</svg>\n"
    }
}

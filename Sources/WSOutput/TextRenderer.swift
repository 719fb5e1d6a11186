import WSDecode
import WSDissector
import WSTimeline

/// The Wireshark-like timeline: one row per event, then a lifecycle summary per connection.
public final class TextRenderer: Renderer {
    private let sink: OutputSink
    private let options: RenderOptions
    private let summaryOnly: Bool
    private let formatter: InfoFormatter
    private var firstTime: Int64?
    private var previousTime: Int64?
    /// Rendered summaries, printed by stream at the end (spilled to a temp file when large).
    private let summaries = SummarySpool()
    private var wroteHeader = false

    init(sink: OutputSink, options: RenderOptions, summaryOnly: Bool) {
        self.sink = sink
        self.options = options
        self.summaryOnly = summaryOnly
        formatter = InfoFormatter(previewLimit: options.previewLimit)
    }

    public var isClosed: Bool { sink.closed }

    public func begin(file: String, linkType: String) {}

    public func firstPacket(time: Int64) {
        if firstTime == nil { firstTime = time }
    }

    public func event(_ e: TimelineEvent) {
        if firstTime == nil { firstTime = e.time }
        guard !summaryOnly, options.stream == nil || e.stream == options.stream else { return }
        if !wroteHeader {
            wroteHeader = true
            sink.write(paint(pad("No.", 6, right: true) + "  " + pad("Time", timeWidth) + "  " + pad("Source", 22) + "  "
                             + pad("Destination", 22) + "  " + pad("Protocol", 9) + "  " + pad("Length", 6, right: true)
                             + "  " + pad("Phase", 9) + "  Info", "1"))
            sink.endLine()
        }
        let timeText: String
        switch options.timeFormat {
        case .relative: timeText = secondsText(e.time - (firstTime ?? e.time), decimals: options.timeDecimals)
        case .absolute: timeText = absoluteTimeText(e.time, decimals: options.timeDecimals)
        case .delta: timeText = secondsText(e.time - (previousTime ?? e.time), decimals: options.timeDecimals)
        }
        previousTime = e.time
        let src = e.stream == nil ? (e.sourceText ?? "") : (e.source?.text ?? "")
        let dst = e.stream == nil ? (e.destinationText ?? "") : (e.destination?.text ?? "")
        var line = pad(String(e.packet), 6, right: true) + "  " + pad(timeText, timeWidth) + "  " + pad(src, 22) + "  "
            + pad(dst, 22) + "  " + pad(e.proto, 9) + "  " + pad(String(e.wireLength), 6, right: true) + "  "
        line += paint(pad(e.phase.rawValue, 9), phaseColor(e.phase))
        line += "  "
        let info = formatter.info(e)
        line += e.violations.isEmpty ? info : paint(info, "31")
        sink.write(line)
        sink.endLine()
    }

    public func connection(_ s: ConnectionSummary) {
        guard options.stream == nil || s.stream == options.stream else { return }
        let text = SummaryText(options: options, firstTime: firstTime ?? s.start, color: options.color).render(s)
        summaries.append(stream: s.stream, Array(text.utf8))
    }

    public func end(counters: CaptureCounters, warnings: [String]) {
        if !summaries.isEmpty && wroteHeader { sink.endLine() }
        summaries.forEachSorted { sink.write(bytes: $0) }
        var totals = "\(counters.packets) packets: \(counters.tcp) TCP"
        if counters.udp > 0 { totals += ", \(counters.udp) UDP" }
        if counters.icmp > 0 { totals += ", \(counters.icmp) ICMP" }
        if counters.otherIP > 0 { totals += ", \(counters.otherIP) other IP" }
        if counters.nonIP > 0 { totals += ", \(counters.nonIP) non-IP" }
        if counters.undecodable > 0 { totals += ", \(counters.undecodable) undecodable" }
        if counters.truncated > 0 { totals += " (\(counters.truncated) cut by snaplen)" }
        totals += "; \(counters.connections) TCP connection(s), \(counters.webSocketConnections) WebSocket"
        totals += "; \(counters.frames) frames, \(counters.messages) messages, \(counters.violations) violation(s)"
        if counters.gaps > 0 { totals += ", \(counters.gaps) gap(s)" }
        sink.write(totals)
        sink.endLine()
        sink.flush()
    }

    private var timeWidth: Int { options.timeFormat == .absolute ? 26 : 12 }

    private func paint(_ s: String, _ code: String) -> String {
        options.color ? "\u{1b}[\(code)m" + s + "\u{1b}[0m" : s
    }

    private func phaseColor(_ p: Phase) -> String {
        switch p {
        case .handshake: return "36"
        case .upgrade: return "35"
        case .data: return "32"
        case .close: return "33"
        case .teardown: return "34"
        case .other: return "2"
        }
    }
}

/// Pads to a column width (never cuts).
func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let n = s.count
    guard n < width else { return s }
    let fill = String(repeating: " ", count: width - n)
    return right ? fill + s : s + fill
}

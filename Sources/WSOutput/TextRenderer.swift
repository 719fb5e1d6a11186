#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import WSDecode
import WSDissector
import WSDiagnosis
import WSTimeline

/// The Wireshark-like timeline: one row per event, then a lifecycle summary per connection.
public final class TextRenderer: PrerenderedRendering {
    private let sink: OutputSink
    private let options: RenderOptions
    private let summaryOnly: Bool
    private let formatter: InfoFormatter
    private var firstTime: Int64?
    private var previousTime: Int64?
    /// Rendered summaries, printed by stream at the end (spilled to a temp file when large).
    private let summaries = SummarySpool()
    /// The capture-wide diagnosis pass, over every connection (shown or not).
    private let splicer = DiagnosisSplicer()
    private var wroteHeader = false

    init(sink: OutputSink, options: RenderOptions, summaryOnly: Bool) {
        self.sink = sink
        self.options = options
        self.summaryOnly = summaryOnly
        formatter = InfoFormatter(previewLimit: options.previewLimit, showsPayload: options.payloads != .none)
    }

    public var isClosed: Bool { sink.closed }

    public func begin(file: String, linkType: String) {}

    public func firstPacket(time: Int64) {
        if firstTime == nil { firstTime = time }
    }

    public func event(_ e: TimelineEvent) {
        if firstTime == nil { firstTime = e.time }
        guard !summaryOnly, options.stream == nil || e.stream == options.stream else { return }
        writeHeader()
        let shownNanoseconds = e.time - (options.timeFormat == .delta ? previousTime ?? e.time : firstTime ?? e.time)
        previousTime = e.time
        sink.writeBytes { row.write(e, shown: shownNanoseconds, into: &$0) }
        sink.endLine()
    }

    private func writeHeader() {
        guard !wroteHeader else { return }
        wroteHeader = true
        sink.write(paint(pad("No.", 6, right: true) + "  " + pad("Time", timeWidth) + "  " + pad("Source", 22) + "  "
                         + pad("Destination", 22) + "  " + pad("Protocol", 9) + "  " + pad("Length", 6, right: true)
                         + "  " + pad("Phase", 9) + "  Info", "1"))
        sink.endLine()
    }

    private var row: TextRow { TextRow(options: options, formatter: formatter) }

    /// An event row rendered elsewhere (`EventBytes`, on an engine's worker), for stream `stream`.
    public func event(rendered: UnsafeRawBufferPointer, stream: Int?, streamAt: Int) {
        guard !summaryOnly, options.stream == nil || stream == options.stream else { return }
        writeHeader()
        sink.writeBytes { $0.append(rendered) }
        sink.endLine()
    }

    public func connection(_ s: ConnectionSummary) {
        let d = Diagnoser.diagnose(s)
        splicer.add(EndingRecord(s, d))
        guard options.stream == nil || s.stream == options.stream else { return }
        summaries.append(stream: s.stream, RenderedSummaries.render(s, d, format: .text, options: options, firstTime: firstTime))
    }

    public func connection(rendered: [UInt8], stream: Int, ending: EndingRecord) {
        var ending = ending
        ending.stream = stream
        splicer.add(ending)
        guard options.stream == nil || stream == options.stream else { return }
        summaries.append(stream: stream, RenderedSummaries.numbered(rendered, stream: stream))
    }

    public func end(counters: CaptureCounters, warnings: [String]) {
        if !summaries.isEmpty && wroteHeader { sink.endLine() }
        let cross = splicer.resolve()
        summaries.forEachSorted { stream, bytes in
            bytes.withUnsafeBytes { raw in sink.writeBytes { DiagnosisSplicer.apply(raw, stream: stream, text: true, cross: cross, into: &$0) } }
        }
        if let lost = summaries.lostWarning { fputs("wstrace: warning: \(lost)\n", stderr) }
        if options.stream == nil && (!cross.patterns.isEmpty || !cross.pairs.isEmpty) {
            sink.write(DiagnosisText.captureWide(cross))
        }
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
        if counters.duplicates > 0 { totals += ", \(counters.duplicates) duplicate packet(s)" }
        if let f = options.displayFilter { totals += "; display filter \"\(f)\": \(counters.displayed) row(s) matched" }
        sink.write(totals)
        sink.endLine()
        sink.flush()
    }

    private var timeWidth: Int { options.timeFormat == .absolute ? 26 : 12 }
}

/// One timeline row (no line end): what `TextRenderer` prints for an event, also rendered on
/// an engine's worker. `shown`: the time column's value in ns (relative or delta) when times
/// are not absolute.
struct TextRow {
    let options: RenderOptions
    let formatter: InfoFormatter

    private var timeWidth: Int { options.timeFormat == .absolute ? 26 : 12 }

    @inline(__always)
    func write(_ e: TimelineEvent, shown shownNanoseconds: Int64, into out: inout ByteBuffer) {
        let absoluteText = options.timeFormat == .absolute ? absoluteTimeText(e.time, decimals: options.timeDecimals) : nil
        // Every padded column is ASCII (numbers, addresses, protocol and phase names), so widths
        // are byte counts; the row goes straight into the sink's buffer.
        let timeWidth = self.timeWidth
        do {
            // A non-TCP event names bare addresses (its text), a connection's event endpoints.
            func endpoint(_ endpoint: Endpoint?, text: String?) -> (inout ByteBuffer) -> Void {
                { out in
                    if e.stream == nil { out.appendUTF8(text ?? "") } else if let endpoint { out.append(endpoint: endpoint) }
                }
            }
            out.appendRightAligned(UInt64(max(0, e.packet)), width: 6)
            out.append("  ")
            out.appendPadded(width: timeWidth) { out in
                if let absoluteText { out.appendUTF8(absoluteText) } else { out.appendSeconds(shownNanoseconds, decimals: options.timeDecimals) }
            }
            out.append("  ")
            out.appendPadded(width: 22, endpoint(e.source, text: e.sourceText))
            out.append("  ")
            out.appendPadded(width: 22, endpoint(e.destination, text: e.destinationText))
            out.append("  ")
            out.appendPadded(width: 9) { $0.appendUTF8(e.proto) }
            out.append("  ")
            out.appendRightAligned(UInt64(max(0, e.wireLength)), width: 6)
            out.append("  ")
            if options.color { out.appendUTF8("\u{1b}[" + phaseColor(e.phase) + "m") }
            out.appendPadded(width: 9) { $0.appendUTF8(e.phase.rawValue) }
            if options.color { out.append("\u{1b}[0m") }
            out.append("  ")
            let red = options.color && !e.violations.isEmpty
            if red { out.append("\u{1b}[31m") }
            formatter.write(e, into: &out)
            if red { out.append("\u{1b}[0m") }
        }
    }

    private func phaseColor(_ p: Phase) -> String {
        switch p {
        case .handshake: return "36"
        case .tls: return "96"
        case .upgrade: return "35"
        case .data: return "32"
        case .close: return "33"
        case .teardown: return "34"
        case .other: return "2"
        }
    }
}

extension TextRenderer {
    private func paint(_ s: String, _ code: String) -> String {
        options.color ? "\u{1b}[\(code)m" + s + "\u{1b}[0m" : s
    }
}

extension ByteBuffer {
    /// What `body` writes, then spaces up to `width` bytes (never cuts): a column of ASCII text.
    @inline(__always)
    mutating func appendPadded(width: Int, _ body: (inout ByteBuffer) -> Void) {
        let start = count
        body(&self)
        let written = count - start
        if written < width { appendSpaces(width - written) }
    }

    mutating func appendSpaces(_ n: Int) {
        reserve(n)
        (base + count).initialize(repeating: 0x20, count: n)
        count += n
    }

    /// `v` right-aligned in `width` columns (wider numbers are not cut).
    mutating func appendRightAligned(_ v: UInt64, width: Int) {
        let digits = v == 0 ? 1 : decimalDigitCount(v)
        if digits < width { appendSpaces(width - digits) }
        appendDecimal(v)
    }
}

/// Pads to a column width (never cuts).
func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let n = s.count
    guard n < width else { return s }
    let fill = String(repeating: " ", count: width - n)
    return right ? fill + s : s + fill
}

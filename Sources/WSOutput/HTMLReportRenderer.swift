import WSTimeline

/// The visual lifecycle report: one self-contained HTML page with an index of connections and,
/// per connection, an inline-SVG ladder diagram, the lifecycle summary and a message list.
///
/// Memory stays bounded: while a connection is open only its ladder rows (long data runs
/// collapsed, see `LadderBuilder`) and its first messages' previews are kept; when it ends its
/// HTML is rendered and the rows are dropped. The page is written at the end, index first.
public final class HTMLReportRenderer: Renderer {
    /// Connections up to this many are shown expanded; more start collapsed (click to open).
    public static let openLimit = 6

    /// An open connection's rows (a class, so updating it never copies the arrays).
    private final class Draft {
        var ladder = LadderBuilder()
        var messages = MessageLog()
    }

    private let sink: OutputSink
    private let options: RenderOptions
    private var file = ""
    private var linkType = ""
    private var firstTime: Int64?
    private var open: [Int: Draft] = [:]
    /// Rendered connections: the index row and the section (collapsed; opened at the end when few).
    private var sections: [(stream: Int, indexRow: String, bad: Bool, content: String)] = []

    /// A report written to `sink` when the analysis ends; `options.timeDecimals` sets the time precision.
    public init(sink: OutputSink, options: RenderOptions) {
        self.sink = sink
        self.options = options
    }

    public var isClosed: Bool { sink.closed }

    public func begin(file: String, linkType: String) {
        self.file = file
        self.linkType = linkType
    }

    public func event(_ e: TimelineEvent) {
        if firstTime == nil { firstTime = e.time }
        guard let stream = e.stream else { return }
        let draft: Draft
        if let d = open[stream] {
            draft = d
        } else {
            draft = Draft()
            open[stream] = draft
        }
        draft.ladder.add(e)
        draft.messages.add(e)
    }

    public func connection(_ s: ConnectionSummary) {
        let draft = open.removeValue(forKey: s.stream) ?? Draft()
        draft.ladder.finish()
        let section = HTMLReportSection(summary: s, firstTime: firstTime ?? s.start, decimals: options.timeDecimals)
        // Render now, so only HTML text outlives the connection; `open` is decided at the end.
        sections.append((s.stream, section.indexRow(), section.isBad,
                         section.content(items: draft.ladder.items, messages: draft.messages)))
    }

    public func end(counters: CaptureCounters, warnings: [String]) {
        sections.sort { $0.stream < $1.stream }
        sink.write(HTMLReportPage.head(title: "wstrace report — " + escapedText(lastComponent(file), limit: 200)))
        var totals = "\(counters.packets) packets; \(counters.connections) TCP connection(s), "
            + "\(counters.webSocketConnections) WebSocket; \(counters.frames) frames, \(counters.messages) messages, "
            + "\(counters.violations) violation(s)"
        if counters.gaps > 0 { totals += ", \(counters.gaps) gap(s)" }
        if counters.duplicates > 0 { totals += ", \(counters.duplicates) duplicate packet(s)" }
        sink.write(HTMLReportPage.index(file: escapedText(file, limit: 400), linkType: linkType, totals: totals,
                                        rows: sections.map(\.indexRow).joined(), count: sections.count))
        let expand = sections.count <= Self.openLimit
        for s in sections {
            sink.write(HTMLReportSection.wrap(stream: s.stream, bad: s.bad, open: expand, s.content))
            if sink.closed { return }
        }
        sink.write(HTMLReportPage.tail(warnings: warnings))
        sink.flush()
    }

    private func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

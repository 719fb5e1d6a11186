import WSDiagnosis
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
    /// Rendered connections: the index row, and whether the section is marked bad. Each
    /// section's HTML waits in `contents` (past 256 KiB in an unlinked temporary file), since
    /// the page can only be written at the end, index first: held as strings, the sections of
    /// the 1 GiB benchmark capture (a 111 MB page) took the run to 182 MiB.
    private var sections: [(stream: Int, indexRow: String, bad: Bool)] = []
    private let contents = SummarySpool()
    /// The capture-wide diagnosis pass and the charts, over every connection.
    private let splicer = DiagnosisSplicer()
    private let charts = HTMLReportCharts()

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
        if case let .frame(f, _) = e.detail, f.message != nil { charts.message(at: e.time) }
    }

    public func connection(_ s: ConnectionSummary) {
        let draft = open.removeValue(forKey: s.stream) ?? Draft()
        draft.ladder.finish()
        let d = Diagnoser.diagnose(s)
        splicer.add(EndingRecord(s, d))
        charts.add(s, d)
        let section = HTMLReportSection(summary: s, diagnosis: d, firstTime: firstTime ?? s.start, decimals: options.timeDecimals)
        // Render now, so only HTML text outlives the connection; `open` is decided at the end.
        sections.append((s.stream, section.indexRow(), section.isBad))
        contents.append(stream: s.stream, Array(section.content(items: draft.ladder.items, messages: draft.messages).utf8))
    }

    public func end(counters: CaptureCounters, warnings: [String]) {
        sections.sort { $0.stream < $1.stream }
        sink.write(HTMLReportPage.head(title: "wstrace report — " + escapedText(titleName, limit: 200)))
        var totals = "\(counters.packets) packets; \(counters.connections) TCP connection(s), "
            + "\(counters.webSocketConnections) WebSocket; \(counters.frames) frames, \(counters.messages) messages, "
            + "\(counters.violations) violation(s)"
        if counters.gaps > 0 { totals += ", \(counters.gaps) gap(s)" }
        if counters.duplicates > 0 { totals += ", \(counters.duplicates) duplicate packet(s)" }
        sink.write(HTMLReportPage.index(file: escapedText(file, limit: 400), linkType: linkType, totals: totals,
                                        rows: sections.map(\.indexRow).joined(), count: sections.count))
        let cross = splicer.resolve()
        sink.write(charts.html(cross: cross, first: firstTime))
        if !cross.patterns.isEmpty || !cross.pairs.isEmpty {
            // One paragraph a finding (htmlEscaped turns line ends into U+FFFD).
            let lines = DiagnosisText.captureWide(cross).split(separator: "\n").dropFirst()
                .map { "<p class=\"pattern\">" + htmlEscaped($0.trimmingLeadingSpaces) + "</p>\n" }
            sink.write("<section id=\"across\"><h2>Across connections</h2>\n" + lines.joined() + "</section>\n")
        }
        let expand = sections.count <= Self.openLimit
        let bad = Dictionary(sections.map { ($0.stream, $0.bad) }, uniquingKeysWith: { a, _ in a })
        contents.forEachSorted { stream, bytes in
            guard !sink.closed else { return }  // (the rest is still read: a few page-cache reads)
            let note = DiagnosisText.pattern(cross, stream: stream)
            var lines: [String] = []
            if let o = cross.overrides[stream] { lines.append("Diagnosis across connections: " + DiagnosisText.head(cause: o.cause, by: o.by, summary: o.summary)) }
            for l in note.split(separator: "\n") { lines.append(l.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")) }
            // The section's bytes go out as they were rendered (valid UTF-8, from a String),
            // with the capture-wide notes after the summary line when there are any.
            let (opening, closing) = HTMLReportSection.wrapping(stream: stream, bad: bad[stream] ?? false, open: expand)
            sink.write(opening)
            if !lines.isEmpty, let at = bytes.firstRange(of: Self.summaryEnd) {
                sink.write(bytes: bytes[..<at.upperBound])
                sink.write(lines.map { "<p class=\"pattern\">\(htmlEscaped($0))</p>\n" }.joined())
                sink.write(bytes: bytes[at.upperBound...])
            } else {
                sink.write(bytes: bytes[...])
            }
            sink.write(closing)
        }
        if sink.closed { return }
        sink.write(HTMLReportPage.tail(warnings: warnings + (contents.lostWarning.map { [$0] } ?? [])))
        sink.flush()
    }

    private static let summaryEnd = Array("</summary>\n".utf8)

    /// The file's name; for several, the first and the last and how many.
    private var titleName: String {
        let files = options.files
        guard files.count > 1 else { return lastComponent(file) }
        let first = lastComponent(files[0]), last = lastComponent(files[files.count - 1])
        return files.count == 2 ? "\(first), \(last)" : "\(first) … \(last) (\(files.count) files)"
    }

    private func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

extension Substring {
    var trimmingLeadingSpaces: String { String(drop { $0 == " " }) }
}

import WSDiagnosis
import WSDissector
import WSTimeline

/// The HTML of one connection: its index row and its section (ladder diagram, lifecycle
/// summary table, message list). Everything from the capture is HTML-escaped here.
struct HTMLReportSection {
    let summary: ConnectionSummary
    let diagnosis: Diagnosis
    let firstTime: Int64
    let decimals: Int

    private var id: String { "stream-\(summary.stream)" }
    private var hasViolations: Bool { !summary.violations.isEmpty || summary.violationsDropped > 0 }

    /// One `<tr>` of the index: stream, client, server, duration, messages, close, violations, verdict.
    func indexRow() -> String {
        let s = summary
        let c = s.clientCounts, v = s.serverCounts
        let messages = "\(c.text + c.binary) → / \(v.text + v.binary) ←"
        let violations = s.violations.count + s.violationsDropped
        return "<tr\(hasViolations ? " class=\"bad\"" : "")><td><a href=\"#\(id)\">\(s.stream)</a></td>"
            + "<td>\(htmlEscaped(s.client.text))</td><td>\(htmlEscaped(s.server.text))</td>"
            + "<td>\(durationText(s.duration))</td><td>\(messages)</td><td>\(htmlEscaped(closedText()))</td>"
            + "<td class=\"num\">\(violations)</td><td>\(htmlEscaped(s.verdict))</td></tr>\n"
    }

    /// Who closed and how, in a few words.
    func closedText() -> String {
        let s = summary
        let who: (Side) -> String = { $0 == .client ? "client" : "server" }
        var parts: [String] = []
        if let c = s.close {
            var t = "close by \(who(c.initiator)) " + (c.code.map { "\($0) \(closeCodeName($0))" } ?? "(no code)")
            t += c.replyPacket != nil ? ", replied" : ", no reply"
            parts.append(t)
        }
        if let rst = s.teardown.rstFrom {
            parts.append("RST by \(who(rst))")
        } else if s.teardown.complete {
            parts.append("FIN first by \(who(s.teardown.finSides[0])), complete")
        } else if !s.teardown.finPackets.isEmpty {
            parts.append("half-closed by \(who(s.teardown.finSides[0]))")
        } else {
            parts.append("still open")
        }
        return parts.joined(separator: "; ")
    }

    /// The inside of the connection's section: heading (the `<summary>`), diagram, summary table, messages.
    /// `wrap` puts it in its `<section>`.
    func content(items: [LadderItem], messages: MessageLog) -> String {
        let s = summary
        var out = "<summary><h2>Stream \(s.stream) <span class=\"peers\">\(htmlEscaped(s.client.text)) ⇄ "
            + "\(htmlEscaped(s.server.text))</span></h2><p class=\"verdict\">\(htmlEscaped(s.verdict))</p></summary>\n"
        out += LadderSVG(firstTime: firstTime, decimals: decimals)
            .render(items, client: s.client.text, server: s.server.text)
        out += "<h3>Lifecycle</h3>\n" + summaryTable()
        out += "<h3>Messages</h3>\n" + messages.html(firstTime: firstTime, decimals: decimals, stream: s.stream)
        return out + "<p class=\"back\"><a href=\"#index\">↑ index</a></p>\n"
    }

    /// What goes before and after a connection's content: a section that `open` shows
    /// without a click.
    static func wrapping(stream: Int, bad: Bool, open: Bool) -> (opening: String, closing: String) {
        ("<section class=\"conn\(bad ? " bad" : "")\" id=\"stream-\(stream)\">\n<details\(open ? " open" : "")>",
         "</details>\n</section>\n")
    }

    /// Whether the section shows violations.
    var isBad: Bool { hasViolations }

    /// The lifecycle summary (the text view's `SummaryText`) as a table: phase, packets, times, what happened.
    func summaryTable() -> String {
        let marked = SummaryText(options: RenderOptions(timeDecimals: decimals), firstTime: firstTime, color: false)
            .render(summary, diagnosis: diagnosis)
        // The capture-wide pass's additions come in the section's note (HTMLReportRenderer.end).
        let text = String(decoding: DiagnosisSplicer.apply(Array(marked.utf8), stream: summary.stream, text: true, cross: nil), as: UTF8.self)
        var out = "<table class=\"lifecycle\"><thead><tr><th>phase</th><th>packets</th><th>time (s)</th><th></th></tr></thead><tbody>\n"
        for row in Self.rows(of: text) {
            let bad = (row.label == "Violations" && hasViolations) || (row.label == "Diagnosis" && diagnosis.cause.isFailure)
                ? " class=\"bad\"" : ""
            out += "<tr\(bad)><th>\(htmlEscaped(row.label))</th><td>\(htmlEscaped(row.packets))</td>"
                + "<td>\(htmlEscaped(row.times))</td><td>\(htmlEscaped(row.text))</td></tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    /// One line of the text summary, split into its columns.
    struct Row: Equatable {
        var label: String
        var packets: String
        var times: String
        var text: String
    }

    /// Splits `SummaryText` output into rows: each line after the title is
    /// `  Label  [pkts A-B  T1–T2]  text` (labels are one word; the span columns may be empty).
    static func rows(of text: String) -> [Row] {
        var rows: [Row] = []
        for line in text.split(separator: "\n").dropFirst() where line.hasPrefix("  ") {
            var rest = line.drop { $0 == " " }
            let label = rest.prefix { $0 != " " }
            rest = rest.dropFirst(label.count).drop { $0 == " " }
            var packets = "", times = ""
            if rest.hasPrefix("pkts ") {
                let afterWord = rest.dropFirst(5)
                let range = afterWord.prefix { $0 != " " }
                packets = String(range)
                rest = afterWord.dropFirst(range.count).drop { $0 == " " }
                let span = rest.prefix { $0 != " " }
                times = String(span)
                rest = rest.dropFirst(span.count).drop { $0 == " " }
            }
            rows.append(Row(label: String(label), packets: packets, times: times, text: String(rest)))
        }
        return rows
    }
}

import WSDissector
import WSTimeline

/// One connection as a Mermaid sequence diagram, for docs and issue trackers.
///
/// The first line is exactly `sequenceDiagram`; participants are `Client` and `Server`; each
/// lifecycle step or frame is one message (the same arrows as the HTML report's ladder, long
/// data runs collapsed into a note), each phase starts with a note, violations sit in a red
/// `rect`, and a last note gives the verdict. Solid arrows are HTTP and WebSocket, dotted ones
/// TCP-only segments, a cross an RST.
public final class MermaidRenderer: Renderer {
    private let sink: OutputSink
    private let options: RenderOptions
    private let stream: Int
    private var firstTime: Int64?
    private var ladder = LadderBuilder()
    private var found = false
    private var written = false

    /// A diagram of stream `stream`, written when that connection ends.
    public init(sink: OutputSink, options: RenderOptions, stream: Int) {
        self.sink = sink
        self.options = options
        self.stream = stream
    }

    public var isClosed: Bool { sink.closed }
    /// Whether the stream was in the capture.
    public var foundStream: Bool { found }

    public func begin(file: String, linkType: String) {}

    public func event(_ e: TimelineEvent) {
        if firstTime == nil { firstTime = e.time }
        guard e.stream == stream else { return }
        found = true
        ladder.add(e)
    }

    public func connection(_ s: ConnectionSummary) {
        guard s.stream == stream, !written else { return }
        written = true
        found = true
        ladder.finish()
        write(s)
        ladder = LadderBuilder()
    }

    public func end(counters: CaptureCounters, warnings: [String]) {
        sink.flush()
    }

    private func line(_ s: String) {
        sink.write(s)
        sink.endLine()
    }

    private func write(_ s: ConnectionSummary) {
        let t0 = firstTime ?? s.start
        line("sequenceDiagram")
        line("    participant Client as Client " + Self.escaped(s.client.text))
        line("    participant Server as Server " + Self.escaped(s.server.text))
        let across = "Note over Client,Server: "
        for item in ladder.items {
            switch item {
            case let .phase(p):
                line("    " + across + phaseTitle(p))
            case let .step(step):
                let (from, to) = step.from == .client ? ("Client", "Server") : ("Server", "Client")
                let arrow: String
                switch step.kind {
                case .handshake, .teardown: arrow = "-->>"
                case .reset: arrow = "-x"
                default: arrow = "->>"
                }
                let text = "pkt \(step.packet) · \(secondsText(step.time - t0, decimals: options.timeDecimals)) · "
                    + clipped(step.label, 80)
                let message = "\(from)\(arrow)\(to): " + Self.escaped(text)
                if step.violations.isEmpty {
                    line("    " + message)
                } else {
                    line("    rect rgb(255, 215, 215)")
                    line("    " + message)
                    line("    Note right of \(to): violation " + Self.escaped(step.violations.joined(separator: ", ")))
                    line("    end")
                }
            case let .run(r):
                var text = "… \(r.count) data frames collapsed: \(r.fromClient) client→server, \(r.fromServer) server→client, "
                    + "\(byteText(r.bytes)), pkts \(r.firstPacket)–\(r.lastPacket)"
                if r.violations > 0 { text += ", \(r.violations) with violations" }
                line("    " + across + Self.escaped(text + " …"))
            case let .gap(packet, _, text):
                line("    " + across + Self.escaped("pkt \(packet) · " + clipped(text, 100)))
            case let .omitted(n):
                line("    " + across + Self.escaped("… \(n) more steps not drawn …"))
            }
        }
        line("    " + across + Self.escaped(s.verdict))
    }

    /// Text safe in a Mermaid message or note: `#`, `;` and `%` would start a comment or end
    /// the statement, `<` and `>` would be read as HTML, so they become Mermaid entity codes.
    static func escaped(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "#": out += "#35;"
            case ";": out += "#59;"
            case "%": out += "#37;"
            case "<": out += "#lt;"
            case ">": out += "#gt;"
            case "\n", "\r": out += " "
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

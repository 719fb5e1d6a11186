import WSApp
import WSDiagnosis
import WSDecode
import WSDissector
import WSTimeline

/// One connection as a conversation: the Upgrade, then each message and control frame with
/// a direction arrow, time, opcode and decoded text, then how it ended.
public final class FollowRenderer: Renderer {
    private let sink: OutputSink
    private let options: RenderOptions
    private let stream: Int
    /// The Info column's words for application messages, with room for longer ones.
    private let appWords = InfoFormatter(previewLimit: 100)
    private var firstTime: Int64?
    private var headerDone = false
    private var found = false

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
        guard e.stream == stream, let src = e.source, let dst = e.destination else { return }
        found = true
        if !headerDone {
            headerDone = true
            let (client, server) = e.side == .client ? (src, dst) : (dst, src)
            sink.write("Stream \(stream): client \(client.text) ⇄ server \(server.text)")
            sink.endLine()
        }
        let arrow = e.side == .client ? "client → server" : "server → client"
        let time = secondsText(e.time - (firstTime ?? e.time), decimals: options.timeDecimals)
        let prefix = pad(time, 12) + "  #" + pad(String(e.packet), 6) + " " + arrow + "  "
        var text: String?
        switch e.detail {
        case let .httpRequest(r):
            text = "\(r.method) \(escapedText(r.target, limit: 200)) \(r.version)" + (r.isWebSocketUpgrade ? " (Upgrade: websocket)" : "")
        case let .httpResponse(r):
            text = "\(r.status) \(escapedText(r.reason, limit: 80))" + (r.upgraded ? " — now WebSocket" : "")
        case let .frame(f, _):
            if let m = f.message {
                let kind = m.opcode == 1 ? "text  " : "binary"
                var body: String
                if m.opcode == 1 && m.utf8Valid != false {
                    body = escapedPreview(m.payload, limit: options.payloads == .full ? options.maxPayload : options.previewLimit * 4)
                } else {
                    body = hexPreview(m.payload, limit: options.payloads == .full ? 4096 : 32)
                }
                if m.truncated { body += " …(\(m.length) bytes)" }
                var notes: [String] = []
                if m.frames > 1 { notes.append("\(m.frames) frames") }
                if m.compressed { notes.append("deflate \(m.wireLength)→\(m.length)") }
                if !m.complete { notes.append(m.inflateError.map { "cannot inflate: \($0)" } ?? "incomplete") }
                text = kind + " " + body + (notes.isEmpty ? "" : "  [" + notes.joined(separator: ", ") + "]")
            } else if f.opcode == 8 {
                text = "close  " + (f.closeCode.map { "\($0) \(closeCodeName($0))" } ?? "(no status code)")
                    + (f.closeReason.map { $0.isEmpty ? "" : " " + escapedText($0, limit: 120, quoted: true) } ?? "")
            } else if f.opcode == 9 || f.opcode == 10 {
                text = (f.opcode == 9 ? "ping   " : "pong   ") + (f.payload.isEmpty ? "" : escapedPreview(f.payload, limit: 60))
            }
        case let .gap(g):
            text = "[\(g.size) bytes not captured: \(g.lost)]"
        case .tcp:
            if let r = e.tcp?.report {
                if r.reset { text = "RST" }
                else if r.teardown.contains(.firstFIN) || r.teardown.contains(.secondFIN) { text = "FIN" }
            }
        default:
            break
        }
        guard let text else { return }
        sink.write(prefix + text + (e.violations.isEmpty ? "" : "  [" + e.violations.map(\.code.rawValue).joined(separator: ", ") + "]"))
        sink.endLine()
        // The application protocol's reading of the message, JSON pretty-printed.
        let indent = String(repeating: " ", count: 14)
        for a in e.app {
            sink.write(indent + "↳ " + appWords.appText([a]))
            sink.endLine()
            if a.proto == .json, case .json(let value)? = a.field("value") {
                for l in PrettyJSON.lines(value, limit: 200) {
                    sink.write(indent + "    " + l)
                    sink.endLine()
                }
            }
        }
    }

    public func connection(_ s: ConnectionSummary) {
        guard s.stream == stream else { return }
        sink.write("Verdict: " + s.verdict)
        sink.endLine()
        // One connection only: the capture-wide pass (patterns, proxy legs) is `read`'s.
        let d = Diagnoser.diagnose(s)
        sink.write("Diagnosis: " + DiagnosisText.head(cause: d.cause, by: d.by, summary: d.summary))
        sink.endLine()
    }

    public func end(counters: CaptureCounters, warnings: [String]) {
        sink.flush()
    }
}

/// Compact JSON text (valid, as the App stage writes it) laid out one member per line.
enum PrettyJSON {
    static func lines(_ compact: String, limit: Int) -> [String] {
        var out: [String] = []
        var line = ""
        var depth = 0
        var inString = false
        var escaped = false
        func newline() {
            out.append(line)
            line = String(repeating: "  ", count: depth)
        }
        let chars = Array(compact)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if out.count >= limit { out.append("…"); return out }
            if inString {
                line.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                i += 1
                continue
            }
            switch c {
            case "\"":
                inString = true
                line.append(c)
            case "{", "[":
                // An empty object or array stays on its line.
                if i + 1 < chars.count, chars[i + 1] == (c == "{" ? "}" : "]") {
                    line.append(c); line.append(chars[i + 1])
                    i += 2
                    continue
                }
                line.append(c)
                depth += 1
                newline()
            case "}", "]":
                depth = max(0, depth - 1)
                newline()
                line.append(c)
            case ",":
                line.append(c)
                newline()
            case ":":
                line += ": "
            default:
                line.append(c)
            }
            i += 1
        }
        if !line.isEmpty { out.append(line) }
        return out
    }
}

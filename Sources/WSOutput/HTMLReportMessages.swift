import WSDissector
import WSTimeline

/// One row of a connection's message list: a complete message or a control frame, with a
/// bounded, terminal-escaped preview copied out of the event.
struct MessageEntry: Sendable {
    var packet: Int
    var time: Int64
    var from: Side
    /// "text", "binary", "ping", "pong", "close".
    var kind: String
    /// "5 bytes", "inflated 47→104 bytes, 3 frames", ...
    var size: String
    var preview: String
    var violation: Bool
    /// The application protocol's reading ("MQTT PUBLISH qos=1 ... (reply to #8 after 2.1 ms)").
    var app: String = ""
}

/// The messages of one connection as the report lists them: the first `limit` are kept, the
/// rest only counted, and no preview is longer than `previewBytes`.
struct MessageLog {
    static let limit = 40
    static let previewBytes = 200
    /// The Info column's words for application messages, with room for longer ones.
    static let appWords = InfoFormatter(previewLimit: 80)

    private(set) var entries: [MessageEntry] = []
    private(set) var more = 0

    init() {}

    /// Takes the message or control frame an event carries, if any.
    mutating func add(_ e: TimelineEvent) {
        guard case let .frame(f, _) = e.detail, let side = e.side else { return }
        let isControl = f.opcode >= 8
        guard f.message != nil || isControl else { return }
        guard entries.count < Self.limit else {
            more += 1
            return
        }
        var entry = MessageEntry(packet: e.packet, time: e.time, from: side, kind: "", size: "", preview: "",
                                 violation: !e.violations.isEmpty)
        if let m = f.message {
            entry.kind = m.opcode == 1 ? "text" : "binary"
            var size = m.compressed ? "inflated \(m.wireLength)→\(m.length) bytes" : "\(m.length) bytes"
            if m.frames > 1 { size += ", \(m.frames) frames" }
            entry.size = size
            if let err = m.inflateError {
                entry.preview = "[cannot inflate: \(escapedText(err, limit: 120))]"
            } else if m.opcode == 1 && m.utf8Valid != false {
                entry.preview = escapedPreview(m.payload, limit: Self.previewBytes)
            } else {
                entry.preview = hexPreview(m.payload, limit: 48)
            }
            if m.truncated && !entry.preview.hasSuffix("…") { entry.preview += " …" }
            if !m.complete { entry.size += ", incomplete" }
        } else {
            switch f.opcode {
            case 8:
                entry.kind = "close"
                entry.preview = f.closeCode.map { "\($0) \(closeCodeName($0))" } ?? "(no status code)"
                if let reason = f.closeReason, !reason.isEmpty {
                    entry.preview += " " + escapedText(reason, limit: Self.previewBytes, quoted: true)
                }
            case 9, 10:
                entry.kind = f.opcode == 9 ? "ping" : "pong"
                entry.preview = f.payload.isEmpty ? "" : escapedPreview(f.payload, limit: Self.previewBytes)
            default:
                entry.kind = "opcode \(f.opcode)"
                entry.preview = hexPreview(f.payload, limit: 48)
            }
            entry.size = "\(f.payloadLength) bytes"
        }
        entry.app = Self.appWords.appText(e.app, most: 4)
        entries.append(entry)
    }

    /// The list as an HTML table (times relative to `firstTime`).
    func html(firstTime: Int64, decimals: Int, stream: Int) -> String {
        guard !entries.isEmpty else { return "<p class=\"muted\">No messages.</p>\n" }
        var out = "<table class=\"messages\"><thead><tr><th>time (s)</th><th>pkt</th><th>dir</th><th>kind</th>"
            + "<th>size</th><th>application</th><th>payload (escaped preview)</th></tr></thead><tbody>\n"
        for m in entries {
            out += "<tr\(m.violation ? " class=\"bad\"" : "")><td>\(secondsText(m.time - firstTime, decimals: decimals))</td>"
                + "<td>#\(m.packet)</td><td>\(m.from == .client ? "client → server" : "client ← server")</td>"
                + "<td>\(htmlEscaped(m.kind))</td><td>\(htmlEscaped(m.size))</td><td>\(htmlEscaped(m.app))</td>"
                + "<td class=\"payload\">\(htmlEscaped(m.preview))</td></tr>\n"
        }
        out += "</tbody></table>\n"
        if more > 0 {
            out += "<p class=\"muted\">… and \(more) more messages and control frames "
                + "(<code>wstrace follow FILE --stream \(stream)</code> prints them all).</p>\n"
        }
        return out
    }
}

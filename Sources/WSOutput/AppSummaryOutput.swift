import WSApp
import WSTimeline

/// The summary's application-protocol lines and object: what the App stage read in a
/// connection's messages, and its slowest requests.
enum AppSummaryOutput {
    /// "socket.io, 23 messages: EVENT 5, ACK 5, CONNECT 2 (+1 more); 1 bad"
    static func messagesText(_ a: AppSummary) -> String {
        var t = a.proto.rawValue
        if let s = a.subprotocol { t += " (subprotocol \(s))" }
        t += ", \(a.messages) message(s)"
        let shown = a.types.prefix(8).map { entry -> String in
            let parts = entry.key.split(separator: " ", maxSplits: 1)
            let name = parts.count == 2 && parts[0] == Substring(a.proto.rawValue) ? String(parts[1]) : entry.key
            return "\(name) \(entry.count)"
        }
        if !shown.isEmpty { t += ": " + shown.joined(separator: ", ") }
        if a.types.count > 8 { t += " (+\(a.types.count - 8) more)" }
        if a.problems > 0 { t += "; \(a.problems) with bad application data" }
        return t
    }

    /// "5 answered, 1 unanswered; slowest: "add" EVENT→ACK 14.0 ms (#14→#16), ..."
    static func requestsText(_ a: AppSummary) -> String? {
        guard a.answered > 0 || a.pending > 0 else { return nil }
        var t = "\(a.answered) answered"
        if a.pending > 0 { t += ", \(a.pending) unanswered" }
        if !a.slowest.isEmpty {
            t += "; slowest: " + a.slowest.map { l in
                "\(escapedText(l.key, limit: 40, quoted: true)) \(l.requestType)→\(l.responseType) \(durationText(l.latency)) (#\(l.requestPacket)→#\(l.responsePacket))"
            }.joined(separator: ", ")
        }
        return t
    }

    /// The summary's `app` object (docs/json.md).
    static func write(_ a: AppSummary?, into w: inout JSONWriter) {
        w.key("app")
        guard let a else { w.null(); return }
        w.beginObject()
        w.field("proto", a.proto.rawValue)
        w.field("subprotocol", a.subprotocol)
        w.field("messages", a.messages)
        w.field("problems", a.problems)
        w.key("types")
        w.beginObject()
        for entry in a.types {
            w.key(named: entry.key)
            w.int(entry.count)
        }
        w.endObject()
        w.field("answered", a.answered)
        w.field("pending", a.pending)
        w.key("slowest")
        w.beginArray()
        for l in a.slowest { latency(l, into: &w) }
        w.endArray()
        w.endObject()
    }

    static func latency(_ l: AppLatency, into w: inout JSONWriter) {
        w.beginObject()
        w.field("proto", l.proto.rawValue)
        w.field("key", l.key)
        w.field("request_type", l.requestType)
        w.field("response_type", l.responseType)
        w.field("request_packet", l.requestPacket)
        w.field("response_packet", l.responsePacket)
        w.field("latency_s", seconds: l.latency)
        w.field("from", l.fromClient ? "client" : "server")
        w.endObject()
    }
}

// The fields a display filter can name: Wireshark's where Wireshark has the field (same name,
// same meaning), wstrace's own under `wstrace.` and `app.`, and the application protocols'
// (`mqtt.`, `socketio.`, `engineio.`, `stomp.`, `graphql.`, `jsonrpc.`, `json.`).
// docs/filters.md lists them all in one table; `FilterFields.all` is that table.
import WSApp
import WSDecode
import WSDiagnosis
import WSDissector
import WSReassembly
import WSTimeline

/// What kind of values a field has: decides how a literal is read and which operators apply.
public enum FieldKind: String, Sendable {
    case integer, boolean, number, string, address
    /// A protocol name (`websocket`, `mqtt`): only "present".
    case protocolOnly = "protocol"
}

/// One value of a field in a row.
enum FieldValue {
    case int(Int64)
    case double(Double)
    case string(String)
    case address(IPAddress)
    case bool(Bool)
}

/// Calls the visitor with each value of the field in a row, until it returns true; returns
/// whether it did (false also when the field is absent).
typealias RowExtract = (_ e: TimelineEvent, _ firstTime: Int64, _ visit: (FieldValue) -> Bool) -> Bool
/// The same for a connection as a whole (a summary), for the connection-level fields.
typealias ConnectionExtract = (_ s: ConnectionSummary, _ cause: () -> String, _ visit: (FieldValue) -> Bool) -> Bool

/// A field of the table.
public struct FilterField: Sendable {
    public var name: String
    public var kind: FieldKind
    /// One line for docs/filters.md and `--help`.
    public var meaning: String
    /// Known only when a connection ends (verdict, cause): not on rows.
    public var connectionLevel: Bool
    /// Needs message or frame payload bytes kept (payload text).
    public var needsPayload: Bool
    nonisolated(unsafe) var row: RowExtract?
    nonisolated(unsafe) var connection: ConnectionExtract?
}

/// The table of fields.
public enum FilterFields {
    /// Every field, in the order docs/filters.md lists them.
    public static let all: [FilterField] = build()
    static let byName: [String: FilterField] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

    public static func named(_ name: String) -> FilterField? { byName[name] }

    private static func build() -> [FilterField] {
        var t: [FilterField] = []
        func row(_ name: String, _ kind: FieldKind, _ meaning: String, payload: Bool = false, _ f: @escaping RowExtract) {
            t.append(FilterField(name: name, kind: kind, meaning: meaning, connectionLevel: false, needsPayload: payload, row: f, connection: nil))
        }
        func both(_ name: String, _ kind: FieldKind, _ meaning: String, _ f: @escaping RowExtract, _ c: @escaping ConnectionExtract) {
            t.append(FilterField(name: name, kind: kind, meaning: meaning, connectionLevel: false, needsPayload: false, row: f, connection: c))
        }
        func conn(_ name: String, _ kind: FieldKind, _ meaning: String, _ c: @escaping ConnectionExtract) {
            t.append(FilterField(name: name, kind: kind, meaning: meaning, connectionLevel: true, needsPayload: false, row: nil, connection: c))
        }

        // frame
        row("frame", .protocolOnly, "every row") { _, _, v in v(.bool(true)) }
        row("frame.number", .integer, "the packet's number in the file (1-based)") { e, _, v in v(.int(Int64(e.packet))) }
        row("frame.time_relative", .number, "seconds since the capture's first packet") { e, first, v in
            v(.double(Double(e.time - first) / 1e9))
        }
        row("frame.time_epoch", .number, "seconds since 1970 (UTC)") { e, _, v in v(.double(Double(e.time) / 1e9)) }
        row("frame.len", .integer, "length on the wire") { e, _, v in v(.int(Int64(e.wireLength))) }
        row("frame.cap_len", .integer, "bytes captured") { e, _, v in v(.int(Int64(e.capturedLength))) }

        // ip / ipv6
        func v4(_ a: Endpoint?) -> IPAddress? { a.flatMap { $0.address.isIPv6 ? nil : $0.address } }
        func v6(_ a: Endpoint?) -> IPAddress? { a.flatMap { $0.address.isIPv6 ? $0.address : nil } }
        row("ip", .protocolOnly, "an IPv4 packet") { e, _, v in v4(e.source) != nil && v(.bool(true)) }
        row("ip.src", .address, "IPv4 source address") { e, _, v in v4(e.source).map { v(.address($0)) } ?? false }
        row("ip.dst", .address, "IPv4 destination address") { e, _, v in v4(e.destination).map { v(.address($0)) } ?? false }
        both("ip.addr", .address, "IPv4 source or destination", { e, _, v in
            if let a = v4(e.source), v(.address(a)) { return true }
            if let a = v4(e.destination), v(.address(a)) { return true }
            return false
        }, { s, _, v in
            (!s.client.address.isIPv6 && v(.address(s.client.address))) || (!s.server.address.isIPv6 && v(.address(s.server.address)))
        })
        row("ipv6", .protocolOnly, "an IPv6 packet") { e, _, v in v6(e.source) != nil && v(.bool(true)) }
        row("ipv6.src", .address, "IPv6 source address") { e, _, v in v6(e.source).map { v(.address($0)) } ?? false }
        row("ipv6.dst", .address, "IPv6 destination address") { e, _, v in v6(e.destination).map { v(.address($0)) } ?? false }
        both("ipv6.addr", .address, "IPv6 source or destination", { e, _, v in
            if let a = v6(e.source), v(.address(a)) { return true }
            if let a = v6(e.destination), v(.address(a)) { return true }
            return false
        }, { s, _, v in
            (s.client.address.isIPv6 && v(.address(s.client.address))) || (s.server.address.isIPv6 && v(.address(s.server.address)))
        })

        // tcp
        row("tcp", .protocolOnly, "a TCP segment") { e, _, v in e.tcp != nil && v(.bool(true)) }
        row("tcp.srcport", .integer, "TCP source port") { e, _, v in
            guard e.tcp != nil, let s = e.source else { return false }
            return v(.int(Int64(s.port)))
        }
        row("tcp.dstport", .integer, "TCP destination port") { e, _, v in
            guard e.tcp != nil, let d = e.destination else { return false }
            return v(.int(Int64(d.port)))
        }
        both("tcp.port", .integer, "TCP source or destination port", { e, _, v in
            guard e.tcp != nil, let s = e.source, let d = e.destination else { return false }
            return v(.int(Int64(s.port))) || v(.int(Int64(d.port)))
        }, { s, _, v in v(.int(Int64(s.client.port))) || v(.int(Int64(s.server.port))) })
        both("tcp.stream", .integer, "TCP stream index, from 0 in order of first packet (Wireshark's)", { e, _, v in
            guard let s = e.stream else { return false }
            return v(.int(Int64(s)))
        }, { s, _, v in v(.int(Int64(s.stream))) })
        row("tcp.len", .integer, "TCP payload bytes") { e, _, v in e.tcp.map { v(.int(Int64($0.length))) } ?? false }
        row("tcp.seq", .integer, "relative sequence number") { e, _, v in e.tcp.map { v(.int(Int64($0.report.relativeSeq))) } ?? false }
        row("tcp.ack", .integer, "relative acknowledgment number") { e, _, v in
            guard let t = e.tcp, t.flags.contains(.ack) else { return false }
            return v(.int(Int64(t.report.relativeAck)))
        }
        row("tcp.window_size_value", .integer, "the window field as sent (unscaled)") { e, _, v in e.tcp.map { v(.int(Int64($0.window))) } ?? false }
        let flags: [(String, TCPFlags, String)] = [("syn", .syn, "SYN"), ("ack", .ack, "ACK"), ("fin", .fin, "FIN"),
                                                   ("reset", .rst, "RST"), ("push", .psh, "PSH"), ("urg", .urg, "URG")]
        for (name, flag, words) in flags {
            row("tcp.flags.\(name)", .boolean, "the \(words) flag (present on every TCP segment, 1 when set)") { e, _, v in
                e.tcp.map { v(.bool($0.flags.contains(flag))) } ?? false
            }
        }
        let analyses: [(String, TCPAnalysis, String)] = [
            ("retransmission", .retransmission, "bytes sent again (a copy of a segment with bytes counts too, as in Wireshark)"),
            ("out_of_order", .outOfOrder, "a segment out of order"),
            ("lost_segment", .previousSegmentNotCaptured, "a previous segment was not captured"),
            ("ack_lost_segment", .ackedUnseenSegment, "ACKs a segment that was not captured"),
            ("duplicate_ack", .duplicateAck, "a duplicate ACK"),
            ("zero_window", .zeroWindow, "advertises a zero window"),
            ("window_update", .windowUpdate, "a window update"),
            ("keep_alive", .keepAlive, "a keep-alive"),
            ("zero_window_probe", .zeroWindowProbe, "a zero-window probe"),
        ]
        for (name, flag, words) in analyses {
            row("tcp.analysis.\(name)", .protocolOnly, words) { e, _, v in
                guard let t = e.tcp else { return false }
                var a = t.report.analysis
                // A copy of a segment (netem duplicate, captured twice) is what Wireshark calls a
                // retransmission when it carries bytes, and a duplicate ACK when it does not.
                if a.contains(.duplicate) {
                    a.insert(t.length > 0 || t.flags.contains(.syn) || t.flags.contains(.fin) ? .retransmission : .duplicateAck)
                }
                guard !a.isDisjoint(with: flag) else { return false }
                return v(.bool(true))
            }
        }
        row("tcp.analysis.flags", .protocolOnly, "any TCP analysis note (retransmission, dup ACK, zero window, ...)") { e, _, v in
            guard let t = e.tcp, !t.report.analysis.subtracting([.windowUpdate]).isEmpty else { return false }
            return v(.bool(true))
        }

        // http
        row("http", .protocolOnly, "an HTTP request or response header block") { e, _, v in
            switch e.detail {
            case .httpRequest, .httpResponse: return v(.bool(true))
            default: return false
            }
        }
        row("http.request", .protocolOnly, "an HTTP request") { e, _, v in
            if case .httpRequest = e.detail { return v(.bool(true)) }
            return false
        }
        row("http.response", .protocolOnly, "an HTTP response") { e, _, v in
            if case .httpResponse = e.detail { return v(.bool(true)) }
            return false
        }
        row("http.request.method", .string, "request method") { e, _, v in
            if case let .httpRequest(r) = e.detail { return v(.string(r.method)) }
            return false
        }
        row("http.request.uri", .string, "request target") { e, _, v in
            if case let .httpRequest(r) = e.detail { return v(.string(r.target)) }
            return false
        }
        row("http.request.version", .string, "request HTTP version") { e, _, v in
            if case let .httpRequest(r) = e.detail { return v(.string(r.version)) }
            return false
        }
        row("http.host", .string, "the Host header") { e, _, v in
            if case let .httpRequest(r) = e.detail, let h = r.host { return v(.string(h)) }
            return false
        }
        row("http.response.code", .integer, "response status code") { e, _, v in
            if case let .httpResponse(r) = e.detail { return v(.int(Int64(r.status))) }
            return false
        }
        row("http.response.phrase", .string, "response reason phrase") { e, _, v in
            if case let .httpResponse(r) = e.detail { return v(.string(r.reason)) }
            return false
        }
        row("http.upgrade", .string, "the Upgrade header") { e, _, v in
            let headers: [HTTPHeader]
            switch e.detail {
            case let .httpRequest(r): headers = r.headers
            case let .httpResponse(r): headers = r.headers
            default: return false
            }
            for h in headers where h.name.lowercased() == "upgrade" { if v(.string(h.value)) { return true } }
            return false
        }

        // websocket (one row per frame)
        func frame(_ e: TimelineEvent) -> FrameInfo? {
            if case let .frame(f, _) = e.detail { return f }
            return nil
        }
        row("websocket", .protocolOnly, "a WebSocket frame") { e, _, v in frame(e) != nil && v(.bool(true)) }
        row("websocket.fin", .boolean, "the FIN bit") { e, _, v in frame(e).map { v(.bool($0.fin)) } ?? false }
        row("websocket.rsv", .integer, "the RSV bits as a number (RSV1 = 4, RSV2 = 2, RSV3 = 1)") { e, _, v in frame(e).map { v(.int(Int64($0.rsv))) } ?? false }
        row("websocket.opcode", .integer, "the opcode (0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong)") { e, _, v in
            frame(e).map { v(.int(Int64($0.opcode))) } ?? false
        }
        row("websocket.mask", .boolean, "the MASK bit") { e, _, v in frame(e).map { v(.bool($0.masked)) } ?? false }
        row("websocket.payload_length", .integer, "the 7-bit length field as sent (126/127: an extended length follows), as Wireshark reads it") { e, _, v in
            guard let f = frame(e) else { return false }
            return v(.int(Int64(sevenBitLength(f))))
        }
        row("websocket.payload_length_ext_16", .integer, "the 16-bit extended length") { e, _, v in
            guard let f = frame(e), sevenBitLength(f) == 126 else { return false }
            return v(.int(Int64(f.payloadLength)))
        }
        row("websocket.payload_length_ext_64", .integer, "the 64-bit extended length") { e, _, v in
            guard let f = frame(e), sevenBitLength(f) == 127 else { return false }
            return v(.int(Int64(clamping: f.payloadLength)))
        }
        row("websocket.payload.close.status_code", .integer, "a close frame's status code") { e, _, v in
            guard let f = frame(e), let c = f.closeCode else { return false }
            return v(.int(Int64(c)))
        }
        row("websocket.payload.close.reason", .string, "a close frame's reason") { e, _, v in
            guard let f = frame(e), let r = f.closeReason else { return false }
            return v(.string(r))
        }
        row("websocket.payload.text", .string, "the text of the message a frame completes (joined, inflated; the kept prefix), as Wireshark shows it on the final frame", payload: true) { e, _, v in
            guard let m = frame(e)?.message, m.opcode == 1, m.inflateError == nil else { return false }
            return v(.string(String(decoding: m.payload, as: UTF8.self)))
        }

        // wstrace's own
        row("wstrace.side", .string, "who sent it: client or server") { e, _, v in e.side.map { v(.string($0.name)) } ?? false }
        row("wstrace.phase", .string, "handshake, tls, upgrade, data, close, teardown or other") { e, _, v in v(.string(e.phase.rawValue)) }
        row("wstrace.proto", .string, "the Protocol column (TCP, HTTP, WebSocket, TLS, MQTT, ...)") { e, _, v in v(.string(e.proto)) }
        row("wstrace.decrypted", .boolean, "decrypted from TLS") { e, _, v in v(.bool(e.decrypted)) }
        row("wstrace.frame.length", .integer, "a frame's payload length (whatever the length field's form)") { e, _, v in
            frame(e).map { v(.int(Int64(clamping: $0.payloadLength))) } ?? false
        }
        func message(_ e: TimelineEvent) -> MessageInfo? { frame(e)?.message }
        row("wstrace.message", .protocolOnly, "a row that completes a text or binary message") { e, _, v in message(e) != nil && v(.bool(true)) }
        row("wstrace.message.length", .integer, "a completed message's length (after decompression)") { e, _, v in
            message(e).map { v(.int(Int64(clamping: $0.length))) } ?? false
        }
        row("wstrace.message.type", .string, "text or binary") { e, _, v in message(e).map { v(.string($0.opcode == 1 ? "text" : "binary")) } ?? false }
        row("wstrace.message.frames", .integer, "frames the message took") { e, _, v in message(e).map { v(.int(Int64($0.frames))) } ?? false }
        row("wstrace.message.compressed", .boolean, "the message was compressed (permessage-deflate)") { e, _, v in message(e).map { v(.bool($0.compressed)) } ?? false }
        row("wstrace.message.text", .string, "a text message's payload, joined and decompressed (the kept prefix)", payload: true) { e, _, v in
            guard let m = message(e), m.opcode == 1 else { return false }
            return v(.string(String(decoding: m.payload, as: UTF8.self)))
        }
        row("wstrace.violation", .string, "the code of a rule the row breaks (e.g. client-frame-unmasked)") { e, _, v in
            for x in e.violations where v(.string(x.code.rawValue)) { return true }
            return false
        }
        conn("wstrace.verdict", .string, "the connection's verdict (known when it ends: --summary, stats, report)") { s, _, v in v(.string(s.verdict)) }
        conn("wstrace.cause", .string, "why the connection ended (docs/diagnosis.md's causes; known when it ends)") { _, cause, v in v(.string(cause())) }

        // application protocols (a row may hold several application messages: any matches)
        func apps(_ e: TimelineEvent, _ p: AppProtocol?, _ visit: (AppMessage) -> Bool) -> Bool {
            for m in e.app where p == nil || m.proto == p! { if visit(m) { return true } }
            return false
        }
        func idText(_ id: AppValue) -> String? {
            switch id {
            case .int(let i): return String(i)
            case .string(let s): return s
            default: return nil
            }
        }
        func appField(_ name: String, _ kind: FieldKind, _ p: AppProtocol?, _ meaning: String,
                      _ get: @escaping (AppMessage) -> FieldValue?) {
            row(name, kind, meaning) { e, _, v in apps(e, p) { m in get(m).map { v($0) } ?? false } }
        }
        func asInt(_ x: AppValue?) -> FieldValue? {
            if case .int(let i)? = x { return .int(i) }
            return nil
        }
        func asBool(_ x: AppValue?) -> FieldValue? {
            switch x {
            case .bool(let b)?: return .bool(b)
            case .int(let i)?: return .bool(i != 0)
            default: return nil
            }
        }
        func asString(_ x: AppValue?) -> FieldValue? {
            switch x {
            case .string(let s)?: return .string(s)
            case .json(let s)?: return .string(s)
            case .int(let i)?: return .string(String(i))
            default: return nil
            }
        }
        appField("app", .protocolOnly, nil, "a row whose message carries application data") { _ in .bool(true) }
        appField("app.proto", .string, nil, "engine.io, socket.io, mqtt, stomp, graphql-ws, jsonrpc or json") { .string($0.proto.rawValue) }
        appField("app.type", .string, nil, "the protocol's own name for the message (EVENT, PUBLISH, SEND, next, request, ...)") { .string($0.type) }
        appField("app.id", .string, nil, "the request/ack/packet/subscription id, as text") { m in idText(m.id).map { .string($0) } }
        appField("app.latency", .number, nil, "on a response: seconds since its request") { m in m.replyTo.map { .double(Double($0.latency) / 1e9) } }
        appField("app.reply_to", .integer, nil, "on a response: the request's packet number") { m in m.replyTo.map { .int(Int64($0.packet)) } }
        appField("app.problem", .string, nil, "what is wrong with bad application data") { m in m.problem.map { .string($0) } }

        let prefixes: [(String, AppProtocol)] = [("engineio", .engineIO), ("socketio", .socketIO), ("mqtt", .mqtt), ("stomp", .stomp),
                                                 ("graphql", .graphqlWS), ("jsonrpc", .jsonrpc), ("json", .json)]
        for (prefix, p) in prefixes {
            appField(prefix, .protocolOnly, p, "a \(p.displayName) message") { _ in .bool(true) }
            appField("\(prefix).type", .string, p, "the \(p.displayName) message type") { .string($0.type) }
            appField("\(prefix).id", .string, p, "the \(p.displayName) id, as text") { m in idText(m.id).map { .string($0) } }
            appField("\(prefix).latency", .number, p, "on a \(p.displayName) response: seconds since its request") { m in
                m.replyTo.map { .double(Double($0.latency) / 1e9) }
            }
        }
        appField("socketio.namespace", .string, .socketIO, "the Socket.IO namespace") { asString($0.field("namespace")) }
        appField("socketio.event", .string, .socketIO, "the Socket.IO event name") { asString($0.field("event")) }
        appField("socketio.args", .string, .socketIO, "the event's arguments as compact JSON") { asString($0.field("args")) }
        appField("mqtt.msgtype", .integer, .mqtt, "the MQTT control packet type number (3 PUBLISH, 8 SUBSCRIBE, ...), as Wireshark's") { m in
            mqttTypes.firstIndex(of: m.type).map { .int(Int64($0)) }
        }
        appField("mqtt.topic", .string, .mqtt, "a PUBLISH topic (or a SUBSCRIBE/UNSUBSCRIBE filter)") { m in
            if let t = asString(m.field("topic")) { return t }
            return nil
        }
        appField("mqtt.qos", .integer, .mqtt, "a PUBLISH's QoS") { asInt($0.field("qos")) }
        appField("mqtt.retain", .boolean, .mqtt, "a PUBLISH's retain flag") { asBool($0.field("retain")) }
        appField("mqtt.dupflag", .boolean, .mqtt, "a PUBLISH's DUP flag") { asBool($0.field("dup")) }
        appField("mqtt.msgid", .integer, .mqtt, "the packet identifier") { m in
            if case .int(let i) = m.id { return .int(i) }
            return nil
        }
        appField("mqtt.payload_length", .integer, .mqtt, "a PUBLISH's payload length") { asInt($0.field("payload_length")) }
        appField("mqtt.clientid", .string, .mqtt, "CONNECT's client identifier") { asString($0.field("client_id")) }
        appField("stomp.command", .string, .stomp, "the STOMP command (SEND, MESSAGE, SUBSCRIBE, ...)") { .string($0.type) }
        appField("stomp.destination", .string, .stomp, "the destination header") { asString($0.field("destination")) }
        appField("stomp.body_length", .integer, .stomp, "the body's length") { asInt($0.field("body_length")) }
        appField("graphql.operation_name", .string, .graphqlWS, "the operation's name") { asString($0.field("operation_name")) }
        appField("jsonrpc.method", .string, .jsonrpc, "a request's or notification's method") { asString($0.field("method")) }
        appField("jsonrpc.error.code", .integer, .jsonrpc, "an error response's code") { m in
            guard case .json(let text)? = m.field("error") else { return nil }
            return jsonErrorCode(text).map { .int($0) }
        }
        return t
    }

    /// MQTT control packet types by number (index), as MQTT 3.1.1 §2.2.1 numbers them.
    static let mqttTypes = ["Reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE",
                            "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"]
}

/// The 7-bit payload length field as sent: from the header's size, so that a non-minimal
/// encoding reads as Wireshark reads it.
func sevenBitLength(_ f: FrameInfo) -> UInt64 {
    switch f.headerLength - (f.masked ? 4 : 0) {
    case 4: return 126
    case 10: return 127
    default: return f.payloadLength
    }
}

/// `"code":-32601` in a JSON-RPC error object's compact text.
func jsonErrorCode(_ text: String) -> Int64? {
    let bytes = Array(text.utf8)
    let key = Array("\"code\":".utf8)
    guard bytes.count >= key.count else { return nil }
    for i in 0...(bytes.count - key.count) where Array(bytes[i..<i + key.count]) == key {
        var j = i + key.count
        var digits = ""
        while j < bytes.count, bytes[j] == UInt8(ascii: "-") && digits.isEmpty || (bytes[j] >= 0x30 && bytes[j] <= 0x39) {
            digits.append(Character(Unicode.Scalar(bytes[j])))
            j += 1
        }
        return Int64(digits)
    }
    return nil
}

// Engine.IO v4 (and v3 over WebSocket: the same text packets) and Socket.IO v5 (v4) inside it.
// A text message is one Engine.IO packet: a type digit and its data. A MESSAGE whose data parses
// as a Socket.IO packet is reported once, as socket.io; binary messages after a BINARY_EVENT /
// BINARY_ACK are its attachments. EVENT with an ack id pairs with the other side's ACK.

/// Engine.IO / Socket.IO state of one connection.
struct EngineIOState {
    /// Socket.IO seen (a packet parsed) or asked for (--decode-as socket.io).
    var socketIO = false
    /// Attachments still expected, per side.
    var clientAttachments: PendingAttachments?
    var serverAttachments: PendingAttachments?
}

/// A BINARY_EVENT / BINARY_ACK waiting for its binary attachments.
struct PendingAttachments {
    var type: String
    var total: Int
    var lengths: [Int64] = []
    var ofPacket: Int
    var namespace: String
    var id: AppValue
    /// The args as the packet had them (placeholders in place).
    var args: JSONValue
}

/// A parsed Socket.IO packet.
struct SocketIOPacket {
    var type: Int
    var attachments: Int?
    var namespace: String
    var ackID: Int64?
    var payload: JSONValue?
    /// The payload was cut short: its complete members only.
    var partial: Bool
}

extension AppSession {
    /// The most binary attachments one Socket.IO packet is followed by (more: none expected).
    static let maxAttachments = 4096
}

let engineIOTypes = ["OPEN", "CLOSE", "PING", "PONG", "MESSAGE", "UPGRADE", "NOOP"]
let socketIOTypes = ["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"]

extension AppSession {
    func engineIOMessage(_ m: Msg) -> [AppMessage] {
        let cut: String? = m.complete ? nil : m.cutText(nil)
        if !m.text {
            if let att = m.fromClient ? engine.clientAttachments : engine.serverAttachments {
                return [attachmentMessage(att, m)]
            }
            return [AppMessage(proto: .engineIO, type: "MESSAGE",
                               fields: [AppField("binary", .bool(true)), AppField("length", .int(clampInt64(m.length)))],
                               info: "Engine.IO MESSAGE binary \(m.length) bytes", problem: cut)]
        }
        let b = m.bytes
        guard let first = b.first else {
            return [AppMessage(proto: .engineIO, type: "malformed", info: "Engine.IO malformed",
                               problem: cut ?? "an empty Engine.IO packet")]
        }
        guard first >= 0x30 && first <= 0x36 else {
            return [AppMessage(proto: .engineIO, type: "malformed", info: "Engine.IO malformed",
                               problem: "not an Engine.IO packet type: the text starts with byte \(first)" + (cut.map { "; " + $0 } ?? ""))]
        }
        let t = Int(first - 0x30)
        let data = UnsafeRawBufferPointer(rebasing: b[1...])
        let type = engineIOTypes[t]
        switch t {
        case 0:
            var fields: [AppField] = []
            var info = "Engine.IO OPEN"
            var problem = cut
            switch JSONParser.parse(data, partial: !m.complete, expand: 2) {
            case .value(let v), .partial(let v):
                if let sid = v["sid"] {
                    fields.append(AppField("sid", sid.appValue))
                    info += " sid=" + (sid.stringValue ?? sid.compact)
                }
                if let x = v["pingInterval"] { fields.append(AppField("pingInterval", x.appValue)) }
                if let x = v["pingTimeout"] { fields.append(AppField("pingTimeout", x.appValue)) }
                if let x = v["upgrades"] {
                    if let a = x.arrayValue { fields.append(AppField("upgrades", .list(a.map { $0.appValue }))) } else { fields.append(AppField("upgrades", x.appValue)) }
                }
                if let x = v["maxPayload"] { fields.append(AppField("maxPayload", x.appValue)) }
            case .failure(let e):
                if problem == nil { problem = e.description }
            }
            return [AppMessage(proto: .engineIO, type: type, fields: fields, info: info, problem: problem)]
        case 2, 3:
            if data.count == 5, bytesEqual(data, from: 0, "probe") {
                return [AppMessage(proto: .engineIO, type: type, fields: [AppField("probe", .bool(true))],
                                   info: "Engine.IO \(type) probe", problem: cut)]
            }
            var fields: [AppField] = []
            if data.count > 0 { fields.append(AppField("data", .string(String(decoding: data, as: UTF8.self)))) }
            return [AppMessage(proto: .engineIO, type: type, fields: fields, info: "Engine.IO \(type)", problem: cut)]
        case 4:
            if decodeAs != .engineIO {
                switch parseSocketIO(data, cut: !m.complete) {
                case .success(let pkt):
                    engine.socketIO = true
                    chosen = .socketIO
                    return [socketIOMessage(pkt, m)]
                case .failure(let reason):
                    let s = String(decoding: data, as: UTF8.self)
                    var problem = cut
                    if engine.socketIO && !s.isEmpty {
                        problem = "not a Socket.IO packet: " + reason + (cut.map { "; " + $0 } ?? "")
                    }
                    return [AppMessage(proto: .engineIO, type: "MESSAGE", fields: [AppField("data", .string(s))],
                                       info: "Engine.IO MESSAGE " + jsonQuoted(clip(s, 60)), problem: problem)]
                }
            }
            let s = String(decoding: data, as: UTF8.self)
            return [AppMessage(proto: .engineIO, type: "MESSAGE", fields: [AppField("data", .string(s))],
                               info: "Engine.IO MESSAGE " + jsonQuoted(clip(s, 60)), problem: cut)]
        default:
            var fields: [AppField] = []
            if data.count > 0 { fields.append(AppField("data", .string(String(decoding: data, as: UTF8.self)))) }
            return [AppMessage(proto: .engineIO, type: type, fields: fields, info: "Engine.IO \(type)", problem: cut)]
        }
    }

    enum SIOParse {
        case success(SocketIOPacket)
        case failure(String)
    }

    /// `<type>[<#attachments>-][<namespace>,][<ack id>][<JSON>]`
    func parseSocketIO(_ d: UnsafeRawBufferPointer, cut: Bool) -> SIOParse {
        guard let f = d.first, f >= 0x30 && f <= 0x36 else { return .failure("no packet type digit") }
        let type = Int(f - 0x30)
        var i = 1
        var attachments: Int?
        if type == 5 || type == 6 {
            let s = i
            while i < d.count, d[i] >= 0x30 && d[i] <= 0x39, i - s < 9 { i += 1 }
            guard i > s, i < d.count, d[i] == 0x2D else { return .failure("a binary packet needs its attachment count") }
            attachments = Int(parseInt64(String(decoding: UnsafeRawBufferPointer(rebasing: d[s..<i]), as: UTF8.self)) ?? 0)
            i += 1
        }
        var namespace = "/"
        if i < d.count, d[i] == 0x2F {
            let s = i
            while i < d.count, d[i] != 0x2C { i += 1 }
            namespace = String(decoding: UnsafeRawBufferPointer(rebasing: d[s..<i]), as: UTF8.self)
            if i < d.count { i += 1 }
        }
        var ackID: Int64?
        let s = i
        while i < d.count, d[i] >= 0x30 && d[i] <= 0x39 { i += 1 }
        if i > s {
            guard i - s <= 18, let v = parseInt64(String(decoding: UnsafeRawBufferPointer(rebasing: d[s..<i]), as: UTF8.self)) else {
                return .failure("an ack id too long")
            }
            ackID = v
        }
        var payload: JSONValue?
        var partial = false
        if i < d.count {
            // Binary packets keep the whole tree (their placeholders are replaced later).
            switch JSONParser.parse(UnsafeRawBufferPointer(rebasing: d[i...]), partial: cut, expand: attachments == nil ? 2 : Int.max) {
            case .value(let v): payload = v
            case .partial(let v): payload = v; partial = true
            case .failure(let e): return .failure(JSONError(offset: e.offset + i, reason: e.reason).description)
            }
        }
        switch type {
        case 0:
            if let p = payload, !p.isObject { return .failure("CONNECT's payload must be an object") }
        case 1:
            if payload != nil { return .failure("DISCONNECT has no payload") }
        case 2, 5:
            guard let a = payload?.arrayValue, !a.isEmpty || partial else { return .failure("an EVENT needs a non-empty array") }
        case 3, 6:
            guard payload?.arrayValue != nil else { return .failure("an ACK needs an array") }
            if ackID == nil { return .failure("an ACK needs an ack id") }
        default:
            break
        }
        return .success(SocketIOPacket(type: type, attachments: attachments, namespace: namespace, ackID: ackID,
                                       payload: payload, partial: partial))
    }

    func socketIOMessage(_ p: SocketIOPacket, _ m: Msg) -> AppMessage {
        let type = socketIOTypes[p.type]
        let id: AppValue = p.ackID.map { .int($0) } ?? .null
        var fields = [AppField("namespace", .string(p.namespace))]
        var info = "Socket.IO \(type) \(p.namespace)"
        var problem: String? = m.complete ? nil : m.cutText(p.partial ? "the args are the complete ones kept" : nil)
        var args: JSONValue?
        switch p.type {
        case 0:
            if let d = p.payload {
                fields.append(AppField("data", .json(d.compact)))
                if let sid = d["sid"]?.stringValue { info += " sid=" + sid }
            }
        case 2, 5:
            let a = p.payload?.arrayValue ?? []
            var eventName = ""
            if let e = a.first {
                fields.append(AppField("event", e.appValue))
                eventName = e.stringValue ?? e.compact
                info += " " + jsonQuoted(clip(eventName, 60))
            }
            let rest = JSONValue.array(Array(a.dropFirst()))
            args = rest
            fields.append(AppField("args", .json(rest.compact)))
            if let n = p.attachments {
                fields.append(AppField("attachments", .int(Int64(n))))
                info += " attachments=\(n)"
            }
            if let ack = p.ackID {
                info += " ack=\(ack)"
                expect("sio|\(m.side)|\(p.namespace)|\(ack)", proto: .socketIO, what: eventName, requestType: type, m: m)
            }
        case 3, 6:
            let whole = p.payload ?? .array([])
            args = whole
            fields.append(AppField("args", .json(whole.compact)))
            if let ack = p.ackID { info += " id=\(ack)" }
            if let n = p.attachments {
                fields.append(AppField("attachments", .int(Int64(n))))
                info += " attachments=\(n)"
            }
        case 4:
            if let d = p.payload {
                fields.append(AppField("data", d.isObject || d.arrayValue != nil ? .json(d.compact) : d.appValue))
                if let msg = d["message"]?.stringValue ?? d.stringValue { info += " " + clip(msg, 60) }
            }
        default:
            break
        }
        var reply: AppReply?
        if p.type == 3 || p.type == 6, let ack = p.ackID {
            reply = answer("sio|\(m.otherSide)|\(p.namespace)|\(ack)", responseType: type, m: m)
        }
        if p.type == 5 || p.type == 6, let n = p.attachments {
            if n > AppSession.maxAttachments {
                problem = joinProblems("\(n) attachments announced, more than \(AppSession.maxAttachments): binary messages are not taken as its attachments", problem)
            }
            let att = n > 0 && n <= AppSession.maxAttachments ? PendingAttachments(type: type, total: n, ofPacket: m.packet, namespace: p.namespace, id: id,
                                                 args: args ?? .array([])) : nil
            if m.fromClient { engine.clientAttachments = att } else { engine.serverAttachments = att }
            if n > 0, !m.complete, let pr = problem { problem = pr + "; the attachments' placeholders may be missing" }
        }
        return AppMessage(proto: .socketIO, type: type, id: id, fields: fields, info: info, replyTo: reply, problem: problem)
    }

    func attachmentMessage(_ a: PendingAttachments, _ m: Msg) -> AppMessage {
        var a = a
        let num = a.lengths.count
        let length = clampInt64(m.length)
        a.lengths.append(length)
        var fields = [AppField("num", .int(Int64(num))), AppField("length", .int(length)),
                      AppField("of_packet", .int(Int64(a.ofPacket)))]
        let last = a.lengths.count >= a.total
        if last {
            fields.append(AppField("complete", .bool(true)))
            fields.append(AppField("args", .json(replacePlaceholders(a.args, a.lengths).compact)))
        }
        let state: PendingAttachments? = last ? nil : a
        if m.fromClient { engine.clientAttachments = state } else { engine.serverAttachments = state }
        // The ack id belongs to the BINARY_EVENT/BINARY_ACK (its `of_packet`), not to the attachment.
        return AppMessage(proto: .socketIO, type: "attachment", id: .null, fields: fields,
                          info: "Socket.IO attachment \(num + 1)/\(a.total) of packet \(a.ofPacket), \(m.length) bytes",
                          problem: m.complete ? nil : m.cutText(nil))
    }

    /// `{"_placeholder":true,"num":k}` → `{"_binary":k,"length":L}` (k within the attachments seen).
    func replacePlaceholders(_ v: JSONValue, _ lengths: [Int64]) -> JSONValue {
        switch v {
        case .array(let a): return .array(a.map { replacePlaceholders($0, lengths) })
        case .object(let members):
            if v["_placeholder"]?.boolValue == true, let k = v["num"]?.intValue, k >= 0, k < Int64(lengths.count) {
                return .object([JSONMember(key: "_binary", value: .number(String(k))),
                                JSONMember(key: "length", value: .number(String(lengths[Int(k)])))])
            }
            return .object(members.map { JSONMember(key: $0.key, value: replacePlaceholders($0.value, lengths)) })
        default: return v
        }
    }
}

@inline(__always) func clampInt64(_ v: UInt64) -> Int64 { v > UInt64(Int64.max) ? Int64.max : Int64(v) }

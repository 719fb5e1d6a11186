// MQTT 3.1.1 and 5.0 over WebSocket. Each direction's binary messages are one byte stream: a
// message may hold several packets and a packet may span several messages, so each side keeps a
// buffer (at most 16 MiB) and a packet is reported on the message that completes it. The version
// comes from CONNECT's protocol level (5: properties in the variable headers, reason codes).
// A malformed packet stops the decoding of its side (the stream cannot be resynchronized).

/// One direction's MQTT stream.
struct MQTTSide {
    var buffer: [UInt8] = []
    /// Decoding of this side stopped (malformed packet, buffer overflow, cut stream).
    var stopped = false
}

struct MQTTState {
    var client = MQTTSide()
    var server = MQTTSide()
    /// CONNECT's protocol level (3: 3.1, 4: 3.1.1, 5: 5.0); 3.1.1 until a CONNECT says otherwise.
    var level: UInt8 = 4
    /// QoS 2 PUBLISH topics by side and packet id, for PUBREL → PUBCOMP's key.
    var qos2Topics: [String: String] = [:]
    /// v5 topic aliases each sender set up (alias → topic).
    var clientAliases: [Int: String] = [:]
    var serverAliases: [Int: String] = [:]
}

/// MQTT 5 property identifiers: JSON name and value kind (1: byte, 2: two-byte integer,
/// 4: four-byte integer, 5: variable byte integer, 6: UTF-8 string, 7: binary data, 8: string pair).
let mqttProperties: [UInt8: (name: String, kind: UInt8)] = [
    0x01: ("payload_format", 1), 0x02: ("message_expiry", 4), 0x03: ("content_type", 6), 0x08: ("response_topic", 6),
    0x09: ("correlation_data", 7), 0x0B: ("subscription_identifier", 5), 0x11: ("session_expiry", 4),
    0x12: ("assigned_client_id", 6), 0x13: ("server_keep_alive", 2), 0x15: ("auth_method", 6), 0x16: ("auth_data", 7),
    0x17: ("request_problem_info", 1), 0x18: ("will_delay", 4), 0x19: ("request_response_info", 1),
    0x1A: ("response_info", 6), 0x1C: ("server_reference", 6), 0x1F: ("reason_string", 6), 0x21: ("receive_maximum", 2),
    0x22: ("topic_alias_maximum", 2), 0x23: ("topic_alias", 2), 0x24: ("maximum_qos", 1), 0x25: ("retain_available", 1),
    0x26: ("user_property", 8), 0x27: ("maximum_packet_size", 4), 0x28: ("wildcard_subscription_available", 1),
    0x29: ("subscription_identifiers_available", 1), 0x2A: ("shared_subscription_available", 1),
]

/// A v5 property block, decoded.
struct MQTTPropertyBlock {
    var fields: [AppField] = []
    var topicAlias: Int?
    /// Bad contents inside a block whose length was right (reported, decoding goes on).
    var problem: String?
}

/// Decodes the properties in `block` (its length already read).
func decodeMQTTProperties(_ block: UnsafeRawBufferPointer) -> MQTTPropertyBlock {
    var out = MQTTPropertyBlock()
    var p = ByteReader(block)
    var users: [AppValue] = []
    var seen = Set<UInt8>()
    let hex = Array("0123456789abcdef".utf8)
    while p.remaining > 0 {
        guard let pid = p.u8() else { break }
        guard let def = mqttProperties[pid] else {
            out.problem = "unknown property 0x" + String(decoding: [hex[Int(pid >> 4)], hex[Int(pid & 15)]], as: UTF8.self)
            break
        }
        var value: AppValue?
        switch def.kind {
        case 1: value = p.u8().map { .int(Int64($0)) }
        case 2:
            if let v = p.u16() {
                value = .int(Int64(v))
                if pid == 0x23 { out.topicAlias = v }
            }
        case 4:
            if let hi = p.u16(), let lo = p.u16() { value = .int(Int64(hi) << 16 | Int64(lo)) }
        case 5:
            let (v, _) = p.varint()
            value = v.map { .int(Int64($0)) }
        case 6: value = p.string().map { .string($0) }
        case 7:
            if let n = p.u16(), let b = p.bytes(n) {
                var h: [UInt8] = []
                for x in b.prefix(32) { h.append(hex[Int(x >> 4)]); h.append(hex[Int(x & 15)]) }
                value = .string(String(decoding: h, as: UTF8.self) + (n > 32 ? "…" : ""))
            }
        default:
            if let k = p.string(), let v = p.string() {
                users.append(.object([AppField("name", .string(k)), AppField("value", .string(v))]))
                continue
            }
        }
        guard let value else {
            out.problem = "the \(def.name) property overruns the property block"
            break
        }
        if seen.insert(pid).inserted { out.fields.append(AppField(def.name, value)) }
    }
    if !users.isEmpty { out.fields.append(AppField("user_properties", .list(users))) }
    return out
}

let mqttTypes = ["reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
                 "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"]

/// Bounds-checked reads over one packet's bytes; nil when a read would overrun.
struct ByteReader {
    let b: UnsafeRawBufferPointer
    var i = 0
    init(_ b: UnsafeRawBufferPointer) { self.b = b }

    var remaining: Int { b.count - i }

    mutating func u8() -> UInt8? {
        guard i < b.count else { return nil }
        defer { i += 1 }
        return b[i]
    }

    mutating func u16() -> Int? {
        guard i + 2 <= b.count else { return nil }
        defer { i += 2 }
        return Int(b[i]) << 8 | Int(b[i + 1])
    }

    mutating func bytes(_ n: Int) -> UnsafeRawBufferPointer? {
        guard n >= 0, n <= b.count - i else { return nil }
        defer { i += n }
        return UnsafeRawBufferPointer(rebasing: b[i..<(i + n)])
    }

    /// A 2-byte length and that many bytes, as UTF-8 text.
    mutating func string() -> String? {
        guard let n = u16(), let s = bytes(n) else { return nil }
        return String(decoding: s, as: UTF8.self)
    }

    /// MQTT's variable byte integer (at most 4 bytes). `.failure(true)`: longer than 4 bytes.
    mutating func varint() -> (value: Int?, tooLong: Bool) {
        var v = 0
        var mult = 1
        for _ in 0..<4 {
            guard let c = u8() else { return (nil, false) }
            v += Int(c & 0x7F) * mult
            if c & 0x80 == 0 { return (v, false) }
            mult *= 128
        }
        return (nil, true)
    }
}

extension AppSession {
    func mqttMessage(_ m: Msg) -> [AppMessage] {
        var side = m.fromClient ? mqtt.client : mqtt.server
        defer { if m.fromClient { mqtt.client = side } else { mqtt.server = side } }
        if side.stopped { return [] }
        var out: [AppMessage] = []
        if side.buffer.isEmpty {
            let used = mqttPackets(m.bytes, m, &out, &side)
            if !side.stopped && used < m.bytes.count {
                side.buffer = Array(UnsafeRawBufferPointer(rebasing: m.bytes[used...]))
            }
        } else {
            side.buffer.append(contentsOf: m.bytes)
            var buf = side.buffer
            side.buffer = []
            let used = buf.withUnsafeBytes { mqttPackets($0, m, &out, &side) }
            if !side.stopped && used < buf.count {
                buf.removeFirst(used)
                side.buffer = buf
            }
        }
        if side.stopped { side.buffer = []; return out }
        if !m.complete { mqttCut(m, &out, &side) }
        if !side.stopped && side.buffer.count > AppSession.maxBuffer {
            side.stopped = true
            side.buffer = []
            out.append(AppMessage(proto: .mqtt, type: "malformed", info: "MQTT buffer full",
                                  problem: "more than 16 MiB buffered for one MQTT packet; decoding of this side stops"))
        }
        return out
    }

    /// The message was kept only in part. When the bytes lost are exactly the rest of the
    /// buffered packet, that packet is reported from what was kept and the stream goes on;
    /// otherwise this side's decoding stops.
    func mqttCut(_ m: Msg, _ out: inout [AppMessage], _ side: inout MQTTSide) {
        let missing = m.length &- UInt64(m.bytes.count)
        var header: (type: UInt8, flags: UInt8, bodyStart: Int, rl: Int)?
        side.buffer.withUnsafeBytes { b in
            guard let b0 = b.first else { return }
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: b[1...]))
            if let rl = r.varint().value { header = (b0 >> 4, b0 & 0x0F, 1 + r.i, rl) }
        }
        if let h = header, h.type != 0, UInt64(h.bodyStart &+ h.rl) == UInt64(side.buffer.count) &+ missing {
            let buf = side.buffer
            side.buffer = []
            buf.withUnsafeBytes { b in
                var msg = mqttPacket(type: h.type, flags: h.flags, body: UnsafeRawBufferPointer(rebasing: b[h.bodyStart...]),
                                     declared: h.rl, m: m).message
                msg.problem = m.cutText("the \(mqttTypes[Int(h.type)]) packet is decoded from its first \(buf.count) of \(h.bodyStart &+ h.rl) bytes")
                    + (msg.problem.map { "; " + $0 } ?? "")
                out.append(msg)
            }
            return
        }
        let type = header.map { mqttTypes[Int($0.type)] } ?? "unknown"
        side.stopped = true
        side.buffer = []
        out.append(AppMessage(proto: .mqtt, type: header == nil ? "unknown" : type, info: "MQTT stream cut",
                              problem: m.cutText("the MQTT stream lost bytes; decoding of this side stops")))
    }

    /// Decodes the complete packets at the start of `b`; returns the bytes used.
    func mqttPackets(_ b: UnsafeRawBufferPointer, _ m: Msg, _ out: inout [AppMessage], _ side: inout MQTTSide) -> Int {
        var i = 0
        while i < b.count {
            let b0 = b[i]
            let type = b0 >> 4
            if type == 0 {
                side.stopped = true
                out.append(AppMessage(proto: .mqtt, type: "malformed", info: "MQTT malformed",
                                      problem: "reserved packet type 0; decoding of this side stops"))
                return b.count
            }
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: b[(i + 1)...]))
            let (rlOpt, tooLong) = r.varint()
            if tooLong {
                side.stopped = true
                out.append(AppMessage(proto: .mqtt, type: "malformed", info: "MQTT malformed",
                                      problem: "remaining length longer than 4 bytes; decoding of this side stops"))
                return b.count
            }
            guard let rl = rlOpt else { break } // header split: wait for more
            let bodyStart = i + 1 + r.i
            let total = 1 + r.i + rl
            if total > AppSession.maxBuffer {
                side.stopped = true
                out.append(AppMessage(proto: .mqtt, type: mqttTypes[Int(type)], info: "MQTT \(mqttTypes[Int(type)]) too large",
                                      problem: "a \(total)-byte packet is larger than the 16 MiB buffer; decoding of this side stops"))
                return b.count
            }
            guard b.count - i >= total else { break } // split across messages
            let r2 = mqttPacket(type: type, flags: b0 & 0x0F, body: UnsafeRawBufferPointer(rebasing: b[bodyStart..<(bodyStart + rl)]),
                                declared: rl, m: m)
            out.append(r2.message)
            if r2.malformed {
                side.stopped = true
                return b.count
            }
            i += total
        }
        return i
    }

    /// One packet. `body` may be shorter than `declared` (a cut message); then reads that
    /// overrun say "cut" instead of "malformed".
    func mqttPacket(type: UInt8, flags: UInt8, body: UnsafeRawBufferPointer, declared: Int, m: Msg) -> (message: AppMessage, malformed: Bool) {
        let name = mqttTypes[Int(type)]
        let truncated = body.count < declared
        var r = ByteReader(body)
        var fields: [AppField] = []
        var info = "MQTT " + name
        var id: AppValue = .null
        var reply: AppReply?
        let v5 = mqtt.level == 5

        func bad(_ what: String) -> (message: AppMessage, malformed: Bool) {
            if truncated {
                return (AppMessage(proto: .mqtt, type: name, id: id, fields: fields, info: info,
                                   problem: "\(what) is beyond the bytes kept"), false)
            }
            return (AppMessage(proto: .mqtt, type: "malformed", id: id, fields: fields, info: "MQTT malformed " + name,
                               problem: "\(name): \(what) overruns the packet; decoding of this side stops"), true)
        }
        var propertyProblem: String?
        var topicAlias: Int?
        /// v5 properties: a varint length and that many bytes, decoded into a `properties`
        /// (or `name`) object field when there are any. Returns what overran, if anything.
        func skipProperties(_ r: inout ByteReader, _ name: String = "properties") -> String? {
            let (n, tooLong) = r.varint()
            if tooLong { return "the properties' length (over 4 bytes)" }
            guard let n, let block = r.bytes(n) else { return "the properties" }
            let d = decodeMQTTProperties(block)
            if !d.fields.isEmpty { fields.append(AppField(name, .object(d.fields))) }
            if let t = d.topicAlias { topicAlias = t }
            if let pr = d.problem { propertyProblem = pr }
            return nil
        }

        switch type {
        case 1: // CONNECT
            guard let proto = r.string() else { return bad("the protocol name") }
            guard let level = r.u8() else { return bad("the protocol level") }
            guard let cflags = r.u8(), let keepAlive = r.u16() else { return bad("the connect flags") }
            if level == 3 || level == 4 || level == 5 { mqtt.level = level }
            let isV5 = level == 5
            fields.append(AppField("protocol_level", .int(Int64(level))))
            fields.append(AppField("keep_alive", .int(Int64(keepAlive))))
            fields.append(AppField("clean_start", .bool(cflags & 0x02 != 0)))
            if isV5, let e = skipProperties(&r) { return bad(e) }
            guard let clientID = r.string() else { return bad("the client id") }
            fields.insert(AppField("client_id", .string(clientID)), at: 0)
            info += " client_id=" + clientID
            if proto != "MQTT" && proto != "MQIsdp" { fields.append(AppField("protocol_name", .string(proto))) }
            if cflags & 0x04 != 0 {
                if isV5, let e = skipProperties(&r, "will_properties") { return bad(e) }
                guard let willTopic = r.string() else { return bad("the will topic") }
                fields.append(AppField("will_topic", .string(willTopic)))
                guard let wl = r.u16(), r.bytes(wl) != nil else { return bad("the will payload") }
            }
            if cflags & 0x80 != 0 {
                guard let user = r.string() else { return bad("the username") }
                fields.append(AppField("username", .string(user)))
            }
            expect("mq|\(m.side)|connect", proto: .mqtt, what: name, requestType: name, m: m)
        case 2: // CONNACK
            guard let af = r.u8(), let rc = r.u8() else { return bad("the acknowledge flags") }
            fields.append(AppField("session_present", .bool(af & 0x01 != 0)))
            fields.append(AppField(v5 ? "reason_code" : "return_code", .int(Int64(rc))))
            info += (v5 ? " reason_code=" : " return_code=") + String(rc)
            if v5, r.remaining > 0, let e = skipProperties(&r) { return bad(e) }
            reply = answer("mq|\(m.otherSide)|connect", responseType: name, m: m)
        case 3: // PUBLISH
            let qos = (flags >> 1) & 0x03
            let retain = flags & 0x01 != 0
            let dup = flags & 0x08 != 0
            if qos == 3 && !truncated {
                return (AppMessage(proto: .mqtt, type: "malformed", info: "MQTT malformed PUBLISH",
                                   problem: "PUBLISH with QoS 3; decoding of this side stops"), true)
            }
            guard var topic = r.string() else { return bad("the topic") }
            let topicAt = fields.count
            fields.append(AppField("topic", .string(topic)))
            fields.append(AppField("qos", .int(Int64(qos))))
            fields.append(AppField("retain", .bool(retain)))
            fields.append(AppField("dup", .bool(dup)))
            var pid: Int?
            if qos > 0 {
                guard let p = r.u16() else { return bad("the packet id") }
                pid = p
                id = .int(Int64(p))
            }
            if v5, let e = skipProperties(&r) { return bad(e) }
            if let alias = topicAlias {
                // A topic alias: set up by a PUBLISH with a topic, used by one without.
                if topic.isEmpty {
                    if let t = (m.fromClient ? mqtt.clientAliases : mqtt.serverAliases)[alias] {
                        topic = t
                        fields[topicAt] = AppField("topic", .string(t))
                    } else {
                        propertyProblem = "topic alias \(alias) was never set up"
                    }
                } else if m.fromClient {
                    if mqtt.clientAliases.count < 65536 { mqtt.clientAliases[alias] = topic }
                } else if mqtt.serverAliases.count < 65536 {
                    mqtt.serverAliases[alias] = topic
                }
            }
            let payloadLength = declared - r.i
            fields.append(AppField("payload_length", .int(Int64(payloadLength))))
            info += " qos=\(qos)"
            if let pid { info += " id=\(pid)" }
            info += " topic=" + clip(topic, 60) + " \(payloadLength) bytes"
            if retain { info += " retain" }
            if let pid {
                if qos == 1 {
                    expect("mq|\(m.side)|p1|\(pid)", proto: .mqtt, what: topic, requestType: name, m: m)
                } else {
                    expect("mq|\(m.side)|p2|\(pid)", proto: .mqtt, what: topic, requestType: name, m: m)
                    if mqtt.qos2Topics.count >= AppSession.maxPending { mqtt.qos2Topics.removeAll() }
                    mqtt.qos2Topics["\(m.side)|\(pid)"] = topic
                }
            }
        case 4, 5, 6, 7: // PUBACK PUBREC PUBREL PUBCOMP
            guard let pid = r.u16() else { return bad("the packet id") }
            id = .int(Int64(pid))
            info += " id=\(pid)"
            if v5 {
                var rc: UInt8 = 0
                if r.remaining > 0, let c = r.u8() { rc = c }
                if r.remaining > 0, let e = skipProperties(&r) { return bad(e) }
                fields.append(AppField("reason_code", .int(Int64(rc))))
                if rc != 0 { info += " reason_code=\(rc)" }
            }
            switch type {
            case 4: reply = answer("mq|\(m.otherSide)|p1|\(pid)", responseType: name, m: m)
            case 5: reply = answer("mq|\(m.otherSide)|p2|\(pid)", responseType: name, m: m)
            case 6:
                let topic = mqtt.qos2Topics.removeValue(forKey: "\(m.side)|\(pid)") ?? name
                expect("mq|\(m.side)|rel|\(pid)", proto: .mqtt, what: topic, requestType: name, m: m)
            default: reply = answer("mq|\(m.otherSide)|rel|\(pid)", responseType: name, m: m)
            }
        case 8, 10: // SUBSCRIBE UNSUBSCRIBE
            guard let pid = r.u16() else { return bad("the packet id") }
            id = .int(Int64(pid))
            if v5, let e = skipProperties(&r) { return bad(e) }
            var topics: [AppValue] = []
            var filters: [String] = []
            while r.remaining > 0 {
                guard let t = r.string() else { return bad("a topic filter") }
                filters.append(t)
                if type == 8 {
                    guard let opts = r.u8() else { return bad("a subscription's options") }
                    topics.append(.object([AppField("topic", .string(t)), AppField("qos", .int(Int64(opts & 0x03)))]))
                } else {
                    topics.append(.string(t))
                }
            }
            fields.append(AppField("topics", .list(topics)))
            let joined = filters.joined(separator: ",")
            info += " id=\(pid) " + clip(joined, 80)
            expect("mq|\(m.side)|\(type == 8 ? "sub" : "unsub")|\(pid)", proto: .mqtt, what: joined, requestType: name, m: m)
        case 9, 11: // SUBACK UNSUBACK
            guard let pid = r.u16() else { return bad("the packet id") }
            id = .int(Int64(pid))
            info += " id=\(pid)"
            if v5, let e = skipProperties(&r) { return bad(e) }
            var codes: [AppValue] = []
            var texts: [String] = []
            while r.remaining > 0, let c = r.u8() {
                codes.append(.int(Int64(c)))
                texts.append(String(c))
            }
            if type == 9 {
                fields.append(AppField("granted", .list(codes)))
                info += " granted=" + texts.joined(separator: ",")
            } else if v5 {
                fields.append(AppField("reason_codes", .list(codes)))
            }
            reply = answer("mq|\(m.otherSide)|\(type == 9 ? "sub" : "unsub")|\(pid)", responseType: name, m: m)
        case 12: // PINGREQ
            expect("mq|\(m.side)|ping", proto: .mqtt, what: name, requestType: name, m: m)
        case 13: // PINGRESP
            reply = answer("mq|\(m.otherSide)|ping", responseType: name, m: m)
        case 14, 15: // DISCONNECT AUTH
            if v5 || type == 15, r.remaining > 0, let rc = r.u8() {
                fields.append(AppField("reason_code", .int(Int64(rc))))
                if rc != 0 { info += " reason_code=\(rc)" }
                if r.remaining > 0, let e = skipProperties(&r) { return bad(e) }
            }
        default:
            break
        }
        if let t = fields.first(where: { $0.name == "properties" }), case .object(let props) = t.value,
           let rs = props.first(where: { $0.name == "reason_string" }), case .string(let text) = rs.value {
            info += " " + clip(jsonQuoted(text), 60)
        }
        return (AppMessage(proto: .mqtt, type: name, id: id, fields: fields, info: info, replyTo: reply, problem: propertyProblem), false)
    }

}

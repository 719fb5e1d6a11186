// Helpers for the App stage's tests: feeding hand-built messages to an AppSession, and building
// MQTT packets byte by byte. Every input in these tests is hand-built (not captured traffic).
@testable import WSApp

/// Feeds one message; `length` defaults to the bytes' count (a complete message).
@discardableResult
func feed(_ s: AppSession, client: Bool, text: Bool = true, _ bytes: [UInt8], packet: Int, time: Int64,
          length: UInt64? = nil, complete: Bool = true) -> [AppMessage] {
    bytes.withUnsafeBytes {
        s.message(fromClient: client, text: text, payload: $0, length: length ?? UInt64(bytes.count),
                  payloadComplete: complete, packet: packet, time: time)
    }
}

@discardableResult
func feed(_ s: AppSession, client: Bool, _ text: String, packet: Int, time: Int64) -> [AppMessage] {
    feed(s, client: client, text: true, Array(text.utf8), packet: packet, time: time)
}

/// One MQTT packet: the fixed header (type, flags, remaining length) and the body.
func mqttPacket(_ type: UInt8, flags: UInt8 = 0, _ body: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [type << 4 | flags]
    var n = body.count
    repeat {
        var d = UInt8(n % 128)
        n /= 128
        if n > 0 { d |= 0x80 }
        out.append(d)
    } while n > 0
    return out + body
}

/// An MQTT UTF-8 string: 2-byte length and the bytes.
func mqttString(_ s: String) -> [UInt8] {
    let u = Array(s.utf8)
    return [UInt8(u.count >> 8), UInt8(u.count & 0xFF)] + u
}

func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

/// A CONNECT for protocol level `level` (v5: an empty property block, or `props`).
func mqttConnect(clientID: String, level: UInt8 = 4, keepAlive: Int = 60, username: String? = nil,
                 password: String? = nil, will: (topic: String, payload: String)? = nil, props: [UInt8] = [0]) -> [UInt8] {
    var flags: UInt8 = 0x02
    if will != nil { flags |= 0x04 }
    if username != nil { flags |= 0x80 }
    if password != nil { flags |= 0x40 }
    var body = mqttString("MQTT") + [level, flags] + u16(keepAlive)
    if level == 5 { body += props }
    body += mqttString(clientID)
    if let will {
        if level == 5 { body += [0] }
        body += mqttString(will.topic) + mqttString(will.payload)
    }
    if let username { body += mqttString(username) }
    if let password { body += mqttString(password) }
    return mqttPacket(1, body)
}

extension AppMessage {
    func int(_ name: String) -> Int64? {
        if case .int(let v)? = field(name) { return v }
        return nil
    }
    func string(_ name: String) -> String? {
        if case .string(let v)? = field(name) { return v }
        return nil
    }
    func json(_ name: String) -> String? {
        if case .json(let v)? = field(name) { return v }
        return nil
    }
    func bool(_ name: String) -> Bool? {
        if case .bool(let v)? = field(name) { return v }
        return nil
    }
}

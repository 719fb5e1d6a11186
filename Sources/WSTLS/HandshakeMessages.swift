/// Bounds-checked reads over a handshake message body.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var position: Int

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes; position = bytes.startIndex }

    var remaining: Int { bytes.endIndex - position }

    mutating func u8() -> UInt8? {
        guard position < bytes.endIndex else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func u24() -> Int? {
        guard remaining >= 3 else { return nil }
        defer { position += 3 }
        return Int(bytes[position]) << 16 | Int(bytes[position + 1]) << 8 | Int(bytes[position + 2])
    }

    mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
        guard n >= 0, remaining >= n else { return nil }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    /// A vector with a length prefix of 1 or 2 bytes.
    mutating func vector8() -> ArraySlice<UInt8>? { u8().flatMap { take(Int($0)) } }
    mutating func vector16() -> ArraySlice<UInt8>? { u16().flatMap { take(Int($0)) } }

    /// Extensions as (type, body), until the block ends or breaks.
    mutating func extensions() -> [(UInt16, ArraySlice<UInt8>)] {
        guard let block = vector16() else { return [] }
        var r = ByteReader(block)
        var out: [(UInt16, ArraySlice<UInt8>)] = []
        while r.remaining >= 4, let type = r.u16(), let body = r.vector16() { out.append((type, body)) }
        return out
    }
}

/// What the TLS stage reads from a ClientHello (RFC 8446 section 4.1.2).
public struct ClientHelloInfo: Sendable, Equatable {
    public var random: [UInt8]
    public var sessionID: [UInt8]
    public var serverName: String?
    public var alpn: [String] = []
    /// supported_versions, when present.
    public var versions: [UInt16] = []
    /// TLS 1.2 session_ticket extension contents (non-empty: resumption by ticket offered).
    public var ticket: [UInt8] = []
    /// pre_shared_key offered (TLS 1.3 resumption).
    public var offersPSK = false
    public var offersEarlyData = false

    static func parse(_ body: ArraySlice<UInt8>) -> ClientHelloInfo? {
        var r = ByteReader(body)
        guard r.u16() != nil, let random = r.take(32), let session = r.vector8(),
              r.vector16() != nil, r.vector8() != nil else { return nil }
        var info = ClientHelloInfo(random: Array(random), sessionID: Array(session))
        for (type, ext) in r.extensions() {
            var e = ByteReader(ext)
            switch type {
            case 0:
                if let list = e.vector16() {
                    var l = ByteReader(list)
                    while let nameType = l.u8(), let name = l.vector16() {
                        if nameType == 0 { info.serverName = String(decoding: name, as: UTF8.self); break }
                    }
                }
            case 16:
                if let list = e.vector16() {
                    var l = ByteReader(list)
                    while let proto = l.vector8() { info.alpn.append(String(decoding: proto, as: UTF8.self)) }
                }
            case 43:
                if let list = e.vector8() {
                    var l = ByteReader(list)
                    while let v = l.u16() { info.versions.append(v) }
                }
            case 35: info.ticket = Array(ext)
            case 41: info.offersPSK = true
            case 42: info.offersEarlyData = true
            default: break
            }
        }
        return info
    }
}

/// What the TLS stage reads from a ServerHello.
public struct ServerHelloInfo: Sendable, Equatable {
    public var random: [UInt8]
    public var sessionID: [UInt8]
    public var suite: UInt16
    /// The negotiated version: supported_versions when present, else the legacy field.
    public var version: UInt16
    public var alpn: String?
    public var encryptThenMAC = false
    /// TLS 1.3: the server chose a pre-shared key (resumption).
    public var acceptsPSK = false
    public var isHelloRetryRequest = false

    /// SHA-256("HelloRetryRequest"): a ServerHello with this random is a HelloRetryRequest.
    static let helloRetryRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    static func parse(_ body: ArraySlice<UInt8>) -> ServerHelloInfo? {
        var r = ByteReader(body)
        guard let legacy = r.u16(), let random = r.take(32), let session = r.vector8(),
              let suite = r.u16(), r.u8() != nil else { return nil }
        var info = ServerHelloInfo(random: Array(random), sessionID: Array(session), suite: suite, version: legacy)
        info.isHelloRetryRequest = info.random == ServerHelloInfo.helloRetryRandom
        for (type, ext) in r.extensions() {
            var e = ByteReader(ext)
            switch type {
            case 43: if let v = e.u16() { info.version = v }
            case 16:
                if let list = e.vector16() {
                    var l = ByteReader(list)
                    if let proto = l.vector8() { info.alpn = String(decoding: proto, as: UTF8.self) }
                }
            case 22: info.encryptThenMAC = true
            case 41: info.acceptsPSK = true
            default: break
            }
        }
        return info
    }
}

/// ALPN from a TLS 1.3 EncryptedExtensions message.
func encryptedExtensionsALPN(_ body: ArraySlice<UInt8>) -> String? {
    var r = ByteReader(body)
    for (type, ext) in r.extensions() where type == 16 {
        var e = ByteReader(ext)
        if let list = e.vector16() {
            var l = ByteReader(list)
            if let proto = l.vector8() { return String(decoding: proto, as: UTF8.self) }
        }
    }
    return nil
}

/// The ticket of a TLS 1.2 NewSessionTicket (RFC 5077 section 3.3).
func tls12Ticket(_ body: ArraySlice<UInt8>) -> [UInt8]? {
    var r = ByteReader(body)
    guard r.take(4) != nil, let ticket = r.vector16() else { return nil }
    return Array(ticket)
}

/// What a TLS ClientHello / ServerHello says in the clear: SNI and ALPN. Bounds-checked: a
/// truncated or malformed hello yields what could be read.
struct TLSHello: Sendable, Equatable {
    var isClientHello: Bool
    var serverName: String?
    var alpn: [String] = []

    /// Whether `bytes` start a TLS handshake record (0x16 0x03 0x00-0x04); nil when too short.
    static func looksLikeHandshakeRecord(_ bytes: UnsafeRawBufferPointer) -> Bool? {
        if bytes.count >= 1 && bytes[0] != 0x16 { return false }
        if bytes.count >= 2 && bytes[1] != 0x03 { return false }
        if bytes.count >= 3 { return bytes[2] <= 0x04 }
        return nil
    }

    /// Total length of the record starting at `bytes` (5-byte header included), when known.
    static func recordLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 5 else { return nil }
        return 5 + (Int(bytes[3]) << 8 | Int(bytes[4]))
    }

    /// Parses the handshake message in the first record of `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> TLSHello? {
        var reader = Reader(bytes: bytes, position: 5)
        guard bytes.count > 5, let type = reader.u8(), type == 1 || type == 2,
              reader.skip(3), reader.skip(2), reader.skip(32) else { return nil }
        var hello = TLSHello(isClientHello: type == 1)
        guard let sessionLength = reader.u8(), reader.skip(Int(sessionLength)) else { return hello }
        if type == 1 {
            guard let suites = reader.u16(), reader.skip(Int(suites)),
                  let compression = reader.u8(), reader.skip(Int(compression)) else { return hello }
        } else {
            guard reader.skip(3) else { return hello }
        }
        guard let extensionsLength = reader.u16() else { return hello }
        let end = min(reader.position + Int(extensionsLength), bytes.count)
        while reader.position + 4 <= end {
            guard let extType = reader.u16(), let extLength = reader.u16() else { break }
            let extEnd = reader.position + Int(extLength)
            guard extEnd <= end else { break }
            var ext = Reader(bytes: UnsafeRawBufferPointer(rebasing: bytes[..<extEnd]), position: reader.position)
            if extType == 0, let listLength = ext.u16() {
                let listEnd = min(ext.position + Int(listLength), extEnd)
                while ext.position + 3 <= listEnd {
                    guard let nameType = ext.u8(), let nameLength = ext.u16(),
                          let name = ext.bytes(Int(nameLength)) else { break }
                    if nameType == 0 { hello.serverName = String(decoding: name, as: UTF8.self); break }
                }
            } else if extType == 16, let listLength = ext.u16() {
                let listEnd = min(ext.position + Int(listLength), extEnd)
                while ext.position < listEnd {
                    guard let length = ext.u8(), let proto = ext.bytes(Int(length)) else { break }
                    hello.alpn.append(String(decoding: proto, as: UTF8.self))
                }
            }
            reader.position = extEnd
        }
        return hello
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var position: Int

        mutating func u8() -> UInt8? {
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func u16() -> UInt16? {
            guard position + 2 <= bytes.count else { return nil }
            defer { position += 2 }
            return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
        }

        mutating func skip(_ count: Int) -> Bool {
            guard count >= 0, position + count <= bytes.count else { return false }
            position += count
            return true
        }

        mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer? {
            guard count >= 0, position + count <= bytes.count else { return nil }
            defer { position += count }
            return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
        }
    }
}

import WSDecode

extension ByteBuffer {
    /// `address.text`: IPv4 digits written in place, IPv6 through `IPAddress.text`.
    mutating func append(address: IPAddress) {
        guard !address.isIPv6 else { appendUTF8(address.text); return }
        let v = UInt32(truncatingIfNeeded: address.low)
        appendSmallDecimal(Int(v >> 24))
        append(0x2e)
        appendSmallDecimal(Int((v >> 16) & 0xff))
        append(0x2e)
        appendSmallDecimal(Int((v >> 8) & 0xff))
        append(0x2e)
        appendSmallDecimal(Int(v & 0xff))
    }

    /// `endpoint.text` ("10.0.1.85:20084", "[::1]:443") without building a `String` for IPv4.
    mutating func append(endpoint: Endpoint) {
        guard !endpoint.address.isIPv6 else { appendUTF8(endpoint.text); return }
        append(address: endpoint.address)
        append(0x3a)
        appendDecimal(UInt64(endpoint.port))
    }
}

/// The text of recently seen IPv4 endpoints ("10.0.1.85:20084") in a small direct-mapped
/// table: a hit is a compare and a 24-byte copy instead of five numbers to format. Fixed size,
/// so memory stays bounded whatever the number of connections.
final class EndpointTextCache {
    private static let slots = 4096
    /// Bytes per slot: a length byte, then up to 21 bytes of text ("255.255.255.255:65535").
    private static let slotSize = 24
    /// Per slot: 1 << 63 | address << 16 | port, or 0 when empty.
    private let keys: UnsafeMutablePointer<UInt64>
    private let texts: UnsafeMutablePointer<UInt8>

    init() {
        keys = .allocate(capacity: Self.slots)
        keys.initialize(repeating: 0, count: Self.slots)
        texts = .allocate(capacity: Self.slots * Self.slotSize)
        texts.initialize(repeating: 0, count: Self.slots * Self.slotSize)
    }

    deinit {
        keys.deallocate()
        texts.deallocate()
    }

    /// Appends `endpoint.text`.
    func append(_ endpoint: Endpoint, to out: inout ByteBuffer) {
        guard !endpoint.address.isIPv6 else { out.append(endpoint: endpoint); return }
        let key = 1 << 63 | (endpoint.address.low & 0xffff_ffff) << 16 | UInt64(endpoint.port)
        let slot = Int(truncatingIfNeeded: (key &* 0x9e37_79b9_7f4a_7c15) >> 52)  // top 12 bits: 4096 slots
        let text = texts + slot * Self.slotSize
        if keys[slot] == key {
            let length = Int(text[0])
            out.reserve(Self.slotSize)
            // The whole slot after the length byte (23 bytes) in three overlapping words.
            let source = UnsafeRawPointer(text + 1), target = UnsafeMutableRawPointer(out.base + out.count)
            target.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self)
            target.storeBytes(of: source.loadUnaligned(fromByteOffset: 8, as: UInt64.self), toByteOffset: 8, as: UInt64.self)
            target.storeBytes(of: source.loadUnaligned(fromByteOffset: 15, as: UInt64.self), toByteOffset: 15, as: UInt64.self)
            out.count += length
            return
        }
        let from = out.count
        out.append(endpoint: endpoint)
        let length = out.count - from
        guard length < Self.slotSize else { return }
        text[0] = UInt8(length)
        (text + 1).update(from: out.base + from, count: length)
        keys[slot] = key
    }
}

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

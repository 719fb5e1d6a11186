/// An IPv4 or IPv6 address as a small value (no heap storage).
public struct IPAddress: Sendable, Hashable, Comparable {
    /// High and low 64 bits of the IPv6 address; IPv4 lives in the low 32 bits of `low`.
    public var high: UInt64
    public var low: UInt64
    public var isIPv6: Bool

    @inlinable
    public init(ipv4 value: UInt32) {
        high = 0
        low = UInt64(value)
        isIPv6 = false
    }

    @inlinable
    public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
        isIPv6 = true
    }

    /// Written out (not synthesized) so that other modules inline it: every packet's flow key compares two.
    @inlinable
    public static func == (a: IPAddress, b: IPAddress) -> Bool {
        a.low == b.low && a.high == b.high && a.isIPv6 == b.isIPv6
    }

    @inlinable
    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.isIPv6 != b.isIPv6 { return !a.isIPv6 }
        if a.high != b.high { return a.high < b.high }
        return a.low < b.low
    }

    /// Dotted quad for IPv4; RFC 5952 text for IPv6 (lowercase, longest zero run as "::").
    public var text: String {
        if !isIPv6 {
            let v = UInt32(truncatingIfNeeded: low)
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(i)))
            groups[i + 4] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(i)))
        }
        // IPv4-mapped addresses keep the dotted tail (RFC 5952 section 5).
        if high == 0 && (low >> 32) == 0xffff {
            return "::ffff:" + IPAddress(ipv4: UInt32(truncatingIfNeeded: low)).text
        }
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                let length = i - runStart
                if length > bestLength && length >= 2 { bestStart = runStart; bestLength = length }
                runStart = -1
            }
        }
        var out = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                out += "::"
                i += bestLength
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(groups[i], radix: 16)
            i += 1
        }
        return out
    }
}

/// An address and a port.
public struct Endpoint: Sendable, Hashable, Comparable {
    public var address: IPAddress
    public var port: UInt16

    @inlinable
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    @inlinable
    public static func == (a: Endpoint, b: Endpoint) -> Bool {
        a.port == b.port && a.address == b.address
    }

    @inlinable
    public static func < (a: Endpoint, b: Endpoint) -> Bool {
        a.address != b.address ? a.address < b.address : a.port < b.port
    }

    /// "ip:port", IPv6 as "[addr]:port".
    public var text: String {
        address.isIPv6 ? "[\(address.text)]:\(port)" : "\(address.text):\(port)"
    }
}

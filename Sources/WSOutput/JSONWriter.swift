/// Appends JSON to a byte buffer, with commas placed automatically. Always valid UTF-8 JSON:
/// strings come from Swift `String`s (valid Unicode) and are escaped per RFC 8259.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = []
    private var afterKey = false

    public init() {
        bytes.reserveCapacity(1024)
    }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma.removeAll(keepingCapacity: true)
        afterKey = false
    }

    private mutating func separate() {
        if afterKey { afterKey = false; return }
        if let last = needsComma.last {
            if last { bytes.append(0x2c) }
            needsComma[needsComma.count - 1] = true
        }
    }

    public mutating func beginObject() { separate(); bytes.append(0x7b); needsComma.append(false) }
    public mutating func endObject() { needsComma.removeLast(); bytes.append(0x7d) }
    public mutating func beginArray() { separate(); bytes.append(0x5b); needsComma.append(false) }
    public mutating func endArray() { needsComma.removeLast(); bytes.append(0x5d) }

    public mutating func key(_ k: String) {
        separate()
        appendString(k)
        bytes.append(0x3a)
        afterKey = true
    }

    public mutating func string(_ s: String) { separate(); appendString(s) }
    public mutating func int<T: BinaryInteger>(_ v: T) {
        separate()
        if let small = Int64(exactly: v) { appendInteger(small) } else { appendASCII(String(v)) }
    }
    public mutating func bool(_ v: Bool) { separate(); appendASCII(v ? "true" : "false") }
    public mutating func null() { separate(); appendASCII("null") }
    /// A number already formatted (e.g. "1700000000.123456789").
    public mutating func number(_ text: String) { separate(); appendASCII(text) }

    public mutating func field(_ k: String, _ s: String?) { key(k); if let s { string(s) } else { null() } }
    public mutating func field<T: BinaryInteger>(_ k: String, _ v: T?) { key(k); if let v { int(v) } else { null() } }
    public mutating func field(_ k: String, _ v: Bool?) { key(k); if let v { bool(v) } else { null() } }
    public mutating func field(_ k: String, seconds ns: Int64?, decimals: Int = 9) {
        key(k)
        guard let ns else { null(); return }
        separate()
        appendSeconds(ns, decimals: decimals)
    }

    /// Decimal digits of `v`, written straight into the buffer.
    private mutating func appendInteger(_ v: Int64) {
        if v < 0 {
            bytes.append(0x2d)
            if v == Int64.min { appendASCII("9223372036854775808"); return }
        }
        var magnitude = v < 0 ? UInt64(-v) : UInt64(v)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, no heap
        var count = 0
        withUnsafeMutableBytes(of: &digits) { scratch in
            repeat {
                scratch[23 - count] = UInt8(truncatingIfNeeded: 0x30 + magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[(24 - count)...]))
        }
    }

    /// Seconds from nanoseconds with `decimals` places (6 or 9), as a JSON number.
    private mutating func appendSeconds(_ ns: Int64, decimals: Int) {
        if ns < 0 { bytes.append(0x2d) }
        let magnitude = ns < 0 ? UInt64(-ns) : UInt64(ns)
        appendInteger(Int64(magnitude / 1_000_000_000))
        guard decimals > 0 else { return }
        var fraction = magnitude % 1_000_000_000
        var places = 9
        while places > decimals { fraction /= 10; places -= 1 }
        bytes.append(0x2e)
        var divisor: UInt64 = 1
        for _ in 1..<places { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(truncatingIfNeeded: 0x30 + (fraction / divisor) % 10))
            divisor /= 10
        }
    }
    public mutating func field(_ k: String, strings: [String]) {
        key(k)
        beginArray()
        for s in strings { string(s) }
        endArray()
    }
    public mutating func field<T: BinaryInteger>(_ k: String, ints: [T]) {
        key(k)
        beginArray()
        for v in ints { int(v) }
        endArray()
    }

    private mutating func appendASCII(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// True when no byte is a control byte, `"`, `\\` or DEL: checked 8 bytes at a time.
    @inline(__always)
    static func needsNoEscape(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            let x = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // A byte below 0x20 (ASCII only: bytes >= 0x80 are UTF-8 and fine), or equal to ", \ or DEL.
            let below = (x &- ones &* 0x20) & ~x & highs
            let quote = x ^ (ones &* 0x22), slash = x ^ (ones &* 0x5c), del = x ^ (ones &* 0x7f)
            let equal = ((quote &- ones) & ~quote | (slash &- ones) & ~slash | (del &- ones) & ~del) & highs
            if below | equal != 0 { return false }
            i += 8
        }
        while i < n {
            let b = bytes[i]
            if b < 0x20 || b == 0x22 || b == 0x5c || b == 0x7f { return false }
            i += 1
        }
        return true
    }

    private mutating func appendString(_ s: String) {
        bytes.append(0x22)
        var s = s
        s.withUTF8 { utf8 in
            // Most strings need no escape: copy them whole.
            let clean = JSONWriter.needsNoEscape(UnsafeRawBufferPointer(utf8))
            if clean {
                bytes.append(contentsOf: utf8)
                return
            }
            for b in utf8 {
                switch b {
                case 0x22: bytes.append(0x5c); bytes.append(0x22)
                case 0x5c: bytes.append(0x5c); bytes.append(0x5c)
                case 0x0a: bytes.append(0x5c); bytes.append(0x6e)
                case 0x0d: bytes.append(0x5c); bytes.append(0x72)
                case 0x09: bytes.append(0x5c); bytes.append(0x74)
                case 0..<0x20, 0x7f:
                    bytes.append(contentsOf: [0x5c, 0x75, 0x30, 0x30])
                    let digits: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(digits[Int(b >> 4)])
                    bytes.append(digits[Int(b & 0xf)])
                default: bytes.append(b)
                }
            }
        }
        bytes.append(0x22)
    }
}

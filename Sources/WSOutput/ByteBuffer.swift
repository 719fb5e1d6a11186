#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Growable bytes on the heap, appended to without the uniqueness checks and reference
/// counting of `[UInt8]`: the storage under the JSON writer and the output sink.
///
/// Not copyable: it has one owner and frees its memory when that owner goes away.
struct ByteBuffer: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    /// Bytes written so far; lowering it drops the bytes past the new count.
    var count: Int
    private(set) var capacity: Int

    init(capacity: Int = 1024) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        count = 0
    }

    deinit { base.deallocate() }

    var isEmpty: Bool { count == 0 }

    /// Room for `n` more bytes.
    @inline(__always)
    mutating func reserve(_ n: Int) {
        if capacity - count < n { grow(toAtLeast: count + n) }
    }

    @inline(never)
    private mutating func grow(toAtLeast minimum: Int) {
        var newCapacity = capacity * 2
        while newCapacity < minimum { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    mutating func removeAll() { count = 0 }

    /// Runs `body` with a cursor at the end, after reserving `n` bytes: `body` writes at most that many.
    @inline(__always)
    mutating func withCursor(reserving n: Int, _ body: (inout ByteCursor) -> Void) {
        reserve(n)
        var c = ByteCursor(p: base + count)
        body(&c)
        count = c.p - base
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        reserve(n)
        copyBytes(from: bytes.baseAddress!, count: n, to: base + count)
        count += n
    }

    /// A literal, copied as UTF-8.
    @inline(__always)
    mutating func append(_ literal: StaticString) {
        literal.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
    }

    /// A string's UTF-8, as is (no escaping).
    mutating func appendUTF8(_ string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// `n` copies of `byte` (padding), written in one go.
    @inline(__always)
    mutating func append(_ byte: UInt8, repeated n: Int) {
        guard n > 0 else { return }
        reserve(n)
        (base + count).initialize(repeating: byte, count: n)
        count += n
    }

    /// Decimal digits of `v`, as `String(v)` spells them: two digits at a time from a table.
    mutating func appendDecimal(_ v: UInt64) {
        withCursor(reserving: 20) { $0.decimal(v) }
    }

    /// Decimal digits of `v` with a leading "-" when negative, as `String(v)` spells them.
    @inline(__always)
    mutating func appendDecimal<T: BinaryInteger>(_ v: T) {
        if let unsigned = UInt64(exactly: v) {
            appendDecimal(unsigned)
        } else if let signed = Int64(exactly: v) {
            append(0x2d)
            appendDecimal(signed.magnitude)
        } else {
            appendUTF8(String(v))
        }
    }

    /// `v` as exactly `width` decimal digits, zero-padded on the left (`v` < 10^width).
    mutating func appendDecimal(_ v: UInt64, width: Int) {
        withCursor(reserving: max(width, 0)) { $0.decimal(v, width: width) }
    }

    /// A number below 1000 (an IPv4 address byte), without counting digits in a loop.
    @inline(__always)
    mutating func appendSmallDecimal(_ v: Int) {
        reserve(3)
        let p = base + count
        if v < 10 {
            p[0] = 0x30 &+ UInt8(truncatingIfNeeded: v)
            count += 1
        } else if v < 100 {
            p[0] = digitPairs[2 * v]
            p[1] = digitPairs[2 * v + 1]
            count += 2
        } else {
            let low = v % 100
            p[0] = 0x30 &+ UInt8(truncatingIfNeeded: v / 100)
            p[1] = digitPairs[2 * low]
            p[2] = digitPairs[2 * low + 1]
            count += 3
        }
    }

    /// Two lowercase hex digits.
    @inline(__always)
    mutating func appendHex(_ byte: UInt8) {
        reserve(2)
        base[count] = hexDigit(byte >> 4)
        base[count + 1] = hexDigit(byte & 0xf)
        count += 2
    }

    /// The bytes from `offset` to the end.
    func bytes(from offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + offset, count: count - offset)
    }

    /// Whether the bytes from `offset` end with `literal`.
    func ends(with literal: StaticString, from offset: Int) -> Bool {
        literal.withUTF8Buffer { suffix in
            suffix.count <= count - offset && memcmp(base + count - suffix.count, suffix.baseAddress!, suffix.count) == 0
        }
    }

    /// The bytes from `offset` to the end as a `String` (invalid UTF-8 repaired, as `String(decoding:)` does).
    func string(from offset: Int = 0) -> String {
        String(decoding: bytes(from: offset), as: UTF8.self)
    }
}

@inline(__always)
func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble
}

/// "00" "01" ... "99": the two digits of each value below 100, for `appendDecimal`.
private var digitPairs: UnsafePointer<UInt8> {
    let pairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """
    return pairs.utf8Start
}

/// The two digits of `n` < 100, as they lie in memory.
@inline(__always)
private func digitPair(_ n: Int) -> UInt16 {
    UnsafeRawPointer(digitPairs + 2 * n).loadUnaligned(as: UInt16.self)
}

/// Writes the last `2 * pairs` decimal digits of `rest` just before `end`, two at a time from
/// the table, moving `end` back over them and dividing them out of `rest`.
@inline(__always)
private func writeDigitPairs(_ rest: inout UInt64, before end: inout UnsafeMutablePointer<UInt8>, pairs: Int) {
    for _ in 0..<pairs {
        let pair = Int(truncatingIfNeeded: rest % 100)
        rest /= 100
        end -= 2
        end[0] = digitPairs[2 * pair]
        end[1] = digitPairs[2 * pair + 1]
    }
}

/// Number of decimal digits of `v` (`v` > 0): from the bit length, corrected by one compare.
@inline(__always)
func decimalDigitCount(_ v: UInt64) -> Int {
    let bits = 64 - (v | 1).leadingZeroBitCount
    let guess = (bits &* 1233) >> 12  // floor(bits * log10(2)): digits - 1 or digits
    return v >= powerOfTen(guess) ? guess + 1 : guess
}

/// 10^n for n in 0...19 (1 past that, never reached by `decimalDigitCount`).
@inline(__always)
private func powerOfTen(_ n: Int) -> UInt64 {
    switch n {
    case 0: return 1
    case 1: return 10
    case 2: return 100
    case 3: return 1_000
    case 4: return 10_000
    case 5: return 100_000
    case 6: return 1_000_000
    case 7: return 10_000_000
    case 8: return 100_000_000
    case 9: return 1_000_000_000
    case 10: return 10_000_000_000
    case 11: return 100_000_000_000
    case 12: return 1_000_000_000_000
    case 13: return 10_000_000_000_000
    case 14: return 100_000_000_000_000
    case 15: return 1_000_000_000_000_000
    case 16: return 10_000_000_000_000_000
    case 17: return 100_000_000_000_000_000
    case 18: return 1_000_000_000_000_000_000
    default: return 10_000_000_000_000_000_000
    }
}

/// `memcpy` for the short runs JSON is made of (keys, numbers, names): up to 16 bytes are
/// moved with two overlapping loads and stores instead of a call.
@inline(__always)
func copyBytes(from source: UnsafeRawPointer, count n: Int, to target: UnsafeMutablePointer<UInt8>) {
    let target = UnsafeMutableRawPointer(target)
    if n > 16 {
        target.copyMemory(from: source, byteCount: n)
    } else if n >= 8 {
        let head = source.loadUnaligned(as: UInt64.self), tail = source.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        target.storeBytes(of: head, as: UInt64.self)
        target.storeBytes(of: tail, toByteOffset: n - 8, as: UInt64.self)
    } else if n >= 4 {
        let head = source.loadUnaligned(as: UInt32.self), tail = source.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        target.storeBytes(of: head, as: UInt32.self)
        target.storeBytes(of: tail, toByteOffset: n - 4, as: UInt32.self)
    } else {
        for i in 0..<n { target.storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self) }
    }
}

/// A write position in a `ByteBuffer` whose room was reserved beforehand (`JSONWriter.withCursor`):
/// a run of literals and numbers written with no capacity check or count update per piece.
struct ByteCursor {
    var p: UnsafeMutablePointer<UInt8>

    /// A literal, copied by overlapping word loads and stores for up to 32 bytes (every key
    /// of an event): a call to `memcpy` per key cost more than the copy.
    @inline(__always)
    mutating func literal(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        let from = UnsafeRawPointer(s.utf8Start), to = UnsafeMutableRawPointer(p)
        if n >= 8 && n <= 32 {
            // The first and last 8 bytes, and for more than 16 the 8 after the first and before the last.
            let a = from.loadUnaligned(as: UInt64.self)
            let z = from.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            if n > 16 {
                let b = from.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                let y = from.loadUnaligned(fromByteOffset: n - 16, as: UInt64.self)
                to.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
                to.storeBytes(of: y, toByteOffset: n - 16, as: UInt64.self)
            }
            to.storeBytes(of: a, as: UInt64.self)
            to.storeBytes(of: z, toByteOffset: n - 8, as: UInt64.self)
        } else if n >= 4 && n < 8 {
            let a = from.loadUnaligned(as: UInt32.self)
            let z = from.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
            to.storeBytes(of: a, as: UInt32.self)
            to.storeBytes(of: z, toByteOffset: n - 4, as: UInt32.self)
        } else if n < 4 {
            // A line end or a separator: no call.
            for i in 0..<n { p[i] = s.utf8Start[i] }
        } else {
            p.update(from: s.utf8Start, count: n)
        }
        p += n
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        p.pointee = b
        p += 1
    }

    @inline(__always)
    mutating func bytes(_ source: UnsafeRawBufferPointer) {
        guard let start = source.baseAddress, !source.isEmpty else { return }
        // Mostly short (TCP flag names, a protocol name): no call for up to 16 bytes.
        copyBytes(from: start, count: source.count, to: p)
        p += source.count
    }

    /// Decimal digits of `v`, as `String(v)` spells them (at most 20 bytes): two digits at a
    /// time from a table.
    @inline(__always)
    mutating func decimal(_ v: UInt64) {
        if v < 10 { return byte(0x30 &+ UInt8(truncatingIfNeeded: v)) }
        if v < 10_000 { return smallDecimal(Int(truncatingIfNeeded: v)) }
        let digits = decimalDigitCount(v)
        var end = p + digits
        var rest = v
        writeDigitPairs(&rest, before: &end, pairs: digits / 2)
        if digits & 1 == 1 { end[-1] = 0x30 &+ UInt8(truncatingIfNeeded: rest) }
        p += digits
    }

    /// 10 <= `n` < 10,000 (most lengths, windows, stream indexes): two or four digits a pair
    /// at a time, three as a digit and a pair, with no digit count.
    @inline(__always)
    private mutating func smallDecimal(_ n: Int) {
        let to = UnsafeMutableRawPointer(p)
        if n < 100 {
            to.storeBytes(of: digitPair(n), as: UInt16.self)
            p += 2
        } else if n < 1000 {
            let high = n / 100
            p.pointee = 0x30 &+ UInt8(truncatingIfNeeded: high)
            to.storeBytes(of: digitPair(n - high * 100), toByteOffset: 1, as: UInt16.self)
            p += 3
        } else {
            let high = n / 100
            to.storeBytes(of: digitPair(high), as: UInt16.self)
            to.storeBytes(of: digitPair(n - high * 100), toByteOffset: 2, as: UInt16.self)
            p += 4
        }
    }

    /// The same with a leading "-" when negative (at most 21 bytes).
    @inline(__always)
    mutating func decimal(_ v: Int) {
        if v < 0 { byte(0x2d) }
        decimal(UInt64(v.magnitude))
    }

    /// "." and the first `decimals` decimals of a second that has `nanoseconds` (< 10^9) past
    /// it, zero-padded to `decimals` digits (1 + `decimals` bytes); nothing when `decimals` <= 0.
    /// Past 9 decimals the digits stay nanoseconds. Constant divisors, no hardware division.
    @inline(__always)
    mutating func fractionOfSecond(_ nanoseconds: UInt64, decimals: Int) {
        guard decimals > 0 else { return }
        let fraction: UInt64
        switch decimals {
        case 1: fraction = nanoseconds / 100_000_000
        case 2: fraction = nanoseconds / 10_000_000
        case 3: fraction = nanoseconds / 1_000_000
        case 4: fraction = nanoseconds / 100_000
        case 5: fraction = nanoseconds / 10_000
        case 6: fraction = nanoseconds / 1_000
        case 7: fraction = nanoseconds / 100
        case 8: fraction = nanoseconds / 10
        default: fraction = nanoseconds
        }
        byte(0x2e)
        decimal(fraction, width: decimals)
    }

    /// Exactly `width` digits of `v` < 10^width, zero-padded on the left.
    @inline(__always)
    mutating func decimal(_ v: UInt64, width: Int) {
        var end = p + width
        var rest = v
        writeDigitPairs(&rest, before: &end, pairs: width / 2)
        if width & 1 == 1 { end[-1] = 0x30 &+ UInt8(truncatingIfNeeded: rest % 10) }
        p += width
    }
}

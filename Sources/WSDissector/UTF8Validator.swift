/// A streaming UTF-8 validator (RFC 3629): feed any split of a byte sequence, in order, and
/// ask at the end. Rejects overlong forms, surrogates (U+D800-DFFF) and code points past
/// U+10FFFF. Once invalid it stays invalid.
struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current sequence.
    private var needed: UInt8 = 0
    /// Allowed range of the next continuation byte.
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF
    /// False once an invalid byte was seen.
    private(set) var isValidSoFar = true

    init() {}

    /// True when everything fed is valid and no sequence is left open.
    var isCompleteAndValid: Bool { isValidSoFar && needed == 0 }

    mutating func reset() { self = UTF8Validator() }

    mutating func feed(_ buffer: UnsafeRawBufferPointer) {
        guard isValidSoFar, let base = buffer.baseAddress else { return }
        let count = buffer.count
        var i = 0
        while i < count {
            if needed == 0 {
                // Fast path: eight ASCII bytes at a time.
                while i + 8 <= count,
                      base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                }
                if i >= count { break }
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: needed = 1; low = 0x80; high = 0xBF
                case 0xE0: needed = 2; low = 0xA0; high = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: needed = 2; low = 0x80; high = 0xBF
                case 0xED: needed = 2; low = 0x80; high = 0x9F
                case 0xF0: needed = 3; low = 0x90; high = 0xBF
                case 0xF1...0xF3: needed = 3; low = 0x80; high = 0xBF
                case 0xF4: needed = 3; low = 0x80; high = 0x8F
                default: isValidSoFar = false; return
                }
            } else {
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                guard byte >= low && byte <= high else { isValidSoFar = false; return }
                needed -= 1
                low = 0x80
                high = 0xBF
            }
        }
    }

    mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Whether `bytes` as a whole are valid UTF-8.
    static func isValid(_ buffer: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        validator.feed(buffer)
        return validator.isCompleteAndValid
    }
}

/// Whether `bytes` as a whole are valid UTF-8 (RFC 3629: no overlongs, surrogates or code points
/// past U+10FFFF), the same rule text messages are held to.
public func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    UTF8Validator.isValid(bytes)
}

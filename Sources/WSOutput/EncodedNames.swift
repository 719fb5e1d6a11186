import WSDecode

/// JSON values (or text) encoded once per possible input, looked up by index: the per-event cost of a
/// name list becomes one copy. Immutable after it is built (global, never freed).
struct EncodedTable: @unchecked Sendable {
    private let bytes: UnsafeMutablePointer<UInt8>
    /// Entry `i` is `bytes[offsets[i]..<offsets[i + 1]]`.
    private let offsets: UnsafeMutablePointer<Int>

    init(count: Int, encode: (Int, inout JSONWriter) -> Void) {
        var w = JSONWriter()
        offsets = .allocate(capacity: count + 1)
        for i in 0..<count {
            offsets[i] = w.out.count
            encode(i, &w)
            w.beginDocument()
        }
        offsets[count] = w.out.count
        bytes = .allocate(capacity: max(w.out.count, 1))
        bytes.update(from: w.out.base, count: w.out.count)
    }

    subscript(i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + offsets[i], count: offsets[i + 1] - offsets[i])
    }
}

extension TCPFlags {
    /// `names` as a JSON array (`["SYN","ACK"]`), for each of the 512 combinations of the 9 bits.
    private static let jsonTable = EncodedTable(count: 512) { bits, w in
        w.beginArray()
        for name in TCPFlags(rawValue: UInt16(bits)).names { w.string(name) }
        w.endArray()
    }

    var namesJSON: UnsafeRawBufferPointer { TCPFlags.jsonTable[Int(rawValue & 0x1ff)] }

    /// `joinedNames` ("SYN, ACK") as UTF-8, for each of the 512 combinations.
    private static let joinedTable = EncodedTable(count: 512) { bits, w in
        w.out.appendUTF8(TCPFlags(rawValue: UInt16(bits)).joinedNames)
    }

    var joinedNamesUTF8: UnsafeRawBufferPointer { TCPFlags.joinedTable[Int(rawValue & 0x1ff)] }
}

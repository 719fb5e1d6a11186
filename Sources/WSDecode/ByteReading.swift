/// Bounds-unchecked big-endian loads; callers check lengths first.
extension UnsafeRawBufferPointer {
    @inline(__always) @usableFromInline
    func u8(_ offset: Int) -> UInt8 { self[offset] }

    @inline(__always) @usableFromInline
    func u16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always) @usableFromInline
    func u32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always) @usableFromInline
    func u64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// The bytes from `offset` to the end (empty when `offset` is past it).
    @inline(__always)
    func tail(from offset: Int) -> UnsafeRawBufferPointer {
        guard offset < count else { return UnsafeRawBufferPointer(start: baseAddress.map { $0 + count }, count: 0) }
        return UnsafeRawBufferPointer(rebasing: self[offset...])
    }

    /// `length` bytes from `offset`, cut at the end.
    @inline(__always)
    func slice(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer {
        let start = Swift.min(offset, count)
        let end = Swift.min(count, start + Swift.max(0, length))
        return UnsafeRawBufferPointer(rebasing: self[start..<end])
    }
}

/// Reads bytes back from the capture's files: `count` bytes of file `file` (its index in the
/// order the files were given) at byte `offset`, into `into`. False when they cannot be read.
/// Called from any worker thread.
public typealias CapturedBytesReader = @Sendable (_ file: Int, _ offset: Int64, _ count: Int,
                                                  _ into: UnsafeMutableRawPointer) -> Bool

/// Where the packet being analysed lies in its capture file, so that the bytes a direction
/// delivers are remembered by where they are in the file rather than copied (see
/// `HalfStream.remember`). `offset` < 0: not known (libpcap's reading, a live capture,
/// standard input), and delivered bytes are copied.
public struct PacketOrigin {
    public var base: UnsafeRawPointer?
    public var count: Int
    public var file: Int
    public var offset: Int64

    public init(bytes: UnsafeRawBufferPointer, file: Int, offset: Int64) {
        base = bytes.baseAddress
        count = bytes.count
        self.file = file
        self.offset = offset
    }

    public static var unknown: PacketOrigin { PacketOrigin(bytes: UnsafeRawBufferPointer(start: nil, count: 0), file: 0, offset: -1) }

    /// The file offset of `bytes` when they lie inside the packet's own bytes (not a
    /// reassembly buffer's), else -1.
    @inline(__always)
    func fileOffset(of bytes: UnsafeRawBufferPointer) -> Int64 {
        guard offset >= 0, let base, let b = bytes.baseAddress, b >= base, b + bytes.count <= base + count else { return -1 }
        return offset + Int64(b - base)
    }
}

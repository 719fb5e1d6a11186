#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Buffered output to a file descriptor: one large write instead of one per line.
///
/// A closed pipe (EPIPE, e.g. `| head`) sets `closed`; writers check it and stop quietly.
public final class OutputSink {
    public private(set) var closed = false
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let threshold: Int
    /// Flush after every line (live capture, NDJSON on a pipe that someone reads as it comes).
    public var lineBuffered = false

    public init(fd: Int32 = 1, threshold: Int = 256 << 10) {
        self.fd = fd
        self.threshold = threshold
        buffer.reserveCapacity(threshold + 4096)
    }

    deinit { flush() }

    public func write(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= threshold { flush() }
    }

    public func write(bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= threshold { flush() }
    }

    /// Ends a line; flushes when line-buffered or the buffer is large.
    public func endLine() {
        buffer.append(0x0a)
        if lineBuffered || buffer.count >= threshold { flush() }
    }

    public func flush() {
        guard !buffer.isEmpty else { return }
        if closed { buffer.removeAll(keepingCapacity: true); return }
        var offset = 0
        buffer.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    closed = true  // EPIPE or another failure: stop writing
                    return
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

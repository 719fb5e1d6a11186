#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Buffered output to a file descriptor: one large write instead of one per line.
///
/// A closed pipe (EPIPE, e.g. `| head`) sets `closed`; writers check it and stop quietly.
public final class OutputSink {
    public private(set) var closed = false
    private let fd: Int32
    /// Bytes not written yet. JSON is written straight into it (`writeJSON`), without a copy.
    private var pending: JSONWriter
    private let threshold: Int
    /// Flush after every line (live capture, NDJSON on a pipe that someone reads as it comes).
    public var lineBuffered = false

    public init(fd: Int32 = 1, threshold: Int = 256 << 10) {
        self.fd = fd
        self.threshold = threshold
        pending = JSONWriter(capacity: threshold + 4096)
    }

    deinit { flush() }

    public func write(_ s: String) {
        pending.out.appendUTF8(s)
        if pending.out.count >= threshold { flush() }
    }

    public func write(bytes: [UInt8]) {
        write(bytes: bytes[...])
    }

    func write(bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { pending.out.append($0) }
        if pending.out.count >= threshold { flush() }
    }

    /// Appends one JSON document (no line end) that `body` writes. Inlined, so that what the
    /// closure reads (a whole event) is used in place, not copied into a closure context.
    @inline(__always)
    func writeJSON(_ body: (inout JSONWriter) -> Void) {
        pending.beginDocument()
        body(&pending)
        if pending.out.count >= threshold { flush() }
    }

    /// Appends bytes that `body` writes straight into the pending buffer (no line end).
    @inline(__always)
    func writeBytes(_ body: (inout ByteBuffer) -> Void) {
        body(&pending.out)
        if pending.out.count >= threshold { flush() }
    }

    /// Appends a whole line, its line end included, that `body` writes straight into the
    /// pending buffer; flushes as `endLine` does.
    @inline(__always)
    func writeLine(_ body: (inout ByteBuffer) -> Void) {
        body(&pending.out)
        if lineBuffered || pending.out.count >= threshold { flush() }
    }

    /// Ends a line; flushes when line-buffered or the buffer is large.
    public func endLine() {
        pending.out.append(0x0a)
        if lineBuffered || pending.out.count >= threshold { flush() }
    }

    public func flush() {
        guard !pending.out.isEmpty else { return }
        defer { pending.reset() }
        if closed { return }
        let raw = pending.out.bytes(from: 0)
        var offset = 0
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
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Rendered per-connection summaries kept until the end of the output, in stream order.
///
/// The text and JSON documents print every connection's summary after the timeline, so they
/// must keep them all: with 300,000 connections that was hundreds of MiB of structs. The
/// spool keeps the rendered bytes, in memory up to `threshold`, then in an unlinked temporary
/// file; only a 24-byte index entry per connection stays in memory (issue 7, bounded memory).
final class SummarySpool {
    private var index: [(stream: Int, offset: Int, length: Int)] = []
    private var memory: [UInt8] = []
    private var file: UnsafeMutablePointer<FILE>?
    private var size = 0
    private let threshold: Int

    init(threshold: Int = 256 << 10) { self.threshold = threshold }

    deinit { if let file { fclose(file) } }

    var isEmpty: Bool { index.isEmpty }

    func append(stream: Int, _ bytes: [UInt8]) {
        index.append((stream, size, bytes.count))
        size += bytes.count
        if file == nil && memory.count + bytes.count > threshold, let f = tmpfile() {
            file = f
            write(memory)
            memory = []
        }
        if file != nil { write(bytes) } else { memory.append(contentsOf: bytes) }
    }

    private func read(_ offset: Int, _ length: Int) -> [UInt8] {
        guard let file else { return Array(memory[offset ..< offset + length]) }
        fflush(file)
        var bytes = [UInt8](repeating: 0, count: length)
        let n = bytes.withUnsafeMutableBytes { pread(fileno(file), $0.baseAddress, length, off_t(offset)) }
        return n == length ? bytes : []
    }

    /// Calls `body` with each summary's bytes, by stream number (stable for equal numbers).
    func forEachSorted(_ body: (_ stream: Int, _ bytes: [UInt8]) -> Void) {
        let order = index.enumerated().sorted { ($0.element.stream, $0.offset) < ($1.element.stream, $1.offset) }
        for (_, e) in order {
            let bytes = read(e.offset, e.length)
            if bytes.count == e.length { body(e.stream, bytes) }
        }
    }

    private func write(_ bytes: [UInt8]) {
        guard let file, !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    }
}

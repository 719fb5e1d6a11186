#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Rendered per-connection output kept until the end of the document, in stream order: the
/// text and JSON summaries, and the HTML report's sections.
///
/// The text and JSON documents print every connection's summary after the timeline, so they
/// must keep them all: with 300,000 connections that was hundreds of MiB of structs. The
/// spool keeps the rendered bytes, in memory up to `threshold`, then in an unlinked temporary
/// file; only a small index entry per connection stays in memory (issue 7, bounded memory).
///
/// Nothing is lost quietly: bytes the file does not take (a full disk) stay in memory, and
/// an entry that cannot be read back is counted in `lost`, for the document to say so.
final class SummarySpool {
    private var index: [(stream: Int, offset: Int, length: Int, inFile: Bool)] = []
    private var memory: [UInt8] = []
    private var file: UnsafeMutablePointer<FILE>?
    /// Bytes written to the file; whether it still takes more.
    private var fileSize = 0
    private var fileWritable = false
    private var spillTried = false
    private let threshold: Int
    private let makeFile: () -> UnsafeMutablePointer<FILE>?
    /// Entries that could not be read back from the file (an I/O error).
    private(set) var lost = 0

    /// `makeFile` opens the spill file (an unlinked temporary file; tests give others).
    init(threshold: Int = 256 << 10, makeFile: @escaping () -> UnsafeMutablePointer<FILE>? = { tmpfile() }) {
        self.threshold = threshold
        self.makeFile = makeFile
    }

    deinit { if let file { fclose(file) } }

    var isEmpty: Bool { index.isEmpty }

    func append(stream: Int, _ bytes: [UInt8]) {
        if !spillTried && memory.count + bytes.count > threshold { spill() }
        if fileWritable {
            if bytes.withUnsafeBytes({ write($0, at: fileSize) }) {
                index.append((stream, fileSize, bytes.count, true))
                fileSize += bytes.count
                return
            }
            fileWritable = false  // a failed write: this entry and what follows stay in memory
        }
        index.append((stream, memory.count, bytes.count, false))
        memory.append(contentsOf: bytes)
    }

    /// Moves what memory holds to the file, once; if the file cannot be made or written, the
    /// spool stays in memory.
    private func spill() {
        spillTried = true
        guard let f = makeFile() else { return }
        file = f
        guard memory.withUnsafeBytes({ write($0, at: 0) }) else {
            fclose(f)
            file = nil
            return
        }
        for i in index.indices { index[i].inFile = true }  // memory offsets are the file's
        fileSize = memory.count
        memory = []
        fileWritable = true
    }

    /// Writes all of `bytes` at `offset` (straight to the descriptor: no buffer to fail later).
    private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        guard let file, let base = bytes.baseAddress else { return bytes.isEmpty && file != nil }
        var done = 0
        while done < bytes.count {
            let n = pwrite(fileno(file), base + done, bytes.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    private func read(_ offset: Int, _ length: Int, inFile: Bool) -> [UInt8]? {
        guard inFile else { return Array(memory[offset ..< offset + length]) }
        guard let file else { return nil }
        var bytes = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let n = bytes.withUnsafeMutableBytes { pread(fileno(file), $0.baseAddress! + done, length - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            done += n
        }
        return bytes
    }

    /// Calls `body` with each entry's bytes, by stream number (in the order added for equal
    /// numbers). An entry that cannot be read back is skipped and counted in `lost`.
    func forEachSorted(_ body: (_ stream: Int, _ bytes: [UInt8]) -> Void) {
        let order = index.indices.sorted { (index[$0].stream, $0) < (index[$1].stream, $1) }
        for i in order {
            let e = index[i]
            guard let bytes = read(e.offset, e.length, inFile: e.inFile) else {
                lost += 1
                continue
            }
            body(e.stream, bytes)
        }
    }

    /// What a document says when entries were lost.
    var lostWarning: String? {
        lost == 0 ? nil : "\(lost == 1 ? "1 connection's" : "\(lost) connections'") output could not be read back from the temporary file and is missing"
    }
}

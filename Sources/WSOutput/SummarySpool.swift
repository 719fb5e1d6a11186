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
/// an entry that cannot be read back is counted in `lost`.
///
/// The file is written and read in large pieces, not an entry at a time (the churn benchmark
/// capture's 9,552 text summaries took 9,373 writes and 9,552 reads of about 1.4 KiB each, the
/// reads on one thread after the workers were done): entries bound for the file wait in
/// `pending` until `writeBytes` of them are there, and go to it sorted by stream; the end reads
/// them back by stream in groups of `readBytes` (`forEachSorted`).
final class SummarySpool {
    private var index: [(stream: Int, offset: Int, length: Int, inFile: Bool)] = []
    private var memory: [UInt8] = []
    private var file: UnsafeMutablePointer<FILE>?
    /// Bytes written to the file; whether it still takes more.
    private var fileSize = 0
    private var fileWritable = false
    private var spillTried = false
    /// Bytes bound for the file at `fileSize`, not written yet, and the first of their entries.
    private var pending: [UInt8] = []
    private var pendingFirst = 0
    private let threshold: Int
    private let writeBytes: Int
    private let readBytes: Int
    private let gapBytes: Int
    private let spanBytes: Int
    private let makeFile: () -> UnsafeMutablePointer<FILE>?
    /// Entries that could not be read back from the file (an I/O error).
    private(set) var lost = 0
    /// The calls that wrote to the file and read from it (the tests bound them).
    private(set) var fileWrites = 0
    private(set) var fileReads = 0

    /// `makeFile` opens the spill file (an unlinked temporary file; tests give others).
    /// `writeBytes` (0: every entry is written as it comes) and `readBytes` size the file's
    /// writes and reads.
    init(threshold: Int = 256 << 10, writeBytes: Int = 512 << 10, readBytes: Int = 1 << 20,
         gapBytes: Int = 64 << 10, spanBytes: Int = 256 << 10,
         makeFile: @escaping () -> UnsafeMutablePointer<FILE>? = { tmpfile() }) {
        self.threshold = threshold
        self.writeBytes = writeBytes
        self.readBytes = readBytes
        self.gapBytes = gapBytes
        self.spanBytes = spanBytes
        self.makeFile = makeFile
    }

    deinit { if let file { fclose(file) } }

    var isEmpty: Bool { index.isEmpty }

    func append(stream: Int, _ bytes: [UInt8]) {
        if !spillTried && memory.count + bytes.count > threshold { spill() }
        // Pending bytes stay within the room reserved for them (a larger entry alone). A
        // write the file refuses leaves the spool in memory from then on.
        if fileWritable && pending.count + bytes.count > writeBytes { flush() }
        if fileWritable {
            if pending.isEmpty {
                pendingFirst = index.count
                if pending.capacity < writeBytes { pending.reserveCapacity(writeBytes) }
            }
            index.append((stream, fileSize + pending.count, bytes.count, true))
            pending.append(contentsOf: bytes)
            if pending.count >= writeBytes { flush() }
            return
        }
        index.append((stream, memory.count, bytes.count, false))
        memory.append(contentsOf: bytes)
    }

    /// Writes what is pending, in stream order (then the order added): the file is a series
    /// of sorted runs, and a group of streams read back lies in one piece in each run. If the
    /// file does not take it, those entries and every later one stay in memory.
    private func flush() {
        guard !pending.isEmpty else { return }
        let entries = pendingFirst ..< index.count
        let sorted = entries.sorted { (index[$0].stream, $0) < (index[$1].stream, $1) }
        if pending.withUnsafeBytes({ write($0, sorted) }) {
            for i in sorted {
                index[i].offset = fileSize
                fileSize += index[i].length
            }
        } else {
            fileWritable = false
            for i in entries {
                index[i].offset += memory.count - fileSize
                index[i].inFile = false
            }
            memory.append(contentsOf: pending)
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes the pending entries `order` (their offsets are `fileSize` plus where they lie in
    /// `bytes`) one after the other at `fileSize`, gathered by `pwritev`; a short write is
    /// done again an entry at a time.
    private func write(_ bytes: UnsafeRawBufferPointer, _ order: [Int]) -> Bool {
        guard let file, let base = bytes.baseAddress else { return false }
        let most = 1024  // IOV_MAX on Linux
        var vectors = [iovec](repeating: iovec(), count: min(order.count, most))
        var at = fileSize, first = 0
        while first < order.count {
            let count = min(most, order.count - first)
            var total = 0
            for j in 0 ..< count {
                let e = index[order[first + j]]
                vectors[j] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base + (e.offset - fileSize)), iov_len: e.length)
                total += e.length
            }
            let wrote = vectors.withUnsafeBufferPointer { pwritev(fileno(file), $0.baseAddress, Int32(count), off_t(at)) }
            fileWrites += 1
            if wrote != total {
                var to = at
                for j in 0 ..< count {
                    let e = index[order[first + j]]
                    guard write(UnsafeRawBufferPointer(start: base + (e.offset - fileSize), count: e.length), at: to) else { return false }
                    to += e.length
                }
            }
            at += total
            first += count
        }
        return true
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
            fileWrites += 1
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// Reads `length` bytes of the file from `offset` into `destination`; false when they
    /// cannot all be read.
    private func read(into destination: UnsafeMutableRawPointer, _ offset: Int, _ length: Int) -> Bool {
        guard let file else { return false }
        var done = 0
        while done < length {
            let n = pread(fileno(file), destination + done, length - done, off_t(offset + done))
            fileReads += 1
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// Calls `body` with each entry's bytes, by stream number (in the order added for equal
    /// numbers). An entry that cannot be read back is skipped and counted in `lost`.
    ///
    /// The entries are taken in groups of up to `readBytes` in stream order. A group's entries
    /// in the file are read in file order, those less than `gapBytes` apart with one read of
    /// up to `spanBytes`, into a buffer laid out in stream order; then the group goes to `body`.
    /// Summaries are added as their connections end, in an order that can be far from their
    /// streams'; each run the file holds is in stream order, so a group's entries lie in one
    /// piece in each run.
    func forEachSorted(_ body: (_ stream: Int, _ bytes: [UInt8]) -> Void) {
        flush()
        pending = []  // (its room, before the reading's own)
        let order = index.indices.sorted { (index[$0].stream, $0) < (index[$1].stream, $1) }
        // Both buffers are kept from group to group, grown when an entry is larger.
        var group = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        var span = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        defer { group.deallocate(); span.deallocate() }
        func room(_ buffer: inout UnsafeMutableRawBufferPointer, _ count: Int) {
            guard buffer.count < count else { return }
            buffer.deallocate()
            buffer = .allocate(byteCount: count, alignment: 1)
        }
        var first = 0
        while first < order.count {
            // The group: at least one entry, at most `readBytes` of the file beyond that.
            var end = first, fileBytes = 0
            while end < order.count {
                let e = index[order[end]]
                if e.inFile {
                    if end > first && fileBytes + e.length > readBytes { break }
                    fileBytes += e.length
                }
                end += 1
            }
            room(&group, fileBytes)
            // Where each of the group's file entries goes in `group`, and whether it was read.
            var slot = [Int](repeating: 0, count: end - first)
            var got = [Bool](repeating: false, count: end - first)
            var at = 0
            for k in first ..< end where index[order[k]].inFile {
                slot[k - first] = at
                at += index[order[k]].length
            }
            let byOffset = (first ..< end).filter { index[order[$0]].inFile }.sorted { index[order[$0]].offset < index[order[$1]].offset }
            var s = 0
            while s < byOffset.count {
                // A span: this entry and the next ones in the file less than `gapBytes` apart.
                let start = index[order[byOffset[s]]].offset
                var spanEnd = start + index[order[byOffset[s]]].length
                var t = s + 1
                while t < byOffset.count {
                    let e = index[order[byOffset[t]]]
                    guard e.offset - spanEnd < gapBytes, e.offset + e.length - start <= spanBytes else { break }
                    spanEnd = max(spanEnd, e.offset + e.length)  // (an empty entry may lie where the next begins)
                    t += 1
                }
                room(&span, spanEnd - start)
                let whole = read(into: span.baseAddress!, start, spanEnd - start)
                for k in byOffset[s ..< t] {
                    let e = index[order[k]], to = group.baseAddress! + slot[k - first]
                    if whole {
                        to.copyMemory(from: span.baseAddress! + (e.offset - start), byteCount: e.length)
                        got[k - first] = true
                    } else if t - s > 1 {
                        // A span that cannot be read: each of its entries alone.
                        got[k - first] = read(into: to, e.offset, e.length)
                    }
                }
                s = t
            }
            for k in first ..< end {
                let e = index[order[k]]
                if !e.inFile {
                    body(e.stream, Array(memory[e.offset ..< e.offset + e.length]))
                } else if got[k - first] {
                    body(e.stream, Array(UnsafeRawBufferPointer(rebasing: group[slot[k - first] ..< slot[k - first] + e.length])))
                } else {
                    lost += 1
                }
            }
            first = end
        }
    }

    /// What a document says when entries were lost.
    var lostWarning: String? {
        lost == 0 ? nil : "\(lost == 1 ? "1 connection's" : "\(lost) connections'") output could not be read back from the temporary file and is missing"
    }
}

import CPcap
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One capture read from one or several files, as `mergecap` joins them: records in timestamp
/// order across the files (a tie goes to the file given first), numbered continuously from 1
/// (records a filter skips are numbered too), each tagged with the index of its file. One file
/// is read as it is, in file order.
///
/// Damage in a file ends that file (its records before the damage are kept) and is reported in
/// `damage`; the other files are read to their end.
public final class CaptureReader {
    public let files: [CaptureFile]
    /// The files' total size in bytes (0 for standard input), and how much of it was read.
    public let totalBytes: Int
    /// Bytes read so far of all files.
    public var bytesRead: Int { files.count == 1 ? files[0].position : mergedBytes }
    private var mergedBytes = 0
    /// What went wrong reading, in the order it was told: damage in one of several files is
    /// told when the file's last good record has been merged (with the capture's number), or
    /// now, for a file whose damage was found ahead of where the reading stopped.
    public var damage: [CaptureError] {
        told + pendingDamage.sorted { $0.key < $1.key }.map { damagedInSet($0.value, file: $0.key) }
    }
    private var told: [CaptureError] = []

    private var ahead: [RecordBatch] = []
    private var heads: [Int] = []
    /// The files with a record waiting, by that record's time (mergecap's order), once primed.
    private var queue = MergeQueue()
    private var primed = false
    private static let readAhead = 128 << 10
    private var ended: [Bool] = []
    private var numbered = 0
    /// How far each file was read, as last counted into `bytesRead`.
    private var positions: [Int] = []

    /// Opens every file (each with its own link type: each record carries its own). `onKeyLog`: the key logs of the
    /// Decryption Secrets Blocks in files read as streams, with the file's index, as they are
    /// read (`CaptureFile.init`).
    public init(paths: [String], filter: String?, onKeyLog: ((_ file: Int, _ text: String) -> Void)? = nil) throws(CaptureError) {
        precondition(!paths.isEmpty)
        CaptureReader.allowOpenFiles(paths.count)
        var files: [CaptureFile] = []
        var total = 0
        // libpcap's stdio buffers: 1 MiB for a file alone, 8 MiB in all for a set (each is
        // filled as its file opens), at least 4 KiB each.
        let streamBuffer = max(4096, min(1 << 20, (8 << 20) / paths.count))
        for (index, path) in paths.enumerated() {
            let file = try CaptureFile(path: path, streamBufferBytes: streamBuffer,
                                       onKeyLog: onKeyLog.map { sink in { sink(index, $0) } })
            if let filter { try file.setFilter(filter) }
            files.append(file)
            total += CaptureReader.size(of: path)
        }
        self.files = files
        totalBytes = total
        if files.count > 1 {
            // A small read-ahead per file until it is read on (a rotated set may have hundreds of
            // files); a larger record grows its batch, and a file's batch goes when the file ends.
            ahead = files.map { _ in RecordBatch(capacity: 4 << 10) }
            heads = Array(repeating: 0, count: files.count)
            ended = Array(repeating: false, count: files.count)
            positions = Array(repeating: 0, count: files.count)
            lastNumber = Array(repeating: 0, count: files.count)
        }
    }

    /// The first file's link type (its first interface's, for pcapng).
    public var linkType: Int32 { files[0].linkType }
    /// The link types of all files, in order, without repeats ("EN10MB, LINUX_SLL").
    public var linkTypeName: String {
        var types: [Int32] = []
        for file in files { for t in file.linkTypes where !types.contains(t) { types.append(t) } }
        return types.map(CaptureFile.name(dlt:)).joined(separator: ", ")
    }
    /// The most decimals any file's timestamps have.
    public var timestampDecimals: Int { files.map(\.timestampDecimals).max() ?? 6 }
    /// The path of file `index`, and all of them for display ("a.pcap" or "a.pcap, b.pcap").
    public func path(_ index: Int) -> String { files[index].path }
    public var displayName: String { files.map(\.path).joined(separator: ", ") }

    /// The files' bytes read back by the records' `fileOffset` (`CaptureFileBytes`), each file
    /// only while its path still names the file this reader opened.
    public func fileBytes() -> CaptureFileBytes {
        CaptureFileBytes(paths: files.map(\.path), identities: files.map(\.identity))
    }

    /// The capture as chunks several threads copy at once (`PcapChunks`), before anything was
    /// read: one file the chunked walk reads (classic pcap or pcapng), or a set of such files,
    /// each with a first record, read one after the other. A set is the merge of its files
    /// only while each file's records come before the next files' first (a tie to the file
    /// given first), as a rotated set's do: the chunks give the reading back at the first
    /// record that does not, and `fill` merges from there. Nil otherwise.
    public func chunks(bytes: Int) -> PcapChunks? {
        if files.count == 1 {
            guard ended.isEmpty else { return nil }
            return files[0].chunks(bytes: bytes)
        }
        guard !primed, numbered == 0, bytes > 0 else { return nil }
        var parts: [(records: ChunkedPcapRecords, file: Int, program: bpf_program?)] = []
        for (i, file) in files.enumerated() {
            guard let part = file.chunkable else { return nil }
            parts.append((part.records, i, part.program))
        }
        let sizes = parts.map(\.records.size)
        let chunks = PcapChunks(files: parts, chunkBytes: bytes, numbered: 0) { file, offset, numberedInFile, numbered in
            // The files before `file` were read whole; it reads on from `offset`; the ones after
            // it are untouched. The merge (`fill`) starts from there.
            for i in 0..<file {
                self.end(i)
                self.positions[i] = sizes[i]
            }
            self.files[file].resume(at: offset, numbered: numberedInFile)
            self.positions[file] = offset
            self.mergedBytes = sizes[..<file].reduce(0, +) + offset
            if numbered > self.numbered { self.lastNumber[file] = numbered }
            self.numbered = numbered
        }
        // Only files with a first record: one without would stop every file before it at once.
        return chunks.everyFileHasARecord ? chunks : nil
    }

    /// Fills the empty `batch` with the capture's next records. False, with nothing added, at the end.
    public func fill(_ batch: RecordBatch) -> Bool {
        defer { batch.bytesRead = bytesRead }
        if files.count == 1 {
            guard ended.isEmpty else { return false }
            do {
                if try files[0].fill(batch) { return true }
            } catch {
                told.append(error)
            }
            ended = [true]
            return !batch.isEmpty
        }
        if !primed {
            // (Files read whole by chunks have ended already.)
            for i in files.indices where !ended[i] {
                refill(i)
                if !ended[i] { queue.push(time: ahead[i].records[0].time, file: i) }
            }
            primed = true
        }
        // The file whose record goes next gives records until one of them goes after the next
        // file's (a run: a comparison per record and no work of the queue's, for files that
        // follow one another in time as a rotated set does). Locals in the loop: a class's
        // stored properties, changed in a loop, are checked for exclusive access at each use.
        while let (_, i) = queue.popMin() {
            let limit = queue.min
            let file = files[i]
            var source = ahead[i]
            var head = heads[i]
            var number = numbered
            let before = number
            // Written back before a refill too: damage found there is told after the number of
            // the file's last record merged.
            func writeBack() {
                heads[i] = head
                numbered = number
                if number != before { lastNumber[i] = number }
            }
            defer { writeBack() }
            while true {
                if head >= source.count {
                    writeBack()
                    refill(i)
                    if ended[i] { break }
                    source = ahead[i]
                    head = 0
                }
                let record = source.records[head]
                if let limit, record.time > limit.time || (record.time == limit.time && i > limit.file) {
                    queue.push(time: record.time, file: i)
                    break
                }
                let bytes = source.bytes(of: record)
                if batch.isEmpty { batch.reserve(bytes.count + 8) }
                guard batch.hasRoom(for: bytes.count + 8) else {
                    queue.push(time: record.time, file: i)
                    return true
                }
                head += 1
                number += 1
                if file.matches(wireLength: record.wireLength, bytes: bytes, link: record.link) {
                    batch.append(number: number, time: record.time, wireLength: record.wireLength, bytes: bytes, file: i,
                                 fileOffset: record.fileOffset, link: record.link)
                }
            }
        }
        return !batch.isEmpty
    }

    /// Calls `body` for each record of the capture in order, until the end or `body` returns false.
    public func forEach(_ body: (PacketHeader, _ file: Int, UnsafeRawBufferPointer) -> Bool) {
        if files.count == 1 {
            do {
                try files[0].forEach { header, bytes in body(header, 0, bytes) }
            } catch {
                told.append(error)
            }
            return
        }
        let batch = RecordBatch()
        while fill(batch) {
            for r in batch.records {
                let header = PacketHeader(number: r.number, timestampNanoseconds: r.time,
                                          capturedLength: r.length, wireLength: r.wireLength, fileOffset: r.fileOffset,
                                          link: r.link)
                if !body(header, r.file, batch.bytes(of: r)) { return }
            }
            batch.reset()
        }
    }

    private func refill(_ i: Int) {
        // A file's first records wait in a small batch (a set may have hundreds of files, all
        // waiting); it gets the larger read-ahead once it is read on.
        if primed && ahead[i].capacity < Self.readAhead { ahead[i] = RecordBatch(capacity: Self.readAhead) }
        let batch = ahead[i]
        batch.reset()
        heads[i] = 0
        if pendingEnd.contains(i) {
            end(i)
            return
        }
        do {
            if try !files[i].fill(batch, file: i, filtered: false) { end(i) }
        } catch {
            // Reported once the file's last good record has its number in the capture.
            pendingDamage[i] = error
            if batch.isEmpty { end(i) } else { pendingEnd.insert(i) }
        }
        let position = files[i].position
        mergedBytes += max(0, position - positions[i])
        positions[i] = position
    }

    private func end(_ i: Int) {
        ended[i] = true
        ahead[i] = RecordBatch(capacity: 64)
        if let error = pendingDamage.removeValue(forKey: i) { told.append(damagedInSet(error, file: i)) }
    }

    /// A file's damage in the capture's numbering: after the capture's packet that was the
    /// file's last good record.
    private func damagedInSet(_ error: CaptureError, file i: Int) -> CaptureError {
        guard case let .damaged(path, reason, records) = error else { return error }
        return .damagedInSet(path: path, reason: reason, lastGoodPacket: lastNumber[i], fileRecords: records)
    }

    /// Files whose damage was found while their last records are still to be merged, and the
    /// damage, told when the file ends.
    private var pendingEnd: Set<Int> = []
    private var pendingDamage: [Int: CaptureError] = [:]
    /// The capture's number of each file's last record merged so far.
    private var lastNumber: [Int] = []

    /// Every file stays open while the set is merged: a day of `tcpdump -G 60` is 1,440 files,
    /// past a common soft limit of 1,024 descriptors. The soft limit is raised towards the hard
    /// one when twice `files` (and some spare) would not fit; past the hard limit, opening says so.
    static func allowOpenFiles(_ files: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        // Twice the files: a run redone on one thread opens the set again beside the first.
        let wanted = rlim_t(2 * files + 64)
        guard limit.rlim_cur < wanted else { return }
        limit.rlim_cur = min(wanted, limit.rlim_max)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    static func size(of path: String) -> Int {
        guard path != "-" else { return 0 }
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }
}

/// The files of a set that have a record waiting, ordered by the record's time and then by the
/// file's index (a tie goes to the file given first): a binary heap, so that a set of 1,440
/// files (a day of `tcpdump -G 60`) costs a few comparisons per switch of file, not 1,440 per record.
struct MergeQueue {
    private var heap: [(time: Int64, file: Int)] = []

    var isEmpty: Bool { heap.isEmpty }
    var min: (time: Int64, file: Int)? { heap.first }

    @inline(__always)
    private static func before(_ a: (time: Int64, file: Int), _ b: (time: Int64, file: Int)) -> Bool {
        a.time < b.time || (a.time == b.time && a.file < b.file)
    }

    mutating func push(time: Int64, file: Int) {
        heap.append((time, file))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> (time: Int64, file: Int)? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count && Self.before(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count && Self.before(heap[right], heap[smallest]) { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}

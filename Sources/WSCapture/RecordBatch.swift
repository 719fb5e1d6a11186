import WSDecode
/// Captured records held together in one buffer: what a reader hands to the analysis in one
/// go (to one thread, or to every worker of a parallel run at once).
///
/// Records either point into bytes read straight into `base` (a classic pcap file's chunk,
/// no copy) or were copied in by `append` (libpcap's records, several files merged, a live
/// capture). The batch owns its buffer; `reset` makes it reusable.
public final class RecordBatch: @unchecked Sendable {
    /// One captured record of the batch.
    public struct Record: Sendable, Equatable {
        /// Packet number in the capture (1-based; counted also for records a filter skipped).
        public var number: Int
        /// Capture time, ns since the epoch.
        public var time: Int64
        public var wireLength: Int
        /// Where the record's bytes are in the buffer, and how many were captured.
        public var offset: Int
        public var length: Int
        /// Index of the file it came from, in the order the files were given.
        public var file: Int
        /// Where the record's bytes begin in that file (-1: not known).
        public var fileOffset: Int64 = -1
        /// The link layer of the interface it was captured on.
        public var link: LinkType
    }

    /// The buffer's size. The default holds 256 KiB of a file plus the largest record libpcap
    /// accepts: small enough that a parallel run's batches in flight (a few per worker) stay
    /// a few MiB, large enough that handing one over costs nothing per packet.
    public private(set) var capacity: Int
    public private(set) var base: UnsafeMutableRawPointer
    /// Bytes of the buffer in use.
    public var used = 0
    public var records: [Record] = []
    /// The reader's position after this batch: bytes read of all files (for progress).
    public var bytesRead = 0
    /// Added to each record's `number` for its number in the capture: `PcapChunks` numbers a
    /// chunk's records from 1 when it copies them, and learns the numbers before them only when
    /// it sequences the chunk (patching every record then would touch, on the sequencing
    /// thread, what the copying core wrote). 0 in every other batch.
    public var numberOffset = 0
    /// What `PcapChunks.copy` left here (nil: the batch was filled otherwise).
    var chunk: PcapChunks.Copy?

    public init(capacity: Int = (256 << 10) + 262_160) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        records.reserveCapacity(Swift.min(4096, Swift.max(16, capacity / 64)))
    }

    deinit { base.deallocate() }

    public var isEmpty: Bool { records.isEmpty }
    public var count: Int { records.count }

    /// Empties the batch (its buffer is kept).
    public func reset() {
        used = 0
        records.removeAll(keepingCapacity: true)
        chunk = nil
        numberOffset = 0
    }

    /// The captured bytes of `record`.
    @inline(__always)
    public func bytes(of record: Record) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + record.offset, count: record.length)
    }

    /// Makes an empty batch hold at least `bytes` (its records point into the buffer, so a
    /// batch with records keeps its buffer).
    public func reserve(_ bytes: Int) {
        guard records.isEmpty, bytes > capacity else { return }
        base.deallocate()
        base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        capacity = bytes
        used = 0
    }

    /// Whether `length` more bytes fit.
    public func hasRoom(for length: Int) -> Bool { used + length <= capacity }

    /// Copies a record in; false (nothing added) when the buffer has no room for it.
    @discardableResult
    public func append(number: Int, time: Int64, wireLength: Int, bytes: UnsafeRawBufferPointer, file: Int = 0,
                       fileOffset: Int64 = -1, link: LinkType) -> Bool {
        guard used + bytes.count <= capacity else { return false }
        if let source = bytes.baseAddress, !bytes.isEmpty {
            (base + used).copyMemory(from: source, byteCount: bytes.count)
        }
        records.append(Record(number: number, time: time, wireLength: wireLength, offset: used, length: bytes.count, file: file,
                              fileOffset: fileOffset, link: link))
        used += (bytes.count + 7) & ~7
        return true
    }
}

/// Which file each packet of a capture read from several files came from, as runs of packet
/// numbers: memory grows with the times the input switches files (once per rotated file), not
/// with packets.
public final class FileRuns: @unchecked Sendable {
    private var starts: [Int] = []
    private var files: [Int] = []

    public init() {}

    /// Packet `number` (numbers only grow) came from `file`.
    @inline(__always)
    public func note(_ number: Int, file: Int) {
        if let last = files.last, last == file { return }
        starts.append(number)
        files.append(file)
    }

    /// The file of packet `number` (0 before any was noted).
    public func file(of number: Int) -> Int {
        guard let lastStart = starts.last else { return 0 }
        if number >= lastStart { return files[files.count - 1] }
        var lo = 0, hi = starts.count - 1  // the last run starting at or before `number`
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= number { lo = mid } else { hi = mid - 1 }
        }
        return files[lo]
    }
}

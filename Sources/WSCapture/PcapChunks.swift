import WSDecode
import CPcap
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A capture file (classic pcap, or pcapng as `PcapngSection` walks it) cut at fixed offsets into
/// chunks that several threads copy at once: the reading of a parallel run on many cores, where
/// one thread copying the whole file (the kernel's `pread` copy is most of a reader's time)
/// would hold up every worker. A set of files whose merge is the files one after the other (a
/// rotated set) is read as one run of chunks, file after file (`Segment`).
///
/// A record's start is known only from the record before it, so the chunks cannot be walked in
/// any order. `copy` (any thread, any chunk, several at once) reads a chunk into a batch and
/// guesses where its first record starts: the first offset where a chain of plausible record
/// headers begins (fraction of a second in range, captured length within the snapshot length
/// and the length on the wire, time within a year of the first record's; for pcapng, a block
/// the walk takes, at a multiple of 4 in the file). From there it walks
/// the chunk with the rules the one-thread walk uses (`ChunkedPcapRecords.fill`), right after
/// the copy, in the copying core's cache, reading the rest of the record that crosses the
/// chunk's end. `sequence` (one thread at a time, chunks in order) knows where the first record
/// really starts, from the chunk before: when the guess was right (nearly always) it only sets
/// the batch's `numberOffset` (the records before it); otherwise it walks the chunk again from
/// the true start. Either way a batch holds exactly the records the one-thread walk gives, with
/// the same numbers.
///
/// A record the walk does not take (cut short by the end of the file, longer than the snapshot
/// length; in a set, later than a later file's first record) ends the chunked reading there:
/// `sequence` says so, and the reader's own `fill` goes on from that record (libpcap reads an
/// odd one and reports the damage, as without chunks; a set's merge takes over).
public final class PcapChunks: @unchecked Sendable {
    /// Bytes of a file per chunk (a file's last one may be shorter).
    public let chunkBytes: Int
    /// Chunks in the files from where their reading stood.
    public let count: Int
    /// Room a batch needs: a chunk and the largest record that can start at its end (which
    /// `copy` reads whole into the same buffer).
    public var batchCapacity: Int { chunkBytes + Self.largestRecord }
    static let largestRecord = 16 + 262_144
    /// Read past a chunk's end with it, so that the record crossing the end is usually read in
    /// the same call.
    static let overlap = 16 << 10

    /// The files read in chunks, one after the other (one, unless `CaptureReader` found a set
    /// of files that follow one another in time).
    struct Segment {
        let records: ChunkedPcapRecords
        /// Where the chunks begin in the file, and the global index of its first chunk.
        let origin: Int
        let firstChunk: Int
        let count: Int
        let fileIndex: Int
        /// The file's filter (compiled before reading; each call works on its own copy of the
        /// program's descriptor, so that copies on several threads never share an access).
        let program: bpf_program?
        /// The first record's time, and its seconds: a plausible header's are within a year.
        let firstTime: Int64?
        var anchorSeconds: Int64? { firstTime.map { $0 / 1_000_000_000 } }
        /// The latest time a record may have to come before every later file's first (a tie
        /// goes to the file given first): past it, the merge of the set would interleave files.
        var bound = Int64.max
        /// Bytes of the files before this one (for progress).
        var bytesBefore = 0
    }
    private var segments: [Segment]
    /// Every file has a first record the walk takes.
    var everyFileHasARecord: Bool { segments.allSatisfy { $0.firstTime != nil } }
    /// Gives the reading back: the file, the offset of its next record, the records read of
    /// that file, and the records read in all.
    private let handBack: (_ file: Int, _ offset: Int, _ numberedInFile: Int, _ numbered: Int) -> Void

    // Sequencing (one thread at a time).
    /// The segment sequenced now, and where its next chunk's first record starts.
    private var current = 0
    private var carry: Int
    /// Records numbered so far (those a filter skips included), in all and in the current file.
    private var numbered: Int
    private var numberedInFile: Int
    private var next = 0

    /// One file's chunks, from where its reading stands.
    convenience init(records: ChunkedPcapRecords, chunkBytes: Int, numbered: Int, file: Int, program: bpf_program?,
                     handBack: @escaping (_ offset: Int, _ numbered: Int) -> Void) {
        self.init(files: [(records, file, program)], chunkBytes: chunkBytes, numbered: numbered) { _, offset, inFile, _ in
            handBack(offset, inFile)
        }
    }

    /// The chunks of several files read one after the other (`records` from where each file's
    /// reading stands; numbering goes on from `numbered`). Each file's records are taken up to
    /// its bound, the earliest first record of the files after it (a file without one, as
    /// `firstTime` finds none, stops every file before it at its first record).
    init(files: [(records: ChunkedPcapRecords, file: Int, program: bpf_program?)], chunkBytes: Int, numbered: Int,
         handBack: @escaping (_ file: Int, _ offset: Int, _ numberedInFile: Int, _ numbered: Int) -> Void) {
        precondition(!files.isEmpty)
        self.chunkBytes = chunkBytes
        var segments: [Segment] = []
        var total = 0
        var bytes = 0
        for f in files {
            let origin = f.records.offset
            let count = (f.records.size - origin + chunkBytes - 1) / chunkBytes
            var segment = Segment(records: f.records, origin: origin, firstChunk: total, count: count, fileIndex: f.file,
                                  program: f.program, firstTime: Self.firstTime(f.records))
            segment.bytesBefore = bytes
            bytes += f.records.size
            segments.append(segment)
            total += count
        }
        // Each file's bound: the earliest first time of the files after it.
        var later = Int64.max
        for k in segments.indices.reversed() {
            segments[k].bound = later
            later = min(later, segments[k].firstTime ?? Int64.min)
        }
        self.segments = segments
        count = total
        carry = segments[0].origin
        self.numbered = numbered
        numberedInFile = numbered
        self.handBack = handBack
    }

    /// The time of a file's first record from where its reading stands (a pcapng file's first
    /// packet block may come after other blocks); nil when there is none the walk takes.
    static func firstTime(_ records: ChunkedPcapRecords) -> Int64? {
        var at = records.offset
        var want = 4096
        for _ in 0..<32 {
            var head = [UInt8](repeating: 0, count: max(0, min(want, records.size - at)))
            let got = head.withUnsafeMutableBytes { records.read(into: $0.baseAddress!, count: $0.count, at: at) }
            guard got > 0 else { return nil }
            switch head.withUnsafeBytes({ records.step($0.baseAddress!, available: got, at: at) }) {
            case let .record(_, time, _, _, _):
                return time
            case let .skip(size):
                at += size
            case let .more(bytes):
                guard bytes > got, bytes <= 4 * largestRecord else { return nil }
                want = bytes
            case .odd:
                return nil
            }
        }
        return nil
    }

    /// Why a walk over a chunk stopped.
    enum Stop {
        /// The next record starts at or after the chunk's end (the next chunk's first).
        case limit
        /// The end of the file.
        case end
        /// A record the walk does not take (cut short, or longer than the snapshot length), or
        /// one whose time goes past its file's bound (the set's merge would go to another file).
        case odd
    }

    /// What `copy` left in a batch.
    struct Copy {
        var index: Int
        /// The chunk's offset in its file: the buffer holds file bytes [start, start + valid).
        var start: Int
        var valid: Int
        /// Where the walk began in the buffer (-1: no plausible start found) and where it stopped.
        var from: Int
        var end: Int
        var stop: Stop
        /// Records walked (those a filter skips included).
        var walked: Int
    }

    /// The segment of global chunk `index`.
    @inline(__always)
    private func segment(of index: Int) -> Int {
        var lo = 0, hi = segments.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if segments[mid].firstChunk <= index { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Copies chunk `index` into `batch` and walks its records from the first plausible start,
    /// numbered from 1 (`sequence` sets the batch's `numberOffset`). Any thread, several at
    /// once; `batch` must have `batchCapacity` bytes.
    public func copy(_ index: Int, into batch: RecordBatch) {
        precondition(index >= 0 && index < count && batch.capacity >= batchCapacity)
        batch.reset()
        let segment = segments[segment(of: index)]
        let records = segment.records
        let local = index - segment.firstChunk
        let start = segment.origin + local * chunkBytes
        let limit = min(chunkBytes, records.size - start)
        var valid = records.read(into: batch.base, count: min(limit + Self.overlap, records.size - start), at: start)
        var copy = Copy(index: index, start: start, valid: valid, from: -1, end: 0, stop: .odd, walked: 0)
        let from = local == 0 ? 0 : firstPlausibleRecord(segment, batch.base, valid: valid, limit: limit, start: start)
        if from >= 0 {
            var recordsOut = batch.records
            batch.records = []
            let walk = walk(segment, batch.base, capacity: batch.capacity, start: start, from: from, limit: limit,
                            valid: &valid, into: &recordsOut)
            batch.records = recordsOut
            copy.from = from
            copy.end = walk.end
            copy.stop = walk.stop
            copy.walked = walk.walked
            copy.valid = valid
        }
        batch.used = valid
        batch.chunk = copy
    }

    /// What `sequence` made of a batch.
    public struct Sequenced {
        /// The records differ from those `copy` left (walked again from the true start).
        public var changed: Bool
        /// More chunks follow; false: the input ended, or a record the walk does not take was
        /// reached and the reader's `fill` reads on from it.
        public var more: Bool
        /// The input (the last file) ended with this chunk.
        public var endedFile: Bool
    }

    /// Makes the batch that `copy` filled with chunk `index` exact: the records that start in
    /// the chunk from where the chunk before ended, numbered in the capture (with the batch's
    /// `numberOffset`). Chunks in order, one thread at a time.
    public func sequence(_ index: Int, _ batch: RecordBatch) -> Sequenced {
        guard var copy = batch.chunk, copy.index == index, index == next else {
            preconditionFailure("chunk \(index) sequenced out of order or not copied")
        }
        next += 1
        while index == segments[current].firstChunk + segments[current].count {
            // The file before ended with its last chunk: this one is the next file's first.
            current += 1
            carry = segments[current].origin
            numberedInFile = 0
        }
        let segment = segments[current]
        let size = segment.records.size
        let at = carry - copy.start
        let limit = min(chunkBytes, size - copy.start)
        var changed = false
        // Nothing starts in this chunk (a record before it reaches past its end): the copy found
        // no start either, and holds no record.
        if at >= limit && copy.from < 0 {
            copy.from = at
            copy.end = at
            copy.stop = copy.start + at == size ? .end : .limit
            copy.walked = 0
        }
        if at != copy.from {
            // The guess was wrong (or there was none): walk again from the true start.
            changed = true
            var recordsOut = batch.records
            batch.records = []
            recordsOut.removeAll(keepingCapacity: true)
            var valid = copy.valid
            let walk = at < limit
                ? walk(segment, batch.base, capacity: batch.capacity, start: copy.start, from: at, limit: limit, valid: &valid,
                       into: &recordsOut)
                : (end: at, stop: copy.start + at == size ? Stop.end : .limit, walked: 0)  // nothing starts here
            batch.records = recordsOut
            copy.from = at
            copy.end = walk.end
            copy.stop = walk.stop
            copy.walked = walk.walked
            copy.valid = valid
            batch.used = valid
        }
        // The records keep their numbers from 1: the batch says what to add (touching each
        // record here, on the sequencing thread, cost a cache miss per line the copier wrote).
        batch.numberOffset = numbered
        numbered += copy.walked
        numberedInFile += copy.walked
        carry = copy.start + copy.end
        batch.chunk = copy
        batch.bytesRead = segment.bytesBefore + carry
        let lastOfFile = index + 1 == segment.firstChunk + segment.count
        let lastFile = current + 1 == segments.count
        // A file that ends goes on with the next file's first chunk.
        let more = (copy.stop == .limit && !lastOfFile) || (copy.stop == .end && !lastFile)
        if !more { handBack(segment.fileIndex, carry, numberedInFile, numbered) }
        return Sequenced(changed: changed, more: more, endedFile: copy.stop == .end && lastFile)
    }

    /// Walks the records from `from` in a buffer of `capacity` bytes holding file bytes [start,
    /// start + valid), as the one-thread walk does, taking each that starts before `limit`
    /// (reading the rest of one cut by `valid` into the buffer after it), numbered from 1.
    /// A record that cannot fit the buffer (a pcapng block larger than the largest packet) is
    /// left to the reader's own reading, as an odd one; so is one whose time is past its file's
    /// bound (the set's merge goes on to another file there).
    private func walk(_ segment: Segment, _ base: UnsafeMutableRawPointer, capacity: Int, start: Int, from: Int, limit: Int,
                      valid: inout Int, into out: inout [RecordBatch.Record]) -> (end: Int, stop: Stop, walked: Int) {
        let records = segment.records
        let bound = segment.bound
        var at = from
        var number = 0
        let minimum = records.smallestEntry
        while at < limit {
            var need = minimum
            while true {
                if at + need > valid {
                    guard at + need <= capacity, readMore(records, base, start: start, upTo: at + need, valid: &valid) else {
                        return (at, .odd, number)
                    }
                }
                let entry = UnsafeRawPointer(base) + at
                switch records.step(entry, available: valid - at, at: start + at) {
                case let .record(size, time, wire, data, length):
                    if time > bound { return (at, .odd, number) }
                    number += 1
                    if matches(segment, wire: wire, entry + data, length) {
                        out.append(RecordBatch.Record(number: number, time: time, wireLength: Int(wire), offset: at + data,
                                                      length: length, file: segment.fileIndex, fileOffset: Int64(start + at + data),
                                                      link: records.link))
                    }
                    at += size
                case let .skip(size):
                    at += size
                case let .more(bytes):
                    guard bytes > need else { return (at, .odd, number) }
                    need = bytes
                    continue
                case .odd:
                    return (at, .odd, number)
                }
                break
            }
        }
        return (at, start + at == records.size ? .end : .limit, number)
    }

    /// Reads file bytes after the buffer's valid ones, up to `upTo`; false when the file cannot
    /// give them (the walk then stops, and the file's own reading finds out why).
    private func readMore(_ records: ChunkedPcapRecords, _ base: UnsafeMutableRawPointer, start: Int, upTo: Int,
                          valid: inout Int) -> Bool {
        let want = upTo - valid
        let got = records.read(into: base + valid, count: want, at: start + valid)
        valid += got
        return got == want
    }

    @inline(__always)
    private func matches(_ segment: Segment, wire: UInt32, _ bytes: UnsafeRawPointer, _ length: Int) -> Bool {
        guard var program = segment.program else { return true }
        var h = pcap_pkthdr(ts: timeval(tv_sec: 0, tv_usec: 0), caplen: bpf_u_int32(length), len: wire)
        return pcap_offline_filter(&program, &h, bytes.assumingMemoryBound(to: UInt8.self)) != 0
    }

    /// The first offset (below the largest record's size: the record before the chunk's first
    /// ends there at the latest) where a chain of plausible record headers starts and holds for
    /// four records or up to the chunk's end; -1 when none does. A header is plausible when its
    /// fraction of a second is in range, its captured length within the snapshot length and the
    /// length on the wire, and its time within a year of the first record's.
    private func firstPlausibleRecord(_ segment: Segment, _ base: UnsafeMutableRawPointer, valid: Int, limit: Int,
                                      start: Int) -> Int {
        let records = segment.records
        let last = min(limit, Self.largestRecord)
        // pcapng blocks start at multiples of 4 in the file.
        let stride = records.isClassic ? 1 : 4
        var o = records.isClassic ? 0 : (4 - start % 4) % 4
        while o < last {
            if let _ = plausible(segment, base, at: o, valid: valid, start: start),
               chainHolds(segment, base, from: o, valid: valid, limit: limit, start: start) {
                return o
            }
            o += stride
        }
        return -1
    }

    /// The size of the record whose header is at `at`, when it reads as one.
    /// A pcapng block is plausible when the walk would take it (a packet block of the
    /// interface, or a block libpcap ignores) and, for a packet, its time is within a year of
    /// the first record's; when the block reaches past the bytes copied, its trailing length
    /// is not checked.
    @inline(__always)
    private func plausible(_ segment: Segment, _ base: UnsafeMutableRawPointer, at: Int, valid: Int, start: Int) -> Int? {
        let records = segment.records
        let anchorSeconds = segment.anchorSeconds
        if let section = records.pcapng {
            guard at + 12 <= valid else { return nil }
            let entry = UnsafeRawPointer(base) + at
            let length = section.blockLength(entry)
            switch records.step(entry, available: valid - at, at: start + at) {
            case let .record(size, time, _, _, _):
                if let anchorSeconds, abs(time / 1_000_000_000 - anchorSeconds) > 366 * 86_400 { return nil }
                return size
            case let .skip(size):
                return size
            case let .more(bytes):
                // Past the bytes copied: the block's fixed fields passed when the whole block is
                // what the step asks for.
                return bytes == length ? length : nil
            case .odd:
                return nil
            }
        }
        guard at + 16 <= valid else { return nil }
        let record = UnsafeRawPointer(base) + at
        let (time, wire, length) = records.header(record)
        guard records.fraction(record) < (records.nanoseconds ? 1_000_000_000 : 1_000_000), length <= records.snapshotLength,
              length <= Int(wire), start + at + 16 + length <= records.size else { return nil }
        if let anchorSeconds, abs(time / 1_000_000_000 - anchorSeconds) > 366 * 86_400 { return nil }
        return 16 + length
    }

    private func chainHolds(_ segment: Segment, _ base: UnsafeMutableRawPointer, from: Int, valid: Int, limit: Int,
                            start: Int) -> Bool {
        var at = from
        for _ in 0..<4 {
            guard let size = plausible(segment, base, at: at, valid: valid, start: start) else { return false }
            at += size
            // The chain reached the chunk's end, the bytes copied, or the file's end: it held.
            if at >= limit || at + 16 > valid { return true }
        }
        return true
    }
}

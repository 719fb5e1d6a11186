#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The records of a classic pcap file read in large chunks with `pread` into one reused
/// buffer: no stdio buffer and libpcap copy per record, no lock or call per record. `CaptureFile`
/// uses it for regular classic pcap files of the link types wstrace decodes; libpcap stays the
/// reader of everything else (pcapng, standard input) and of anything odd in a record, so
/// errors keep libpcap's wording.
///
/// Records are only handed out while they are plainly well-formed (header complete, captured
/// length within the snapshot length, all bytes present). The first record that is not stops
/// the walk at its offset; the caller resumes there with libpcap.
///
/// Why a copy and not a memory mapping: the chunk the kernel just copied is in this core's
/// cache, so walking its records (each header says where the next one starts: a chain the CPU
/// cannot prefetch by itself) costs no memory round trip per record; and a mapping's page
/// tables cost more to fill and tear down, page by page, than the copy (measured: a 1 GiB
/// `--summary` on two threads spent 16% of its time in the kernel mapping pages; with 1 MiB
/// chunks the run was about 15% faster). The buffer is 1 MiB, above the largest record.
final class ChunkedPcapRecords {
    private let fd: Int32
    let size: Int
    private let swapped: Bool
    let nanoseconds: Bool
    let snapshotLength: Int
    /// Chunk size: at least the largest record libpcap accepts (16 + 262,144 bytes).
    private static let chunkSize = 1 << 20
    /// Allocated at the first `forEach` (`fill` reads into the caller's batch instead).
    private lazy var buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 64)
    private var allocated = false
    /// The buffer holds file bytes [chunkStart, chunkStart + chunkLength).
    private var chunkStart = 0
    private var chunkLength = 0
    /// Offset of the next record (`PcapChunks` moves it when it hands the reading back).
    var offset = 24

    /// Prepares reading `fd` when it is a regular classic pcap file worth mapping; nil otherwise.
    init?(fd: Int32) {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size >= 24 else { return nil }
        var header = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        guard withUnsafeMutableBytes(of: &header, { pread(fd, $0.baseAddress, 24, 0) }) == 24 else { return nil }
        let magic = header.0
        switch magic {
        case 0xa1b2_c3d4: (swapped, nanoseconds) = (false, false)
        case 0xd4c3_b2a1: (swapped, nanoseconds) = (true, false)
        case 0xa1b2_3c4d: (swapped, nanoseconds) = (false, true)
        case 0x4d3c_b2a1: (swapped, nanoseconds) = (true, true)
        default: return nil
        }
        let swapped = self.swapped
        func field(_ v: UInt32) -> UInt32 { swapped ? v.byteSwapped : v }
        // Major and minor version, each 16 bits in the file's byte order.
        let version = swapped ? header.1.byteSwapped.rotated16 : header.1
        let snapshot = Int(field(header.4))
        let linkType = field(header.5) & 0x03ff_ffff
        // Version 2.4 only (older files swap lengths), a snapshot length libpcap keeps as is,
        // link types whose records libpcap hands out unchanged (no post-processing).
        guard version == 0x0004_0002, snapshot > 0, snapshot <= 262_144,
              [0, 1, 101, 108, 113, 228, 229, 276].contains(linkType) else { return nil }
        self.fd = fd
        self.size = Int(st.st_size)
        snapshotLength = snapshot
    }

    deinit { if allocated { buffer.deallocate() } }

    /// Fills the buffer so that it holds [start, start + count); false when the file cannot
    /// give that many bytes there.
    private func load(_ start: Int, _ count: Int) -> Bool {
        allocated = true
        if start >= chunkStart && start + count <= chunkStart + chunkLength { return true }
        let want = min(Self.chunkSize, size - start)
        guard want >= count else { return false }
        let got = read(into: buffer, count: want, at: start)
        chunkStart = start
        chunkLength = got
        return got >= count
    }

    /// Reads up to `count` bytes of the file at `position` into `destination`; returns how
    /// many it got (fewer only at the end of the file or on an error).
    /// Any thread may call it (`pread` on a descriptor no one moves).
    func read(into destination: UnsafeMutableRawPointer, count: Int, at position: Int) -> Int {
        preadAll(fd, into: destination, count: count, at: position)
    }

    /// A record header's time in ns (as libpcap gives it: signed 32-bit fields, microseconds
    /// scaled up), length on the wire and captured length.
    @inline(__always)
    func header(_ record: UnsafeRawPointer) -> (time: Int64, wire: UInt32, length: Int) {
        var seconds = record.loadUnaligned(as: UInt32.self)
        var fraction = record.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        var captured = record.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        var wire = record.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        if swapped {
            seconds = seconds.byteSwapped
            fraction = fraction.byteSwapped
            captured = captured.byteSwapped
            wire = wire.byteSwapped
        }
        let scale: Int64 = nanoseconds ? 1 : 1000
        return (Int64(Int32(bitPattern: seconds)) * 1_000_000_000 + Int64(Int32(bitPattern: fraction)) * scale, wire, Int(captured))
    }

    /// A record header's fraction-of-a-second field as written (microseconds or nanoseconds).
    @inline(__always)
    func fraction(_ record: UnsafeRawPointer) -> UInt32 {
        let raw = record.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        return swapped ? raw.byteSwapped : raw
    }

    /// Reads the next records straight into `batch`'s buffer (one `pread`, no copy per
    /// record): every well-formed record that fits, numbered from `number + 1` and counted into
    /// `number` (with `filter`, those it rejects are numbered but not added). Returns false when
    /// no record was added because the end of the file or a record that is not plainly
    /// well-formed was reached (`offset` says where; `atEnd` which).
    func fill(_ batch: RecordBatch, number: inout Int, file: Int,
              filter: (_ wire: UInt32, _ bytes: UnsafeRawBufferPointer) -> Bool) -> Bool {
        let room = batch.capacity - batch.used
        let want = min(room, size - offset)
        guard want >= 16 else { return false }
        let destination = batch.base + batch.used
        let got = read(into: destination, count: want, at: offset)
        var at = 0
        var added = false
        // The walk works on locals: a class's stored properties, changed in a loop that calls a
        // closure, are checked for exclusive access at every record.
        var records = batch.records
        batch.records = []
        var offset = self.offset
        let used = batch.used
        while at + 16 <= got {
            let record = UnsafeRawPointer(destination) + at
            let (time, wire, length) = header(record)
            // An odd record ends the walk here (libpcap reads it); one cut by the chunk's end
            // is read again at the start of the next batch.
            guard length <= snapshotLength, offset + 16 + length <= size, at + 16 + length <= got else { break }
            let bytes = UnsafeRawBufferPointer(start: record + 16, count: length)
            number += 1
            if filter(wire, bytes) {
                records.append(RecordBatch.Record(number: number, time: time, wireLength: Int(wire),
                                                  offset: used + at + 16, length: length, file: file))
                added = true
            }
            at += 16 + length
            offset += 16 + length
        }
        batch.records = records
        self.offset = offset
        if at > 0 { batch.used += (at + 7) & ~7 }
        return added || (at > 0 && offset < size)
    }

    /// Bytes the record at `offset` takes (header included) when its header reads as plainly
    /// well-formed: what a batch needs to take it.
    func nextRecordSize() -> Int? {
        guard offset + 16 <= size else { return nil }
        var raw = (UInt64(0), UInt64(0))
        let got = withUnsafeMutableBytes(of: &raw) { read(into: $0.baseAddress!, count: 16, at: offset) }
        guard got == 16 else { return nil }
        let length = withUnsafeBytes(of: &raw) { header($0.baseAddress!).length }
        guard length <= snapshotLength, offset + 16 + length <= size else { return nil }
        return 16 + length
    }

    /// Whether every record was read.
    var atEnd: Bool { offset == size }

    /// Calls `body` with each well-formed record from `offset` on (its time in ns as libpcap
    /// gives it: signed 32-bit fields, microseconds scaled up), until the end of the file, a
    /// record that is not plainly well-formed, or `body` returning false. Returns whether the end
    /// of the file was reached.
    func forEach(_ body: (_ time: Int64, _ wireLength: UInt32, _ bytes: UnsafeRawBufferPointer) -> Bool) -> Bool {
        while offset + 16 <= size {
            guard load(offset, 16) else { return false }
            let (time, wire, length) = header(UnsafeRawPointer(buffer) + (offset - chunkStart))
            guard length <= snapshotLength, offset + 16 + length <= size, load(offset, 16 + length) else { return false }
            let start = UnsafeRawPointer(buffer) + (offset - chunkStart) + 16
            offset += 16 + length
            if !body(time, wire, UnsafeRawBufferPointer(start: start, count: length)) { return false }
        }
        return offset == size
    }
}

private extension UInt32 {
    /// The two 16-bit halves exchanged.
    var rotated16: UInt32 { self >> 16 | self << 16 }
}

/// Reads up to `count` bytes of `fd` at `position` into `destination` (`pread`: the
/// descriptor's position does not move); returns how many it got (fewer only at the end of the
/// file or on an error).
func preadAll(_ fd: Int32, into destination: UnsafeMutableRawPointer, count: Int, at position: Int) -> Int {
    var got = 0
    while got < count {
        let n = pread(fd, destination + got, count - got, off_t(position + got))
        if n > 0 {
            got += n
        } else if n < 0 && errno == EINTR {
            continue
        } else {
            break
        }
    }
    return got
}

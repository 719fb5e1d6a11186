import WSDecode
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The records of a classic pcap file, or the packet blocks of a pcapng section
/// (`PcapngSection`), read in large chunks with `pread` into one reused buffer: no stdio buffer
/// and libpcap copy per record, no lock or call per record. `CaptureFile` uses it for regular
/// files of the link types wstrace decodes; libpcap stays the reader of everything else
/// (standard input, gzip files, pcapng it cannot follow) and of anything odd in a record, so
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
    /// A pcapng file's section (nil: a classic pcap file): `PcapngSection`.
    let pcapng: PcapngSection?
    /// The link type of every record the walk takes (the file's, or the pcapng interface's).
    let link: LinkType
    var isClassic: Bool { pcapng == nil }
    /// The bytes a step needs before it can tell anything: a record header, a block header.
    var smallestEntry: Int { pcapng == nil ? 16 : 12 }
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
        link = LinkType.of(dlt: Int32(linkType))
        pcapng = nil
    }

    /// Prepares reading the rest of a pcapng file `fd` from `start`, where libpcap stands after
    /// opening it (past the section header and the interface description it read), when
    /// `PcapngSection` can walk its blocks as libpcap would; nil otherwise. `snapshotLength`:
    /// libpcap's (`pcap_snapshot`), the most a record may hold.
    init?(pcapngFD fd: Int32, start: Int, snapshotLength: Int) {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, start > 0, start <= min(Int(st.st_size), 1 << 20),
              snapshotLength > 0, snapshotLength <= 262_144 else { return nil }
        var head = [UInt8](repeating: 0, count: start)
        guard head.withUnsafeMutableBytes({ preadAll(fd, into: $0.baseAddress!, count: start, at: 0) }) == start,
              let section = head.withUnsafeBytes({ PcapngSection(opening: $0) }) else { return nil }
        self.fd = fd
        size = Int(st.st_size)
        swapped = !section.little
        nanoseconds = section.nanoseconds
        self.snapshotLength = snapshotLength
        pcapng = section
        link = section.link
        offset = start
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

    /// What the file holds at `entry` (file offset `at`, `available` bytes there): a record, a
    /// block to pass over (pcapng blocks libpcap ignores), the bytes it needs to tell, or
    /// something the walk does not take (libpcap reads on from there).
    enum Step {
        case record(size: Int, time: Int64, wire: UInt32, data: Int, length: Int)
        case skip(size: Int)
        case more(Int)
        case odd
    }

    @inline(__always)
    func step(_ entry: UnsafeRawPointer, available: Int, at: Int) -> Step {
        if let pcapng { return pcapng.step(entry, available: available, at: at, fileSize: size, snapshotLength: snapshotLength) }
        guard available >= 16 else { return .more(16) }
        let (time, wire, length) = header(entry)
        guard length <= snapshotLength, at + 16 + length <= size else { return .odd }
        guard available >= 16 + length else { return .more(16 + length) }
        return .record(size: 16 + length, time: time, wire: wire, data: 16, length: length)
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
        guard want >= smallestEntry else { return false }
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
        walk: while at < got {
            let entry = UnsafeRawPointer(destination) + at
            // An odd record ends the walk here (libpcap reads it); one cut by the chunk's end
            // is read again at the start of the next batch.
            switch step(entry, available: got - at, at: offset) {
            case let .record(size, time, wire, data, length):
                let bytes = UnsafeRawBufferPointer(start: entry + data, count: length)
                number += 1
                if filter(wire, bytes) {
                    records.append(RecordBatch.Record(number: number, time: time, wireLength: Int(wire),
                                                      offset: used + at + data, length: length, file: file,
                                                      fileOffset: Int64(offset + data), link: link))
                    added = true
                }
                at += size
                offset += size
            case let .skip(size):
                at += size
                offset += size
            case .more, .odd:
                break walk
            }
        }
        batch.records = records
        self.offset = offset
        if at > 0 { batch.used += (at + 7) & ~7 }
        return added || (at > 0 && offset < size)
    }

    /// Bytes the record at `offset` takes (header included) when its header reads as plainly
    /// well-formed: what a batch needs to take it.
    func nextRecordSize() -> Int? {
        // A record header, or a packet block's fixed fields (28 bytes).
        var raw = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let got = withUnsafeMutableBytes(of: &raw) { read(into: $0.baseAddress!, count: min(32, size - offset), at: offset) }
        switch withUnsafeBytes(of: &raw, { step($0.baseAddress!, available: got, at: offset) }) {
        case let .record(size, _, _, _, _), let .skip(size): return size
        case let .more(size): return size > got && offset + size <= self.size ? size : nil
        case .odd: return nil
        }
    }

    /// Whether every record was read.
    var atEnd: Bool { offset == size }

    /// Calls `body` with each well-formed record from `offset` on (its time in ns as libpcap
    /// gives it: signed 32-bit fields, microseconds scaled up), until the end of the file, a
    /// record that is not plainly well-formed, or `body` returning false. Returns whether the end
    /// of the file was reached.
    func forEach(_ body: (_ time: Int64, _ wireLength: UInt32, _ bytes: UnsafeRawBufferPointer, _ fileOffset: Int64) -> Bool) -> Bool {
        while offset < size {
            var need = smallestEntry
            while true {
                guard load(offset, need) else { return false }
                let entry = UnsafeRawPointer(buffer) + (offset - chunkStart)
                switch step(entry, available: chunkStart + chunkLength - offset, at: offset) {
                case let .record(size, time, wire, data, length):
                    let at = Int64(offset + data)
                    offset += size
                    if !body(time, wire, UnsafeRawBufferPointer(start: entry + data, count: length), at) { return false }
                case let .skip(size):
                    offset += size
                case let .more(bytes):
                    guard bytes > need else { return false }
                    need = bytes
                    continue
                case .odd:
                    return false
                }
                break
            }
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

import CPrefetch
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The records of a classic pcap file read through a sliding read-only memory mapping: no copy
/// into a stdio buffer and then into libpcap's, no lock or call per record. `CaptureFile` uses
/// it for regular classic pcap files of the link types wstrace decodes; libpcap stays the
/// reader of everything else (pcapng, standard input) and of anything odd in a record, so
/// errors keep libpcap's wording.
///
/// Records are only handed out while they are plainly well-formed (header complete, captured
/// length within the snapshot length, all bytes present). The first record that is not stops
/// the walk at its offset; the caller resumes there with libpcap.
///
/// The window is `windowSize` bytes mapped with `MAP_POPULATE` (one call fills its page tables:
/// page faults one by one cost more than `read`'s copy in a VM), so the mapping adds a few MiB
/// to the resident size, never the file's size.
final class MappedPcapRecords {
    private let fd: Int32
    private let size: Int
    private let swapped: Bool
    private let nanoseconds: Bool
    private let snapshotLength: Int
    private static let windowSize = 8 << 20
    /// The mapped window: file bytes [windowStart, windowStart + windowLength).
    private var window: UnsafeMutableRawPointer?
    private var windowStart = 0
    private var windowLength = 0
    /// Offset of the next record.
    private(set) var offset = 24

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
        let version = field(header.1)
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

    deinit { unmap() }

    private func unmap() {
        if let window { munmap(window, windowLength) }
        window = nil
    }

    /// Maps the window so that it holds [start, start + count); false when mapping fails.
    private func map(_ start: Int, _ count: Int) -> Bool {
        if window != nil && start >= windowStart && start + count <= windowStart + windowLength { return true }
        unmap()
        windowStart = start & ~0xffff
        windowLength = min(size - windowStart, max(Self.windowSize, start + count - windowStart))
        guard let m = mmap(nil, windowLength, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, off_t(windowStart)),
              m != MAP_FAILED else { return false }
        window = m
        return true
    }

    /// Calls `body` with each well-formed record from `offset` on (its time in ns as libpcap
    /// gives it: signed 32-bit fields, microseconds scaled up), until the end of the file, a
    /// record that is not plainly well-formed, or `body` returning false. Returns whether the end
    /// of the file was reached.
    func forEach(_ body: (_ time: Int64, _ wireLength: UInt32, _ bytes: UnsafeRawBufferPointer) -> Bool) -> Bool {
        let scale: Int64 = nanoseconds ? 1 : 1000
        defer { unmap() }
        while offset + 16 <= size {
            guard map(offset, 16), let window else { return false }
            let record = UnsafeRawPointer(window) + (offset - windowStart)
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
            let length = Int(captured)
            guard length <= snapshotLength, offset + 16 + length <= size,
                  map(offset, 16 + length), let mapped = self.window else { return false }
            let start = UnsafeRawPointer(mapped) + (offset - windowStart) + 16
            let time = Int64(Int32(bitPattern: seconds)) * 1_000_000_000 + Int64(Int32(bitPattern: fraction)) * scale
            offset += 16 + length
            // The next record's header and first bytes: fetched while `body` works on this one.
            let ahead = offset - windowStart
            if ahead + 128 <= windowLength {
                wstrace_prefetch(mapped + ahead)
                wstrace_prefetch(mapped + ahead + 64)
            }
            if !body(time, wire, UnsafeRawBufferPointer(start: start, count: length)) { return false }
        }
        return offset == size
    }
}

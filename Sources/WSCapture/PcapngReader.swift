import WSDecode
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Reads a pcapng capture's blocks where libpcap cannot: every interface of every section,
/// whatever its link type (libpcap takes the link type of the first interface for the whole
/// file and stops at an interface of another: dumpcap's capture of `lo` and `any` at once, or
/// Wireshark's of a loopback and an Ethernet interface), each with its time stamp resolution
/// (10^-n or 2^-n) and offset (`if_tsoffset`); enhanced, simple and obsolete packet blocks;
/// other blocks passed over, as libpcap and Wireshark do.
///
/// It reads on from where libpcap stands after opening the file (past the section header and
/// the first interface description: its state starts as libpcap's), or from where the chunked
/// walk stopped. Until it has read a section header or an interface description of its own,
/// libpcap's state is still its own: damage found before then is handed back to libpcap
/// (`Next.handBack`), which reports it as it always has; after that, the reader reports it.
///
/// A regular file is read with `pread` in large pieces; a stream (standard input, a pipe,
/// gzip) through libpcap's stdio stream, a block at a time (a live pipe's packets come out
/// as they arrive).
final class PcapngReader {
    /// An interface described in the section being read.
    struct Interface {
        /// The link type as in the file (a DLT value), and as decoded.
        let dlt: Int32
        let link: LinkType
        /// The most a packet block holds (0: no limit), for simple packet blocks.
        let snapshotLength: Int
        /// Time stamp units per second (10^n or 2^n; 10^6 without `if_tsresol`), and the
        /// seconds added to each (`if_tsoffset`).
        let unitsPerSecond: UInt64
        let offsetSeconds: Int64
    }

    /// One packet: valid until the next call.
    struct Packet {
        let time: Int64
        let wireLength: Int
        let bytes: UnsafeRawBufferPointer
        let interface: Interface
        /// Where its bytes begin in the file (-1 for a stream).
        let fileOffset: Int64
    }

    enum Next {
        case packet(Packet)
        case end
        /// Damage at `offset`, with libpcap's state still the reader's: libpcap reads on from
        /// there (and reports it).
        case handBack(offset: Int)
        /// Damage the reader reports.
        case damaged(String)
    }

    private enum Source {
        case file(fd: Int32, size: Int)
        case stream(UnsafeMutablePointer<FILE>)
    }

    private let source: Source
    /// File offset of the block read next (counted from the stream's start for a stream).
    private(set) var offset: Int
    private var little: Bool
    private(set) var interfaces: [Interface]
    /// A section header or interface description was read here, not by libpcap.
    private(set) var ownState = false
    /// Holds file bytes [bufferStart, bufferStart + bufferLength), allocated at the first read
    /// (a set's files are all opened at once; most are read by the chunked walk alone).
    private var buffer: UnsafeMutableRawPointer?
    private var capacity: Int
    private var bufferStart = 0
    private var bufferLength = 0
    /// The largest block read (libpcap's own limit: 16 MiB).
    static let largestBlock = 16 << 20
    /// The most a packet may hold (Wireshark's and libpcap's largest snapshot length).
    static let largestPacket = 262_144
    /// libpcap's snapshot length for the file (the first interface's, as it opened it).
    private let snapshotLimit: Int

    /// The reader of regular file `fd` from `start`, libpcap's position after opening it:
    /// its state read from the file's bytes before `start` (a section header, then blocks up
    /// to and including one interface description, as libpcap reads them). Nil when those
    /// bytes are not that. `readBytes`: how much of the file one read takes (a set of many
    /// files gives each less), at least a block.
    convenience init?(fd: Int32, start: Int, readBytes: Int = 1 << 20, snapshotLength: Int = PcapngReader.largestPacket) {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, start > 0, start <= min(Int(st.st_size), 1 << 20) else {
            return nil
        }
        var head = [UInt8](repeating: 0, count: start)
        guard head.withUnsafeMutableBytes({ preadAll(fd, into: $0.baseAddress!, count: start, at: 0) }) == start else { return nil }
        self.init(source: .file(fd: fd, size: Int(st.st_size)), opening: head, start: start, readBytes: readBytes,
                  snapshotLength: snapshotLength)
    }

    /// The reader of `stream` from where libpcap stands after opening it; `opening`: the
    /// stream's first bytes (at least those libpcap read to open it).
    convenience init?(stream: UnsafeMutablePointer<FILE>, opening: [UInt8], snapshotLength: Int = PcapngReader.largestPacket) {
        self.init(source: .stream(stream), opening: opening, start: nil, readBytes: 4096, snapshotLength: snapshotLength)
    }

    private init?(source: Source, opening: [UInt8], start: Int?, readBytes: Int, snapshotLength: Int) {
        // libpcap's opening: the section header, other blocks, the first interface description.
        // (Sections before that interface, empty ones, libpcap passes over as it passes over
        // other blocks: read in the first section's byte order, they must share it.)
        // (The opening's blocks point into `opening`: read within.)
        let state = opening.withUnsafeBytes { bytes -> (little: Bool, end: Int, interface: Interface)? in
            guard let opened = PcapngBlocks.opening(bytes), let interface = Self.interface(opened.interface) else { return nil }
            return (opened.little, opened.end, interface)
        }
        guard let (little, end, interface) = state, start == nil || start == end else { return nil }
        self.source = source
        self.little = little
        interfaces = [interface]
        offset = end
        capacity = max(4096, readBytes)
        snapshotLimit = snapshotLength > 0 ? snapshotLength : Self.largestPacket
        bufferStart = end
    }

    deinit { buffer?.deallocate() }

    /// Whether regular file `fd` is a whole pcapng file (at most 1 MiB) of well-formed blocks
    /// none of which describes an interface or holds a packet: sections with nothing in them,
    /// or only names, statistics, secrets or custom blocks.
    static func describesNoInterface(fd: Int32) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size >= 28, st.st_size <= 1 << 20 else { return false }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        guard bytes.withUnsafeMutableBytes({ preadAll(fd, into: $0.baseAddress!, count: $0.count, at: 0) }) == bytes.count else {
            return false
        }
        // Block by block, each section in its own byte order, to the file's end.
        var wellFormed = true
        let end = bytes.withUnsafeBytes { file in
            PcapngBlocks.forEach(file, eachSectionsOrder: true) { block in
                let length = block.bytes.count
                wellFormed = Int(block.u32(length - 4)) == length && block.type != 1 && !PcapngBlocks.isPacket(block.type)
                    && (block.type != 0x0A0D_0D0A || (length >= 28 && block.u16(12) == 1))
                return wellFormed
            }
        }
        return wellFormed && end == bytes.count
    }

    /// Reads on from `offset` (where the chunked walk stopped; a file only).
    func seek(_ offset: Int) {
        self.offset = offset
        bufferStart = offset
        bufferLength = 0
    }

    /// The interface described by an interface description block; nil when it is malformed.
    static func interface(_ block: PcapngBlocks.Block) -> Interface? {
        guard block.bytes.count >= 20 else { return nil }
        var units: UInt64 = 1_000_000
        var offsetSeconds: Int64 = 0
        var bad = false
        let wellFormed = block.forEachOption(from: 16) { code, value in
            switch code {
            case 9:  // if_tsresol: 10^-n, or 2^-n with the top bit set
                guard value.count == 1 else { bad = true; return false }
                let n = Int(value[0] & 0x7f)
                if value[0] & 0x80 == 0 {
                    guard n <= 19 else { bad = true; return false }
                    units = (0..<n).reduce(1) { r, _ in r * 10 }
                } else {
                    guard n <= 63 else { bad = true; return false }
                    units = 1 << UInt64(n)
                }
            case 14:  // if_tsoffset: seconds, signed 64 bits
                guard value.count == 8 else { bad = true; return false }
                let raw = value.loadUnaligned(as: UInt64.self)
                offsetSeconds = Int64(bitPattern: block.little ? UInt64(littleEndian: raw) : UInt64(bigEndian: raw))
            default: break
            }
            return true
        }
        guard wellFormed, !bad else { return nil }
        let dlt = Int32(block.u16(8))
        return Interface(dlt: dlt, link: LinkType.of(dlt: dlt), snapshotLength: Int(block.u32(12)),
                         unitsPerSecond: units, offsetSeconds: offsetSeconds)
    }

    /// A time stamp of `units` of `interface` as capture time (as libpcap makes it: whole
    /// seconds, the rest scaled down to nanoseconds, the offset added to the seconds).
    static func time(_ units: UInt64, _ interface: Interface) -> Int64 {
        let perSecond = interface.unitsPerSecond
        let seconds = units / perSecond
        let rest = units % perSecond
        let fraction: UInt64
        if perSecond == 1_000_000_000 {
            fraction = rest
        } else {
            let wide = rest.multipliedFullWidth(by: 1_000_000_000)
            fraction = perSecond.dividingFullWidth((wide.high, wide.low)).quotient
        }
        let whole = seconds > UInt64(Int64.max) ? Int64.max : Int64(seconds)
        let (shifted, overflow) = whole.addingReportingOverflow(interface.offsetSeconds)
        return CaptureClock.time(seconds: overflow ? (interface.offsetSeconds < 0 ? Int64.min : Int64.max) : shifted,
                                 fraction: Int64(fraction), fractionUnit: 1)
    }

    @inline(__always)
    private func u32(_ p: UnsafeRawPointer, _ at: Int) -> UInt32 {
        let v = p.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        return little ? UInt32(littleEndian: v) : UInt32(bigEndian: v)
    }

    @inline(__always)
    private func u16(_ p: UnsafeRawPointer, _ at: Int) -> UInt16 {
        let v = p.loadUnaligned(fromByteOffset: at, as: UInt16.self)
        return little ? UInt16(littleEndian: v) : UInt16(bigEndian: v)
    }

    /// Makes the buffer hold `count` bytes from `offset`; returns how many it holds (fewer at
    /// the end of the input).
    private func fetch(_ count: Int) -> Int {
        let have = bufferStart + bufferLength - offset
        if have >= count { return have }
        let buffer: UnsafeMutableRawPointer
        if let allocated = self.buffer {
            buffer = allocated
        } else {
            buffer = .allocate(byteCount: capacity, alignment: 16)
            self.buffer = buffer
        }
        // Keep the bytes from `offset` on, at the buffer's start.
        if have > 0 && offset > bufferStart { buffer.copyMemory(from: buffer + (offset - bufferStart), byteCount: have) }
        bufferStart = offset
        bufferLength = max(0, have)
        var target = buffer
        if count > capacity {
            target = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
            target.copyMemory(from: buffer, byteCount: bufferLength)
            buffer.deallocate()
            self.buffer = target
            capacity = count
        }
        switch source {
        case let .file(fd, size):
            let want = min(capacity, size - offset) - bufferLength
            if want > 0 { bufferLength += preadAll(fd, into: target + bufferLength, count: want, at: offset + bufferLength) }
        case let .stream(file):
            // Only what is asked for: a live pipe's next block may not have been written yet.
            let want = count - bufferLength
            bufferLength += fread(target + bufferLength, 1, want, file)
        }
        return bufferLength
    }

    /// The next packet, the end, or damage (nothing past it is read).
    func next() -> Next {
        while true {
            let got = fetch(12)
            if got == 0 {
                // A regular file's bytes that cannot be read are damage, not its end.
                if case let .file(_, size) = source, offset < size { return damage("the file cannot be read from byte \(offset)") }
                return .end
            }
            guard got >= 12 else { return damage("the file ends inside a block header (\(got) of 12 bytes)") }
            var entry = UnsafeRawPointer(buffer!) + (offset - bufferStart)
            var type = u32(entry, 0)
            let bom = entry.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            var sectionLittle = little
            if type == 0x0A0D_0D0A {
                switch UInt32(littleEndian: bom) {
                case 0x1A2B_3C4D: sectionLittle = true
                case 0x4D3C_2B1A: sectionLittle = false
                default: return damage("a section header has no byte-order magic")
                }
            }
            let raw = entry.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let length = Int(sectionLittle ? UInt32(littleEndian: raw) : UInt32(bigEndian: raw))
            guard length >= 12, length % 4 == 0 else { return damage("a block's length is \(length)") }
            guard length <= Self.largestBlock else { return damage("a block of \(length) bytes is over \(Self.largestBlock)") }
            let whole = fetch(length)
            guard whole >= length else { return damage("the file ends inside a block (\(whole) of \(length) bytes)") }
            entry = UnsafeRawPointer(buffer!) + (offset - bufferStart)
            let trailing = entry.loadUnaligned(fromByteOffset: length - 4, as: UInt32.self)
            guard Int(sectionLittle ? UInt32(littleEndian: trailing) : UInt32(bigEndian: trailing)) == length else {
                return damage("a block's trailing length differs from its length \(length)")
            }
            let at = offset
            if type == 0x0A0D_0D0A {
                let block = PcapngBlocks.Block(type: type, bytes: UnsafeRawBufferPointer(start: entry, count: length), little: sectionLittle)
                guard length >= 28, block.u16(12) == 1 else { return damage("a section header of version \(length >= 28 ? block.u16(12) : 0) or too short") }
                little = sectionLittle
                interfaces = []
                ownState = true
                offset += length
                continue
            }
            type = u32(entry, 0)
            switch type {
            case 1:
                let block = PcapngBlocks.Block(type: type, bytes: UnsafeRawBufferPointer(start: entry, count: length), little: little)
                guard let interface = Self.interface(block) else { return damage("a malformed interface description") }
                interfaces.append(interface)
                ownState = true
                offset += length
            case 6, 2:
                // Enhanced: interface (32 bits), time stamp high and low, captured and original
                // lengths, data. Obsolete: interface and drops (16 bits each), then the same.
                guard length >= 32 else { return damage("a packet block of \(length) bytes") }
                let index = type == 6 ? Int(u32(entry, 8)) : Int(u16(entry, 8))
                guard index < interfaces.count else { return damage("a packet of interface \(index), which is not described") }
                let captured = Int(u32(entry, 20))
                guard 28 + captured <= length - 4 else { return damage("a packet block of \(length) bytes holds \(captured)") }
                // libpcap's limit while its state is the reader's (its one snapshot length),
                // Wireshark's after (the largest packet a capture holds).
                let limit = ownState ? Self.largestPacket : snapshotLimit
                guard captured <= limit else { return damage("a packet of \(captured) bytes is longer than the snapshot length \(limit)") }
                let stamp = UInt64(u32(entry, 12)) << 32 | UInt64(u32(entry, 16))
                let interface = interfaces[index]
                offset += length
                return .packet(Packet(time: Self.time(stamp, interface), wireLength: Int(u32(entry, 24)),
                                      bytes: UnsafeRawBufferPointer(start: entry + 28, count: captured), interface: interface,
                                      fileOffset: isFile ? Int64(at + 28) : -1))
            case 3:
                // Simple: original length, data (interface 0, no time stamp: libpcap's 0).
                guard length >= 16 else { return damage("a simple packet block of \(length) bytes") }
                guard let interface = interfaces.first else { return damage("a simple packet block before any interface") }
                let wire = Int(u32(entry, 8))
                var captured = min(wire, length - 16, Self.largestPacket)
                if interface.snapshotLength > 0 { captured = min(captured, interface.snapshotLength) }
                offset += length
                return .packet(Packet(time: CaptureClock.time(seconds: 0, fraction: 0, fractionUnit: 1), wireLength: wire,
                                      bytes: UnsafeRawBufferPointer(start: entry + 12, count: captured), interface: interface,
                                      fileOffset: isFile ? Int64(at + 12) : -1))
            default:
                // Name resolution, statistics, decryption secrets, custom and unknown blocks.
                offset += length
            }
        }
    }

    private var isFile: Bool {
        if case .file = source { return true }
        return false
    }

    private func damage(_ reason: String) -> Next {
        if !ownState, isFile { return .handBack(offset: offset) }
        return .damaged("\(reason) at byte \(offset)")
    }
}

import WSDecode

/// What the chunked walk (`ChunkedPcapRecords`) needs to read a pcapng file's packets as
/// libpcap reads them: the section's byte order and the one interface libpcap knows once it
/// has opened the file (it reads the section header, passes over other blocks, and stops after
/// the first Interface Description Block).
///
/// The walk takes Enhanced Packet Blocks of that interface and passes over the blocks libpcap
/// ignores (name resolution, interface statistics, decryption secrets, custom blocks); any
/// other block (a new section or interface, a simple or obsolete packet block) and anything
/// odd in a packet block give the reading back to libpcap at that block, as libpcap's state
/// then is exactly what it was after opening. Interfaces whose time stamps libpcap would have
/// to scale other than by a power of ten (`if_tsresol` other than 10^-6 or 10^-9, or an
/// `if_tsoffset`) are left to libpcap from the start.
struct PcapngSection {
    let little: Bool
    /// The interface's time stamps are in nanoseconds (else microseconds).
    let nanoseconds: Bool
    /// The interface's link type.
    let link: LinkType

    /// The section and interface of a pcapng file's opening blocks (`bytes`: the file from its
    /// start to where libpcap stands after opening it, which must end with that interface's
    /// block); nil when the walk cannot read on from there.
    init?(opening bytes: UnsafeRawBufferPointer) {
        // One section, version 1.0 only, as libpcap reads it; before the interface, only the
        // blocks libpcap ignores; time stamps in 10^-6 or 10^-9 s with no offset.
        guard let opened = PcapngBlocks.opening(bytes), opened.sections == 1, opened.versionOneZero, opened.end == bytes.count,
              opened.others.allSatisfy({ [4, 5, 10, 0xBAD, 0x4000_0BAD].contains($0) }),
              let interface = PcapngReader.interface(opened.interface),
              interface.unitsPerSecond == 1_000_000 || interface.unitsPerSecond == 1_000_000_000, interface.offsetSeconds == 0,
              [0, 1, 101, 108, 113, 228, 229, 276].contains(interface.dlt) else { return nil }
        little = opened.little
        nanoseconds = interface.unitsPerSecond == 1_000_000_000
        link = interface.link
    }

    @inline(__always)
    private func u32(_ p: UnsafeRawPointer, _ at: Int) -> UInt32 {
        let v = p.loadUnaligned(fromByteOffset: at, as: UInt32.self)
        return little ? UInt32(littleEndian: v) : UInt32(bigEndian: v)
    }

    /// The block at `entry` (file offset `at`, `available` bytes there), as the walk takes it.
    /// A packet block's fixed fields are checked before the whole block is asked for (`.more`
    /// of its length): what a guess at a chunk's first block can check of a block that runs
    /// past the bytes copied.
    @inline(__always)
    func step(_ entry: UnsafeRawPointer, available: Int, at: Int, fileSize: Int,
              snapshotLength: Int) -> ChunkedPcapRecords.Step {
        guard available >= 12 else { return .more(12) }
        let type = u32(entry, 0), length = Int(u32(entry, 4))
        guard length >= 12, length % 4 == 0, at + length <= fileSize else { return .odd }
        switch type {
        case 6:
            // Interface 0, time stamp high and low, captured and original lengths, data.
            guard length >= 32 else { return .odd }
            guard available >= 28 else { return .more(28) }
            guard u32(entry, 8) == 0 else { return .odd }
            let captured = Int(u32(entry, 20))
            guard captured <= snapshotLength, 28 + captured <= length - 4 else { return .odd }
            guard available >= length else { return .more(length) }
            guard u32(entry, length - 4) == UInt32(length) else { return .odd }
            let stamp = UInt64(u32(entry, 12)) << 32 | UInt64(u32(entry, 16))
            guard stamp < 1 << 62 else { return .odd }
            let time = CaptureClock.time(units: stamp, unit: nanoseconds ? 1 : 1000)
            return .record(size: length, time: time, wire: u32(entry, 24), data: 28, length: captured)
        case 4, 5, 10, 0xBAD, 0x4000_0BAD:
            guard available >= length else { return .more(length) }
            guard u32(entry, length - 4) == UInt32(length) else { return .odd }
            return .skip(size: length)
        default:
            return .odd
        }
    }

    /// The total length a block's header gives (meaningful when 12 bytes are there).
    @inline(__always)
    func blockLength(_ entry: UnsafeRawPointer) -> Int { Int(u32(entry, 4)) }
}

/// The blocks of a pcapng file's bytes, in order: what the key logs (`PcapngSecrets`) and the
/// timestamp resolution (`CaptureFile.timestampDecimals`) are read from, since libpcap hands
/// neither to its caller.
enum PcapngBlocks {
    /// One block: its type and its bytes (header and trailing length included), read in the
    /// section's byte order.
    struct Block {
        let type: UInt32
        let bytes: UnsafeRawBufferPointer
        let little: Bool

        func u32(_ at: Int) -> UInt32 {
            let v = UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
            return little ? v : v.byteSwapped
        }

        func u16(_ at: Int) -> UInt16 {
            let v = UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
            return little ? v : v.byteSwapped
        }

        /// Calls `body` with each option's code and value from `start` (an interface
        /// description's options begin at 16) up to the trailing length, until the end of
        /// options or `body` returns false. False when an option runs past the block.
        func forEachOption(from start: Int, _ body: (_ code: UInt16, _ value: UnsafeRawBufferPointer) -> Bool) -> Bool {
            let end = bytes.count - 4
            var option = start
            while option + 4 <= end {
                let code = u16(option), size = Int(u16(option + 2))
                if code == 0 { break }
                guard option + 4 + size <= end else { return false }
                if !body(code, UnsafeRawBufferPointer(rebasing: bytes[(option + 4)..<(option + 4 + size)])) { break }
                option += 4 + (size + 3) / 4 * 4
            }
            return true
        }
    }

    /// Calls `body` with each whole block of `file` (which starts with a Section Header Block
    /// in either byte order) until `body` returns false, a block does not fit in `file`, or a
    /// length is malformed (under 12 or not a multiple of 4). Nothing for other bytes.
    /// Every block is read in the first section's byte order, as libpcap reads a file it opens;
    /// `eachSectionsOrder`: in its own section's (a section header with no byte-order magic
    /// then ends the walk). Returns where the walk stopped (the file's size: every block read).
    @discardableResult
    static func forEach(_ file: UnsafeRawBufferPointer, eachSectionsOrder: Bool = false, _ body: (Block) -> Bool) -> Int {
        guard file.count >= 12, file[0] == 0x0A, file[1] == 0x0D, file[2] == 0x0D, file[3] == 0x0A else { return 0 }
        guard var little = littleEndian(file[8], file[9], file[10], file[11]) else { return 0 }
        var offset = 0
        while offset + 8 <= file.count {
            // (A section header's type reads the same in either byte order.)
            if eachSectionsOrder && offset > 0 && file.loadUnaligned(fromByteOffset: offset, as: UInt32.self) == 0x0A0D_0D0A {
                guard offset + 12 <= file.count,
                      let order = littleEndian(file[offset + 8], file[offset + 9], file[offset + 10], file[offset + 11]) else { return offset }
                little = order
            }
            let header = Block(type: 0, bytes: UnsafeRawBufferPointer(rebasing: file[offset..<(offset + 8)]), little: little)
            let length = Int(header.u32(4))
            guard length >= 12, length % 4 == 0, offset + length <= file.count else { return offset }
            let block = Block(type: header.u32(0), bytes: UnsafeRawBufferPointer(rebasing: file[offset..<(offset + length)]),
                              little: little)
            guard body(block) else { return offset }
            offset += length
        }
        return offset
    }

    /// What libpcap reads of a pcapng file to open it: a section header, other blocks (further
    /// section headers among them, read in the first's byte order), and the first interface
    /// description, where it stops.
    struct Opening {
        let little: Bool
        let sections: Int
        /// Every section header says version 1.0 (libpcap reads any 1.x).
        let versionOneZero: Bool
        /// The types of the other blocks, in order.
        let others: [UInt32]
        let interface: Block
        /// Where the interface description ends: libpcap's position.
        let end: Int
    }

    /// The opening blocks of `file` (`forEach`'s blocks); nil when no interface description
    /// comes before the first packet block, a section header is not version 1, or one does
    /// not share the first's byte order.
    static func opening(_ file: UnsafeRawBufferPointer) -> Opening? {
        var little = true, sections = 0, oneZero = true, end = 0, odd = false
        var others: [UInt32] = []
        var interface: Block?
        forEach(file) { block in
            end += block.bytes.count
            switch block.type {
            case 0x0A0D_0D0A:
                sections += 1
                little = block.little
                let b = block.bytes
                if block.u16(12) != 1 || littleEndian(b[8], b[9], b[10], b[11]) != little { odd = true }
                if block.u16(14) != 0 { oneZero = false }
            case 1:
                interface = block
                return false
            case 6, 3, 2:
                odd = true
            default:
                others.append(block.type)
            }
            return !odd
        }
        guard !odd, let interface else { return nil }
        return Opening(little: little, sections: sections, versionOneZero: oneZero, others: others, interface: interface, end: end)
    }

    /// A section header's byte-order magic (its bytes 8 to 11): whether the section is
    /// little-endian; nil when they are not the magic.
    static func littleEndian(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> Bool? {
        switch (a, b, c, d) {
        case (0x4D, 0x3C, 0x2B, 0x1A): return true
        case (0x1A, 0x2B, 0x3C, 0x4D): return false
        default: return nil
        }
    }

    /// Enhanced, simple and obsolete packet blocks: where the packets begin.
    static func isPacket(_ type: UInt32) -> Bool { type == 6 || type == 3 || type == 2 }
}

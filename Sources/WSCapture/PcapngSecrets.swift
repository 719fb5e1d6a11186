#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The TLS key logs a pcapng file carries in Decryption Secrets Blocks (block type 0x0000000A,
/// secrets type "TLSK"), which `editcap --inject-secrets tls,KEYS` writes. libpcap does not hand
/// these blocks to its caller, so the file's blocks are walked here, through a reused window
/// read with `pread`.
///
/// Why not a memory mapping of the file: every page the walk touches (with blocks of a few
/// hundred bytes, every page) then counts into the process's resident memory until the
/// mapping goes. A 110 MB file of a dumpcap ring buffer made `read --summary` peak at 121 MB
/// instead of 25 MB; with the window, the walk holds 1 MiB whatever the file's size.
public enum PcapngSecrets {
    /// The key log texts of the file's DSBs, in file order; empty for pcap files or no DSB.
    /// Blocks are walked to the end for files up to `fullScanLimit` bytes; past that, up to the
    /// first packet block (where editcap puts them).
    public static func tlsKeyLogs(path: String, fullScanLimit: Int64 = 256 << 20, window: Int = 1 << 20) -> [String] {
        guard path != "-" else { return [] }
        // Only a regular file is opened: opening a named pipe (a FIFO) would wait for a
        // writer, or, done without waiting before the capture is read, let its writer write
        // to a reader about to go (the key logs are read before the capture, which is then
        // read as a stream: `StreamInput` finds a pipe's DSBs as they pass).
        var before = stat()
        guard stat(path, &before) == 0, (before.st_mode & S_IFMT) == S_IFREG else { return [] }
        // Opened without waiting all the same: the path may have become a pipe since. The
        // `fstat` below turns away anything but a regular file.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size >= 12 else { return [] }
        // Only a pcapng file (a section header first) is walked.
        var magic: UInt32 = 0
        guard withUnsafeMutableBytes(of: &magic, { preadAll(fd, into: $0.baseAddress!, count: 4, at: 0) }) == 4,
              magic == 0x0A0D_0D0A else { return [] }
        var reader = WindowedFile(fd: fd, size: Int(info.st_size), window: max(window, 64))
        defer { reader.release() }
        return walk(&reader, fullScan: Int64(info.st_size) <= fullScanLimit)
    }

    /// The DSB texts of pcapng bytes (the tests' way in: the same walk over bytes in memory).
    static func walk(_ file: UnsafeRawBufferPointer, fullScan: Bool) -> [String] {
        var texts: [String] = []
        PcapngBlocks.forEach(file) { block in
            if let text = tlsKeyLog(block) { texts.append(text) }
            // The packets have begun.
            return fullScan || !PcapngBlocks.isPacket(block.type)
        }
        return texts
    }

    /// The same walk over a file read window by window. A section header (SHB) sets the byte
    /// order of the blocks after it; a block whose length is malformed or runs past the end of
    /// the file ends the walk, as it ends `PcapngBlocks.forEach`.
    static func walk(_ file: inout WindowedFile, fullScan: Bool) -> [String] {
        var texts: [String] = []
        var offset = 0
        var little = true
        while let head = file.bytes(at: offset, count: 12) {
            // The SHB's type reads the same in both byte orders.
            if head[0] == 0x0A && head[1] == 0x0D && head[2] == 0x0D && head[3] == 0x0A {
                guard let order = PcapngBlocks.littleEndian(head[8], head[9], head[10], head[11]) else { return texts }
                little = order
            } else if offset == 0 {
                return texts  // not a pcapng file
            }
            let header = PcapngBlocks.Block(type: 0, bytes: head, little: little)
            let blockType = header.u32(0), length = Int(header.u32(4))
            guard length >= 12, length % 4 == 0, offset + length <= file.size else { break }
            if blockType == 0x0000_000A, length >= 20 {
                file.withBytes(at: offset, count: length) { bytes in
                    if let text = tlsKeyLog(PcapngBlocks.Block(type: blockType, bytes: bytes, little: little)) { texts.append(text) }
                }
            }
            if !fullScan && PcapngBlocks.isPacket(blockType) { break }
            offset += length
        }
        return texts
    }

    /// The key log text of a Decryption Secrets Block of TLS key log lines; nil for any other block.
    static func tlsKeyLog(_ block: PcapngBlocks.Block) -> String? {
        guard block.type == 0x0000_000A && block.bytes.count >= 20 else { return nil }
        let secretsType = block.u32(8)
        let secretsLength = Int(block.u32(12))
        guard secretsType == 0x544C_534B, 16 + secretsLength <= block.bytes.count else { return nil }
        return String(decoding: block.bytes[16..<(16 + secretsLength)], as: UTF8.self)
    }
}

/// A regular file read through one reused window of `window` bytes (`pread`: the descriptor's
/// position never moves).
struct WindowedFile {
    let fd: Int32
    let size: Int
    private let window: Int
    private var buffer: UnsafeMutableRawPointer?
    /// The window holds file bytes [start, start + count).
    private var start = 0
    private var count = 0

    init(fd: Int32, size: Int, window: Int) {
        self.fd = fd
        self.size = size
        self.window = window
    }

    mutating func release() {
        buffer?.deallocate()
        buffer = nil
    }

    /// File bytes [offset, offset + count) for `count` up to the window, valid until the next
    /// call; nil past the end of the file (or when it cannot be read).
    mutating func bytes(at offset: Int, count wanted: Int) -> UnsafeRawBufferPointer? {
        guard wanted <= window, offset >= 0, offset + wanted <= size else { return nil }
        if offset < start || offset + wanted > start + count {
            let buffer = self.buffer ?? UnsafeMutableRawPointer.allocate(byteCount: window, alignment: 16)
            self.buffer = buffer
            count = preadAll(fd, into: buffer, count: min(window, size - offset), at: offset)
            start = offset
            guard count >= wanted else { return nil }
        }
        return UnsafeRawBufferPointer(start: buffer! + (offset - start), count: wanted)
    }

    /// Calls `body` with file bytes [offset, offset + count) (a block larger than the window is
    /// read whole into memory of its own); nothing when they cannot be read.
    mutating func withBytes(at offset: Int, count wanted: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        if wanted <= window {
            if let bytes = bytes(at: offset, count: wanted) { body(bytes) }
            return
        }
        guard offset + wanted <= size else { return }
        let whole = UnsafeMutableRawPointer.allocate(byteCount: wanted, alignment: 16)
        defer { whole.deallocate() }
        if preadAll(fd, into: whole, count: wanted, at: offset) == wanted {
            body(UnsafeRawBufferPointer(start: whole, count: wanted))
        }
    }
}

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The TLS key logs a pcapng file carries in Decryption Secrets Blocks (block type 0x0000000A,
/// secrets type "TLSK"), which `editcap --inject-secrets tls,KEYS` writes. libpcap does not hand
/// these blocks to its caller, so the file's blocks are walked here over a read-only mapping:
/// only the pages holding block headers (and the DSBs) are touched.
public enum PcapngSecrets {
    /// The key log texts of the file's DSBs, in file order; empty for pcap files or no DSB.
    /// Blocks are walked to the end for files up to `fullScanLimit` bytes; past that, up to the
    /// first packet block (where editcap puts them).
    public static func tlsKeyLogs(path: String, fullScanLimit: Int64 = 256 << 20) -> [String] {
        guard path != "-" else { return [] }
        // Opened without waiting: opening a named pipe (a FIFO) for reading waits for a writer,
        // and its writer is gone once the capture has been read from it. The `fstat` below
        // then turns away anything but a regular file.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size >= 12 else { return [] }
        let size = Int(info.st_size)
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { return [] }
        defer { munmap(base, size) }
        return walk(UnsafeRawBufferPointer(start: base, count: size), fullScan: Int64(size) <= fullScanLimit)
    }

    /// The DSB texts of pcapng bytes (exposed for tests through `tlsKeyLogs`).
    static func walk(_ file: UnsafeRawBufferPointer, fullScan: Bool) -> [String] {
        var texts: [String] = []
        PcapngBlocks.forEach(file) { block in
            if block.type == 0x0000_000A && block.bytes.count >= 20 {
                let secretsType = block.u32(8)
                let secretsLength = Int(block.u32(12))
                if secretsType == 0x544C_534B, 16 + secretsLength <= block.bytes.count {
                    texts.append(String(decoding: block.bytes[16..<(16 + secretsLength)], as: UTF8.self))
                }
            }
            // The packets have begun.
            return fullScan || !PcapngBlocks.isPacket(block.type)
        }
        return texts
    }
}

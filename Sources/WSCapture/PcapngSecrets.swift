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
        let fd = open(path, O_RDONLY | O_CLOEXEC)
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
        guard file.count >= 12, file[0] == 0x0A, file[1] == 0x0D, file[2] == 0x0D, file[3] == 0x0A else { return [] }
        let little: Bool
        switch (file[8], file[9], file[10], file[11]) {
        case (0x4D, 0x3C, 0x2B, 0x1A): little = true
        case (0x1A, 0x2B, 0x3C, 0x4D): little = false
        default: return []
        }
        func u32(_ at: Int) -> UInt32 {
            let v = UInt32(file[at]) | UInt32(file[at + 1]) << 8 | UInt32(file[at + 2]) << 16 | UInt32(file[at + 3]) << 24
            return little ? v : v.byteSwapped
        }
        var texts: [String] = []
        var offset = 0
        while offset + 8 <= file.count {
            let type = u32(offset)
            let length = Int(u32(offset + 4))
            guard length >= 12, length % 4 == 0, offset + length <= file.count else { break }
            if type == 0x0000_000A && length >= 20 {
                let secretsType = u32(offset + 8)
                let secretsLength = Int(u32(offset + 12))
                if secretsType == 0x544C_534B, 16 + secretsLength <= length {
                    texts.append(String(decoding: file[(offset + 16)..<(offset + 16 + secretsLength)], as: UTF8.self))
                }
            }
            // Enhanced, simple and obsolete packet blocks: the packets have begun.
            if (type == 6 || type == 3 || type == 2) && !fullScan { break }
            offset += length
        }
        return texts
    }
}

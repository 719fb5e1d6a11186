#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The TLS key logs a pcapng file carries in Decryption Secrets Blocks (block type 0x0000000A,
/// secrets type "TLSK"), which `editcap --inject-secrets tls,KEYS` writes. libpcap does not hand
/// these blocks to its caller, so the file's blocks are walked here, reading only their headers.
public enum PcapngSecrets {
    /// The key log texts of the file's DSBs, in file order; empty for pcap files or no DSB.
    /// Blocks are walked to the end for files up to `fullScanLimit` bytes; past that, up to the
    /// first packet block (where editcap puts them).
    public static func tlsKeyLogs(path: String, fullScanLimit: Int64 = 256 << 20) -> [String] {
        guard path != "-", let file = fopen(path, "rb") else { return [] }
        defer { fclose(file) }
        var size: Int64 = 0
        if fseeko(file, 0, SEEK_END) == 0 { size = Int64(ftello(file)) }
        fseeko(file, 0, SEEK_SET)
        var header = [UInt8](repeating: 0, count: 12)
        guard fread(&header, 1, 12, file) == 12,
              header[0] == 0x0A, header[1] == 0x0D, header[2] == 0x0D, header[3] == 0x0A else { return [] }
        let little: Bool
        switch (header[8], header[9], header[10], header[11]) {
        case (0x4D, 0x3C, 0x2B, 0x1A): little = true
        case (0x1A, 0x2B, 0x3C, 0x4D): little = false
        default: return []
        }
        func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
            let v = UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
            return little ? v : v.byteSwapped
        }
        var texts: [String] = []
        var offset: Int64 = 0
        var blocks = 0
        while blocks < 50_000_000 {
            blocks += 1
            guard fseeko(file, off_t(offset), SEEK_SET) == 0 else { break }
            var head = [UInt8](repeating: 0, count: 8)
            guard fread(&head, 1, 8, file) == 8 else { break }
            let type = u32(head, 0)
            let length = Int64(u32(head, 4))
            guard length >= 12, length % 4 == 0, size == 0 || offset + length <= size else { break }
            if type == 0x0000_000A && length >= 20 {
                var body = [UInt8](repeating: 0, count: Int(length) - 8)
                guard fread(&body, 1, body.count, file) == body.count else { break }
                let secretsType = u32(body, 0)
                let secretsLength = Int(u32(body, 4))
                if secretsType == 0x544C_534B, 8 + secretsLength <= body.count {
                    texts.append(String(decoding: body[8..<(8 + secretsLength)], as: UTF8.self))
                }
            }
            // Enhanced, simple and obsolete packet blocks: the packets have begun.
            if (type == 6 || type == 3 || type == 2) && size > fullScanLimit { break }
            offset += length
        }
        return texts
    }
}

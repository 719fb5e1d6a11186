import CZlib
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What a file in a directory (or a pattern's match) is, from its first bytes and its name:
/// whether a set read as one capture takes it (a pcap or pcapng file, gzip-compressed or not),
/// leaves it out quietly (a key log, notes, an empty file being written), or leaves it out
/// with a warning (a capture it cannot read).
public enum CaptureProbe {
    public enum Kind: Equatable, Sendable {
        /// Starts like a pcap (either byte order, µs or ns) or pcapng file, or is one gzip-compressed.
        case capture
        /// Not a capture, and nothing says it was one.
        case other
        /// A capture that cannot be read as it is, and why.
        case unreadableCapture(String)
    }

    /// Whether `magic` (the file's first four bytes, little-endian) is a pcap or pcapng magic.
    public static func isCaptureMagic(_ magic: UInt32) -> Bool {
        [0xa1b2_c3d4, 0xd4c3_b2a1, 0xa1b2_3c4d, 0x4d3c_b2a1, 0x0a0d_0d0a].contains(magic)
    }

    /// Whether `path` is read as a stream (`CaptureFile`, `StreamInput`): standard input, a
    /// pipe or anything else but a regular file, or a gzip-compressed file. Looked at without
    /// opening it (opening a named pipe waits for a writer) and without reading a pipe.
    public static func isReadAsStream(_ path: String) -> Bool {
        guard path != "-" else { return true }
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return true }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head: (UInt8, UInt8) = (0, 0)
        return withUnsafeMutableBytes(of: &head) { pread(fd, $0.baseAddress, 2, 0) } == 2 && head == (0x1F, 0x8B)
    }

    public static func kind(path: String) -> Kind {
        guard let f = fopen(path, "rb") else {
            let reason = String(cString: strerror(errno))
            return namedLikeCapture(path) ? .unreadableCapture(reason) : .other
        }
        defer { fclose(f) }
        var head = [UInt8](repeating: 0, count: 4096)
        head.removeSubrange(fread(&head, 1, head.count, f)...)
        return kind(head: head, name: path)
    }

    /// The first four bytes as a little-endian number (how the magic numbers are written
    /// here); nil when there are fewer.
    static func magic(_ b: ArraySlice<UInt8>) -> UInt32? {
        guard b.count >= 4 else { return nil }
        let s = b.startIndex
        return UInt32(b[s]) | UInt32(b[s + 1]) << 8 | UInt32(b[s + 2]) << 16 | UInt32(b[s + 3]) << 24
    }

    /// `kind` from the first bytes (up to 4 KiB) and the name.
    static func kind(head: [UInt8], name: String) -> Kind {
        if let m = magic(head[...]), isCaptureMagic(m) { return .capture }
        // An empty file (tcpdump's file still being written holds no header yet) holds nothing.
        if head.isEmpty { return .other }
        // gzip (tcpdump -z gzip, an archived .pcap.gz): read as it is when a capture is inside
        // (`CaptureFile` inflates as it reads); the first bytes inflated say whether one is.
        if head.starts(with: [0x1f, 0x8b]) {
            if let inner = gunzipPrefix(head), let m = magic(inner[...]), isCaptureMagic(m) { return .capture }
            return namedLikeCapture(name) ? .unreadableCapture("gzip-compressed, no pcap or pcapng inside") : .other
        }
        // Other compressors: by the name under the compression suffix.
        let compressed: [(String, [UInt8])] = [("xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), ("zstd", [0x28, 0xb5, 0x2f, 0xfd]),
                                               ("bzip2", [0x42, 0x5a, 0x68]), ("lz4", [0x04, 0x22, 0x4d, 0x18])]
        for (what, prefix) in compressed where head.starts(with: prefix) && namedLikeCapture(name) {
            return .unreadableCapture("\(what)-compressed (decompress it first)")
        }
        return namedLikeCapture(name) ? .unreadableCapture("not a pcap or pcapng file") : .other
    }

    /// Named like a capture: `.pcap`, `.pcapng`, `.cap`, with tcpdump -C's number after it
    /// (`x.pcap1`), and a compression suffix after that (`x.pcap.gz`); any case.
    static func namedLikeCapture(_ path: String) -> Bool {
        var name = Substring(path.split(separator: "/").last.map { $0.lowercased() } ?? "")
        for suffix in [".gz", ".xz", ".zst", ".bz2", ".lz4"] where name.hasSuffix(suffix) {
            name = name.dropLast(suffix.count)
        }
        while let last = name.last, last.isASCII, last.isNumber { name = name.dropLast() }
        return name.hasSuffix(".pcap") || name.hasSuffix(".pcapng") || name.hasSuffix(".cap")
    }

    /// The first bytes of a gzip stream's content (nil when they cannot be inflated).
    static func gunzipPrefix(_ bytes: [UInt8], count: Int = 8) -> [UInt8]? {
        var stream = z_stream()
        guard wstrace_inflate_init_raw(&stream, 16 + 15) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var input = bytes
        var output = [UInt8](repeating: 0, count: count)
        let produced: Int = input.withUnsafeMutableBufferPointer { i in
            output.withUnsafeMutableBufferPointer { o in
                stream.next_in = i.baseAddress
                stream.avail_in = UInt32(i.count)
                stream.next_out = o.baseAddress
                stream.avail_out = UInt32(o.count)
                let status = inflate(&stream, Z_SYNC_FLUSH)
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else { return 0 }
                return o.count - Int(stream.avail_out)
            }
        }
        return produced > 0 ? Array(output.prefix(produced)) : nil
    }
}

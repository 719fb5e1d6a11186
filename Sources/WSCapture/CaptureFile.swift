import CZlib
import CPcap
import WSDecode
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A pcap or pcapng file (or standard input, "-") read packet by packet through libpcap.
///
/// The file is streamed: at most one record is held at a time, in libpcap's buffer. The bytes
/// handed to `forEach`'s body are valid only during that call.
public final class CaptureFile {
    /// The path given, "-" for standard input.
    public let path: String
    /// `path` is standard input (a live pipe), decided once rather than at every record.
    private let isStandardInput: Bool
    /// libpcap's data link type (a DLT_ value, e.g. 1 for Ethernet): the file's, or a pcapng
    /// file's first interface's.
    public let linkType: Int32
    /// `linkType` as decoded.
    public let link: LinkType
    /// The link types of a pcapng file's interfaces described before its first packet (as
    /// dumpcap writes them all first), in order, without repeats; `linkType` alone otherwise;
    /// none for a pcapng that describes no interface.
    public let linkTypes: [Int32]
    /// A pcapng file that describes no interface: read as empty (libpcap cannot open it).
    private let holdsNoPacket: Bool
    /// Decimal places of the file's timestamps: its resolution (6 for microseconds, 9 for nanoseconds).
    public let timestampDecimals: Int
    /// The file's snapshot length.
    public let snapshotLength: Int
    /// The regular file that was opened (its device and inode; nil for standard input, a pipe,
    /// anything else): what a later open of `path` must find again to be the same file.
    public let identity: FileIdentity?
    /// Packets read so far (passing the filter or not).
    public private(set) var packetsRead = 0
    /// Of those, the ones the chunked walk read (the rest, libpcap), for the tests.
    private(set) var walkedRecords = 0

    private let handle: OpaquePointer
    private let stream: UnsafeMutablePointer<FILE>?
    private var filter = bpf_program()
    private var hasFilter = false
    /// The chunked fast path for regular classic pcap and pcapng files (nil: libpcap reads).
    private var chunked: ChunkedPcapRecords?
    /// What standard input, a pipe or a gzip-compressed file is read through (closed with the
    /// stream libpcap closes).
    private var streamInput: StreamInput?
    /// The stdio buffer libpcap reads through (glibc ignores a size given without a buffer).
    private let streamBuffer: UnsafeMutablePointer<CChar>?
    /// A record libpcap read that the last batch had no room for.
    private var heldRecord: (number: Int, time: Int64, wire: Int, bytes: [UInt8], link: LinkType, fileOffset: Int64)?
    /// What reads a pcapng file where libpcap cannot (interfaces of other link types, and the
    /// rest): after the chunked walk, or instead of libpcap from the start (`PcapngReader`).
    private var pcapng: PcapngReader?
    /// The filter's expression, and its programs for the link types of other interfaces.
    private var filterExpression: String?
    /// `filter` holds the program for the file's link type (false: none compiles for it, and
    /// nothing of that link type passes).
    private var compiledForFile = true
    private var otherPrograms: [(link: LinkType, program: bpf_program?)] = []

    /// Opens `path` ("-" for standard input). `fastPath: false` makes libpcap read every record
    /// (by default regular classic pcap and pcapng files are read in large chunks, see
    /// `ChunkedPcapRecords`; the tests compare both). `streamBufferBytes`: the stdio buffer
    /// libpcap reads through (a set of many files gives each less).
    ///
    /// `onKeyLog`: where the key logs of a pcapng's Decryption Secrets Blocks go when the file
    /// is read as a stream (standard input, a pipe, gzip), as they are read; a regular file's
    /// are read before (`PcapngSecrets`).
    public init(path: String, fastPath: Bool = true, streamBufferBytes: Int = 1 << 20,
                onKeyLog: ((String) -> Void)? = nil) throws(CaptureError) {
        self.path = path
        isStandardInput = path == "-"
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        var file: UnsafeMutablePointer<FILE>?
        if path == "-" {
            file = fdopen(0, "rb")
        } else {
            file = fopen(path, "rb")
        }
        guard let opened = file else {
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        var st = stat()
        let statted = fstat(fileno(opened), &st) == 0
        if statted, (st.st_mode & S_IFMT) == S_IFDIR {
            fclose(opened)
            throw .cannotOpen(path: path, reason: "is a directory")
        }
        // Only a regular file is looked at before libpcap reads it: a pipe by its path (a
        // shell's <(tcpdump -w -)) would lose what was looked at, so it is read as standard
        // input is (a stream, below).
        let regular = statted && (st.st_mode & S_IFMT) == S_IFREG
        identity = regular && path != "-" ? FileIdentity(st) : nil
        // Standard input, a pipe, a gzip-compressed capture (tcpdump -z gzip, an archived
        // .pcap.gz): libpcap reads it through a stream that inflates gzip as it goes and hands
        // on the key logs of the Decryption Secrets Blocks going by; no fast path, progress in
        // the bytes read (compressed bytes for gzip).
        let head = regular ? CaptureFile.head(opened) : []
        if !regular || path == "-" || head.starts(with: [0x1f, 0x8b]) {
            // (Nothing was read from `opened`: the head was read without moving the descriptor.)
            let fd = dup(fileno(opened))
            if path != "-" { fclose(opened) }
            guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
            let input = StreamInput(fd: fd, onKeyLog: onKeyLog)
            guard let stream = input.stream() else {
                throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
            }
            file = stream
            streamInput = input
        }
        guard let file else { throw .cannotOpen(path: path, reason: "cannot open") }
        // A large stdio buffer: libpcap reads record by record through it (pcapng, and what
        // the chunked walk leaves); with glibc's own 4 KiB one, a 110 MB pcapng file took
        // 27,000 reads. Set before any read of the stream (the head above was read with pread).
        // A regular pcap or pcapng file is read by the chunked walk, nearly always: libpcap
        // reads only its opening bytes, but fills the whole buffer doing so.
        let walked = streamInput == nil && CaptureProbe.magic(head[...]).map(CaptureProbe.isCaptureMagic) == true
        let bufferBytes = max(4096, walked ? min(64 << 10, streamBufferBytes) : streamBufferBytes)
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bufferBytes)
        setvbuf(file, buffer, _IOFBF, bufferBytes)
        let decimals = CaptureFile.timestampDecimals(header: head)
        guard let pcap = pcap_fopen_offline_with_tstamp_precision(
            file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
        else {
            // A pcapng file of sections that describe no interface (so hold no packet): libpcap
            // refuses it ("no Interface Description Blocks"), tshark reads it as empty, and so
            // does wstrace, so that such a file does not end a set's run.
            let empty = streamInput == nil && PcapngReader.describesNoInterface(fd: fileno(file))
            fclose(file)
            buffer.deallocate()
            guard empty, let dead = pcap_open_dead(1, 262_144) else {
                let reason = streamInput?.failure ?? errbuf.nulTerminatedString
                throw .notACaptureFile(path: path, reason: reason.isEmpty ? "unknown format" : reason)
            }
            handle = dead
            stream = nil
            streamBuffer = nil
            linkType = 1
            link = .ethernet
            linkTypes = []
            snapshotLength = 262_144
            timestampDecimals = decimals
            holdsNoPacket = true
            return
        }
        self.handle = pcap
        self.stream = file
        self.streamBuffer = buffer
        self.linkType = pcap_datalink(pcap)
        link = LinkType.of(dlt: linkType)
        holdsNoPacket = false
        self.snapshotLength = Int(pcap_snapshot(pcap))
        // A stream's resolution from what libpcap read of it to open it (the file header; for
        // pcapng the first interface description, which libpcap reads before it returns);
        // nanoseconds when that does not say.
        self.timestampDecimals = streamInput.map { CaptureFile.timestampDecimals(header: $0.opening, unknown: 9) } ?? decimals
        let opening = streamInput?.opening ?? head
        let pcapngFile = opening.starts(with: [0x0A, 0x0D, 0x0D, 0x0A])
        var types = [linkType]
        if pcapngFile {
            for t in CaptureFile.interfaceLinkTypes(header: opening) where !types.contains(t) { types.append(t) }
        }
        linkTypes = types
        if path != "-" && fastPath && streamInput == nil {
            if pcapngFile {
                // pcapng: the walk reads on from where libpcap stands after opening the file,
                // and the pcapng reader where the walk stops.
                let start = Int(ftello(file))
                chunked = ChunkedPcapRecords(pcapngFD: fileno(file), start: start, snapshotLength: snapshotLength)
                pcapng = PcapngReader(fd: fileno(file), start: start, readBytes: streamBufferBytes, snapshotLength: snapshotLength)
            } else {
                chunked = ChunkedPcapRecords(fd: fileno(file))
            }
        } else if fastPath, pcapngFile, let streamInput {
            pcapng = PcapngReader(stream: file, opening: streamInput.opening, snapshotLength: snapshotLength)
        }
    }

    /// The first 64 KiB of `file` from where it stands (read with `pread`: the stream is not
    /// touched, so that its buffer can still be set, and does not move).
    private static func head(_ file: UnsafeMutablePointer<FILE>) -> [UInt8] {
        let fd = fileno(file)
        let at = max(0, Int(lseek(fd, 0, SEEK_CUR)))
        var head = [UInt8](repeating: 0, count: 64 << 10)
        let got = head.withUnsafeMutableBytes { preadAll(fd, into: $0.baseAddress!, count: $0.count, at: at) }
        head.removeSubrange(got...)
        return head
    }

    /// Where the chunked walk stopped: the pcapng reader reads on from there, or libpcap.
    private func readOnFrom(_ offset: Int) {
        if let pcapng {
            pcapng.seek(offset)
        } else if let stream {
            fseek(stream, offset, SEEK_SET)
        }
    }

    /// What went wrong reading a stream the pcapng reader reads (damaged gzip data, a read
    /// error); nil when it ended as it should.
    private var streamFailure: String? {
        if let failure = streamInput?.failure { return failure }
        if streamInput != nil, let stream, ferror(stream) != 0 { return "error reading the stream" }
        return nil
    }

    /// Why a record could not be read: what the stream found (damaged gzip data) before what
    /// libpcap says of it ("error reading dump file: Input/output error").
    private var readFailure: String {
        streamInput?.failure ?? String(cString: pcap_geterr(handle))
    }

    deinit {
        if hasFilter && compiledForFile { pcap_freecode(&filter) }
        for var other in otherPrograms where other.program != nil { pcap_freecode(&other.program!) }
        pcap_close(handle)  // closes the FILE too
        streamBuffer?.deallocate()
    }

    /// libpcap's name of the link type ("EN10MB", "LINUX_SLL", ...); of each, for a pcapng
    /// file with interfaces of several ("EN10MB, LINUX_SLL").
    public var linkTypeName: String { linkTypes.map(CaptureFile.name(dlt:)).joined(separator: ", ") }

    /// libpcap's name of link type `dlt`.
    public static func name(dlt: Int32) -> String {
        guard let name = pcap_datalink_val_to_name(dlt) else { return "DLT \(dlt)" }
        return String(cString: name)
    }

    /// Applies a BPF filter per packet; packets that fail it are skipped but still numbered.
    public func setFilter(_ expression: String) throws(CaptureError) {
        if hasFilter {
            if compiledForFile { pcap_freecode(&filter) }
            for var other in otherPrograms where other.program != nil { pcap_freecode(&other.program!) }
            otherPrograms = []
            hasFilter = false
            compiledForFile = true
        }
        filterExpression = expression
        if pcap_compile(handle, &filter, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            let reason = String(cString: pcap_geterr(handle))
            // A pcapng whose first interface is of a link type not decoded (libpcap's link
            // type for the file): the filter holds for the others' packets, and passes none
            // of that interface's; it must compile for one of them.
            let others = linkTypes.map(LinkType.of(dlt:)).filter { $0 != .unsupported }
            guard link == .unsupported, others.contains(where: { program(for: $0) != nil }) else {
                throw .badFilter(expression: expression, reason: reason)
            }
            compiledForFile = false
        }
        hasFilter = true
    }

    /// The filter's program for packets of `link`, an interface other than the file's first
    /// (compiled once; nil when it cannot be compiled for that link type: nothing passes).
    private func program(for link: LinkType) -> bpf_program? {
        if let known = otherPrograms.first(where: { $0.link == link }) { return known.program }
        var compiled: bpf_program?
        if let dlt = link.dlt, let expression = filterExpression, let dead = pcap_open_dead(dlt, 262_144) {
            var program = bpf_program()
            if pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 { compiled = program }
            pcap_close(dead)
        }
        otherPrograms.append((link, compiled))
        return compiled
    }

    /// Calls `body` for each packet passing the filter, in file order, until the end of the file
    /// or until `body` returns false. Throws `.damaged` when a record cannot be read; everything
    /// before it has been handed out.
    public func forEach(_ body: (PacketHeader, UnsafeRawBufferPointer) -> Bool) throws(CaptureError) {
        if holdsNoPacket { return }
        if let chunked {
            // The chunked walk first; the pcapng reader or libpcap takes over at the first odd
            // record (or never).
            var stopped = false
            let atEnd = chunked.forEach { time, wire, bytes, at in
                packetsRead += 1
                walkedRecords += 1
                if hasFilter {
                    var h = pcap_pkthdr(ts: timeval(tv_sec: 0, tv_usec: 0), caplen: bpf_u_int32(bytes.count), len: wire)
                    if pcap_offline_filter(&filter, &h, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 0 {
                        return true
                    }
                }
                let header = PacketHeader(number: packetsRead, timestampNanoseconds: time,
                                          capturedLength: bytes.count, wireLength: Int(wire), fileOffset: at, link: chunked.link)
                if !body(header, bytes) { stopped = true; return false }
                return true
            }
            self.chunked = nil
            if atEnd || stopped { return }
            readOnFrom(chunked.offset)
        }
        if let pcapng {
            while true {
                switch pcapng.next() {
                case let .packet(p):
                    packetsRead += 1
                    let link = p.interface.link
                    if !matches(wireLength: p.wireLength, bytes: p.bytes, link: link) { continue }
                    let header = PacketHeader(number: packetsRead, timestampNanoseconds: p.time, capturedLength: p.bytes.count,
                                              wireLength: p.wireLength, fileOffset: p.fileOffset, link: link)
                    if !body(header, p.bytes) { return }
                case .end:
                    if let failure = streamFailure { throw .damaged(path: path, reason: failure, lastGoodPacket: packetsRead) }
                    return
                case let .handBack(offset):
                    self.pcapng = nil
                    if let stream { fseek(stream, offset, SEEK_SET) }
                case let .damaged(reason):
                    throw .damaged(path: path, reason: streamFailure ?? reason, lastGoodPacket: packetsRead)
                }
                if self.pcapng == nil { break }
            }
        }
        var headerPointer: UnsafeMutablePointer<pcap_pkthdr>?
        var dataPointer: UnsafePointer<UInt8>?
        while true {
            let status = pcap_next_ex(handle, &headerPointer, &dataPointer)
            if status == 1, let h = headerPointer, let d = dataPointer {
                packetsRead += 1
                if hasFilter && (!compiledForFile || pcap_offline_filter(&filter, h, d) == 0) { continue }
                let hdr = h.pointee
                let ts = hdr.captureTime(nanosecondFraction: true)
                let header = PacketHeader(number: packetsRead, timestampNanoseconds: ts,
                                          capturedLength: Int(hdr.caplen), wireLength: Int(hdr.len), link: link)
                if !body(header, UnsafeRawBufferPointer(start: d, count: Int(hdr.caplen))) { return }
            } else if status == -2 || status == 0 {
                return
            } else {
                throw .damaged(path: path, reason: readFailure,
                               lastGoodPacket: packetsRead)
            }
        }
    }

    /// The rest of the file as chunks that several threads copy at once (`PcapChunks`), when
    /// it is read by the chunked walk (a regular classic pcap or pcapng file) and some of it is left; nil
    /// otherwise. Until the chunks give the reading back (at the end of the file, or at a record
    /// the walk does not take), nothing else may read this file; `fill` then goes on from there.
    /// `file` is the index its records are tagged with.
    public func chunks(bytes: Int, file: Int = 0) -> PcapChunks? {
        guard let part = chunkable, bytes > 0 else { return nil }
        return PcapChunks(records: part.records, chunkBytes: bytes, numbered: packetsRead, file: file,
                          program: part.program) { offset, numbered in
            self.resume(at: offset, numbered: numbered)
        }
    }

    /// The chunked walk and the filter, when the rest of the file can be read in chunks.
    var chunkable: (records: ChunkedPcapRecords, program: bpf_program?)? {
        guard let chunked, heldRecord == nil, chunked.offset < chunked.size else { return nil }
        return (chunked, hasFilter ? filter : nil)
    }

    /// Where the chunks gave the reading back: the offset of the next record, and the records
    /// read of the file.
    func resume(at offset: Int, numbered: Int) {
        chunked?.offset = offset
        packetsRead = numbered
    }

    /// Bytes of the file read so far (0 for standard input; compressed bytes for a gzip file).
    public var position: Int {
        if let chunked { return chunked.offset }
        guard path != "-" else { return 0 }
        if let streamInput { return streamInput.consumed }
        if let pcapng { return pcapng.offset }
        guard let stream else { return 0 }
        return Int(ftello(stream))
    }

    /// Whether the filter (if any) passes a record of link type `link`.
    @inline(__always)
    public func matches(wireLength: Int, bytes: UnsafeRawBufferPointer, link: LinkType) -> Bool {
        guard hasFilter, let start = bytes.baseAddress else { return true }
        var h = pcap_pkthdr(ts: timeval(tv_sec: 0, tv_usec: 0), caplen: bpf_u_int32(bytes.count), len: bpf_u_int32(wireLength))
        if link != self.link {
            guard var other = program(for: link) else { return false }
            return pcap_offline_filter(&other, &h, start.assumingMemoryBound(to: UInt8.self)) != 0
        }
        return compiledForFile && pcap_offline_filter(&filter, &h, start.assumingMemoryBound(to: UInt8.self)) != 0
    }

    /// Fills the empty `batch` with the next records (regular classic pcap files: read straight
    /// into its buffer; otherwise copied from libpcap's), numbered in the file and tagged
    /// `file`. `filtered: false` adds records the filter rejects too (a caller merging files
    /// numbers and filters them itself). Returns false, with nothing added, at the end of the
    /// file; throws `.damaged` when a record cannot be read (the batch then holds the records
    /// before it).
    public func fill(_ batch: RecordBatch, file: Int = 0, filtered: Bool = true) throws(CaptureError) -> Bool {
        if holdsNoPacket { return false }
        if let chunked {
            while true {
                var number = packetsRead
                let more = chunked.fill(batch, number: &number, file: file) { wire, bytes in
                    !filtered || matches(wireLength: Int(wire), bytes: bytes, link: chunked.link)
                }
                walkedRecords += number - packetsRead
                packetsRead = number
                if !batch.isEmpty { return true }
                // Every record walked was filtered out: none points into the buffer, which is
                // used again from its start (it filled up with skipped records, and the next
                // record never fit: an endless loop on a file with a filter that skips a
                // batch's worth of records).
                batch.used = 0
                if !more {
                    // A record larger than the batch: the batch grows for it.
                    if let need = chunked.nextRecordSize(), need + 8 > batch.capacity - batch.used {
                        batch.reserve(need + 8)
                        continue
                    }
                    break
                }
            }
            self.chunked = nil
            if chunked.atEnd { return false }
            readOnFrom(chunked.offset)
        }
        var headerPointer: UnsafeMutablePointer<pcap_pkthdr>?
        var dataPointer: UnsafePointer<UInt8>?
        // A record that did not fit the last batch goes first (a batch that is empty grows for it).
        if let held = heldRecord {
            batch.reserve(held.bytes.count + 8)
            _ = held.bytes.withUnsafeBytes {
                batch.append(number: held.number, time: held.time, wireLength: held.wire, bytes: $0, file: file,
                             fileOffset: held.fileOffset, link: held.link)
            }
            heldRecord = nil
        }
        if let pcapng {
            while batch.count < 8192 {
                switch pcapng.next() {
                case let .packet(p):
                    packetsRead += 1
                    let link = p.interface.link
                    if filtered && !matches(wireLength: p.wireLength, bytes: p.bytes, link: link) { continue }
                    if batch.isEmpty { batch.reserve(p.bytes.count + 8) }
                    if !batch.append(number: packetsRead, time: p.time, wireLength: p.wireLength, bytes: p.bytes, file: file,
                                     fileOffset: p.fileOffset, link: link) {
                        heldRecord = (packetsRead, p.time, p.wireLength, Array(p.bytes), link, p.fileOffset)
                        return true
                    }
                    // A live pipe: what arrived goes now rather than waiting for a full batch.
                    if streamInput != nil && batch.count >= 64 { return true }
                case .end:
                    if let failure = streamFailure, batch.isEmpty {
                        throw .damaged(path: path, reason: failure, lastGoodPacket: packetsRead)
                    }
                    return !batch.isEmpty
                case let .handBack(offset):
                    self.pcapng = nil
                    if let stream { fseek(stream, offset, SEEK_SET) }
                case let .damaged(reason):
                    // The records before it go first; the damage is told at the next call.
                    if !batch.isEmpty { return true }
                    throw .damaged(path: path, reason: streamFailure ?? reason, lastGoodPacket: packetsRead)
                }
                if self.pcapng == nil { break }
            }
            if self.pcapng != nil { return true }
        }
        while batch.count < 8192 {
            let status = pcap_next_ex(handle, &headerPointer, &dataPointer)
            if status == 1, let h = headerPointer, let d = dataPointer {
                packetsRead += 1
                if filtered && hasFilter && (!compiledForFile || pcap_offline_filter(&filter, h, d) == 0) { continue }
                let hdr = h.pointee
                let ts = hdr.captureTime(nanosecondFraction: true)
                let bytes = UnsafeRawBufferPointer(start: d, count: Int(hdr.caplen))
                if batch.isEmpty { batch.reserve(bytes.count + 8) }
                if !batch.append(number: packetsRead, time: ts, wireLength: Int(hdr.len), bytes: bytes, file: file, link: link) {
                    // libpcap's bytes last until the next read: keep a copy for the next batch.
                    heldRecord = (packetsRead, ts, Int(hdr.len), Array(bytes), link, -1)
                    break
                }
                // Standard input may be a live pipe: what arrived goes now rather than waiting for a full batch.
                if isStandardInput && batch.count >= 64 { break }
            } else if status == -2 || status == 0 {
                break
            } else {
                throw .damaged(path: path, reason: readFailure, lastGoodPacket: packetsRead)
            }
        }
        return !batch.isEmpty || heldRecord != nil
    }

    /// The DLT value of a LINKTYPE value, as libpcap maps it when it opens a file (the two
    /// differ for raw IP and ATM only): what `pcap_datalink` gives for it.
    static func dlt(linkType: Int32) -> Int32 {
        switch linkType {
        case 101: return 12  // LINKTYPE_RAW: DLT_RAW
        case 100: return 11  // LINKTYPE_ATM_RFC1483: DLT_ATM_RFC1483
        default: return linkType
        }
    }

    /// The link types (DLT values) of a pcapng file's interfaces described before its first
    /// packet, from its first bytes, in order.
    static func interfaceLinkTypes(header: [UInt8]) -> [Int32] {
        var types: [Int32] = []
        header.withUnsafeBytes { file in
            PcapngBlocks.forEach(file) { block in
                guard !PcapngBlocks.isPacket(block.type) else { return false }
                if block.type == 1 && block.bytes.count >= 20 { types.append(dlt(linkType: Int32(block.u16(8)))) }
                return true
            }
        }
        return types
    }

    /// The decimals a capture's timestamps have, from its first bytes: 9 for a nanosecond
    /// classic pcap, 6 for a microsecond one; for pcapng, the finest `if_tsresol` of the
    /// interfaces described before the first packet (10^-n: n decimals; 2^-n: as many as it
    /// takes; none: microseconds), at most 9.
    /// `unknown`: the decimals when `header` does not say (not a capture's first bytes, or
    /// pcapng without a whole interface description).
    static func timestampDecimals(header: [UInt8], unknown: Int = 6) -> Int {
        switch CaptureProbe.magic(header[...]) {
        case 0xa1b2_3c4d, 0x4d3c_b2a1: return 9
        case 0xa1b2_c3d4, 0xd4c3_b2a1: return 6
        case 0x0a0d_0d0a: break
        default: return unknown
        }
        var decimals: Int?
        header.withUnsafeBytes { file in
            PcapngBlocks.forEach(file) { block in
                guard !PcapngBlocks.isPacket(block.type) else { return false }
                guard block.type == 1 else { return true }
                // Interface Description Block: link type, reserved, snaplen, then options up to
                // the trailing length; if_tsresol is option 9, one byte.
                var n = 6
                _ = block.forEachOption(from: 16) { code, value in
                    if code == 9 && value.count == 1 {
                        let v = Int(value[0])
                        // 2^-e in decimals: e * log10(2), rounded up.
                        n = v & 0x80 == 0 ? v & 0x7f : ((v & 0x7f) * 30_103 + 99_999) / 100_000
                    }
                    return true
                }
                decimals = max(decimals ?? 0, min(9, n))
                return true
            }
        }
        return decimals ?? unknown
    }
}

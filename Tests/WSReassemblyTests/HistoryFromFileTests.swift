import Testing
import WSDecode
@testable import WSReassembly

/// A direction remembers where its delivered bytes lie in the capture file and reads them back
/// only to compare a retransmission (`CapturedBytesReader`), instead of copying every byte it
/// delivers. The labels must be exactly those of the copy: these tests run real segments with
/// retransmissions spliced in (same bytes, or one byte changed: the only hand-made bytes here)
/// through a table that copies and through one that reads back, and compare every report.
@Suite struct HistoryFromFileTests {
    /// The segments laid end to end as one "file", each payload's offset in it.
    struct File {
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        init(_ segments: [Segment]) {
            for s in segments {
                offsets.append(bytes.count)
                bytes += s.payload
            }
        }
    }

    /// Copies of earlier data segments (a random part of each, one byte changed in about half),
    /// placed a few segments after their first copy; and segments sent again merged with the
    /// start of the next one before that one came (old bytes and new in one segment, unchanged);
    /// packets renumbered in order.
    static func withRetransmissions(_ original: [Segment], seed: UInt64, count: Int) -> (segments: [Segment], changed: Set<Int>) {
        var rng = SeededGenerator(seed: seed)
        var segments = original
        var marked: [(segment: Segment, changed: Bool)] = segments.map { ($0, false) }
        for _ in 0..<count {
            let data = marked.indices.filter { !marked[$0].segment.payload.isEmpty && !marked[$0].changed }
            guard let j = data.randomElement(using: &rng) else { break }
            let first = marked[j].segment
            let end = first.tcp.sequence &+ UInt32(first.payload.count)
            if Bool.random(using: &rng), let n = marked.indices.first(where: { $0 > j && marked[$0].segment.source == first.source
                && marked[$0].segment.tcp.sequence == end && !marked[$0].segment.payload.isEmpty && !marked[$0].changed }) {
                let next = marked[n].segment
                let a = Int.random(in: 0..<first.payload.count, using: &rng)
                let c = Int.random(in: 1...next.payload.count, using: &rng)
                var merged = first
                merged.tcp.sequence = first.tcp.sequence &+ UInt32(a)
                merged.payload = Array(first.payload[a...]) + Array(next.payload[..<c])
                merged.time = marked[n - 1].segment.time
                marked.insert((merged, false), at: n)
                continue
            }
            let a = Int.random(in: 0..<first.payload.count, using: &rng)
            let b = Int.random(in: (a + 1)...first.payload.count, using: &rng)
            var copy = first
            copy.tcp.sequence = first.tcp.sequence &+ UInt32(a)
            copy.payload = Array(first.payload[a..<b])
            let change = Bool.random(using: &rng)
            if change {
                let k = Int.random(in: 0..<copy.payload.count, using: &rng)
                copy.payload[k] ^= 0x5a
            }
            let at = min(marked.count, j + 1 + Int.random(in: 0..<8, using: &rng))
            copy.time = marked[at - 1].segment.time
            marked.insert((copy, change), at: at)
        }
        segments = marked.map(\.segment)
        var changed = Set<Int>()
        for i in segments.indices {
            segments[i].packet = i + 1
            if marked[i].changed { changed.insert(i + 1) }
        }
        return (segments, changed)
    }

    /// Runs `segments` with the bytes read back from `file` (every packet's origin known
    /// unless `unknownEvery` says which are not, as libpcap's reading would leave them).
    static func readingBack(_ segments: [Segment], _ file: File, reader: CapturedBytesReader? = nil,
                            unknownEvery: Int = 0) -> [SegmentReport] {
        let table = ConnectionTable()
        table.capturedBytes = reader ?? { _, offset, count, into in
            guard offset >= 0, Int(offset) + count <= file.bytes.count else { return false }
            file.bytes.withUnsafeBytes { into.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: count) }
            return true
        }
        var reports: [SegmentReport] = []
        for (i, s) in segments.enumerated() {
            let known = unknownEvery == 0 || i % unknownEvery != 0
            // The payload sits in the "file" at its offset: the packet's bytes are the payload.
            file.bytes.withUnsafeBytes { raw in
                let payload = UnsafeRawBufferPointer(rebasing: raw[file.offsets[i]..<(file.offsets[i] + s.payload.count)])
                table.packetOrigin = known ? PacketOrigin(bytes: payload, file: 0, offset: Int64(file.offsets[i])) : .unknown
                reports.append(table.process(s.tcp, source: s.source, destination: s.destination, payload: payload,
                                             payloadLength: payload.count, packet: s.packet, time: s.time, emit: { _ in }))
            }
        }
        return reports
    }

    @Test(arguments: ["tcp/netem-clean.pcap", "tcp/netem-reorder.pcap", "tcp/tcp-one-byte-segments.pcap",
                      "tcp/netem-loss.pcap", "tcp/tcp-seq-wrap.pcap"])
    func readingBackLabelsAsCopying(_ name: String) throws {
        let original = try segments(name)
        var flagged = 0
        for seed in 1...12 as ClosedRange<UInt64> {
            let (segs, changed) = Self.withRetransmissions(original, seed: seed, count: 6)
            let copied = run(segs, finish: false).reports
            let file = File(segs)
            let read = Self.readingBack(segs, file)
            let mixed = Self.readingBack(segs, file, unknownEvery: 3)
            #expect(read.map(\.analysis) == copied.map(\.analysis), "\(name) seed \(seed)")
            #expect(mixed.map(\.analysis) == copied.map(\.analysis), "\(name) seed \(seed), some packets copied")
            // A copy whose changed byte is among delivered bytes still remembered is a conflict.
            for (i, r) in read.enumerated() where r.analysis.contains(.overlapConflict) {
                #expect(changed.contains(segs[i].packet), "\(name) seed \(seed): packet \(segs[i].packet) flagged")
                flagged += 1
            }
        }
        if name == "tcp/netem-clean.pcap" { #expect(flagged > 0, "no changed retransmission was ever flagged") }
    }

    @Test func bytesTheFileCannotGiveAreUnknownNotDifferent() throws {
        let original = try segments("tcp/netem-clean.pcap")
        let (segs, changed) = Self.withRetransmissions(original, seed: 7, count: 12)
        #expect(!changed.isEmpty)
        let file = File(segs)
        #expect(Self.readingBack(segs, file).contains { $0.analysis.contains(.overlapConflict) })
        let failing = Self.readingBack(segs, file, reader: { _, _, _, _ in false })
        #expect(!failing.contains { $0.analysis.contains(.overlapConflict) })
    }

    @Test func historyKeepsOnlyWhatTheLastBytesNeed() {
        let half = HalfStream()
        var next: UInt64 = 0
        let chunk = [UInt8](repeating: 7, count: 700)
        chunk.withUnsafeBytes { raw in
            for i in 0..<100 {
                half.next = next + UInt64(raw.count)
                next = half.next
                half.remember(raw, file: 0, at: Int64(i * 1000))
            }
        }
        // 4 KiB of 700-byte pieces: at most seven, the oldest reaching into the last 4 KiB.
        #expect(half.pieces.count <= 7)
        #expect(half.pieces.first!.end > next - UInt64(HalfStream.historySize))
        #expect(half.pieces.last!.end == next)
        #expect(half.pieces.last!.fileOffset == 99 * 1000)
    }

    /// The pieces as the bytes come: large segments, then many small ones (the pieces' ring
    /// grows after its oldest moved on), then large again; some bytes with no place in the
    /// file (copied). After every segment the pieces cover exactly the last 4 KiB delivered
    /// (or all of it), in order, and each byte compared with the history is compared with its
    /// own first copy: unchanged bytes never conflict, one changed byte always does.
    @Test func piecesFollowTheLastBytesThroughEverySize() {
        var rng = SeededGenerator(seed: 11)
        final class Bytes: @unchecked Sendable { var bytes: [UInt8] = [] }
        let file = Bytes()
        var stream: [UInt8] = []
        let half = HalfStream()
        let reader: CapturedBytesReader = { fileIndex, offset, count, into in
            guard fileIndex == 3, offset >= 0, Int(offset) + count <= file.bytes.count else { return false }
            file.bytes.withUnsafeBytes { into.copyMemory(from: $0.baseAddress! + Int(offset), byteCount: count) }
            return true
        }
        let sizes = Array(repeating: 1400, count: 9) + Array(repeating: 3, count: 300) + (0..<40).map { _ in Int.random(in: 1...900, using: &rng) }
            + Array(repeating: 1448, count: 6)
        for (n, size) in sizes.enumerated() {
            let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let inFile = n % 5 != 2
            let at = file.bytes.count
            file.bytes += payload  // the file holds every payload (a copied one too: not read back)
            stream += payload
            half.next = UInt64(stream.count)
            payload.withUnsafeBytes { half.remember($0, file: 3, at: inFile ? Int64(at) : -1) }

            let pieces = half.pieces
            #expect(pieces.last!.end == UInt64(stream.count))
            #expect(zip(pieces, pieces.dropFirst()).allSatisfy { $0.end == $1.start }, "segment \(n)")
            let lowest = max(0, stream.count - HalfStream.historySize)
            #expect(pieces.first!.start <= UInt64(lowest) && (pieces.count == 1 || pieces[1].start > UInt64(lowest)), "segment \(n)")

            let from = Int.random(in: max(0, stream.count - 5000)..<stream.count, using: &rng)
            let to = Int.random(in: (from + 1)...stream.count, using: &rng)
            var copy = Array(stream[from..<to])
            let same = copy.withUnsafeBytes { half.conflictsWithHistory(offset: Int64(from), bytes: $0, reader: reader) }
            #expect(!same, "segment \(n): unchanged bytes \(from)..<\(to) conflict")
            let k = Int.random(in: 0..<copy.count, using: &rng)
            copy[k] ^= 0x5a
            let changed = copy.withUnsafeBytes { half.conflictsWithHistory(offset: Int64(from), bytes: $0, reader: reader) }
            #expect(changed == (from + k >= lowest), "segment \(n): byte \(from + k) changed")
        }
    }
}

/// One direction of a connection: maps sequence numbers to stream offsets, delivers bytes in
/// order and holds out-of-order segments until their hole fills or is declared a gap.
///
/// Offsets are 64-bit and count from the first byte after the initial sequence number, so
/// sequence wrap-around at 2^32 is invisible above this type.
final class HalfStream {
    struct Held {
        var offset: UInt64
        var bytes: [UInt8]
        var packet: Int
        var end: UInt64 { offset + UInt64(bytes.count) }
    }

    /// Sequence number of offset 0 minus one (the ISN when the SYN was seen).
    var isn: UInt32 = 0
    /// `isn` is known from a SYN or a segment of this direction (not only guessed from an ACK).
    var anchored = false
    /// A SYN of this direction was seen.
    var synSeen = false
    /// Next offset to deliver.
    var next: UInt64 = 0
    /// Highest end offset seen (FIN included), and when it last moved.
    var highest: UInt64 = 0
    var highestTime: Int64 = 0
    /// The last segment of this direction was a keep-alive.
    var lastWasKeepAlive = false
    var sawSegment = false
    /// Offset the FIN occupies, once seen.
    var finOffset: UInt64?
    var finDelivered = false
    var ended = false
    var held: [Held] = []
    var heldBytes = 0
    /// Last ACK and window sent in this direction.
    var lastAck: UInt32?
    var lastWindow: UInt16?
    var duplicateAcks = 0
    var lastAckTime: Int64 = 0
    /// Highest offset of the other direction this side acknowledged.
    var ackedThrough: UInt64 = 0
    /// The last segment of this direction, to recognise a packet captured twice: its copies
    /// come right after it in the direction (capture on several interfaces), so one suffices,
    /// kept inline so that the check costs no extra cache line per packet.
    var last = SegmentCopy()
    /// Copies this close in capture time are the same packet seen twice, not a retransmission.
    static let duplicateWindow: Int64 = 2_000_000

    /// What identifies one captured segment: equal in every field (IPv4 ID and the TCP checksum,
    /// which covers the payload, included) and close in time means the same packet.
    struct SegmentCopy {
        var sequence: UInt32 = 0, acknowledgment: UInt32 = 0, length: UInt32 = 0
        var flags: UInt16 = 0, window: UInt16 = 0, checksum: UInt16 = 0, ipID: UInt16 = 0
        var packet = 0, time: Int64 = 0

        func repeats(_ o: SegmentCopy) -> Bool {
            sequence == o.sequence && acknowledgment == o.acknowledgment && length == o.length && flags == o.flags
                && window == o.window && checksum == o.checksum && ipID == o.ipID
        }
    }

    /// The packet `copy` repeats, if it repeats the last one; else remembers it.
    func duplicate(of copy: SegmentCopy) -> Int? {
        // Without a usable IPv4 ID (IPv6, or 0 as stacks send on RSTs) only a copy carrying
        // payload or a SYN counts: bare RSTs and ACKs are often really sent twice in a row.
        let identified = copy.ipID != 0 || copy.length > 0 || copy.flags & 0x02 != 0
        if identified && last.packet != 0 && copy.repeats(last) && copy.time >= last.time
            && copy.time - last.time <= Self.duplicateWindow {
            return last.packet
        }
        last = copy
        return nil
    }

    /// The highest acknowledgment of this side already flagged as covering unseen bytes.
    var unseenAckFlagged: UInt64 = 0
    /// The peer acknowledged bytes up to here, past `next`, that the capture has not shown yet:
    /// they may still come (the ACK was captured first). The hole is declared lost when the
    /// grace that began at `graceStart` (connection packet count, capture time) ends.
    var ackedHole: UInt64?
    var graceStart: (packets: Int, time: Int64) = (0, 0)
    /// The latest holes declared lost (at most `lostRangesKept`): a segment landing in one is late.
    var lostRanges: [Range<UInt64>] = []
    static let lostRangesKept = 8
    /// Delivered history is valid from here on (a hole leaves stale bytes in the ring).
    var historyStart: UInt64 = 0
    /// The last bytes delivered (a ring of `historySize`), to tell whether a retransmission
    /// carries the same bytes as the first copy, for bytes with no known place in a file. Allocated
    /// when bytes are first copied into it and grown with
    /// the stream up to `historySize` (offset o sits at index o until then): a short connection
    /// keeps its few bytes, not 2 x 4 KiB (300,000 small connections took 440 MiB).
    private var ring: UnsafeMutableRawPointer?
    private var ringCapacity = 0
    /// Bytes of the ring holding delivered data.
    private var historyCount = 0
    static var historySize: Int { 4096 }
    /// Whether delivered bytes are remembered at all (off when no overlap-conflict label will
    /// be shown: the copy is the largest cost of a summary-only run).
    var keepsHistory = true
    /// Where the last `historySize` delivered bytes are, in stream order: in a capture file
    /// (bytes read straight from one, whose place is known), or in `ring`. Copying every
    /// delivered byte into the ring wrote 4 KiB per direction of every open connection round
    /// and round, pushing the connections' own state out of the cache; a file's bytes are read
    /// back only when a retransmission overlaps them.
    struct HistoryPiece {
        var start: UInt64
        var count: Int32
        var file: Int32
        /// The file offset of the piece's first byte; -1: the bytes are in the ring.
        var fileOffset: Int64
        var end: UInt64 { start + UInt64(count) }
    }
    /// The pieces, oldest first: `pieceCount` of them from `pieceHead` in a ring of
    /// `pieceCapacity` (a power of two), grown when full. Not an array: appending to one per
    /// segment checked its storage's uniqueness, a cache miss on a cold line (2% of a
    /// one-thread NDJSON run's samples), and dropping its oldest moved the others down.
    private var pieceRing: UnsafeMutablePointer<HistoryPiece>?
    private var pieceCapacity = 0
    private var pieceHead = 0
    private var pieceCount = 0

    /// The pieces, oldest first (a copy).
    var pieces: [HistoryPiece] { (0..<pieceCount).map { piece($0) } }

    /// Where the `i`th piece from the oldest sits in the ring.
    @inline(__always)
    private func pieceSlot(_ i: Int) -> Int { (pieceHead + i) & (pieceCapacity - 1) }

    @inline(__always)
    private func piece(_ i: Int) -> HistoryPiece { pieceRing![pieceSlot(i)] }

    /// Adds a piece after the newest, growing the ring when it is full.
    @inline(__always)
    private func appendPiece(_ p: HistoryPiece) {
        if pieceCount == pieceCapacity { growPieces() }
        pieceRing![pieceSlot(pieceCount)] = p
        pieceCount += 1
    }

    private func growPieces() {
        let capacity = max(8, pieceCapacity * 2)
        let grown = UnsafeMutablePointer<HistoryPiece>.allocate(capacity: capacity)
        for i in 0..<pieceCount { (grown + i).initialize(to: piece(i)) }
        pieceRing?.deallocate()
        pieceRing = grown
        pieceCapacity = capacity
        pieceHead = 0
    }

    deinit {
        ring?.deallocate()
        pieceRing?.deallocate()
    }

    /// Remembers delivered bytes that end at `next`: where they lie in capture file `file`
    /// when `fileOffset` (their first byte's) is known, else a copy in the ring.
    func remember(_ bytes: UnsafeRawBufferPointer, file: Int = 0, at fileOffset: Int64 = -1) {
        let size = Self.historySize
        guard keepsHistory, let source = bytes.baseAddress, bytes.count > 0 else { return }
        let n = min(bytes.count, size)
        let start = next - UInt64(n)
        if fileOffset >= 0 {
            appendPiece(HistoryPiece(start: start, count: Int32(n), file: Int32(truncatingIfNeeded: file),
                                     fileOffset: fileOffset + Int64(bytes.count - n)))
        } else {
            let needed = next < UInt64(size) ? Int(next) : size
            if needed > ringCapacity { growRing(to: needed) }
            historyCount = needed
            let tail = source + (bytes.count - n)
            let position = Int(start & UInt64(size - 1))
            let first = min(n, size - position)
            (ring! + position).copyMemory(from: tail, byteCount: first)
            if first < n { ring!.copyMemory(from: tail + first, byteCount: n - first) }
            let last = pieceCount > 0 ? piece(pieceCount - 1) : nil
            if let last, last.fileOffset < 0, last.end == start, Int(last.count) + n <= size {
                pieceRing![pieceSlot(pieceCount - 1)].count += Int32(n)
            } else {
                appendPiece(HistoryPiece(start: start, count: Int32(n), file: 0, fileOffset: -1))
            }
        }
        // Pieces wholly before the last `historySize` bytes are of no more use.
        let lowest = next > UInt64(size) ? next - UInt64(size) : 0
        while pieceCount > 1 && piece(0).end <= lowest {
            pieceHead = pieceSlot(1)
            pieceCount -= 1
        }
    }

    private func growRing(to needed: Int) {
        let capacity = min(Self.historySize, max((needed + 63) & ~63, ringCapacity * 2))
        let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        if let ring {
            grown.copyMemory(from: ring, byteCount: historyCount)
            ring.deallocate()
        }
        ring = grown
        ringCapacity = capacity
    }

    /// Forgets the delivered bytes (the direction delivers nothing more).
    func dropHistory() {
        ring?.deallocate()
        ring = nil
        ringCapacity = 0
        historyCount = 0
        pieceRing?.deallocate()
        pieceRing = nil
        pieceCapacity = 0
        pieceHead = 0
        pieceCount = 0
    }

    /// Whether bytes at `offset` differ from delivered bytes still in the history: compared
    /// with the ring, or with the file's bytes read back by `reader` (bytes it cannot read
    /// count as unknown, not as different).
    func conflictsWithHistory(offset: Int64, bytes: UnsafeRawBufferPointer, reader: CapturedBytesReader? = nil) -> Bool {
        guard pieceCount > 0, offset >= 0 else { return false }
        let size = UInt64(Self.historySize)
        let lowest = max(next > size ? next - size : 0, historyStart)
        let start = max(UInt64(offset), lowest)
        let end = min(UInt64(offset) + UInt64(bytes.count), next)
        guard start < end else { return false }
        for k in 0..<pieceCount {
            let p = piece(k)
            guard p.end > start && p.start < end else { continue }
            let lo = max(p.start, start), hi = min(p.end, end)
            let theirs = UnsafeRawBufferPointer(rebasing: bytes[Int(lo - UInt64(offset))..<Int(hi - UInt64(offset))])
            if p.fileOffset < 0 {
                guard let ring else { continue }
                for (i, o) in (lo..<hi).enumerated() where Int(o & (size - 1)) < historyCount
                    && ring.load(fromByteOffset: Int(o & (size - 1)), as: UInt8.self) != theirs[i] {
                    return true
                }
            } else if let reader {
                let count = Int(hi - lo)
                let first = withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { buffer -> Bool? in
                    guard let to = buffer.baseAddress,
                          reader(Int(p.file), p.fileOffset + Int64(lo - p.start), count, to) else { return nil }
                    return !buffer.elementsEqual(theirs)
                }
                if first == true { return true }
            }
        }
        return false
    }

    /// The 64-bit offset of `sequence`, taken as the value nearest to `next`.
    func offset(of sequence: UInt32) -> Int64 {
        let relative = sequence &- isn &- 1
        let delta = Int32(bitPattern: relative &- UInt32(truncatingIfNeeded: next))
        return Int64(next) + Int64(delta)
    }

    /// Delivers what the segment adds at `next`, holds what lies beyond it. Returns whether the
    /// segment brought bytes never seen before.
    /// `fileOffset`: where `bytes` lie in capture file `file` (-1: not in a file).
    func accept(offset start: Int64, bytes: UnsafeRawBufferPointer, declaredLength: Int,
                         packet: Int, stream: Int, direction: Direction, file: Int = 0, fileOffset: Int64 = -1,
                         emit: (StreamEvent) -> Void) -> (new: Bool, conflict: Bool) {
        var start = start
        var bytes = bytes
        var declared = declaredLength
        var fileOffset = fileOffset
        if start < 0 {  // bytes from before the capture's anchor
            let skip = Int(min(Int64(declared), -start))
            if fileOffset >= 0 { fileOffset += Int64(min(skip, bytes.count)) }
            bytes = UnsafeRawBufferPointer(rebasing: bytes[min(skip, bytes.count)...])
            declared -= skip
            start = 0
        }
        let offset = UInt64(start)
        let end = offset + UInt64(declared)
        let conflict = false
        guard end > next else { return (false, false) }
        if offset <= next {
            let skip = Int(next - offset)
            let fresh = skip < bytes.count ? UnsafeRawBufferPointer(rebasing: bytes[skip...]) : UnsafeRawBufferPointer(rebasing: bytes[bytes.count...])
            if !fresh.isEmpty {
                emit(.data(stream: stream, direction: direction, bytes: fresh, sourcePacket: packet, offset: next))
                next += UInt64(fresh.count)
                remember(fresh, file: file, at: fileOffset >= 0 ? fileOffset + Int64(skip) : -1)
            }
            if next < end {  // declared but not captured: snaplen
                emit(.gap(stream: stream, direction: direction, size: end - next, offset: next, reason: .snaplen))
                next = end
                historyStart = end
            }
            drain(stream: stream, direction: direction, emit: emit)
            return (true, false)
        }
        // Beyond a hole: hold a copy (only what is new).
        let wasNew = insertHeld(offset: offset, bytes: bytes, declared: declared, packet: packet)
        return (wasNew, conflict)
    }

    /// Holds a segment, trimming bytes already held. Returns whether anything new was kept.
    private func insertHeld(offset: UInt64, bytes: UnsafeRawBufferPointer, declared: Int, packet: Int) -> Bool {
        var pieces: [(UInt64, UnsafeRawBufferPointer)] = [(offset, bytes)]
        for h in held {
            var next: [(UInt64, UnsafeRawBufferPointer)] = []
            for (o, b) in pieces {
                let e = o + UInt64(b.count)
                if e <= h.offset || o >= h.end { next.append((o, b)); continue }
                if o < h.offset { next.append((o, UnsafeRawBufferPointer(rebasing: b[0..<Int(h.offset - o)]))) }
                if e > h.end { next.append((h.end, UnsafeRawBufferPointer(rebasing: b[Int(h.end - o)...]))) }
            }
            pieces = next
        }
        var added = false
        for (o, b) in pieces where !b.isEmpty {
            let item = Held(offset: o, bytes: Array(b), packet: packet)
            let index = held.firstIndex { $0.offset > o } ?? held.endIndex
            held.insert(item, at: index)
            heldBytes += b.count
            added = true
        }
        return added
    }

    /// Whether `bytes` at `offset` differ from held bytes at the same offsets.
    func conflicts(offset: Int64, bytes: UnsafeRawBufferPointer) -> Bool {
        guard offset >= 0 else { return false }
        let offset = UInt64(offset)
        let end = offset + UInt64(bytes.count)
        for h in held where h.offset < end && h.end > offset {
            let lo = max(h.offset, offset), hi = min(h.end, end)
            for o in lo..<hi where h.bytes[Int(o - h.offset)] != bytes[Int(o - offset)] { return true }
        }
        return false
    }

    /// Bytes of `start..<start+length` inside holes already declared lost.
    func lateBytes(offset start: Int64, length: Int) -> Int {
        guard !lostRanges.isEmpty, start >= 0 else { return 0 }
        let range = UInt64(start)..<(UInt64(start) + UInt64(length))
        return lostRanges.reduce(0) { $0 + ($1.overlaps(range) ? Int($1.clamped(to: range).count) : 0) }
    }

    /// Whether new bytes at `offset` lie in a hole the peer acknowledged before they came.
    func fillsAckedHole(offset: Int64) -> Bool {
        guard let hole = ackedHole else { return false }
        return offset >= Int64(next) && offset < Int64(hole)
    }

    /// Delivers held segments that now start at `next`.
    func drain(stream: Int, direction: Direction, emit: (StreamEvent) -> Void) {
        while let first = held.first, first.offset <= next {
            held.removeFirst()
            heldBytes -= first.bytes.count
            if first.end > next {
                let skip = Int(next - first.offset)
                first.bytes.withUnsafeBytes { raw in
                    let fresh = UnsafeRawBufferPointer(rebasing: raw[skip...])
                    emit(.data(stream: stream, direction: direction, bytes: fresh, sourcePacket: first.packet, offset: next))
                    next = first.end
                    remember(fresh)
                }
            }
        }
        if let hole = ackedHole, next >= hole { ackedHole = nil }
        if let fin = finOffset, next >= fin, !finDelivered, held.isEmpty {
            finDelivered = true
            next = max(next, fin)
            emit(.end(stream: stream, direction: direction, reset: false))
            ended = true
        }
    }

    /// Declares the hole before the first held segment (or up to `limit`) a gap and delivers
    /// what follows it.
    func skipHole(upTo limit: UInt64?, reason: GapReason, stream: Int, direction: Direction,
                           emit: (StreamEvent) -> Void) {
        var target = held.first?.offset ?? limit ?? next
        if let limit, held.isEmpty || limit < target { target = limit }
        if let fin = finOffset { target = min(target, max(fin, next)) }
        if target > next {
            emit(.gap(stream: stream, direction: direction, size: target - next, offset: next, reason: reason))
            if lostRanges.count == Self.lostRangesKept { lostRanges.removeFirst() }
            lostRanges.append(next..<target)
            next = target
            historyStart = target
        }
        if let hole = ackedHole, next >= hole { ackedHole = nil }
        // Held bytes past the FIN are never delivered: drop them, or callers looping until
        // `held` is empty never end (fuzz hang, Tests/FuzzRegressions/capture-hold-past-fin).
        if let fin = finOffset, next >= fin, held.contains(where: { $0.offset > next }) {
            let n = next
            heldBytes -= held.reduce(0) { $0 + ($1.offset > n ? $1.bytes.count : 0) }
            held.removeAll { $0.offset > n }
        }
        drain(stream: stream, direction: direction, emit: emit)
    }

    /// Skips every hole (for the end of capture or a reset) so all held bytes are delivered.
    func flushAll(reason: GapReason, stream: Int, direction: Direction, emit: (StreamEvent) -> Void) {
        while !held.isEmpty {
            skipHole(upTo: nil, reason: reason, stream: stream, direction: direction, emit: emit)
        }
        if let fin = finOffset, !finDelivered {
            skipHole(upTo: fin, reason: reason, stream: stream, direction: direction, emit: emit)
        }
    }
}

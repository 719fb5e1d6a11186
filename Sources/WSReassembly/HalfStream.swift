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
    /// carries the same bytes as the first copy. Allocated on the first delivery and grown with
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

    deinit { ring?.deallocate() }

    /// Remembers delivered bytes that end at `next`.
    func remember(_ bytes: UnsafeRawBufferPointer) {
        let size = Self.historySize
        guard keepsHistory, let source = bytes.baseAddress, bytes.count > 0 else { return }
        let needed = next < UInt64(size) ? Int(next) : size
        if needed > ringCapacity { growRing(to: needed) }
        historyCount = needed
        let n = min(bytes.count, size)
        let tail = source + (bytes.count - n)
        let position = Int((next &- UInt64(n)) & UInt64(size - 1))
        let first = min(n, size - position)
        (ring! + position).copyMemory(from: tail, byteCount: first)
        if first < n { ring!.copyMemory(from: tail + first, byteCount: n - first) }
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
    }

    /// Whether bytes at `offset` differ from delivered bytes still in the history.
    func conflictsWithHistory(offset: Int64, bytes: UnsafeRawBufferPointer) -> Bool {
        guard let ring, historyCount > 0, offset >= 0 else { return false }
        let size = UInt64(Self.historySize)
        let lowest = max(next > size ? next - size : 0, historyStart)
        let start = max(UInt64(offset), lowest)
        let end = min(UInt64(offset) + UInt64(bytes.count), next)
        guard start < end else { return false }
        for o in start..<end where Int(o & (size - 1)) < historyCount
            && ring.load(fromByteOffset: Int(o & (size - 1)), as: UInt8.self) != bytes[Int(o - UInt64(offset))] {
            return true
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
    func accept(offset start: Int64, bytes: UnsafeRawBufferPointer, declaredLength: Int,
                         packet: Int, stream: Int, direction: Direction,
                         emit: (StreamEvent) -> Void) -> (new: Bool, conflict: Bool) {
        var start = start
        var bytes = bytes
        var declared = declaredLength
        if start < 0 {  // bytes from before the capture's anchor
            let skip = Int(min(Int64(declared), -start))
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
                remember(fresh)
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

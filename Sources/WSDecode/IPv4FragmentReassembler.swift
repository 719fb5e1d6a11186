/// Joins IPv4 fragments into datagrams. Bounded: at most `maxDatagrams` in progress and
/// `maxBytes` held; the oldest are dropped first (and counted in `dropped`).
public struct IPv4FragmentReassembler {
    struct Key: Hashable {
        var source: UInt32
        var destination: UInt32
        var id: UInt16
        var proto: UInt8
    }

    struct Pending {
        var pieces: [(offset: Int, bytes: [UInt8])] = []
        var totalLength: Int?
        var firstSeen: Int64
        var held = 0
    }

    public let maxDatagrams: Int
    public let maxBytes: Int
    /// Datagrams given up (cap or timeout).
    public private(set) var dropped = 0
    private var pending: [Key: Pending] = [:]
    private var heldBytes = 0

    public init(maxDatagrams: Int = 1024, maxBytes: Int = 8 << 20) {
        self.maxDatagrams = maxDatagrams
        self.maxBytes = maxBytes
    }

    /// Adds one fragment's payload. Returns the whole datagram payload when complete.
    mutating func add(source: UInt32, destination: UInt32, id: UInt16, proto: UInt8,
                      offset: Int, moreFragments: Bool, payload: UnsafeRawBufferPointer,
                      time: Int64) -> (payload: [UInt8], fragments: Int)? {
        let key = Key(source: source, destination: destination, id: id, proto: proto)
        if pending[key] == nil {
            if pending.count >= maxDatagrams { evictOldest() }
            pending[key] = Pending(firstSeen: time)
        }
        pending[key]!.pieces.append((offset, Array(payload)))
        pending[key]!.held += payload.count
        heldBytes += payload.count
        if !moreFragments { pending[key]!.totalLength = offset + payload.count }
        while heldBytes > maxBytes, pending.count > 1 { evictOldest(keeping: key) }

        guard let total = pending[key]!.totalLength else { return nil }
        let pieces = pending[key]!.pieces.sorted { $0.offset < $1.offset }
        var covered = 0
        for piece in pieces {
            if piece.offset > covered { return nil }
            covered = max(covered, piece.offset + piece.bytes.count)
        }
        guard covered >= total else { return nil }
        var out = [UInt8](repeating: 0, count: total)
        for piece in pieces {
            let end = min(total, piece.offset + piece.bytes.count)
            if end > piece.offset {
                out.replaceSubrange(piece.offset..<end, with: piece.bytes[0..<(end - piece.offset)])
            }
        }
        heldBytes -= pending[key]!.held
        pending[key] = nil
        return (out, pieces.count)
    }

    private mutating func evictOldest(keeping: Key? = nil) {
        guard let oldest = pending.filter({ $0.key != keeping }).min(by: { $0.value.firstSeen < $1.value.firstSeen }) else { return }
        heldBytes -= oldest.value.held
        pending[oldest.key] = nil
        dropped += 1
    }
}

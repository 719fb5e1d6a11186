import WSDecode

/// The connection table's index: an open-addressing hash map from a 4-tuple to its connection.
///
/// One multiply-mix hash per lookup instead of SipHash over five fields (the standard
/// `Dictionary` cost about 6% of a `--summary` run). The seed is random per table so that a
/// hostile capture cannot aim its flows at one probe chain; nothing observable depends on the
/// slot order (every caller that iterates sorts first).
///
/// The table does not own its connections (the `ConnectionTable` does, by slot): it holds
/// unowned references, so that a lookup hands out a connection without a retain and a
/// release per packet.
struct FlowTable {
    /// Key and connection side by side: a probe touches one cache line.
    private struct Slot {
        var key: FlowKey
        var connection: Unmanaged<Connection>?
    }
    private var slots: [Slot]
    private var mask: Int
    private let seed: UInt64
    /// Connections held.
    private(set) var count = 0

    init(capacity: Int = 256) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        let empty = FlowKey(Endpoint(address: IPAddress(ipv4: 0), port: 0), Endpoint(address: IPAddress(ipv4: 0), port: 0))
        slots = Array(repeating: Slot(key: empty, connection: nil), count: size)
        mask = size - 1
        seed = UInt64.random(in: 1...UInt64.max) | 1
    }

    @inline(__always)
    private func home(_ key: FlowKey) -> Int {
        let a = key.low, b = key.high
        var x = a.address.low &* 0x9e37_79b9_7f4a_7c15 ^ b.address.low
        x = (x ^ a.address.high &* 0xc2b2_ae3d_27d4_eb4f ^ b.address.high) &* seed
        x ^= UInt64(a.port) << 16 | UInt64(b.port) << 40
        x = (x ^ (x >> 29)) &* 0xbf58_476d_1ce4_e5b9
        return Int(truncatingIfNeeded: x ^ (x >> 32)) & mask
    }

    /// The connection of `key`, if tracked.
    subscript(key: FlowKey) -> Connection? {
        reference(key)?.takeUnretainedValue()
    }

    /// The connection of `key`, if tracked, unowned: valid while its owner holds it.
    @inline(__always)
    func reference(_ key: FlowKey) -> Unmanaged<Connection>? {
        var i = home(key)
        while let value = slots[i].connection {
            if slots[i].key == key { return value }
            i = (i &+ 1) & mask
        }
        return nil
    }

    /// Tracks `connection` under `key` (replacing any connection there). The caller owns it.
    mutating func insert(_ connection: Connection, for key: FlowKey) {
        insert(Unmanaged.passUnretained(connection), for: key)
    }

    private mutating func insert(_ connection: Unmanaged<Connection>, for key: FlowKey) {
        if (count + 1) * 2 > slots.count { grow() }
        var i = home(key)
        while slots[i].connection != nil {
            if slots[i].key == key { slots[i].connection = connection; return }
            i = (i &+ 1) & mask
        }
        slots[i] = Slot(key: key, connection: connection)
        count += 1
    }

    /// Stops tracking `key` (backward-shift deletion: no tombstones, probe chains stay short).
    mutating func remove(_ key: FlowKey) {
        var i = home(key)
        while true {
            guard slots[i].connection != nil else { return }
            if slots[i].key == key { break }
            i = (i &+ 1) & mask
        }
        slots[i].connection = nil
        count -= 1
        var j = i
        while true {
            j = (j &+ 1) & mask
            guard slots[j].connection != nil else { return }
            let k = home(slots[j].key)
            // Entry j stays when its home lies cyclically in (i, j].
            let stays = i <= j ? (i < k && k <= j) : (i < k || k <= j)
            if stays { continue }
            slots[i] = slots[j]
            slots[j].connection = nil
            i = j
        }
    }

    mutating func removeAll() {
        for i in slots.indices { slots[i].connection = nil }
        count = 0
    }

    /// Every tracked (key, connection), in slot order.
    var entries: [(key: FlowKey, connection: Connection)] {
        var all: [(key: FlowKey, connection: Connection)] = []
        all.reserveCapacity(count)
        for slot in slots { if let c = slot.connection { all.append((slot.key, c.takeUnretainedValue())) } }
        return all
    }

    private mutating func grow() {
        let old = slots.compactMap { slot in slot.connection.map { (slot.key, $0) } }
        let size = slots.count * 2
        slots = Array(repeating: Slot(key: slots[0].key, connection: nil), count: size)
        mask = size - 1
        count = 0
        for (key, connection) in old { insert(connection, for: key) }
    }
}

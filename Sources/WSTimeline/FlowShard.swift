import WSDecode

/// One of `count` disjoint parts of a capture's TCP flows, for analysing a file on several
/// cores: every analyzer reads every packet, but follows only the flows its shard owns.
///
/// Both directions of a flow land in the same shard, and the split depends only on the
/// 4-tuple, so every analyzer agrees on it without talking to the others.
public struct FlowShard: Sendable, Equatable {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) {
        precondition(count > 0 && (0..<count).contains(index), "shard \(index) of \(count)")
        self.index = index
        self.count = count
    }

    /// Whether the flow between `a` and `b` (either direction) belongs to this shard.
    public func owns(_ a: Endpoint, _ b: Endpoint) -> Bool {
        FlowShard.shard(of: a, b, count: count) == index
    }

    /// The shard of the flow between `a` and `b`, in 0..<count.
    public static func shard(of a: Endpoint, _ b: Endpoint, count: Int) -> Int {
        let (low, high) = a < b ? (a, b) : (b, a)
        var x = low.address.low &* 0x9E37_79B9_7F4A_7C15 ^ high.address.low
        x = (x ^ low.address.high &* 0xC2B2_AE3D_27D4_EB4F ^ high.address.high) &* 0xFF51_AFD7_ED55_8CCD
        x ^= UInt64(low.port) << 16 | UInt64(high.port)
        x = (x ^ (x >> 29)) &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 32
        return Int(x % UInt64(count))
    }
}

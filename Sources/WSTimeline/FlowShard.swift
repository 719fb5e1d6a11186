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

    /// The shard of the flow between `a` and `b`, in 0..<count. Symmetric by construction:
    /// the two endpoints' mixes are added, so no comparison is needed.
    @inlinable
    public static func shard(of a: Endpoint, _ b: Endpoint, count: Int) -> Int {
        var x = mix(a) &+ mix(b)
        x = (x ^ (x >> 31)) &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 29
        return count & (count - 1) == 0 ? Int(x & UInt64(count - 1)) : Int(x % UInt64(count))
    }

    @inlinable
    static func mix(_ e: Endpoint) -> UInt64 {
        let x = (e.address.low ^ e.address.high &* 0xC2B2_AE3D_27D4_EB4F) &+ UInt64(e.port) << 48
        return (x ^ (x >> 33)) &* 0xFF51_AFD7_ED55_8CCD
    }
}

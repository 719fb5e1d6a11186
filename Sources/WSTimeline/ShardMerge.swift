/// Puts together what analyzers that each followed one `FlowShard` of a capture found, as one
/// analyzer over all flows would have reported it.
public enum ShardMerge {
    /// Every shard's counts added up (each packet was counted by exactly one shard); the
    /// first and last packet times are the capture's, which every shard saw.
    public static func counters(_ shards: [CaptureCounters], firstTime: Int64?, lastTime: Int64?) -> CaptureCounters {
        var total = CaptureCounters()
        for c in shards {
            total.packets += c.packets
            total.tcp += c.tcp
            total.udp += c.udp
            total.icmp += c.icmp
            total.otherIP += c.otherIP
            total.nonIP += c.nonIP
            total.undecodable += c.undecodable
            total.truncated += c.truncated
            total.bytes += c.bytes
            total.connections += c.connections
            total.webSocketConnections += c.webSocketConnections
            total.events += c.events
            total.frames += c.frames
            total.messages += c.messages
            total.displayed += c.displayed
            total.violations += c.violations
            total.gaps += c.gaps
            total.duplicates += c.duplicates
            total.heldTimes += c.heldTimes
        }
        total.firstTime = firstTime
        total.lastTime = lastTime
        return total
    }

    /// The capture-wide order of every shard's summaries: (shard, index) pairs, the n-th pair
    /// being stream n. Streams are numbered in the order they open, and a stream opens at its
    /// first packet, at most one per packet; so a stream's capture-wide index is its rank by
    /// first packet. `firstPackets[shard][index]` is that summary's first packet.
    public static func order(firstPackets: [[Int]]) -> [(shard: Int, index: Int)] {
        var all: [(shard: Int, index: Int, first: Int)] = []
        all.reserveCapacity(firstPackets.reduce(0) { $0 + $1.count })
        for (shard, list) in firstPackets.enumerated() {
            for (index, first) in list.enumerated() { all.append((shard, index, first)) }
        }
        all.sort { $0.first < $1.first }
        return all.map { ($0.shard, $0.index) }
    }

}

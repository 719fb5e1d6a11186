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
            total.violations += c.violations
            total.gaps += c.gaps
        }
        total.firstTime = firstTime
        total.lastTime = lastTime
        return total
    }

    /// Every shard's summaries with the stream indexes one analyzer would have given them.
    ///
    /// Streams are numbered in the order they open, and a stream opens at its first packet,
    /// at most one per packet; so the capture-wide index of a stream is its rank by first
    /// packet. Returned in that order.
    public static func renumbered(_ shards: [[ConnectionSummary]]) -> [ConnectionSummary] {
        var all = shards.flatMap { $0 }
        all.sort { $0.firstPacket < $1.firstPacket }
        for i in all.indices { all[i].stream = i }
        return all
    }
}

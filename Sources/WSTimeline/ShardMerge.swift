/// Puts together what analyzers that each followed one `FlowShard` of a capture found, as one
/// analyzer over all flows would have reported it.
public enum ShardMerge {
    /// Shard 0's capture-wide totals (packets, bytes, non-TCP, times) plus every shard's
    /// per-flow counts (connections, frames, messages, events, violations, gaps).
    public static func counters(_ shards: [CaptureCounters]) -> CaptureCounters {
        guard var total = shards.first else { return CaptureCounters() }
        for c in shards.dropFirst() {
            total.connections += c.connections
            total.webSocketConnections += c.webSocketConnections
            total.events += c.events
            total.frames += c.frames
            total.messages += c.messages
            total.violations += c.violations
            total.gaps += c.gaps
        }
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

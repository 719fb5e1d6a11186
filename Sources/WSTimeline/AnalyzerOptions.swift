import WSDissector
import WSReassembly

/// Caps and limits for one analysis run.
public struct AnalyzerOptions: Sendable {
    public var dissector: DissectorLimits
    public var reassembly: ReassemblyLimits
    /// Build a `TimelineEvent` for every event. Off (`--summary`), the analysis is the same and
    /// only summaries and counters come out.
    public var buildsEvents: Bool
    /// Follow only this shard's flows (nil: all). Counters of packets that belong to no flow
    /// (totals, non-TCP, undecodable) are kept by shard 0 alone, so shards' counters add up.
    public var shard: FlowShard?

    public init(dissector: DissectorLimits = DissectorLimits(), reassembly: ReassemblyLimits = ReassemblyLimits(),
                buildsEvents: Bool = true) {
        self.dissector = dissector
        self.reassembly = reassembly
        self.buildsEvents = buildsEvents
    }
}

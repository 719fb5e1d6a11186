import WSApp
import WSTLS
import WSDissector
import WSReassembly

/// Caps and limits for one analysis run.
public struct AnalyzerOptions: Sendable {
    public var dissector: DissectorLimits
    public var reassembly: ReassemblyLimits
    /// Build a `TimelineEvent` for every event. Off (`--summary`), the analysis is the same and
    /// only summaries and counters come out.
    public var buildsEvents: Bool
    /// Follow only this shard's flows (nil: all). Each packet is counted by one shard (its
    /// flow's, or shard 0 for packets of no plain TCP flow), so shards' counters add up;
    /// `firstTime` and `lastTime` are each shard's own (see `ShardMerge`).
    public var shard: FlowShard?
    /// Bytes held at once, across the capture, while mid-stream connections are being
    /// recognised; when full, a connection decides on the evidence it has.
    public var maxRecognitionHeld: Int = 32 << 20
    /// Secrets for decrypting TLS (`--keylog`, pcapng Decryption Secrets Blocks); nil: none.
    public var keyLog: TLSKeyLog?
    public var tls = TLSLimits()
    /// TLS 1.2 sessions shared with other analyzers (a parallel run's workers); nil: this
    /// analyzer keeps its own.
    public var tlsSessions: (any TLSSessionStore & Sendable)?

    /// The App stage: application protocols inside WebSocket messages.
    public var app = AppOptions()

    /// Reads the capture files' bytes back (nil: live capture, standard input): delivered bytes
    /// are then remembered by where they lie in the file (`process`'s `fileOffset`), not copied.
    public var capturedBytes: CapturedBytesReader?

    public init(dissector: DissectorLimits = DissectorLimits(), reassembly: ReassemblyLimits = ReassemblyLimits(),
                buildsEvents: Bool = true) {
        self.dissector = dissector
        self.reassembly = reassembly
        self.buildsEvents = buildsEvents
    }
}

/// Settings of the App stage.
public struct AppOptions: Sendable {
    /// Decode application protocols at all.
    public var enabled = true
    /// `--decode-as`: this protocol for every WebSocket connection, whatever was negotiated.
    public var decodeAs: AppProtocol?
    /// Bytes of each message kept for the stage while it reads a connection's messages.
    public var retention = 1 << 20
    /// Report other JSON (`proto: json`): only worth it when rows show payloads (the CLI turns
    /// it off for `--summary`, `stats` and `--payloads none`).
    public var jsonFallback = true
    /// Keep every answered request's latency in the summary (for `stats`), not only the slowest.
    public var keepsLatencies = false
    public init() {}
}

import WSTimeline

/// Receives the analysis as it happens and writes it somewhere.
public protocol Renderer: AnyObject {
    func begin(file: String, linkType: String)
    func event(_ e: TimelineEvent)
    func connection(_ s: ConnectionSummary)
    func end(counters: CaptureCounters, warnings: [String])
    /// The output is gone (closed pipe): the caller should stop.
    var isClosed: Bool { get }
    /// The capture's first packet was read at `time` (ns), before any event about it.
    func firstPacket(time: Int64)
    /// Events in order, as a batch (from a rendering thread): `event` for each unless the
    /// renderer can take them in place, without copying each one out.
    func events(_ list: UnsafeBufferPointer<TimelineEvent>)
}

extension Renderer {
    public func firstPacket(time: Int64) {}

    public func events(_ list: UnsafeBufferPointer<TimelineEvent>) {
        for e in list { event(e) }
    }
}

/// Output formats of `read` and `capture`.
public enum OutputFormat: String, Sendable, CaseIterable {
    case text
    case json
    case ndjson
    /// A Mermaid sequence diagram of one connection (`options.stream`, required).
    case mermaid

    /// A renderer for this format.
    public func makeRenderer(sink: OutputSink, options: RenderOptions, summaryOnly: Bool) -> Renderer {
        switch self {
        case .text: return TextRenderer(sink: sink, options: options, summaryOnly: summaryOnly)
        case .json: return JSONDocumentRenderer(sink: sink, options: options, summaryOnly: summaryOnly)
        case .ndjson: return NDJSONRenderer(sink: sink, options: options, summaryOnly: summaryOnly)
        case .mermaid: return MermaidRenderer(sink: sink, options: options, stream: options.stream ?? 0)
        }
    }
}

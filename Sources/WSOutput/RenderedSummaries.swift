import WSTimeline

/// Per-connection summaries rendered away from the renderer (on a shard's thread, see
/// `read --summary` on several threads) and kept as bytes, spilled to a temporary file past
/// 256 KiB: memory stays flat however many connections a capture had, where the summaries
/// themselves take a few KiB each.
///
/// Their stream index is not known yet when they are rendered (it is the rank of the
/// stream's first packet among every shard's), so they carry `placeholder` in its place;
/// `SummaryRendering.connection(rendered:stream:)` writes the real one in.
public final class RenderedSummaries {
    /// Written where the stream index goes: a number no capture reaches, found exactly once.
    static let placeholder = 999_999_999_989
    private let format: OutputFormat
    private let options: RenderOptions
    private let spool = SummarySpool()
    /// The first packet of each summary, in the order they were added.
    public private(set) var firstPackets: [Int] = []

    /// Summaries for a `format` renderer (text or JSON) with `options`.
    public init(format: OutputFormat, options: RenderOptions) {
        self.format = format
        self.options = options
    }

    /// Renders `s` as the renderer would (`firstTime`: the capture's first packet time).
    public func add(_ s: ConnectionSummary, firstTime: Int64?) {
        var s = s
        s.stream = Self.placeholder
        firstPackets.append(s.firstPacket)
        spool.append(stream: firstPackets.count - 1, Self.render(s, format: format, options: options, firstTime: firstTime))
    }

    /// The bytes of the `index`-th summary added.
    public func bytes(at index: Int) -> [UInt8] {
        spool.bytes(at: index)
    }

    /// What a text or JSON document renderer keeps for `s`.
    static func render(_ s: ConnectionSummary, format: OutputFormat, options: RenderOptions, firstTime: Int64?) -> [UInt8] {
        if format == .json {
            var writer = JSONWriter(capacity: 4096)
            ConnectionJSON(options: options).write(s, into: &writer)
            return writer.bytes
        }
        return Array(SummaryText(options: options, firstTime: firstTime ?? s.start, color: options.color).render(s).utf8)
    }

    /// `rendered` with the placeholder replaced by `stream`.
    static func numbered(_ rendered: [UInt8], stream: Int) -> [UInt8] {
        let marker = Array(String(placeholder).utf8)
        guard let at = rendered.firstRange(of: marker) else { return rendered }
        return Array(rendered[..<at.lowerBound]) + Array(String(stream).utf8) + Array(rendered[at.upperBound...])
    }
}

/// Renderers that keep per-connection summaries until the end (text and JSON documents) and can
/// take them rendered elsewhere, by `RenderedSummaries`.
public protocol SummaryRendering: Renderer {
    /// Keeps a summary rendered by `RenderedSummaries` as the connection `stream`.
    func connection(rendered: [UInt8], stream: Int)
}

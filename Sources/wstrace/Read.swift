import ArgumentParser
import WSOutput

/// `wstrace read FILE`: the timeline and lifecycle summaries of a capture.
struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a capture file (.pcap, .pcapng, - for stdin) and show each connection's life.")

    @Argument(help: "Capture file (.pcap or .pcapng), or - for standard input.")
    var file: String

    @Option(name: [.customShort("f"), .customLong("filter")], help: "BPF filter; packet numbers stay the file's own.")
    var filter: String?

    @Option(name: .long, help: "Only this stream (TCP connection index, from 0).")
    var stream: Int?

    @Option(name: .long, help: "text, json, ndjson, or mermaid (a sequence diagram of one connection: needs --stream N).")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Full analysis, but print only the per-connection summaries.")
    var summary = false

    @Option(name: .long, help: "Payload in the output: preview, full or none (default: preview for text, full for JSON).")
    var payloads: PayloadMode?

    @Option(name: .customLong("max-payload"), help: "Bytes of payload kept per frame or message with --payloads full.")
    var maxPayload = 1 << 20

    @Option(name: .customShort("t"), help: "Time column: r (relative to the first packet), a (absolute UTC), d (delta).")
    var timeFormat: TimeFormat = .relative

    @Flag(inversion: .prefixedNo, help: "Colors (default: on a terminal, unless NO_COLOR is set).")
    var color: Bool?

    @OptionGroup var limits: LimitOptions

    func validate() throws {
        guard maxPayload >= 0 else { throw ValidationError("--max-payload must not be negative") }
        if let stream, stream < 0 { throw ValidationError("--stream must not be negative") }
        if format == .mermaid && stream == nil {
            throw ValidationError("--format mermaid draws one connection: give --stream N")
        }
    }

    func run() throws {
        Terminal.ignoreSIGPIPE()
        let mode = payloads ?? (format == .text || format == .mermaid ? .preview : .full)
        let analysis = FileAnalysis(path: file, filter: filter,
                                    analyzer: limits.analyzerOptions(retention: 0))
        let (capture, link) = try analysis.open()
        let options = RenderOptions(payloads: mode, maxPayload: maxPayload, previewLimit: 60, timeFormat: timeFormat,
                                    color: format == .text && Terminal.useColor(force: color),
                                    timeDecimals: capture.timestampDecimals, stream: stream)
        var analyzerOptions = limits.analyzerOptions(retention: summary ? 0 : options.retention)
        analyzerOptions.buildsEvents = !summary || format == .mermaid
        let run = FileAnalysis(path: file, filter: filter, analyzer: analyzerOptions)
        let sink = OutputSink()
        sink.lineBuffered = format == .ndjson && !Terminal.isTTY(1) && file == "-"
        let renderer = format.makeRenderer(sink: sink, options: options, summaryOnly: summary)
        try run.run(file: capture, link: link, renderer: renderer)
        if let mermaid = renderer as? MermaidRenderer, !mermaid.foundStream, let stream {
            Terminal.warn("\(file): no stream \(stream) in this capture")
            throw ExitCode(1)
        }
    }
}

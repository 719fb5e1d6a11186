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

    @Option(name: .long, help: ArgumentHelp(
        "Threads for reading a file: with --summary, each follows a share of the TCP flows (default: one per core, up to 4, for files of 16 MiB or more); otherwise one more renders the output (default when there are 2 cores or more). 1: everything on one thread.",
        valueName: "n"))
    var threads: Int?

    @OptionGroup var display: DisplayOptions

    @OptionGroup var limits: LimitOptions

    @OptionGroup var keys: KeyLogOptions

    func validate() throws {
        if let stream, stream < 0 { throw ValidationError("--stream must not be negative") }
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be between 1 and 64") }
        if format == .mermaid && stream == nil {
            throw ValidationError("--format mermaid draws one connection: give --stream N")
        }
    }

    func run() throws {
        Terminal.ignoreSIGPIPE()
        let analysis = FileAnalysis(path: file, filter: filter,
                                    analyzer: limits.analyzerOptions(retention: 0))
        let (capture, link) = try analysis.open()
        let options = display.renderOptions(format: format, timeDecimals: capture.timestampDecimals, stream: stream)
        var analyzerOptions = limits.analyzerOptions(retention: summary ? 0 : options.retention)
        analyzerOptions.buildsEvents = !summary || format == .mermaid
        analyzerOptions.keyLog = try keys.load(capture: file)
        let run = FileAnalysis(path: file, filter: filter, analyzer: analyzerOptions)
        let sink = OutputSink()
        sink.lineBuffered = format == .ndjson && !Terminal.isTTY(1) && file == "-"
        let renderer = format.makeRenderer(sink: sink, options: options, summaryOnly: summary)
        if summary, let summaries = renderer as? SummaryRendering, stream == nil, file != "-",
           case let workers = ShardedSummary.workers(requested: threads, path: file), workers > 1 {
            let progress = Progress(enabled: Terminal.isTTY(2) && FileAnalysis.size(of: file) > 64 << 20)
            let sharded = ShardedSummary(path: file, filter: filter, link: link, options: analyzerOptions, workers: workers,
                                         format: format, renderOptions: options)
            let outcome = sharded.run(progress: progress)
            progress.clear()
            if let outcome {
                try outcome.render(into: summaries, file: file, linkType: capture.linkTypeName)
                return
            }
            // A shared cap may have acted: the ordinary single pass gives the exact answer.
        }
        // Rendering on a second thread, when there is a core for it and the input is a file
        // (stdin may be a live pipe, whose lines should not wait for a batch).
        let pipelined = format != .mermaid && !summary && file != "-" && (threads ?? WorkerThread.cores) > 1
        try run.run(file: capture, link: link, renderer: pipelined ? PipelinedRenderer(renderer) : renderer)
        if let mermaid = renderer as? MermaidRenderer, !mermaid.foundStream, let stream {
            Terminal.warn("\(file): no stream \(stream) in this capture")
            throw ExitCode(1)
        }
    }
}

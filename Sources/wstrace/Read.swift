import ArgumentParser
import WSEngine
import WSOutput

/// `wstrace read FILE`: the timeline and lifecycle summaries of a capture.
struct Read: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read a capture file (.pcap, .pcapng, - for stdin) and show each connection's life.")

    @Argument(help: "Capture files (.pcap or .pcapng), read as one capture merged by time; a directory (its files, e.g. rotated by tcpdump -C); or - for standard input.")
    var files: [String]

    @Option(name: [.customShort("f"), .customLong("filter")], help: "BPF filter; packet numbers stay the file's own.")
    var filter: String?

    @Option(name: .long, help: "Only this stream (TCP connection index, from 0).")
    var stream: Int?

    @Option(name: .long, help: "text, json, ndjson, or mermaid (a sequence diagram of one connection: needs --stream N).")
    var format: OutputFormat = .text

    @Flag(name: .long, help: "Full analysis, but print only the per-connection summaries.")
    var summary = false

    @Option(name: .long, help: ArgumentHelp(
        "Flow workers: each analyses and renders a share of the TCP connections, and one reader feeds them and merges their output in packet order (the same bytes as one thread). Default: one per core (up to 16) for captures of 16 MiB or more; below that one thread, with the output rendered on a second. 1: everything on one thread.",
        valueName: "n"))
    var threads: Int?

    @OptionGroup var display: DisplayOptions

    @OptionGroup var limits: LimitOptions

    @OptionGroup var keys: KeyLogOptions

    @OptionGroup var app: AppFilterOptions

    func validate() throws {
        if let stream, stream < 0 { throw ValidationError("--stream must not be negative") }
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be between 1 and 64") }
        if format == .mermaid && stream == nil {
            throw ValidationError("--format mermaid draws one connection: give --stream N")
        }
    }

    func run() throws {
        Terminal.ignoreSIGPIPE()
        let display = try app.compiled()
        try app.requireSummaries(display, summaries: summary)
        let input = try InputFiles.expandOrExit(files), paths = input.paths
        // The key log first: a file read as a stream brings its own as it is read (`open`).
        let keyLog = try keys.load(captures: paths)
        var openOptions = limits.analyzerOptions(retention: 0)
        openOptions.keyLog = keyLog
        let analysis = FileAnalysis(paths: paths, filter: filter, analyzer: openOptions)
        let (reader, link) = try analysis.open()
        var (options, fileRuns) = FileAnalysis.withFiles(
            self.display.renderOptions(format: format, timeDecimals: reader.timestampDecimals, stream: stream), reader)
        options.displayFilter = display?.expression
        var analyzerOptions = limits.analyzerOptions(retention: summary ? 0 : options.retention)
        analyzerOptions.buildsEvents = !summary || format == .mermaid
        analyzerOptions.keyLog = keyLog
        app.apply(display, to: &analyzerOptions, showsPayloads: options.payloads != .none && !summary,
                  maxPayload: options.maxPayload)
        let run = FileAnalysis(paths: paths, filter: filter, analyzer: analyzerOptions, display: display, leftOut: input.leftOut)
        let sink = OutputSink()
        let stdin = paths == ["-"]
        sink.lineBuffered = format == .ndjson && !Terminal.isTTY(1) && stdin
        let summaryOnly = summary
        let makeRenderer = { format.makeRenderer(sink: sink, options: options, summaryOnly: summaryOnly) }
        // tcp.stream in a filter: the index a row has only once the merge numbers it (one thread).
        let workers = display?.namesStream == true ? 1 : Read.workers(requested: threads, bytes: reader.totalBytes)
        if workers > 1 && !stdin && ParallelEngine.supports(format: format, render: options) {
            try run.runParallel(reader: reader, link: link, workers: workers, format: format, options: options,
                                summaryOnly: summary, fileRuns: fileRuns, makeRenderer: makeRenderer)
            return
        }
        let renderer = makeRenderer()
        // Rendering on a second thread, when there is a core for it and the input is a file
        // (stdin may be a live pipe, whose lines should not wait for a batch).
        let pipelined = format != .mermaid && !summary && !stdin && threads == nil && WorkerThread.cores > 1
        try run.run(reader: reader, link: link, renderer: pipelined ? PipelinedRenderer(renderer) : renderer, fileRuns: fileRuns)
        if let mermaid = renderer as? MermaidRenderer, !mermaid.foundStream, let stream {
            Terminal.warn("\(reader.displayName): no stream \(stream) in this capture")
            throw ExitCode(1)
        }
    }

    /// Flow workers for a capture of `bytes`: `requested` when given, else one per core (up
    /// to 16) from 16 MiB on, where they pay for themselves.
    static func workers(requested: Int?, bytes: Int) -> Int {
        if let requested { return max(1, requested) }
        return bytes >= 16 << 20 ? min(WorkerThread.cores, 16) : 1
    }
}

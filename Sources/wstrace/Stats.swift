import ArgumentParser
import WSOutput

/// `wstrace stats FILE`: the capture as a whole, by cause, close code, percentiles and patterns.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Capture-wide WebSocket statistics: connections by cause of their end, close codes, duration, message-size and ping-RTT percentiles, patterns, busiest connections, connections over time.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Argument(help: "Capture files (.pcap or .pcapng), read as one capture merged by time; a directory (its files); or - for standard input.")
    var files: [String]

    @Option(name: [.customShort("f"), .customLong("filter")], help: "BPF filter.")
    var filter: String?

    @Option(name: .long, help: "text or json (one object).")
    var format: Format = .text

    @OptionGroup var limits: LimitOptions

    @OptionGroup var keys: KeyLogOptions

    @OptionGroup var app: AppFilterOptions

    func run() throws {
        Terminal.ignoreSIGPIPE()
        let display = try app.compiled()
        let input = try InputFiles.expandOrExit(files), paths = input.paths
        var analyzerOptions = limits.analyzerOptions(retention: 0)
        analyzerOptions.buildsEvents = false
        analyzerOptions.keyLog = try keys.load(captures: paths)
        analyzerOptions.app.keepsLatencies = true
        app.apply(display, to: &analyzerOptions, showsPayloads: false)
        let run = FileAnalysis(paths: paths, filter: filter, analyzer: analyzerOptions, display: display, leftOut: input.leftOut)
        let (reader, link) = try run.open()
        let sink = OutputSink()
        try run.run(reader: reader, link: link, renderer: StatsRenderer(sink: sink, json: format == .json))
    }
}

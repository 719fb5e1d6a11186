import ArgumentParser
import WSOutput
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `wstrace report FILE -o report.html`: a self-contained HTML page with a ladder diagram,
/// the lifecycle summary and the messages of every connection.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML lifecycle report: an index of connections and a ladder diagram of each.")

    @Argument(help: "Capture files (.pcap or .pcapng), read as one capture merged by time; a directory (its files); or - for standard input.")
    var files: [String]

    @Option(name: [.customShort("o"), .customLong("output")], help: "The HTML file to write (- for standard output).")
    var output: String

    @Option(name: [.customShort("f"), .customLong("filter")], help: "BPF filter; packet numbers stay the file's own.")
    var filter: String?

    @OptionGroup var limits: LimitOptions

    @OptionGroup var keys: KeyLogOptions

    @OptionGroup var app: AppFilterOptions

    func validate() throws {
        guard !output.isEmpty else { throw ValidationError("-o needs a file name") }
    }

    func run() throws {
        Terminal.ignoreSIGPIPE()
        let display = try app.compiled()
        let input = try InputFiles.expandOrExit(files), paths = input.paths
        // The key log first: a file read as a stream brings its own as it is read (`open`).
        let keyLog = try keys.load(captures: paths)
        var openOptions = limits.analyzerOptions(retention: 0)
        openOptions.keyLog = keyLog
        let analysis = FileAnalysis(paths: paths, filter: filter, analyzer: openOptions)
        let (capture, link) = try analysis.open()
        // Previews in the report are at most a few hundred bytes per message.
        var options = RenderOptions(payloads: .preview, previewLimit: 60, timeDecimals: capture.timestampDecimals)
        if capture.files.count > 1 { options.files = capture.files.map(\.path) }  // the title names them
        options.displayFilter = display?.expression
        var analyzerOptions = limits.analyzerOptions(retention: 512)
        analyzerOptions.keyLog = keyLog
        app.apply(display, to: &analyzerOptions, showsPayloads: true)
        let run = FileAnalysis(paths: paths, filter: filter, analyzer: analyzerOptions, display: display, leftOut: input.leftOut)

        let fd: Int32
        if output == "-" {
            fd = 1
        } else {
            fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                Terminal.warn("\(output): cannot write: \(String(cString: strerror(errno)))")
                throw ExitCode(1)
            }
        }
        defer { if fd != 1 { close(fd) } }
        let sink = OutputSink(fd: fd)
        let renderer = HTMLReportRenderer(sink: sink, options: options)
        try run.run(reader: capture, link: link, renderer: renderer)
        sink.flush()
        if sink.closed && fd != 1 {
            Terminal.warn("\(output): write failed")
            throw ExitCode(1)
        }
    }
}

import ArgumentParser
import WSApp
import WSOutput

/// `wstrace follow FILE --stream N`: one connection as a conversation.
struct Follow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Print one connection's messages as a conversation, with direction, time, opcode and text.")

    @Argument(help: "Capture files (.pcap or .pcapng), read as one capture merged by time; a directory (its files); or - for standard input.")
    var files: [String]

    @Option(name: .long, help: "The stream to follow (TCP connection index, from 0).")
    var stream: Int

    @Option(name: [.customShort("f"), .customLong("filter")], help: "BPF filter.")
    var filter: String?

    @Option(name: .long, help: "preview (about 240 characters per message) or full.")
    var payloads: PayloadMode = .preview

    @Option(name: .customLong("max-payload"), help: "Bytes kept per message with --payloads full.")
    var maxPayload = 1 << 20

    @Flag(name: .long, help: "Print the reassembled TCP bytes of each direction as hex, like tshark's follow,tcp,raw (server lines indented).")
    var raw = false

    @OptionGroup var limits: LimitOptions

    @OptionGroup var keys: KeyLogOptions

    @OptionGroup var decode: DecodeAsOption

    func run() throws {
        Terminal.ignoreSIGPIPE()
        let input = try InputFiles.expandOrExit(files), paths = input.paths
        // The key log first: a file read as a stream brings its own as it is read (`open`).
        let keyLog = try keys.load(captures: paths)
        var openOptions = limits.analyzerOptions(retention: 0)
        openOptions.keyLog = keyLog
        let analysis = FileAnalysis(paths: paths, filter: filter, analyzer: openOptions)
        let (capture, link) = try analysis.open()
        let options = RenderOptions(payloads: payloads, maxPayload: maxPayload, timeDecimals: capture.timestampDecimals,
                                    stream: stream)
        var analyzerOptions = limits.analyzerOptions(retention: options.retention)
        analyzerOptions.keyLog = keyLog
        analyzerOptions.app.decodeAs = decode.decodeAs
        let run = FileAnalysis(paths: paths, filter: filter, analyzer: analyzerOptions, leftOut: input.leftOut)
        let sink = OutputSink()
        let renderer = FollowRenderer(sink: raw ? OutputSink(fd: -1) : sink, options: options, stream: stream)
        let wanted = stream
        try run.run(reader: capture, link: link, renderer: renderer) { analyzer in
            guard raw else { return }
            analyzer.streamObserver = { stream, side, bytes, gap in
                guard stream == wanted else { return }
                if side == .server { sink.write("\t") }
                if let bytes {
                    sink.write(hexString(bytes))
                } else {
                    sink.write("[\(gap) bytes missing]")
                }
                sink.endLine()
            }
        }
        sink.flush()
        if !renderer.foundStream {
            Terminal.warn("\(capture.displayName): no stream \(stream) in this capture")
            throw ExitCode(1)
        }
    }
}

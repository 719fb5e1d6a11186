import ArgumentParser
import WSOutput

/// `wstrace follow FILE --stream N`: one connection as a conversation.
struct Follow: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one connection's messages as a conversation, with direction, time, opcode and text.")

    @Argument(help: "Capture file (.pcap or .pcapng), or - for standard input.")
    var file: String

    @Option(name: .long, help: "The stream to follow (TCP connection index, from 0).")
    var stream: Int

    @Option(name: [.customShort("f"), .customLong("filter")], help: "BPF filter.")
    var filter: String?

    @Option(name: .long, help: "preview (about 240 characters per message) or full.")
    var payloads: PayloadMode = .preview

    @Option(name: .customLong("max-payload"), help: "Bytes kept per message with --payloads full.")
    var maxPayload = 1 << 20

    @OptionGroup var limits: LimitOptions

    func run() throws {
        Terminal.ignoreSIGPIPE()
        let analysis = FileAnalysis(path: file, filter: filter, analyzer: limits.analyzerOptions(retention: 0))
        let (capture, link) = try analysis.open()
        let options = RenderOptions(payloads: payloads, maxPayload: maxPayload, timeDecimals: capture.timestampDecimals,
                                    stream: stream)
        let run = FileAnalysis(path: file, filter: filter, analyzer: limits.analyzerOptions(retention: options.retention))
        let renderer = FollowRenderer(sink: OutputSink(), options: options, stream: stream)
        try run.run(file: capture, link: link, renderer: renderer)
        if !renderer.foundStream {
            Terminal.warn("\(file): no stream \(stream) in this capture")
            throw ExitCode(1)
        }
    }
}

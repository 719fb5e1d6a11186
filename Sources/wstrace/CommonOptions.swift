import ArgumentParser
import WSDissector
import WSOutput
import WSReassembly
import WSTimeline
import WSFilter
import WSApp

extension TimeFormat: ExpressibleByArgument {}
extension PayloadMode: ExpressibleByArgument {}
extension OutputFormat: ExpressibleByArgument {}

/// Caps shared by every command that analyzes traffic.
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("max-connections"), help: "Connections tracked at once; the least recently active is released past it.")
    var maxConnections = 32_768  // 2-3 KiB each: a full table stays under 128 MiB (docs/robustness.md)

    @Option(name: .customLong("max-buffered"), help: "Out-of-order bytes held per connection before a hole is declared a gap.")
    var maxBuffered = 4 << 20

    @Option(name: .customLong("max-buffered-total"), help: "Out-of-order bytes held across all connections.")
    var maxBufferedTotal = 32 << 20

    @Option(name: .customLong("max-message"), help: "Largest message counted whole; longer ones are reported truncated.")
    var maxMessage: UInt64 = 256 << 20

    @Option(name: .customLong("max-decompressed"), help: "Largest decompressed size per message (deflate-bomb cap).")
    var maxDecompressed: UInt64 = 64 << 20

    @Option(name: .customLong("max-header"), help: "Largest HTTP header block accepted.")
    var maxHeader = 64 << 10

    @Option(name: .customLong("max-recognition-held"), help: "Bytes held across all connections while mid-stream connections are recognised.")
    var maxRecognitionHeld = 32 << 20

    @Option(name: .customLong("idle-timeout"), help: "Seconds of capture time without packets before a connection is released.")
    var idleTimeout: Int = 3600

    func analyzerOptions(retention: Int) -> AnalyzerOptions {
        var options = AnalyzerOptions(
            dissector: DissectorLimits(payloadRetention: retention, maxHeaderBlock: maxHeader,
                                       maxMessageSize: maxMessage, maxDecompressedSize: maxDecompressed),
            reassembly: ReassemblyLimits(maxBufferedPerConnection: maxBuffered, maxBufferedTotal: maxBufferedTotal,
                                         maxConnections: maxConnections,
                                         idleTimeoutNanoseconds: Int64(idleTimeout) * 1_000_000_000))
        options.maxRecognitionHeld = maxRecognitionHeld
        return options
    }

    func validate() throws {
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard maxBuffered >= 0, maxBufferedTotal >= 0, maxHeader > 0, maxRecognitionHeld >= 0 else { throw ValidationError("limits must not be negative") }
        // Kept in nanoseconds: past 10^9 seconds (about 31 years) it trapped converting.
        guard idleTimeout > 0 && idleTimeout <= 1_000_000_000 else {
            throw ValidationError("--idle-timeout must be positive and at most 1000000000 seconds")
        }
    }
}

/// How events are shown: shared by `read` and `capture`.
struct DisplayOptions: ParsableArguments {
    @Option(name: .long, help: "Payload in the output: preview, full or none (default: preview for text, full for JSON).")
    var payloads: PayloadMode?

    @Option(name: .customLong("max-payload"), help: "Bytes of payload kept per frame or message with --payloads full.")
    var maxPayload = 1 << 20

    @Option(name: .customShort("t"), help: "Time column: r (relative to the first packet), a (absolute UTC), d (delta).")
    var timeFormat: TimeFormat = .relative

    @Flag(inversion: .prefixedNo, help: "Colors (default: on a terminal, unless NO_COLOR is set).")
    var color: Bool?

    func validate() throws {
        guard maxPayload >= 0 else { throw ValidationError("--max-payload must not be negative") }
    }

    /// Render settings for `format`: previews for text and Mermaid, whole payloads for JSON.
    func renderOptions(format: OutputFormat, timeDecimals: Int, stream: Int?) -> RenderOptions {
        let mode = payloads ?? (format == .text || format == .mermaid ? .preview : .full)
        return RenderOptions(payloads: mode, maxPayload: maxPayload, previewLimit: 60, timeFormat: timeFormat,
                             color: format == .text && Terminal.useColor(force: color),
                             timeDecimals: timeDecimals, stream: stream)
    }
}

/// The display filter (-Y) and the application-protocol choice (--decode-as): shared by
/// `read`, `capture`, `report` and `stats`.
struct AppFilterOptions: ParsableArguments {
    @Option(name: [.customShort("Y"), .customLong("display-filter")], help: ArgumentHelp(
        "Display filter, in Wireshark's syntax and field names (docs/filters.md): only matching rows are shown, and the summaries of connections with a matching row. Packet numbers stay the file's own.",
        valueName: "expr"))
    var displayFilter: String?

    @OptionGroup var decode: DecodeAsOption

    @Flag(name: .customLong("no-app"), help: "Do not decode application protocols inside messages.")
    var noApp = false

    /// The compiled filter, or exit 64 with the expression and a caret under the fault, as tshark does.
    func compiled() throws -> DisplayFilter? {
        guard let displayFilter else { return nil }
        do {
            return try DisplayFilter(displayFilter)
        } catch {
            Terminal.warn(error.caretText)
            throw ExitCode(64)
        }
    }

    /// What the analysis needs for this filter and protocol choice: rows built when the filter
    /// tests rows (even for summaries), payload kept when it tests payload, and other JSON
    /// reported when rows show payloads (`showsPayloads`) or the filter asks for app fields.
    func apply(_ filter: DisplayFilter?, to options: inout AnalyzerOptions, showsPayloads: Bool,
               maxPayload: Int = 1 << 20) {
        options.app.enabled = !noApp
        options.app.decodeAs = decode.decodeAs
        // Other JSON is the payload itself: reported when payloads are shown or a filter asks.
        options.app.jsonFallback = showsPayloads || filter?.usesApp == true
        guard let filter else { return }
        if !filter.connectionLevel { options.buildsEvents = true }
        if filter.needsPayload {
            options.dissector.payloadRetention = max(options.dissector.payloadRetention, maxPayload)
        }
    }

    /// A filter on connection-level fields cannot choose rows as they stream out.
    func requireSummaries(_ filter: DisplayFilter?, summaries: Bool) throws {
        guard let filter, filter.connectionLevel, !summaries else { return }
        Terminal.warn("\(filter.expression): wstrace.verdict and wstrace.cause are known only when a connection ends: use the filter with --summary, stats or report")
        throw ExitCode(64)
    }
}

/// `--decode-as PROTO` (like Wireshark's Decode As): shared by the commands that decode messages.
struct DecodeAsOption: ParsableArguments {
    @Option(name: .customLong("decode-as"), help: ArgumentHelp(
        "Decode every WebSocket connection's messages as this protocol, whatever was negotiated: socket.io, engine.io, mqtt, stomp, graphql-ws, jsonrpc or json (like Wireshark's Decode As).",
        valueName: "proto"), transform: DecodeAsOption.parse)
    var decodeAs: AppProtocol?

    static func parse(_ name: String) throws -> AppProtocol {
        guard let p = AppProtocol(decodeAs: name) else {
            throw ValidationError("unknown protocol (socket.io, engine.io, mqtt, stomp, graphql-ws, jsonrpc, json)")
        }
        return p
    }
}

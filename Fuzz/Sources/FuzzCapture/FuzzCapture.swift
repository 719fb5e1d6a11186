// libFuzzer target (a): raw capture-file bytes through the whole pure pipeline.
//
// The input is read as a classic pcap file (any of the four magics; both byte orders, µs or ns).
// A small splitter here stands in for libpcap: each record goes to `Analyzer` (decode →
// reassembly → WebSocket → timeline) and every event and summary to the text, JSON and NDJSON
// renderers, the HTML report, `stats` (text and JSON), `follow` and Mermaid (of the stream the
// mode byte picks, else stream 0), written to /dev/null. Caps are set small so the fuzzer
// reaches them.
import WSDecode
import WSDissector
import WSOutput
import WSReassembly
import WSTimeline
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let devNull: Int32 = open("/dev/null", O_WRONLY)

let fuzzOptions = AnalyzerOptions(
    dissector: DissectorLimits(payloadRetention: 512, maxHeaderBlock: 4096,
                               maxMessageSize: 64 << 10, maxDecompressedSize: 64 << 10),
    reassembly: ReassemblyLimits(maxBufferedPerConnection: 64 << 10, maxBufferedTotal: 256 << 10,
                                 maxConnections: 16, idleTimeoutNanoseconds: 60_000_000_000,
                                 closedLingerNanoseconds: 1_000_000_000))

@inline(__always)
func read32(_ p: UnsafeRawBufferPointer, _ at: Int, swapped: Bool) -> UInt32 {
    let v = UInt32(p[at]) | UInt32(p[at + 1]) << 8 | UInt32(p[at + 2]) << 16 | UInt32(p[at + 3]) << 24
    return swapped ? v.byteSwapped : v
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCapture(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size >= 24 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let magic = read32(input, 0, swapped: false)
    let swapped: Bool, nanos: Bool
    switch magic {
    case 0xa1b2c3d4: swapped = false; nanos = false
    case 0xa1b23c4d: swapped = false; nanos = true
    case 0xd4c3b2a1: swapped = true; nanos = false
    case 0x4d3cb2a1: swapped = true; nanos = true
    default: return 0
    }
    let dlt = Int32(bitPattern: read32(input, 20, swapped: swapped) & 0x0fff_ffff)
    guard let link = LinkType(dlt: dlt) else { return 0 }

    // Render in every format; the mode byte (snaplen's low byte) varies payload modes.
    let mode = input[16]
    let payloads: PayloadMode = mode % 3 == 0 ? .preview : (mode % 3 == 1 ? .full : .none)
    let options = RenderOptions(payloads: payloads, maxPayload: 300, previewLimit: 60,
                                timeFormat: mode & 4 == 0 ? .relative : (mode & 8 == 0 ? .absolute : .delta),
                                color: mode & 16 != 0, timeDecimals: nanos ? 9 : 6,
                                stream: mode & 32 != 0 ? Int(mode >> 6) : nil)
    let summaryOnly = mode & 0x80 != 0 && mode & 32 == 0
    let sinks = (0..<8).map { _ in OutputSink(fd: devNull, threshold: 64 << 10) }
    let followed = options.stream ?? 0
    let renderers: [Renderer] = [
        OutputFormat.text.makeRenderer(sink: sinks[0], options: options, summaryOnly: summaryOnly),
        OutputFormat.json.makeRenderer(sink: sinks[1], options: options, summaryOnly: summaryOnly),
        OutputFormat.ndjson.makeRenderer(sink: sinks[2], options: options, summaryOnly: false),
        HTMLReportRenderer(sink: sinks[3], options: options),
        StatsRenderer(sink: sinks[4], json: false),
        StatsRenderer(sink: sinks[5], json: true),
        FollowRenderer(sink: sinks[6], options: options, stream: followed),
        MermaidRenderer(sink: sinks[7], options: options, stream: followed),
    ]
    for r in renderers { r.begin(file: "fuzz.pcap", linkType: "\(link)") }
    let analyzer = Analyzer(linkType: link, options: fuzzOptions)
    let emit: (TimelineEvent) -> Void = { e in for r in renderers { r.event(e) } }
    let summary: (ConnectionSummary) -> Void = { s in for r in renderers { r.connection(s) } }

    var offset = 24
    var number = 0
    var warnings: [String] = []
    while offset + 16 <= size {
        let sec = Int64(read32(input, offset, swapped: swapped))
        let frac = Int64(read32(input, offset + 4, swapped: swapped))
        let incl = Int(read32(input, offset + 8, swapped: swapped))
        let orig = Int(read32(input, offset + 12, swapped: swapped))
        offset += 16
        guard incl <= 262_144, incl <= size - offset else {
            warnings.append("truncated record")
            break
        }
        number += 1
        let bytes = UnsafeRawBufferPointer(rebasing: input[offset ..< offset + incl])
        offset += incl
        let time = sec &* 1_000_000_000 &+ (nanos ? frac : frac &* 1000)
        analyzer.process(number: number, time: time, wireLength: max(orig, incl), bytes: bytes,
                         emit: emit, summary: summary)
    }
    analyzer.finish(emit: emit, summary: summary)
    for r in renderers { r.end(counters: analyzer.counters, warnings: warnings) }
    for s in sinks { s.flush() }
    return 0
}

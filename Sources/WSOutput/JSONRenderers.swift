import WSDiagnosis
import WSTimeline

/// One JSON document: `{"schema": 2, "file", "events": [...], "connections": [...], "capture", "packets"}`.
/// Events stream out as they come; connections are kept (as rendered bytes) until the end.
public final class JSONDocumentRenderer: PrerenderedRendering {
    private let sink: OutputSink
    private let options: RenderOptions
    private let summaryOnly: Bool
    private let eventJSON: EventJSON
    private var firstTime: Int64?

    /// Times are relative to the capture's first packet, whether or not a row shows it (-Y).
    public func firstPacket(time: Int64) { if firstTime == nil { firstTime = time } }
    private var eventCount = 0
    private let connections = SummarySpool()
    /// The capture-wide diagnosis pass, over every connection (shown or not).
    private let splicer = DiagnosisSplicer()
    private var file = ""
    private var linkType = ""

    init(sink: OutputSink, options: RenderOptions, summaryOnly: Bool) {
        self.sink = sink
        self.options = options
        self.summaryOnly = summaryOnly
        eventJSON = EventJSON(options: options, formatter: InfoFormatter(previewLimit: options.previewLimit, showsPayload: options.payloads != .none))
    }

    public var isClosed: Bool { sink.closed }

    public func begin(file: String, linkType: String) {
        self.file = file
        self.linkType = linkType
        sink.writeJSON { w in
            w.beginObject()  // closed by `end`
            w.field("schema", 3)
            w.field("file", file)
            w.key("events")
        }
        sink.write("[")
    }

    public func event(_ e: TimelineEvent) {
        if firstTime == nil { firstTime = e.time }
        guard !summaryOnly, options.stream == nil || e.stream == options.stream else { return }
        sink.write(eventCount > 0 ? ",\n" : "\n")
        let firstTime = firstTime ?? e.time
        sink.writeJSON { eventJSON.write(e, firstTime: firstTime, into: &$0) }
        eventCount += 1
    }

    public func event(rendered: UnsafeRawBufferPointer, stream: Int?, streamAt: Int) {
        guard !summaryOnly, options.stream == nil || stream == options.stream else { return }
        sink.writeBytes { $0.append(rendered, stream: stream, at: streamAt, before: eventCount > 0 ? ",\n" : "\n") }
        eventCount += 1
    }

    public func connection(_ s: ConnectionSummary) {
        let d = Diagnoser.diagnose(s)
        splicer.add(EndingRecord(s, d))
        guard options.stream == nil || s.stream == options.stream else { return }
        connections.append(stream: s.stream, RenderedSummaries.render(s, d, format: .json, options: options, firstTime: nil))
    }

    public func connection(rendered: [UInt8], stream: Int, ending: EndingRecord) {
        var ending = ending
        ending.stream = stream
        splicer.add(ending)
        guard options.stream == nil || stream == options.stream else { return }
        connections.append(stream: stream, RenderedSummaries.numbered(rendered, stream: stream))
    }

    public func end(counters: CaptureCounters, warnings: [String]) {
        sink.write("\n],\n\"connections\": [")
        var first = true
        let cross = splicer.resolve()
        connections.forEachSorted { stream, c in
            sink.write(first ? "\n" : ",\n")
            c.withUnsafeBytes { raw in sink.writeBytes { DiagnosisSplicer.apply(raw, stream: stream, text: false, cross: cross, into: &$0) } }
            first = false
        }
        let warnings = warnings + (connections.lostWarning.map { [$0] } ?? [])
        sink.write("\n],\n\"patterns\": ")
        sink.writeJSON { PatternsJSON.write(cross, into: &$0) }
        sink.write(",\n\"proxy_pairs\": ")
        sink.writeJSON { PatternsJSON.writePairs(cross, into: &$0) }
        sink.write(",\n\"capture\": ")
        sink.writeJSON { CaptureJSON(options: options).write(counters, file: file, linkType: linkType, warnings: warnings, into: &$0) }
        sink.write(",\n\"link_type\": ")
        sink.writeJSON { $0.string(linkType) }
        sink.write(",\n\"packets\": \(counters.packets)\n}")
        sink.endLine()
        sink.flush()
    }
}

/// One JSON object per line: events as they happen, a connection object when a connection
/// ends, and a last `capture` line.
public final class NDJSONRenderer: PrerenderedRendering {
    private let sink: OutputSink
    private let options: RenderOptions
    private let summaryOnly: Bool
    private let eventJSON: EventJSON
    private var firstTime: Int64?

    /// Times are relative to the capture's first packet, whether or not a row shows it (-Y).
    public func firstPacket(time: Int64) { if firstTime == nil { firstTime = time } }
    private var file = ""
    private var linkType = ""
    private let splicer = DiagnosisSplicer()

    init(sink: OutputSink, options: RenderOptions, summaryOnly: Bool) {
        self.sink = sink
        self.options = options
        self.summaryOnly = summaryOnly
        eventJSON = EventJSON(options: options, formatter: InfoFormatter(previewLimit: options.previewLimit, showsPayload: options.payloads != .none))
    }

    public var isClosed: Bool { sink.closed }

    public func begin(file: String, linkType: String) {
        self.file = file
        self.linkType = linkType
    }

    public func event(_ e: TimelineEvent) {
        write(e)
    }

    public func events(_ list: UnsafeBufferPointer<TimelineEvent>) {
        guard let base = list.baseAddress else { return }
        for i in 0..<list.count { write((base + i).pointee) }
    }

    @inline(__always)
    private func write(_ e: borrowing TimelineEvent) {
        if firstTime == nil { firstTime = e.time }
        guard !summaryOnly, options.stream == nil || e.stream == options.stream else { return }
        let firstTime = firstTime ?? e.time
        sink.writeJSON { eventJSON.write(e, firstTime: firstTime, into: &$0) }
        sink.endLine()
    }

    public func connection(_ s: ConnectionSummary) {
        let d = Diagnoser.diagnose(s)
        splicer.add(EndingRecord(s, d))
        guard options.stream == nil || s.stream == options.stream else { return }
        sink.writeJSON { ConnectionJSON(options: options).write(s, diagnosis: d, marks: false, into: &$0) }
        sink.endLine()
    }

    public func connection(rendered: [UInt8], stream: Int, ending: EndingRecord) {
        var ending = ending
        ending.stream = stream
        splicer.add(ending)
        guard options.stream == nil || stream == options.stream else { return }
        // Rendered without marks for NDJSON (RenderedSummaries.rendered).
        sink.write(bytes: RenderedSummaries.numbered(rendered, stream: stream))
        sink.endLine()
    }

    public func event(rendered: UnsafeRawBufferPointer, stream: Int?, streamAt: Int) {
        guard !summaryOnly, options.stream == nil || stream == options.stream else { return }
        sink.writeLine { $0.append(rendered, stream: stream, at: streamAt, after: "\n") }
    }

    public func end(counters: CaptureCounters, warnings: [String]) {
        // A connection's line left before the capture-wide pass: patterns and proxy pairs
        // come as lines of their own, and a connection whose head the pass changed gets a
        // `diagnosis_update` line.
        let cross = splicer.resolve()
        for line in PatternsJSON.lines(cross, stream: options.stream) {
            sink.write(bytes: line)
            sink.endLine()
        }
        sink.writeJSON { CaptureJSON(options: options).write(counters, file: file, linkType: linkType, warnings: warnings, into: &$0) }
        sink.endLine()
        sink.flush()
    }
}

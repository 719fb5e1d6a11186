import WSDiagnosis
import WSTimeline

/// Per-connection summaries rendered away from the renderer (on an engine's worker) as the
/// renderer would render them.
///
/// Their stream index is not known yet when they are rendered (it is the rank of the
/// stream's first packet among every worker's), so they carry `placeholder` in its place;
/// `SummaryRendering.connection(rendered:stream:)` writes the real one in.
public enum RenderedSummaries {
    /// Written where the stream index goes: a number no capture reaches, found exactly once.
    static let placeholder = 999_999_999_989

    /// `s` rendered for a `format` renderer, its stream index left as the placeholder that
    /// `SummaryRendering.connection(rendered:stream:)` replaces.
    /// Also returns what the capture-wide diagnosis pass needs of the connection.
    public static func rendered(_ s: ConnectionSummary, format: OutputFormat, options: RenderOptions,
                                firstTime: Int64?) -> (bytes: [UInt8], ending: EndingRecord) {
        let d = Diagnoser.diagnose(s)
        let ending = EndingRecord(s, d)
        var s = s
        s.stream = placeholder
        return (render(s, d, format: format, options: options, firstTime: firstTime), ending)
    }

    /// What a text or JSON document renderer keeps for `s`, diagnosed as `d`.
    static func render(_ s: ConnectionSummary, _ d: Diagnosis, format: OutputFormat, options: RenderOptions, firstTime: Int64?) -> [UInt8] {
        if format != .text {
            var writer = JSONWriter(capacity: 4096)
            // NDJSON writes a connection as it ends: no marks to resolve at the end.
            ConnectionJSON(options: options).write(s, diagnosis: d, marks: format != .ndjson, into: &writer)
            return writer.bytes
        }
        return SummaryText(options: options, firstTime: firstTime ?? s.start, color: options.color).renderBytes(s, diagnosis: d)
    }

    /// `rendered` with the placeholder replaced by `stream`.
    static func numbered(_ rendered: [UInt8], stream: Int) -> [UInt8] {
        let marker = marker
        // The marker is digits only, once near the start: a plain scan finds it at once.
        let found: Int? = rendered.withUnsafeBufferPointer { hay in
            marker.withUnsafeBufferPointer { needle in
                guard hay.count >= needle.count else { return nil }
                var i = 0
                let last = hay.count - needle.count
                while i <= last {
                    if hay[i] == needle[0] {
                        var k = 1
                        while k < needle.count && hay[i + k] == needle[k] { k += 1 }
                        if k == needle.count { return i }
                    }
                    i += 1
                }
                return nil
            }
        }
        guard let at = found else { return rendered }
        var out: [UInt8] = []
        out.reserveCapacity(rendered.count)
        out.append(contentsOf: rendered[..<at])
        var digits = ByteBuffer(capacity: 24)
        digits.appendDecimal(stream)
        out.append(contentsOf: UnsafeRawBufferPointer(start: digits.base, count: digits.count))
        out.append(contentsOf: rendered[(at + marker.count)...])
        return out
    }

    private static let marker = Array(String(placeholder).utf8)
}

/// Renderers that keep per-connection summaries until the end (text and JSON documents) and can
/// take them rendered elsewhere, by `RenderedSummaries`.
public protocol SummaryRendering: Renderer {
    /// Keeps a summary rendered by `RenderedSummaries` as the connection `stream`, with what
    /// the capture-wide diagnosis pass needs of it.
    func connection(rendered: [UInt8], stream: Int, ending: EndingRecord)
}

/// Renderers that also take events rendered elsewhere (`EventBytes`, on an engine's worker).
public protocol PrerenderedRendering: SummaryRendering {
    /// An event's bytes (no line end) for stream `stream` (nil: not a connection's). When
    /// `streamAt` is not negative, the digits there are the worker's own stream index, and
    /// `stream` is written in their place.
    func event(rendered: UnsafeRawBufferPointer, stream: Int?, streamAt: Int)
}

extension ByteBuffer {
    /// `before`, then `rendered` with the decimal digits at `at` (when not negative) replaced by
    /// `stream`, then `after`: one reservation and a cursor for the whole row (the merge writes
    /// every row of a parallel run through here, on one worker at a time).
    @inline(__always)
    mutating func append(_ rendered: UnsafeRawBufferPointer, stream: Int?, at: Int,
                         before: StaticString = "", after: StaticString = "") {
        // `before` and `after` are literals of a few bytes (a separator, a line end).
        let n = rendered.count
        withCursor(reserving: before.utf8CodeUnitCount + n + 21 + after.utf8CodeUnitCount) { c in
            if before.utf8CodeUnitCount > 0 { c.literal(before) }
            if let base = rendered.baseAddress {
                if at >= 0, let stream {
                    var end = at
                    while end < n, base.load(fromByteOffset: end, as: UInt8.self) &- 0x30 < 10 { end += 1 }
                    c.bytes(UnsafeRawBufferPointer(start: base, count: at))
                    c.decimal(stream)
                    c.bytes(UnsafeRawBufferPointer(start: base + end, count: n - end))
                } else {
                    c.bytes(rendered)
                }
            }
            if after.utf8CodeUnitCount > 0 { c.literal(after) }
        }
    }
}

/// Events rendered away from the renderer, on an engine's worker: the bytes a text, JSON or
/// NDJSON renderer writes for an event, without its line end or separator, for
/// `PrerenderedRendering.event(rendered:stream:streamAt:)`. Times are relative to `firstTime`
/// (or absolute); delta times need the previous row of every connection, so they are not
/// rendered apart.
public final class EventBytes {
    private let format: OutputFormat
    private let row: TextRow
    private let eventJSON: EventJSON
    /// The capture's first packet time.
    public var firstTime: Int64?

    public init(format: OutputFormat, options: RenderOptions) {
        precondition(format != .mermaid && options.timeFormat != .delta)
        self.format = format
        let formatter = InfoFormatter(previewLimit: options.previewLimit, showsPayload: options.payloads != .none)
        row = TextRow(options: options, formatter: formatter)
        eventJSON = EventJSON(options: options, formatter: formatter)
    }

    /// Appends `e` to `writer`; returns where the stream index's digits begin in its bytes (-1: none).
    @inline(__always)
    public func render(_ e: TimelineEvent, into writer: inout JSONWriter) -> Int {
        let firstTime = self.firstTime ?? e.time
        if format == .text {
            row.write(e, shown: e.time - firstTime, into: &writer.out)
            return -1
        }
        writer.beginDocument()
        var at = -1
        eventJSON.write(e, firstTime: firstTime, into: &writer, streamAt: &at)
        return at
    }

}

extension JSONWriter {
    /// Bytes written so far (every document).
    public var count: Int { out.count }
    /// The bytes in `range` (valid until the next write or reset).
    public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: out.base + range.lowerBound, count: range.count)
    }
    /// Appends bytes as they are.
    public mutating func append(_ bytes: [UInt8]) { out.append(bytes) }
}

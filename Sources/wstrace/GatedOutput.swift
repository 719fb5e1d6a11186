import WSFilter
import WSOutput
import WSTimeline

/// The analyzer's two callbacks into a renderer, through the display filter when there is one:
/// rows that match, and the summaries of connections with a matching row.
struct GatedOutput {
    let gate: FilterGate?
    let emit: (TimelineEvent) -> Void
    let summary: (ConnectionSummary) -> Void

    init(_ renderer: Renderer, _ display: DisplayFilter?) {
        let gate = display.map { FilterGate($0) }
        self.gate = gate
        if let gate {
            emit = { if gate.keep($0) { renderer.event($0) } }
            summary = { if gate.keep($0) { renderer.connection($0) } }
        } else {
            emit = { renderer.event($0) }
            summary = { renderer.connection($0) }
        }
    }

    /// The capture's first packet (frame.time_relative counts from it).
    func firstPacket(time: Int64) { gate?.firstTime = time }

    /// The analyzer's totals with the rows the filter kept.
    func counters(_ c: CaptureCounters) -> CaptureCounters {
        var c = c
        c.displayed = gate?.matched ?? 0
        return c
    }
}

import ArgumentParser
import Dispatch
import WSCapture
import WSDecode
import WSOutput
import WSTimeline
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Runs a live capture through the analyzer into a renderer until it is stopped (signal, count,
/// duration, closed output), then finishes the analysis (summaries of every connection seen)
/// and prints the kernel's counts on stderr.
struct LiveAnalysis {
    let capture: LiveCapture
    let link: LinkType
    let analyzer: AnalyzerOptions
    let count: Int?
    let duration: Double?
    let verbose: Bool

    /// Returns after a clean stop; throws ExitCode(1) when libpcap failed while capturing
    /// (after everything captured so far has been rendered and summarized).
    func run(renderer: Renderer, sink: OutputSink) throws {
        let analysis = Analyzer(linkType: link, options: analyzer)
        renderer.begin(file: capture.device, linkType: capture.linkTypeName)
        let emit: (TimelineEvent) -> Void = { renderer.event($0) }
        let summary: (ConnectionSummary) -> Void = { renderer.connection($0) }
        var warnings: [String] = []
        var failed = false
        do {
            let reason = try capture.forEach(maxPackets: count, duration: duration, afterBatch: { sink.flush() }) {
                header, bytes in
                analysis.process(number: header.number, time: header.timestampNanoseconds,
                                 wireLength: header.wireLength, bytes: bytes, emit: emit, summary: summary)
                return !renderer.isClosed
            }
            if verbose { Terminal.warn("capture stopped: \(LiveAnalysis.describe(reason))") }
        } catch {
            failed = true
            warnings.append(error.description)
        }
        if !renderer.isClosed {
            analysis.finish(emit: emit, summary: summary)
            renderer.end(counters: analysis.counters, warnings: warnings)
        }
        sink.flush()
        for w in warnings { Terminal.warn(w) }
        reportStatistics()
        if failed { throw ExitCode(1) }
    }

    /// The kernel's counts, worded like tcpdump's so scripts can read both.
    func reportStatistics() {
        var line = "\(capture.packetsCaptured) packets captured"
        if let s = capture.statistics() {
            line += ", \(s.received) packets received by filter, \(s.droppedByKernel) packets dropped by kernel"
            line += ", \(s.droppedByInterface) packets dropped by interface"
        }
        Terminal.warn(line)
    }

    static func describe(_ reason: LiveCapture.StopReason) -> String {
        switch reason {
        case .stopRequested: return "signal"
        case .count: return "packet count reached"
        case .duration: return "duration elapsed"
        case .bodyEnded: return "output closed"
        }
    }
}

/// SIGINT and SIGTERM stop the capture cleanly (pcap_breakloop) instead of killing the process;
/// a second signal while the summaries are written ends it at once.
final class StopSignals {
    private var sources: [DispatchSourceSignal] = []

    init(stopper: LiveCaptureStopper) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)  // delivered to the dispatch source instead
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { @Sendable in
                if !stopper.stop() { _exit(128 + sig) }
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for s in sources { s.cancel() }
    }
}

import ArgumentParser
import Dispatch
import Synchronization
import WSCapture
import WSDecode
import WSEngine
import WSFilter
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
    /// The display filter (-Y).
    var display: DisplayFilter? = nil

    /// Returns after a clean stop; throws ExitCode(1) when libpcap failed while capturing
    /// (after everything captured so far has been rendered and summarized).
    func run(renderer: Renderer, sink: OutputSink) throws {
        let analysis = Analyzer(linkType: link, options: analyzer)
        renderer.begin(file: capture.device, linkType: capture.linkTypeName)
        let gated = GatedOutput(renderer, display)
        let emit = gated.emit, summary = gated.summary
        var first = true
        var warnings: [String] = []
        var failed = false
        do {
            let reason = try capture.forEach(maxPackets: count, duration: duration, afterBatch: { sink.flush() }) {
                header, bytes in
                if first { gated.firstPacket(time: header.timestampNanoseconds); first = false }
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
            renderer.end(counters: gated.counters(analysis.counters), warnings: warnings)
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

/// Batches of captured packets on their way from the capture thread to the engine's reader: a
/// bounded queue (when the analysis falls behind, the capture thread waits and the kernel's
/// buffer takes the rest, its drops counted as usual), with its batches reused.
final class LiveBatches: @unchecked Sendable {
    private let lock = MutexAndCondition()
    private var mutex: UnsafeMutablePointer<pthread_mutex_t> { lock.mutex }
    private var changed: UnsafeMutablePointer<pthread_cond_t> { lock.condition }
    private var queue: [RecordBatch] = []
    private var free: [RecordBatch] = []
    private var ended = false
    private let capacity = 8

    /// An empty batch to fill.
    func fresh() -> RecordBatch {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let b = free.popLast() {
            b.reset()
            return b
        }
        return RecordBatch()
    }

    /// Hands a filled batch over; waits while the queue is full (returns at once once ended).
    func put(_ batch: RecordBatch) {
        pthread_mutex_lock(mutex)
        while queue.count >= capacity && !ended { pthread_cond_wait(changed, mutex) }
        if !ended { queue.append(batch) }
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }

    enum Taken { case batch(RecordBatch), nothingYet, end }

    /// The next batch, waiting at most `milliseconds`.
    func take(milliseconds: Int) -> Taken {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if queue.isEmpty && !ended {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            var until = now
            until.tv_nsec += milliseconds * 1_000_000
            until.tv_sec += until.tv_nsec / 1_000_000_000
            until.tv_nsec %= 1_000_000_000
            _ = pthread_cond_timedwait(changed, mutex, &until)
        }
        guard !queue.isEmpty else { return ended ? .end : .nothingYet }
        let b = queue.removeFirst()
        pthread_cond_broadcast(changed)
        return .batch(b)
    }

    func recycle(_ batch: RecordBatch) {
        pthread_mutex_lock(mutex)
        free.append(batch)
        pthread_mutex_unlock(mutex)
    }

    /// No more batches: the capture ended, or the output is gone.
    func finish() {
        pthread_mutex_lock(mutex)
        ended = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }
}

extension LiveAnalysis {
    /// The capture on a capture thread, analysed by `workers` flow workers (`ParallelEngine`),
    /// the rows merged and written here as they come (at most about 50 ms after their batch).
    func runParallel(workers: Int, renderer: PrerenderedRendering, format: OutputFormat, options: RenderOptions,
                     summaryOnly: Bool, sink: OutputSink) throws {
        let batches = LiveBatches()
        let result = CaptureResult()
        nonisolated(unsafe) let capture = self.capture
        let count = self.count, duration = self.duration
        let started = WorkerThread.start {
            var current = batches.fresh()
            do {
                result.reason = try capture.forEach(maxPackets: count, duration: duration, afterBatch: {
                    if !current.isEmpty {
                        batches.put(current)
                        current = batches.fresh()
                    }
                }) { header, bytes in
                    if !current.append(number: header.number, time: header.timestampNanoseconds,
                                       wireLength: header.wireLength, bytes: bytes, link: header.link) {
                        batches.put(current)
                        current = batches.fresh()
                        current.append(number: header.number, time: header.timestampNanoseconds,
                                       wireLength: header.wireLength, bytes: bytes, link: header.link)
                    }
                    return !result.closed.load(ordering: .relaxed)
                }
            } catch {
                result.failure = (error as? CaptureError)?.description ?? "\(error)"
            }
            if !current.isEmpty { batches.put(current) }
            batches.finish()
        }
        guard let thread = started else {
            Terminal.warn("no thread for the capture: analysing on one thread")
            return try run(renderer: renderer, sink: sink)
        }
        renderer.begin(file: capture.device, linkType: capture.linkTypeName)
        var settings = ParallelEngine.Settings(workers: workers, linkType: link, analyzer: analyzer, format: format,
                                               render: options, summaryOnly: summaryOnly)
        settings.displayFilter = display
        let engine = ParallelEngine(settings: settings)
        let outcome = engine.run(fill: { slot in
            sink.flush()
            switch batches.take(milliseconds: 50) {
            case .end: return false
            case .nothingYet: return true
            case let .batch(b):
                for r in b.records {
                    slot.append(number: r.number, time: r.time, wireLength: r.wireLength, bytes: b.bytes(of: r), link: r.link)
                }
                batches.recycle(b)
                return true
            }
        }, into: renderer)
        var counters = outcome.counters
        if outcome.noThreads {
            // No worker threads: the batches the capture thread hands over are analysed here.
            Terminal.warn("no threads for \(workers) workers: analysing on one thread")
            counters = analyseHere(batches, renderer: renderer, sink: sink)
        }
        if outcome.closed {
            result.closed.store(true, ordering: .relaxed)
            _ = capture.stopper.stop()
            batches.finish()
        }
        thread.join()
        if verbose, let reason = result.reason { Terminal.warn("capture stopped: \(LiveAnalysis.describe(reason))") }
        let warnings = result.failure.map { [$0] } ?? []
        if !outcome.closed && !renderer.isClosed {
            if let first = outcome.firstTime { renderer.firstPacket(time: first) }
            renderer.end(counters: counters, warnings: warnings)
        }
        sink.flush()
        for w in warnings { Terminal.warn(w) }
        reportStatistics()
        if result.failure != nil { throw ExitCode(1) }
    }
}

extension LiveAnalysis {
    /// The capture thread's batches analysed on this thread, to the end of the capture.
    func analyseHere(_ batches: LiveBatches, renderer: Renderer, sink: OutputSink) -> CaptureCounters {
        let analysis = Analyzer(linkType: link, options: analyzer)
        let gated = GatedOutput(renderer, display)
        let emit = gated.emit, summary = gated.summary
        var first = true
        reading: while !renderer.isClosed {
            switch batches.take(milliseconds: 50) {
            case .end: break reading
            case .nothingYet: sink.flush()
            case let .batch(b):
                for r in b.records {
                    if first { renderer.firstPacket(time: r.time); gated.firstPacket(time: r.time); first = false }
                    analysis.process(number: r.number, time: r.time, wireLength: r.wireLength, bytes: b.bytes(of: r),
                                     emit: emit, summary: summary)
                }
                batches.recycle(b)
            }
        }
        if renderer.isClosed {
            _ = capture.stopper.stop()
            batches.finish()
        } else {
            analysis.finish(emit: emit, summary: summary)
        }
        return gated.counters(analysis.counters)
    }
}

/// What the capture thread reports back.
final class CaptureResult: @unchecked Sendable {
    var reason: LiveCapture.StopReason?
    var failure: String?
    let closed = Atomic<Bool>(false)
}

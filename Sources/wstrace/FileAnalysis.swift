import ArgumentParser
import WSCapture
import WSDecode
import WSEngine
import WSFilter
import WSOutput
import WSTimeline
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Reads capture files (one, or several as one capture) through the analyzer into a renderer.
/// Fatal problems print one line on stderr and exit 1; a damaged file still has everything
/// before the damage rendered.
struct FileAnalysis {
    let paths: [String]
    let filter: String?
    let analyzer: AnalyzerOptions
    /// The display filter (-Y), applied to rows and summaries on their way to the renderer.
    var display: DisplayFilter? = nil
    /// Files a directory or pattern left out that looked like captures (`InputFiles`): warnings
    /// at the end, as damage is, and exit status 1.
    var leftOut: [String] = []

    /// Opens the files and checks their link type; exits 1 with a message when it cannot.
    func open() throws -> (CaptureReader, LinkType) {
        let reader: CaptureReader
        do {
            reader = try CaptureReader(paths: paths, filter: filter, onKeyLog: KeyLogOptions.embedded(into: analyzer.keyLog, paths: paths))
        } catch {
            Terminal.warn(error.description)
            throw ExitCode(1)
        }
        // Each file's link types (a pcapng file's interfaces described before its first
        // packet): a file none of whose is decoded is refused; in one with others, an interface
        // of another kind has its packets counted, not decoded.
        // (A pcapng that describes no interface holds no packet: it has none to refuse.)
        for file in reader.files where !file.linkTypes.isEmpty && !file.linkTypes.contains(where: { LinkType(dlt: $0) != nil }) {
            Terminal.warn("\(file.path): unsupported link type \(CaptureFile.name(dlt: file.linkType)) (DLT \(file.linkType)); "
                          + "supported: Ethernet, Linux cooked (SLL, SLL2), BSD loopback, raw IP")
            throw ExitCode(1)
        }
        return (reader, reader.files[0].link)
    }

    /// Render options that say which file each packet came from, when there are several, and
    /// the runs of packets that a one-thread `run` notes for them (a parallel run's workers
    /// keep their own).
    static func withFiles(_ options: RenderOptions, _ reader: CaptureReader) -> (RenderOptions, FileRuns?) {
        var options = options
        guard reader.files.count > 1 else { return (options, nil) }
        options.files = reader.files.map(\.path)
        let runs = FileRuns()
        options.fileOfPacket = { runs.file(of: $0) }
        return (options, runs)
    }

    /// The analyzer's options for reading `reader`'s files: delivered bytes are read back
    /// from the files when a retransmission is compared with them, not copied as they pass.
    func analyzerOptions(reading reader: CaptureReader) -> AnalyzerOptions {
        var options = analyzer
        if options.buildsEvents {
            let files = reader.fileBytes()
            options.capturedBytes = { file, offset, count, into in files.read(file: file, offset: offset, count: count, into: into) }
        }
        return options
    }

    /// Runs the whole capture into `renderer` on this thread. Returns normally when the files
    /// were read to their end or the output closed; throws ExitCode(1) after rendering when a
    /// file was damaged.
    func run(reader: CaptureReader, link: LinkType, renderer: Renderer, fileRuns runs: FileRuns? = nil,
             begun: Bool = false, progressLabel: String = "", configure: (Analyzer) -> Void = { _ in }) throws {
        let analysis = Analyzer(linkType: link, options: analyzerOptions(reading: reader))
        configure(analysis)
        if !begun { renderer.begin(file: reader.displayName, linkType: reader.linkTypeName) }
        let progress = Progress(total: reader.totalBytes, label: progressLabel)
        let gated = GatedOutput(renderer, display)
        let emit = gated.emit, summary = gated.summary
        var first = true
        reader.forEach { header, file, bytes in
            if first {
                renderer.firstPacket(time: header.timestampNanoseconds)
                gated.firstPacket(time: header.timestampNanoseconds)
                first = false
            }
            runs?.note(header.number, file: file)
            analysis.process(number: header.number, time: header.timestampNanoseconds, wireLength: header.wireLength,
                             bytes: bytes, link: header.link, file: file, fileOffset: header.fileOffset, emit: emit, summary: summary)
            if header.number & 0xfff == 0 { progress.update(read: reader.bytesRead) }
            return !renderer.isClosed
        }
        progress.clear()
        let warnings = leftOut + reader.damage.map(\.description)
        var notes: [String] = []
        if !renderer.isClosed {
            analysis.finish(emit: emit, summary: summary)
            let counters = gated.counters(analysis.counters)
            notes = Self.notes(counters)
            renderer.end(counters: counters, warnings: warnings + notes)
        }
        for w in warnings + notes { Terminal.warn(w) }
        if !warnings.isEmpty { throw ExitCode(1) }
    }

    /// What the output says of data it kept but could not show as the file has it (not damage:
    /// the exit status stays 0 for these).
    static func notes(_ counters: CaptureCounters) -> [String] {
        guard counters.heldTimes > 0 else { return [] }
        return ["\(counters.heldTimes) packet(s) have time stamps outside what wstrace can hold (1823-11-12 to 2116-02-20, "
                + "nanoseconds in 64 bits); their times are shown at the nearest of those bounds"]
    }

    /// Runs the capture on `workers` flow workers (`ParallelEngine`) into `renderer`, which
    /// the caller made with `makeRenderer`. When only summaries are printed, and printed at
    /// the end (text, JSON), and a limit shared by all flows may have acted differently than
    /// on one thread, the run is redone on one thread into a fresh renderer: the exact answer.
    func runParallel(reader: CaptureReader, link: LinkType, workers: Int, format: OutputFormat, options: RenderOptions,
                     summaryOnly: Bool, fileRuns: FileRuns?, makeRenderer: () -> Renderer) throws {
        let renderer = makeRenderer()
        guard let prerendered = renderer as? PrerenderedRendering else {
            return try run(reader: reader, link: link, renderer: renderer, fileRuns: fileRuns)
        }
        // Text and JSON summaries only appear at the end: nothing is written before the run is known to be exact.
        let deferred = summaryOnly && format != .ndjson
        if !deferred { renderer.begin(file: reader.displayName, linkType: reader.linkTypeName) }
        var options = options
        options.fileOfPacket = nil  // each worker notes its own
        var settings = ParallelEngine.Settings(workers: workers, linkType: link, analyzer: analyzerOptions(reading: reader),
                                               format: format, render: options, summaryOnly: summaryOnly)
        settings.displayFilter = display
        settings.workersRead = true
        let engine = ParallelEngine(settings: settings)
        let progress = Progress(total: reader.totalBytes)
        // One classic pcap file: the workers copy its chunks, several at once (`PcapChunks`).
        let outcome = engine.run(fill: { reader.fill($0) }, chunks: reader.chunks(bytes: settings.chunkBytes),
                                 into: prerendered) { batch in
            progress.update(read: batch.bytesRead)
        }
        progress.clear()
        if outcome.noThreads {
            Terminal.warn("no threads for \(workers) workers: reading on one thread")
            return try run(reader: reader, link: link, renderer: renderer, fileRuns: fileRuns, begun: !deferred)
        }
        if deferred && !outcome.exact {
            // A shared cap or a resumed TLS session across workers: the ordinary single pass.
            let again = try FileAnalysis(paths: paths, filter: filter, analyzer: analyzer, display: display, leftOut: leftOut).open()
            return try run(reader: again.0, link: link, renderer: makeRenderer(), fileRuns: fileRuns,
                           progressLabel: "again, one thread: ")
        }
        let warnings = leftOut + reader.damage.map(\.description)
        let notes = outcome.closed ? [] : Self.notes(outcome.counters)
        if !outcome.closed {
            if deferred { renderer.begin(file: reader.displayName, linkType: reader.linkTypeName) }
            if let first = outcome.firstTime { renderer.firstPacket(time: first) }
            renderer.end(counters: outcome.counters, warnings: warnings + notes)
        }
        if !outcome.exact && !outcome.closed {
            Terminal.warn("a limit shared by all connections (--max-connections, held bytes) was reached or a TLS session "
                          + "was resumed across workers: with --threads \(workers) the output may differ from --threads 1")
        }
        for w in warnings + notes { Terminal.warn(w) }
        if !warnings.isEmpty { throw ExitCode(1) }
    }

}

/// Progress of a long read on a terminal's stderr: bytes read of the total, percent, rate and
/// time left, redrawn about four times a second, cleared at the end. Nothing when stderr is not
/// a terminal, the size is unknown (standard input), or the read ends within half a second.
final class Progress {
    private let total: Int
    /// Written before the figures (a second pass says so).
    private let label: String
    private let enabled: Bool
    private var shown = false
    private let start: Double
    private var lastDraw: Double

    init(total: Int, label: String = "") {
        self.total = total
        self.label = label
        enabled = total > 0 && Terminal.isTTY(2)
        start = Progress.now()
        // The first line after half a second (WSTRACE_PROGRESS_DELAY seconds: for the tests).
        let delay = getenv("WSTRACE_PROGRESS_DELAY").flatMap { Double(String(cString: $0)) } ?? 0.5
        lastDraw = start + delay - 0.25
    }

    func update(read: Int) {
        guard enabled else { return }
        let now = Progress.now()
        guard now - lastDraw >= 0.25 else { return }
        lastDraw = now
        let elapsed = now - start
        let rate = Double(read) / max(elapsed, 1e-3)
        let left = rate > 0 ? Double(max(0, total - read)) / rate : 0
        let line = Progress.line(read: read, total: total, rate: rate, secondsLeft: left)
        if !shown { Progress.clearOnInterrupt(true) }
        fputs("\r" + label + line + "\u{1b}[K", stderr)
        shown = true
    }

    func clear() {
        if shown {
            fputs("\r\u{1b}[K", stderr)
            Progress.clearOnInterrupt(false)
        }
        shown = false
    }

    /// While a line is shown, Ctrl-C (SIGINT) or SIGTERM clears it before the process ends as
    /// it would have (the default action, re-raised). Only a signal left at its default action
    /// is taken (one the process started with ignored stays ignored), and given back only if
    /// the handler here is still the one installed.
    private static func clearOnInterrupt(_ on: Bool) {
        let handler: @convention(c) (Int32) -> Void = { s in
            // Async-signal-safe: one write(2) of CR ESC [ K from the binary's constant bytes.
            let clear: StaticString = "\r\u{1b}[K"
            _ = write(2, clear.utf8Start, clear.utf8CodeUnitCount)
            signal(s, SIG_DFL)
            raise(s)
        }
        for sig in [SIGINT, SIGTERM] {
            var current = sigaction()
            guard sigaction(sig, nil, &current) == 0 else { continue }
            let installed = unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self)
            if on && installed == 0 {  // SIG_DFL
                signal(sig, handler)
            } else if !on && installed == unsafeBitCast(handler, to: Int.self) {
                signal(sig, SIG_DFL)
            }
        }
    }

    /// "412.0 MiB of 1.0 GiB  40%  350.2 MiB/s  0:02 left"
    static func line(read: Int, total: Int, rate: Double, secondsLeft: Double) -> String {
        let percent = total > 0 ? min(100, read * 100 / total) : 0
        let s = Int(secondsLeft.rounded())  // under half a second: 0:00, not 0:01 at 99%
        let left = s >= 3600 ? "\(s / 3600):\(two((s / 60) % 60)):\(two(s % 60))" : "\(s / 60):\(two(s % 60))"
        return "\(bytes(Double(read))) of \(bytes(Double(total)))  \(percent)%  \(bytes(rate))/s  \(left) left"
    }

    private static func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    private static func bytes(_ v: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = v, u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        let tenths = Int((v * 10).rounded())
        return u == 0 ? "\(Int(v)) B" : "\(tenths / 10).\(tenths % 10) \(units[u])"
    }

    private static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}

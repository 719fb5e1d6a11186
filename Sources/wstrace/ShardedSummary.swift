import ArgumentParser
import Synchronization
import WSCapture
import WSDecode
import WSOutput
import WSTimeline

/// `read --summary` on several cores: each worker reads the whole file but follows only its
/// `FlowShard` of the TCP flows, rendering each summary as it ends (`RenderedSummaries`, flat
/// memory); the summaries are then numbered and put in order and the counters added up
/// (`ShardMerge`), into exactly what one analyzer would have printed.
///
/// Exactness rests on every flow's analysis depending only on its own packets and the
/// capture clock. Two caps are shared by all flows (connections tracked at once, out-of-order
/// bytes held at once): when the shards' peaks add up to more than a cap allows, the cap may
/// have acted in a sequential run, so `run` returns nil and the caller reads the file the
/// ordinary way.
struct ShardedSummary {
    let path: String
    let filter: String?
    let link: LinkType
    let options: AnalyzerOptions
    let workers: Int
    /// How the renderer will print summaries (text or JSON), to render them the same way.
    let format: OutputFormat
    let renderOptions: RenderOptions

    /// Worker threads for a summary of `path`: `requested` when given, else one per core (up
    /// to 4) for files of 16 MiB or more, where the threads pay for themselves.
    static func workers(requested: Int?, path: String) -> Int {
        if let requested { return max(1, requested) }
        return FileAnalysis.size(of: path) >= 16 << 20 ? min(WorkerThread.cores, 4) : 1
    }

    /// What the merged run found, ready for a renderer.
    struct Outcome {
        var firstTime: Int64?
        /// Each shard's rendered summaries, and the capture-wide order (stream n is `order[n]`).
        var shards: [RenderedSummaries]
        var order: [(shard: Int, index: Int)]
        var counters: CaptureCounters
        /// The read error that ended the file early, if any.
        var damage: String?
    }

    /// One shard's findings. Unchecked: the summaries are handed over once, after the thread ends.
    private final class ShardResult: @unchecked Sendable {
        var firstTime: Int64?
        var lastTime: Int64?
        var summaries: RenderedSummaries
        var counters = CaptureCounters()
        var peakConnections = 0
        var peakBufferedBytes = 0
        var peakRecognitionBytes = 0
        var unresolvedResumptions = 0
        var damage: String?
        var failed = false

        init(_ summaries: RenderedSummaries) { self.summaries = summaries }
    }

    /// Runs the shards (the first on this thread). Nil when the merge would not be exact.
    func run(progress: Progress) -> Outcome? {
        let results = Mutex<[ShardResult?]>(Array(repeating: nil, count: workers))
        let job = self
        let threads = (1..<workers).map { index in
            WorkerThread {
                let r = job.analyze(shard: FlowShard(index: index, count: job.workers), progress: nil)
                results.withLock { $0[index] = r }
            }
        }
        let first = analyze(shard: FlowShard(index: 0, count: workers), progress: progress)
        results.withLock { $0[0] = first }
        for t in threads { t.join() }
        let shards = results.withLock { $0.compactMap { $0 } }
        guard shards.count == workers, !shards.contains(where: \.failed) else { return nil }
        let limits = options.reassembly
        guard shards.reduce(0, { $0 + $1.peakConnections }) <= limits.maxConnections,
              shards.reduce(0, { $0 + $1.peakBufferedBytes }) <= limits.maxBufferedTotal,
              shards.reduce(0, { $0 + $1.peakRecognitionBytes }) <= options.maxRecognitionHeld,
              // A TLS 1.2 session resumed from a connection that another shard followed.
              shards.allSatisfy({ $0.unresolvedResumptions == 0 }) else { return nil }
        return Outcome(firstTime: shards[0].firstTime,
                       shards: shards.map(\.summaries),
                       order: ShardMerge.order(firstPackets: shards.map(\.summaries.firstPackets)),
                       counters: ShardMerge.counters(shards.map(\.counters), firstTime: shards[0].firstTime,
                                                     lastTime: shards[0].lastTime),
                       damage: shards[0].damage)
    }

    private func analyze(shard: FlowShard, progress: Progress?) -> ShardResult {
        let summaries = RenderedSummaries(format: format, options: renderOptions)
        let result = ShardResult(summaries)
        let file: CaptureFile
        do {
            file = try CaptureFile(path: path)
            if let filter { try file.setFilter(filter) }
        } catch {
            result.failed = true
            return result
        }
        var options = self.options
        options.shard = shard
        let analysis = Analyzer(linkType: link, options: options)
        let keep: (ConnectionSummary) -> Void = { summaries.add($0, firstTime: result.firstTime) }
        do {
            try file.forEach { header, bytes in
                if result.firstTime == nil { result.firstTime = header.timestampNanoseconds }
                result.lastTime = header.timestampNanoseconds
                analysis.process(number: header.number, time: header.timestampNanoseconds,
                                 wireLength: header.wireLength, bytes: bytes, emit: { _ in }, summary: keep)
                if header.number & 0x3ff == 0 { progress?.tick(packets: header.number) }
                return true
            }
        } catch {
            result.damage = error.description
        }
        analysis.finish(emit: { _ in }, summary: keep)
        result.counters = analysis.counters
        result.peakConnections = analysis.peakConnections
        result.peakBufferedBytes = analysis.peakBufferedBytes
        result.peakRecognitionBytes = analysis.peakRecognitionBytes
        result.unresolvedResumptions = analysis.unresolvedResumptions
        return result
    }
}

extension ShardedSummary.Outcome {
    /// Hands the merged run to `renderer` in the order a sequential run would; throws
    /// ExitCode(1) after rendering when the file was damaged.
    func render(into renderer: SummaryRendering, file: String, linkType: String) throws {
        renderer.begin(file: file, linkType: linkType)
        if let firstTime { renderer.firstPacket(time: firstTime) }
        for (stream, at) in order.enumerated() {
            renderer.connection(rendered: shards[at.shard].bytes(at: at.index), stream: stream)
        }
        renderer.end(counters: counters, warnings: damage.map { [$0] } ?? [])
        if let damage {
            Terminal.warn(damage)
            throw ExitCode(1)
        }
    }
}

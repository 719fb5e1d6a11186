import ArgumentParser
import Synchronization
import WSCapture
import WSDecode
import WSOutput
import WSTimeline
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `read --summary` on several cores: each worker reads the whole file but follows only its
/// `FlowShard` of the TCP flows; their summaries and counters are then merged
/// (`ShardMerge`) into exactly what one analyzer would have printed.
///
/// Exactness rests on every flow's analysis depending only on its own packets and the
/// capture clock. Two caps are shared by all flows (connections tracked at once, out-of-order
/// bytes held at once): when the shards' peaks add up to more than a cap allows, the cap may
/// have acted in a sequential run, so `run` returns nil and the caller reads the file the
/// ordinary way. It does the same when the shards hold too many summaries (memory).
struct ShardedSummary {
    let path: String
    let filter: String?
    let link: LinkType
    let options: AnalyzerOptions
    let workers: Int
    /// Summaries the workers may hold together before the run gives up (about 1 KiB each).
    var summaryCap = 16_384

    /// What the merged run found, ready for a renderer.
    struct Outcome {
        var firstTime: Int64?
        var summaries: [ConnectionSummary]
        var counters: CaptureCounters
        /// The read error that ended the file early, if any.
        var damage: String?
    }

    private struct ShardResult: Sendable {
        var firstTime: Int64?
        var lastTime: Int64?
        var summaries: [ConnectionSummary] = []
        var counters = CaptureCounters()
        var peakConnections = 0
        var peakBufferedBytes = 0
        var damage: String?
        var gaveUp = false
    }

    /// Shared by the workers: the summaries they hold together, and a stop signal.
    private final class Budget: Sendable {
        let held = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
    }

    /// Runs the shards (the first on this thread). Nil when the merge would not be exact.
    func run(progress: Progress) -> Outcome? {
        let budget = Budget()
        let results = Mutex<[ShardResult?]>(Array(repeating: nil, count: workers))
        let job = self
        let threads = (1..<workers).map { index in
            WorkerThread {
                let r = job.analyze(shard: FlowShard(index: index, count: job.workers), budget: budget, progress: nil)
                results.withLock { $0[index] = r }
            }
        }
        let first = analyze(shard: FlowShard(index: 0, count: workers), budget: budget, progress: progress)
        results.withLock { $0[0] = first }
        for t in threads { t.join() }
        let shards = results.withLock { $0.compactMap { $0 } }
        guard shards.count == workers, !shards.contains(where: \.gaveUp) else { return nil }
        let limits = options.reassembly
        guard shards.reduce(0, { $0 + $1.peakConnections }) <= limits.maxConnections,
              shards.reduce(0, { $0 + $1.peakBufferedBytes }) <= limits.maxBufferedTotal else { return nil }
        return Outcome(firstTime: shards[0].firstTime,
                       summaries: ShardMerge.renumbered(shards.map(\.summaries)),
                       counters: ShardMerge.counters(shards.map(\.counters), firstTime: shards[0].firstTime,
                                                     lastTime: shards[0].lastTime),
                       damage: shards[0].damage)
    }

    private func analyze(shard: FlowShard, budget: Budget, progress: Progress?) -> ShardResult {
        var result = ShardResult()
        let file: CaptureFile
        do {
            file = try CaptureFile(path: path)
            if let filter { try file.setFilter(filter) }
        } catch {
            result.gaveUp = true
            return result
        }
        var options = self.options
        options.shard = shard
        let analysis = Analyzer(linkType: link, options: options)
        var summaries: [ConnectionSummary] = []
        var reported = 0
        let keep: (ConnectionSummary) -> Void = { summaries.append($0) }
        do {
            try file.forEach { header, bytes in
                if result.firstTime == nil { result.firstTime = header.timestampNanoseconds }
                result.lastTime = header.timestampNanoseconds
                analysis.process(number: header.number, time: header.timestampNanoseconds,
                                 wireLength: header.wireLength, bytes: bytes, emit: { _ in }, summary: keep)
                guard header.number & 1023 == 0 else { return true }
                progress?.tick(packets: header.number)
                if summaries.count > reported {
                    let total = budget.held.add(summaries.count - reported, ordering: .relaxed).newValue
                    reported = summaries.count
                    if total > summaryCap { budget.stop.store(true, ordering: .relaxed) }
                }
                return !budget.stop.load(ordering: .relaxed)
            }
        } catch {
            result.damage = error.description
        }
        if budget.stop.load(ordering: .relaxed) {
            result.gaveUp = true
            return result
        }
        analysis.finish(emit: { _ in }, summary: keep)
        if budget.held.add(summaries.count - reported, ordering: .relaxed).newValue > summaryCap {
            result.gaveUp = true
            return result
        }
        result.summaries = summaries
        result.counters = analysis.counters
        result.peakConnections = analysis.peakConnections
        result.peakBufferedBytes = analysis.peakBufferedBytes
        return result
    }
}

extension ShardedSummary.Outcome {
    /// Hands the merged run to `renderer` in the order a sequential run would; throws
    /// ExitCode(1) after rendering when the file was damaged.
    func render(into renderer: Renderer, file: String, linkType: String) throws {
        renderer.begin(file: file, linkType: linkType)
        if let firstTime { renderer.firstPacket(time: firstTime) }
        for s in summaries { renderer.connection(s) }
        renderer.end(counters: counters, warnings: damage.map { [$0] } ?? [])
        if let damage {
            Terminal.warn(damage)
            throw ExitCode(1)
        }
    }

    /// Worker threads for a summary of `path`: `requested` when given, else one per core (up
    /// to 4) for files of 16 MiB or more, where the threads pay for themselves.
    static func workers(requested: Int?, path: String) -> Int {
        if let requested { return max(1, requested) }
        let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return FileAnalysis.size(of: path) >= 16 << 20 ? min(cores, 4) : 1
    }
}

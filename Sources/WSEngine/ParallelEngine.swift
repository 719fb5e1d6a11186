import WSCapture
import WSDecode
import WSDiagnosis
import WSOutput
import WSFilter
import WSTimeline
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One reader, many workers, an ordered merge: a capture analysed on several cores, printing
/// byte for byte what one `Analyzer` on one thread prints.
///
/// - The reader fills batches of records (a classic pcap file is read straight into the
///   batch's buffer): the thread calling `run` (a live capture), or for a file whichever worker
///   is out of batches, one at a time (`Settings.workersRead`). It finds each record's
///   worker: the flow's `FlowShard` by a symmetric hash of its 4-tuple, from a glance at the
///   headers. Records it cannot place at a glance (IPv4 fragments, VLAN tags, tunnels,
///   anything not plain TCP) go to every worker; each decodes them, the flow's owner analyses
///   one that turns out to be TCP, and worker 0 reports one that does not. Every worker sees
///   every batch.
/// - Each worker runs an `Analyzer` over its flows and renders their events and summaries into
///   bytes (`EventBytes`); the other workers' packets only move its clock, so idle connections
///   are released at the same packets as in a one-thread run.
/// - The workers' output of the oldest finished batch is merged back into the one-thread
///   order by the thread calling `run` between batches (a live capture), or for a file by a
///   worker waiting for a batch or a slot, else by the last worker done with it, one at a
///   time, in order: a packet's clock sweep
///   (by stream) first, then the packet's own rows; at the end the analyzers' three finishing
///   steps, each by stream. A stream's index is the rank of its first packet among every
///   worker's streams, written into its rows as they are merged.
///
/// TLS 1.2 sessions are shared across connections: the workers share them (`SharedSessions`),
/// each lookup seeing what one thread would have seen at that packet. Two limits are shared by
/// all flows (connections tracked at once, bytes held out of order or for recognition): when
/// the workers' peaks add up to more than a limit allows, the output may differ from one
/// thread's, and `Outcome.exact` says so.
public final class ParallelEngine {
    public struct Settings {
        public var workers: Int
        public var linkType: LinkType
        public var analyzer: AnalyzerOptions
        public var format: OutputFormat
        public var render: RenderOptions
        /// Only summaries are printed (events are not built).
        public var summaryOnly: Bool
        /// Batches in flight at once (reading ahead of the slowest worker).
        public var slots: Int
        /// A batch's buffer beyond room for the largest record libpcap accepts (262,160 bytes
        /// more): a batch takes records until the whole buffer is full, so it holds up to
        /// `batchBytes + 262_160` bytes of the file (0: batches of 256 KiB). Larger batches
        /// cost fewer hand-overs and cache lines moved between cores (on two cores a
        /// `--summary` with 1 MiB took about 10% less time than with 256 KiB); events (a
        /// batch's rendered rows wait in every slot) and many workers keep them small, and
        /// memory flat.
        public var batchBytes: Int
        /// The display filter (-Y): each worker keeps its rows that match, and the summaries of
        /// its connections with a kept row.
        public var displayFilter: DisplayFilter?
        /// The workers take turns at reading (`fill` and routing run on whichever worker is
        /// out of batches, one at a time) and at merging (a worker waiting for a batch or a
        /// slot merges the oldest batch once every worker is done with it, else the last one
        /// done with it); the calling thread only waits. With one worker per core there is
        /// then no third thread to schedule: a separate reader on two cores kept 1.55-1.63 CPUs
        /// busy, the workers waiting for its batches a third of the time. A live capture, whose
        /// `fill` waits for packets, keeps reading and merging on the calling thread.
        public var workersRead = false
        /// The file's share of a batch when the workers copy chunks of a classic pcap file at
        /// once (`run`'s `chunks`): a batch is then one chunk, and holds the largest record's
        /// room beyond it (untouched unless a record crosses the chunk's end). As much of the
        /// file as a batch read otherwise (its whole buffer, `batchBytes` and 256 KiB).
        public var chunkBytes: Int
        /// Starts a worker's thread (nil: the system gave none). Tests replace it.
        public var startThread: (@escaping @Sendable () -> Void) -> WorkerThread? = { WorkerThread.start(reserveHeap: true, $0) }

        public init(workers: Int, linkType: LinkType, analyzer: AnalyzerOptions, format: OutputFormat,
                    render: RenderOptions, summaryOnly: Bool) {
            self.workers = workers
            self.linkType = linkType
            self.analyzer = analyzer
            self.format = format
            self.render = render
            self.summaryOnly = summaryOnly
            // Enough for the reader to stay ahead of the slowest worker; more only hold memory
            // (each slot has a batch and every worker's output of it).
            // Events on more than four workers: at most six slots of 256 KiB batches (a buffer
            // of just the largest record's room, filled whole), not eight of 512 KiB. What waits
            // in the slots is then about 3 MiB of records and rows, not 8: with sixteen workers,
            // a 4 GiB NDJSON run peaked at 61.2 MiB, not 66.1-66.3 (three runs each, on two
            // cores; the hand-over cost of twice as many batches on sixteen cores is unmeasured).
            let manyEventWorkers = workers > 4 && !summaryOnly
            slots = max(4, min(workers + 2, manyEventWorkers ? 6 : 8))
            batchBytes = manyEventWorkers ? 0 : (workers <= 4 && summaryOnly ? 1 << 20 : 256 << 10)
            chunkBytes = batchBytes + (256 << 10)
        }
    }

    /// What the run found, for the renderer's `end`.
    public struct Outcome {
        public var counters = CaptureCounters()
        /// The capture's first packet time (nil: no packet).
        public var firstTime: Int64?
        /// False when a shared limit may have acted differently than in a one-thread run.
        public var exact = true
        /// The renderer's output was closed (a pipe's reader went away).
        public var closed = false
        /// No worker thread could be started: nothing was read or rendered.
        public var noThreads = false
    }

    public let settings: Settings

    public init(settings: Settings) {
        precondition(settings.workers >= 1 && settings.workers <= 255)
        precondition(settings.format != .mermaid && settings.render.timeFormat != .delta)
        self.settings = settings
    }

    /// Whether the engine can render `format` with `render` (Mermaid draws one connection as a
    /// whole; delta times need the previous row of every connection).
    public static func supports(format: OutputFormat, render: RenderOptions) -> Bool {
        format != .mermaid && render.timeFormat != .delta
    }

    /// Reads batches from `fill` (false: no more records; true with an empty batch: none yet,
    /// ask again) until the end, merging the workers' output into `renderer` in one-thread
    /// order. Does not call the renderer's `begin` or `end`. `afterBatch` runs after each batch
    /// is read, on this thread, or when the workers read, after it is merged, on the merging
    /// worker (one at a time; progress, flushing).
    ///
    /// `chunks` (made with `Settings.chunkBytes`; with `workersRead` only): the input is first
    /// read as those chunks, which workers with nothing else to do copy ahead, several at once;
    /// `fill` reads what they hand back (after a record the chunked walk does not take).
    public func run(fill: (RecordBatch) -> Bool, chunks: PcapChunks? = nil, into renderer: PrerenderedRendering,
                    afterBatch: (RecordBatch) -> Void = { _ in }) -> Outcome {
        let chunks = settings.workersRead ? chunks : nil
        precondition(chunks.map { $0.chunkBytes == settings.chunkBytes } ?? true)
        let shared = Shared(settings: settings, chunked: chunks != nil)
        let workers = (0..<settings.workers).map { Worker(index: $0, shared: shared) }
        let threads = workers.compactMap { worker in settings.startThread { worker.run() } }
        guard threads.count == workers.count else {
            // The system would not give the threads: nothing was read; the caller runs on one.
            shared.stopIfClosed(true)
            for t in threads { t.join() }
            var outcome = Outcome()
            outcome.noThreads = true
            return outcome
        }
        let merge = Merge(shared: shared, renderer: renderer)
        let router = Router(linkType: settings.linkType, workers: settings.workers)
        var outcome = Outcome()
        let read = withoutActuallyEscaping(fill) { fill in
            let reader = BatchReader(fill: fill, router: router, chunks: chunks, workers: settings.workers)
            return settings.workersRead
                ? mergeWhileWorkersRead(reader, shared: shared, merge: merge, renderer: renderer, threads: threads,
                                        afterBatch: afterBatch)
                : readHere(reader, shared: shared, merge: merge, renderer: renderer, threads: threads, afterBatch: afterBatch)
        }
        outcome.closed = read.closed
        outcome.firstTime = read.firstTime
        let lastTime = read.lastTime
        if !outcome.closed {
            merge.ends(workers.map(\.end))
        }
        outcome.counters = ShardMerge.counters(workers.map(\.analyzer.counters), firstTime: outcome.firstTime,
                                               lastTime: lastTime)
        outcome.counters.displayed = workers.reduce(0) { $0 + ($1.gate?.matched ?? 0) }
        let limits = settings.analyzer.reassembly
        outcome.exact = workers.reduce(0, { $0 + $1.analyzer.peakConnections }) <= limits.maxConnections
            && workers.reduce(0, { $0 + $1.analyzer.peakBufferedBytes }) <= limits.maxBufferedTotal
            && workers.reduce(0, { $0 + $1.analyzer.peakRecognitionBytes }) <= settings.analyzer.maxRecognitionHeld

        return outcome
    }

    /// What reading found: whether the output closed, the first and last packet times.
    private typealias Reading = (closed: Bool, firstTime: Int64?, lastTime: Int64?)

    /// Reads on this thread, merging between batches (a live capture: `fill` waits for packets).
    private func readHere(_ reader: BatchReader, shared: Shared, merge: Merge, renderer: PrerenderedRendering,
                          threads: [WorkerThread], afterBatch: (RecordBatch) -> Void) -> Reading {
        var closed = false
        var sequence = 0
        reading: while true {
            // Merge what is finished; wait for the oldest batch when every slot is in use.
            while merge.next < sequence {
                let full = sequence - merge.next >= shared.slots.count
                guard shared.isDone(merge.next, wait: full) else { break }
                merge.batch(shared.slots[merge.next % shared.slots.count])
                if renderer.isClosed { closed = true; break reading }
            }
            let slot = shared.slots[sequence % shared.slots.count]
            guard let filled = reader.fillOnce(slot) else { break }
            // Nothing yet (a live capture's quiet moment): merge what is done, and ask again.
            guard filled else { continue }
            if shared.firstTime == nil { shared.firstTime = reader.firstTime }
            shared.publish(slot, sequence: sequence)
            sequence += 1
            afterBatch(slot.input)
        }
        shared.finishInput()
        if !closed {
            while merge.next < sequence {
                _ = shared.isDone(merge.next, wait: true)
                merge.batch(shared.slots[merge.next % shared.slots.count])
                if renderer.isClosed { closed = true; break }
            }
        }
        shared.stopIfClosed(closed)
        for t in threads { t.join() }
        return (closed, reader.firstTime, reader.lastTime)
    }

    /// The workers read by turns (`Settings.workersRead`), and merge by turns too: once every
    /// worker is done with the oldest unmerged batch, a worker waiting for a batch or a slot
    /// merges it (and any after it already done), else the last one done with it, so that its
    /// slot is free for the next read. This thread only waits for them.
    private func mergeWhileWorkersRead(_ reader: BatchReader, shared: Shared, merge: Merge, renderer: PrerenderedRendering,
                                       threads: [WorkerThread], afterBatch: (RecordBatch) -> Void) -> Reading {
        withoutActuallyEscaping(afterBatch) { afterBatch in
            shared.startReading(reader, merger: BatchMerger { slot in
                merge.batch(slot)
                afterBatch(slot.input)
                return !renderer.isClosed
            })
            for t in threads { t.join() }
            let (closed, first, last) = shared.stopReading()
            return (closed, first, last)
        }
    }
}

extension ParallelEngine {
    /// The reader's work alone (batches filled, every record routed, nothing analysed): for
    /// measuring what the reader costs per packet (`wsbench reader`). Returns the records
    /// routed to each worker and those sent to all.
    public static func readOnly(fill: (RecordBatch) -> Bool, linkType: LinkType, workers: Int)
        -> (packets: Int, broadcast: Int, perWorker: [Int]) {
        let router = Router(linkType: linkType, workers: workers)
        let slot = Slot(workers: 0)
        var perWorker = Array(repeating: 0, count: workers)
        var packets = 0, broadcast = 0
        while true {
            slot.input.reset()
            guard fill(slot.input) else { break }
            router.route(slot)
            for r in slot.routes {
                if r == Router.everyone { broadcast += 1 } else { perWorker[Int(r)] += 1 }
            }
            packets += slot.routes.count
        }
        return (packets, broadcast, perWorker)
    }
}

extension ParallelEngine {
    /// The chunked reading alone (`PcapChunks`): `copiers` threads copy, walk and route chunks
    /// ahead, several at once (0: the calling thread copies each chunk itself), and the calling
    /// thread sequences them in order, as the workers of a run do. For measuring how the reading
    /// spreads over cores (`wsbench reader FILE WORKERS COPIERS`). Returns the records routed to
    /// each worker and those sent to all, the calling thread's CPU seconds (waiting for the
    /// copies included), the time its `sequence` calls took (the reading's serial part in a run,
    /// where the workers sequence by turns) and the chunks whose walk began elsewhere than
    /// `copy` guessed.
    public static func readOnly(chunks: PcapChunks, linkType: LinkType, workers: Int, copiers: Int)
        -> (packets: Int, broadcast: Int, perWorker: [Int], sequencerSeconds: Double, sequenceSeconds: Double, rewalked: Int) {
        final class Ring: @unchecked Sendable {
            let slots: [Slot]
            var copied: [Int]
            /// Per slot: its records per worker, and (last) those sent to all, counted by its copier.
            var counts: [[Int]]
            var nextCopy = 0
            var sequenced = 0
            let lock = MutexAndCondition()
            var mutex: UnsafeMutablePointer<pthread_mutex_t> { lock.mutex }
            var changed: UnsafeMutablePointer<pthread_cond_t> { lock.condition }
            init(count: Int, chunkBytes: Int, workers: Int) {
                slots = (0..<count).map { _ in Slot(workers: 0, batchBytes: chunkBytes) }
                copied = Array(repeating: -1, count: count)
                counts = Array(repeating: Array(repeating: 0, count: workers + 1), count: count)
            }
        }
        let ring = Ring(count: max(2, 2 * copiers), chunkBytes: chunks.chunkBytes, workers: workers)
        let size = ring.slots.count
        // Counted where the routes were made (the copying thread), so that the calling thread
        // does only what a run's sequencing does.
        @Sendable func count(_ slot: Slot) -> [Int] {
            var counts = Array(repeating: 0, count: workers + 1)
            for r in slot.routes { counts[r == Router.everyone ? workers : Int(r)] += 1 }
            return counts
        }
        let threads = (0..<copiers).map { _ in
            WorkerThread {
                let router = Router(linkType: linkType, workers: workers)
                pthread_mutex_lock(ring.mutex)
                while true {
                    while ring.nextCopy < chunks.count && ring.nextCopy >= ring.sequenced + size {
                        pthread_cond_wait(ring.changed, ring.mutex)
                    }
                    guard ring.nextCopy < chunks.count else { break }
                    let k = ring.nextCopy
                    ring.nextCopy += 1
                    pthread_mutex_unlock(ring.mutex)
                    chunks.copy(k, into: ring.slots[k % size].input)
                    router.route(ring.slots[k % size])
                    let counted = count(ring.slots[k % size])
                    pthread_mutex_lock(ring.mutex)
                    ring.counts[k % size] = counted
                    ring.copied[k % size] = k
                    pthread_cond_broadcast(ring.changed)
                }
                pthread_mutex_unlock(ring.mutex)
            }
        }
        let router = Router(linkType: linkType, workers: workers)
        var perWorker = Array(repeating: 0, count: workers)
        var packets = 0, broadcast = 0, rewalked = 0
        var sequencing = 0.0
        var start = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
        for k in 0..<chunks.count {
            let slot = ring.slots[k % size]
            var counted: [Int]
            if copiers == 0 {
                chunks.copy(k, into: slot.input)
                router.route(slot)
                counted = count(slot)
            } else {
                pthread_mutex_lock(ring.mutex)
                while ring.copied[k % size] != k { pthread_cond_wait(ring.changed, ring.mutex) }
                counted = ring.counts[k % size]
                pthread_mutex_unlock(ring.mutex)
            }
            var before = timespec(), after = timespec()
            clock_gettime(CLOCK_MONOTONIC, &before)
            let result = chunks.sequence(k, slot.input)
            clock_gettime(CLOCK_MONOTONIC, &after)
            sequencing += Double(after.tv_sec - before.tv_sec) + Double(after.tv_nsec - before.tv_nsec) / 1e9
            if result.changed {
                rewalked += 1
                router.route(slot)
                counted = count(slot)
            }
            for w in 0..<workers { perWorker[w] += counted[w] }
            broadcast += counted[workers]
            packets += counted.reduce(0, +)
            pthread_mutex_lock(ring.mutex)
            ring.copied[k % size] = -1
            ring.sequenced = k + 1
            pthread_cond_broadcast(ring.changed)
            pthread_mutex_unlock(ring.mutex)
            if !result.more {
                // Nothing more to copy: the copiers stop.
                pthread_mutex_lock(ring.mutex)
                ring.nextCopy = chunks.count
                pthread_cond_broadcast(ring.changed)
                pthread_mutex_unlock(ring.mutex)
                break
            }
        }
        var end = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
        for t in threads { t.join() }
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        return (packets, broadcast, perWorker, seconds, sequencing, rewalked)
    }
}

// MARK: - Batches in flight

/// One row of a worker's output: an event's or a summary's bytes in the worker's buffer, and
/// where it goes in the merged order.
struct OutputItem {
    /// The packet being processed when it was emitted (Int.max: the end of the input).
    var packet: Int
    /// 0: the packet's clock sweep; 1: the packet's own rows; 2, 3, 4: the finishing steps.
    var kind: Int
    /// The worker's own stream index (-1: none).
    var stream: Int
    var start: Int
    var end: Int
    /// Where the stream digits are, from `start` (-1: none); for a summary, its index in
    /// the output's `endings`.
    var streamAt: Int
    var isSummary: Bool
}

/// What one worker made of one batch (or of the end of the input).
final class WorkerOutput {
    var writer = JSONWriter()
    var items: [OutputItem] = []
    /// Streams the worker opened, in order: (its own index, first packet).
    var openings: [(stream: Int, packet: Int)] = []
    /// What the capture-wide diagnosis pass needs of each summary rendered here.
    var endings: [EndingRecord] = []

    func clear() {
        writer.reset()
        items.removeAll(keepingCapacity: true)
        openings.removeAll(keepingCapacity: true)
        endings.removeAll(keepingCapacity: true)
    }
}

final class Slot: @unchecked Sendable {
    let input: RecordBatch
    /// Each record's worker (`Router.everyone`: all of them).
    var routes: [UInt8] = []
    let outputs: [WorkerOutput]
    /// Workers still working on it (guarded by `Shared`'s lock).
    var remaining = 0
    var sequence = -1

    init(workers: Int, batchBytes: Int = 256 << 10) {
        input = RecordBatch(capacity: batchBytes + 262_160)  // PcapChunks.batchCapacity for a chunk
        outputs = (0..<workers).map { _ in WorkerOutput() }
    }
}

/// What the reader and the workers share: the slots, and a lock with two conditions.
final class Shared: @unchecked Sendable {
    let settings: ParallelEngine.Settings
    let slots: [Slot]
    let sessions: SharedSessions
    /// The capture's first packet time, set before the first batch is published.
    var firstTime: Int64?
    private var published = 0
    private var inputEnded = false
    private(set) var stopped = false
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let available = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init(settings: ParallelEngine.Settings, chunked: Bool = false) {
        self.settings = settings
        let batchBytes = chunked ? settings.chunkBytes : settings.batchBytes
        slots = (0..<max(2, settings.slots)).map { _ in Slot(workers: settings.workers, batchBytes: batchBytes) }
        copying = Array(repeating: false, count: slots.count)
        copied = Array(repeating: -1, count: slots.count)
        sessions = SharedSessions(workers: settings.workers)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(available, nil)
        pthread_cond_init(done, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(available)
        pthread_cond_destroy(done)
        mutex.deallocate()
        available.deallocate()
        done.deallocate()
    }

    func publish(_ slot: Slot, sequence: Int) {
        pthread_mutex_lock(mutex)
        slot.sequence = sequence
        slot.remaining = settings.workers
        published = sequence + 1
        pthread_cond_broadcast(available)
        pthread_mutex_unlock(mutex)
    }

    func finishInput() {
        pthread_mutex_lock(mutex)
        inputEnded = true
        pthread_cond_broadcast(available)
        pthread_mutex_unlock(mutex)
    }

    /// The output is gone: workers stop at their next batch.
    func stopIfClosed(_ closed: Bool) {
        guard closed else { return }
        pthread_mutex_lock(mutex)
        stop()
        pthread_mutex_unlock(mutex)
    }

    /// Stops the run: no more input, every worker leaves at its next batch, and no TLS lookup
    /// waits for another worker's mark. Called with the lock held.
    private func stop() {
        sessions.marks.setAll(Int.max)
        stopped = true
        inputEnded = true
        pthread_cond_broadcast(available)
    }

    /// The batch `sequence` for `worker`, once published; nil at the end of the input.
    func take(_ sequence: Int, worker: Int = 0) -> Slot? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while published <= sequence && !inputEnded && !stopped {
            // A batch every worker is done with, left by the last of them to a waiting one.
            if mergeIfDone() { continue }
            if readIfFree(worker) { continue }
            // Nothing to read yet: copy a chunk ahead (many workers copy at once).
            if copyIfFree(worker) { continue }
            idle += 1
            pthread_cond_wait(available, mutex)
            idle -= 1
        }
        guard published > sequence, !stopped else {
            // What a worker busy with a batch left to one waiting (`finished`).
            _ = mergeIfDone()
            return nil
        }
        // The worker ahead reads the batch after this one before it works on this one, so
        // that the others find it read: a worker that read only once out of batches made the
        // others wait for its read whenever they were close behind (two workers on two cores
        // kept 1.58 CPUs busy, 100 MiB `--summary`).
        if published == sequence + 1 { _ = readIfFree(worker) }
        return slots[sequence % slots.count]
    }

    // MARK: Workers taking turns at reading and merging (`Settings.workersRead`)

    /// The reading, while workers read (nil otherwise).
    private var reader: BatchReader?
    /// Merges one batch into the output (false: the output was closed), while workers read.
    private var merger: BatchMerger?
    /// A worker is reading (only one at a time: the reader's state is not shared).
    private var reading = false
    /// A worker is merging (only one at a time: batches are merged in order).
    private var merging = false
    /// Workers waiting in `take` (for a batch to read or a slot to read it into).
    private var idle = 0
    /// The output was closed during a merge.
    private var closed = false
    /// Batches merged: a slot is free once the batch it held is merged.
    private var mergedCount = 0

    // Chunks copied ahead (`BatchReader.chunks`): batch n is chunk n, in slot n % slots.count,
    // while the chunked reading lasts.
    /// The chunked reading goes on (false once the chunks gave the reading back to `fill`).
    private var chunking = false
    /// The next chunk no worker has taken to copy.
    private var copyNext = 0
    /// Per slot: a worker is copying a chunk into it; the chunk copied into it, not yet sequenced (-1: none).
    private var copying: [Bool]
    private var copied: [Int]

    func startReading(_ reader: BatchReader, merger: BatchMerger) {
        pthread_mutex_lock(mutex)
        self.reader = reader
        self.merger = merger
        chunking = reader.chunks != nil
        pthread_cond_broadcast(available)  // workers already waiting for their first batch
        pthread_mutex_unlock(mutex)
    }

    /// Ends the reading (every worker has returned): whether the output was closed, the first
    /// and last packet times read.
    func stopReading() -> (closed: Bool, first: Int64?, last: Int64?) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let result = (closed, reader?.firstTime, reader?.lastTime)
        reader = nil
        merger = nil
        return result
    }

    /// Reads the next batch into the next free slot if no worker is reading and a slot is
    /// free. Called with the lock held; returns with it held, having let it go while reading.
    /// While chunks are read, the batch is the next chunk: sequenced if a worker copied it
    /// ahead, copied first otherwise (and waited for while a worker copies it).
    private func readIfFree(_ worker: Int) -> Bool {
        guard let reader, !reading, !inputEnded, !stopped, published < mergedCount + slots.count else { return false }
        let next = published
        let index = next % slots.count
        let slot = slots[index]
        // A copy into this slot, from before the chunks gave the reading back, is not over yet.
        if copying[index] { return false }
        reading = true
        // Whether the slot now holds a batch, and whether the input ended with it.
        let filled: Bool, ended: Bool
        if chunking {
            let ahead = copied[index] == next
            copied[index] = -1
            if !ahead { copyNext = max(copyNext, next + 1) }
            pthread_mutex_unlock(mutex)
            if !ahead { reader.copy(next, into: slot, worker: worker) }
            let more = reader.sequence(next, slot, worker: worker)
            pthread_mutex_lock(mutex)
            // A chunk is a batch even when it ends the chunked reading: the file ended, or
            // `fill` reads on from here.
            filled = true
            ended = !more && reader.chunksEnded
            if !more { chunking = false }
        } else {
            pthread_mutex_unlock(mutex)
            filled = reader.read(into: slot)
            pthread_mutex_lock(mutex)
            ended = !filled
        }
        reading = false
        if filled {
            if firstTime == nil { firstTime = reader.firstTime }
            slot.sequence = next
            slot.remaining = settings.workers
            published = next + 1
        }
        if ended { inputEnded = true }
        pthread_cond_broadcast(available)
        return true
    }

    /// Copies the next chunk no worker has taken into its slot, once the slot is free (its
    /// batch merged): batch n is chunk n, in slot n % slots.count. Called with the lock held;
    /// returns with it held, having let it go while copying.
    private func copyIfFree(_ worker: Int) -> Bool {
        guard chunking, let reader, let chunks = reader.chunks, !stopped else { return false }
        let next = max(copyNext, published)
        let index = next % slots.count
        // (A worker reading batch `published` has taken its chunk: `copyNext` is past it.)
        guard next < chunks.count, next < mergedCount + slots.count, !copying[index], copied[index] != next else { return false }
        copyNext = next + 1
        copying[index] = true
        let slot = slots[index]
        pthread_mutex_unlock(mutex)
        reader.copy(next, into: slot, worker: worker)
        pthread_mutex_lock(mutex)
        copying[index] = false
        // Sequenced when its turn comes, unless the chunks gave the reading back meanwhile.
        if chunking { copied[index] = next }
        // Only the next batch to sequence can be waited for (a later copy frees nothing): waking
        // every waiting worker for each copy cost 60% more context switches (16 workers).
        if next == published { pthread_cond_broadcast(available) }
        return true
    }

    /// Merges, in order, every batch that every worker is done with, unless a worker is
    /// already merging (it goes on to the next batch itself: it checks under the lock, after
    /// each batch, whether that one is done). Called with the lock held; returns with it held,
    /// having let it go while merging.
    @discardableResult
    private func mergeIfDone() -> Bool {
        guard let merger, !merging else { return false }
        merging = true
        let before = mergedCount
        defer { merging = false }
        while !stopped {
            let next = mergedCount
            let slot = slots[next % slots.count]
            guard next < published, slot.sequence == next, slot.remaining == 0 else { break }
            pthread_mutex_unlock(mutex)
            let open = merger.merge(slot)
            pthread_mutex_lock(mutex)
            mergedCount = next + 1
            pthread_cond_broadcast(available)  // its slot is free for the next read
            if !open {
                closed = true
                stop()
            }
        }
        return mergedCount > before
    }

    func finished(_ slot: Slot) {
        pthread_mutex_lock(mutex)
        slot.remaining -= 1
        if slot.remaining == 0 {
            if merger == nil {
                pthread_cond_broadcast(done)
            } else if idle > 0 {
                // A worker waits for a slot or a batch: it merges (in `take`), and this one goes
                // on with its next batch. The last worker done with a batch is the one behind;
                // merging every batch itself kept it behind, the other waiting (two workers'
                // NDJSON: the worker ahead read every batch and still waited 23-37 ms a run of
                // about 300 ms, the one behind merged every batch, 25 ms).
                pthread_cond_broadcast(available)
            } else {
                mergeIfDone()
            }
        }
        pthread_mutex_unlock(mutex)
    }

    /// Whether every worker is done with batch `sequence` (waiting for it when `wait`).
    func isDone(_ sequence: Int, wait: Bool) -> Bool {
        let slot = slots[sequence % slots.count]
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while wait && slot.remaining > 0 { pthread_cond_wait(done, mutex) }
        return slot.remaining == 0
    }
}

/// The input, read on the thread calling `run` (a live capture) or by whichever worker is out
/// of batches (one at a time, under `Shared`'s `reading` flag): `fill` and the router are used
/// by one thread at a time.
final class BatchReader: @unchecked Sendable {
    private let fill: (RecordBatch) -> Bool
    private let router: Router
    private(set) var firstTime: Int64?
    private(set) var lastTime: Int64?
    /// The input's chunks, copied by several workers at once (nil: `fill` reads everything).
    let chunks: PcapChunks?
    /// One router per worker: workers copy and route chunks at the same time.
    private let routers: [Router]
    /// The chunks ended with the file (not by giving the reading back to `fill`).
    private(set) var chunksEnded = false

    init(fill: @escaping (RecordBatch) -> Bool, router: Router, chunks: PcapChunks? = nil, workers: Int = 1) {
        self.fill = fill
        self.router = router
        self.chunks = chunks
        routers = chunks == nil ? [] : (0..<workers).map { _ in Router(linkType: router.linkType, workers: router.workers) }
    }

    /// Copies chunk `index` into `slot` and routes the records its walk found: any worker,
    /// several at once (each with its own router).
    func copy(_ index: Int, into slot: Slot, worker: Int) {
        chunks!.copy(index, into: slot.input)
        routers[worker].route(slot)
    }

    /// Makes `slot`'s copy of chunk `index` exact (routing again what changed); false when no
    /// chunk follows. One worker at a time (under `Shared`'s `reading` flag), in order.
    func sequence(_ index: Int, _ slot: Slot, worker: Int) -> Bool {
        let result = chunks!.sequence(index, slot.input)
        if result.changed { routers[worker].route(slot) }
        noteTimes(slot.input)
        if !result.more { chunksEnded = result.endedFile }
        return result.more
    }

    /// The input's first and last packet times, as batches are read in order.
    private func noteTimes(_ batch: RecordBatch) {
        if firstTime == nil { firstTime = batch.records.first?.time }
        lastTime = batch.records.last?.time ?? lastTime
    }

    /// Fills `slot` with the next records and routes them; false at the end of the input.
    func read(into slot: Slot) -> Bool {
        // A file's reader hands out records or ends; an empty batch is asked again.
        while let filled = fillOnce(slot) {
            if filled { return true }
        }
        return false
    }

    /// Asks `fill` once for `slot`'s records and routes them: true with records, false with
    /// none yet (a live capture's quiet moment), nil at the end of the input.
    func fillOnce(_ slot: Slot) -> Bool? {
        slot.input.reset()
        guard fill(slot.input) else { return nil }
        guard !slot.input.isEmpty else { return false }
        noteTimes(slot.input)
        router.route(slot)
        return true
    }
}

/// Merges one batch into the output, on whichever worker merges (one at a time, under
/// `Shared`'s `merging` flag); false once the output is closed.
final class BatchMerger: @unchecked Sendable {
    let merge: (Slot) -> Bool

    init(_ merge: @escaping (Slot) -> Bool) {
        self.merge = merge
    }
}

/// Finds each record's worker from a glance at its headers.
final class Router {
    static let everyone: UInt8 = 255
    let linkType: LinkType
    let workers: Int

    init(linkType: LinkType, workers: Int) {
        self.linkType = linkType
        self.workers = workers
    }

    func route(_ slot: Slot) {
        let batch = slot.input
        // Filled as a local: appending to the slot's array would check its uniqueness (and
        // exclusive access) at every record.
        var routes = slot.routes
        slot.routes = []
        routes.removeAll(keepingCapacity: true)
        routes.reserveCapacity(batch.count)
        batch.records.withUnsafeBufferPointer { records in
            for r in records { routes.append(route(batch.bytes(of: r), link: r.link)) }
        }
        slot.routes = routes
    }

    /// A record's worker by the decoder's glance (`everyone` when it is not plain TCP).
    @inline(__always)
    func route(_ bytes: UnsafeRawBufferPointer, link: LinkType) -> UInt8 {
        guard let (a, b) = PacketDecoder.quickTCPEndpoints(bytes, link: link) else { return Router.everyone }
        return UInt8(FlowShard.shard(of: a, b, count: workers))
    }
}

// MARK: - Workers

final class Worker: @unchecked Sendable {
    let index: Int
    let shared: Shared
    let analyzer: Analyzer
    private let eventBytes: EventBytes
    private let summaryOnly: Bool
    /// The display filter applied to this worker's rows and summaries.
    let gate: FilterGate?
    /// What the finishing steps produced.
    let end = WorkerOutput()
    /// Where rows go now: the slot's output for this worker, or `end`. Unowned (the slot or
    /// `end` holds it) and borrowed per row: a strong reference retained and released it at
    /// every row.
    private var output: Unmanaged<WorkerOutput>
    /// The packet being analysed (the shared TLS sessions stamp it).
    private let packetBox: PacketBox
    private var packet: Int {
        get { packetBox.packet }
        set { packetBox.packet = newValue }
    }
    private var finishing = -1
    /// Which file each packet came from, noted from every record (several files only).
    private var fileRuns: FileRuns?

    init(index: Int, shared: Shared) {
        self.index = index
        self.shared = shared
        let settings = shared.settings
        var options = settings.analyzer
        options.shard = FlowShard(index: index, count: settings.workers)
        let box = PacketBox()
        options.tlsSessions = WorkerSessions(shared: shared.sessions, worker: index, packet: { box.packet })
        analyzer = Analyzer(linkType: settings.linkType, options: options)
        packetBox = box
        var render = settings.render
        render.stream = nil  // the merge picks the stream, once its index is known
        if render.files.count > 1 {
            let runs = FileRuns()
            fileRuns = runs
            render.fileOfPacket = { runs.file(of: $0) }
        }
        eventBytes = EventBytes(format: settings.format, options: render)
        summaryOnly = settings.summaryOnly
        gate = settings.displayFilter.map { FilterGate($0) }
        output = Unmanaged.passUnretained(end)
        analyzer.onStreamOpened = { [unowned self] stream, packet in
            self.output._withUnsafeGuaranteedRef { $0.openings.append((stream, packet)) }
        }
    }

    private var marks: Marks { shared.sessions.marks }

    func run() {
        var sequence = 0
        // Unowned(unsafe): called only within this method, while the engine holds the worker
        // (an unowned reference checked and retained the worker at every row).
        let emit: (TimelineEvent) -> Void = { [unowned(unsafe) self] e in self.add(e) }
        let summary: (ConnectionSummary) -> Void = { [unowned(unsafe) self] s in self.add(s) }
        while let slot = shared.take(sequence, worker: index) {
            output = Unmanaged.passUnretained(slot.outputs[index])
            output._withUnsafeGuaranteedRef { $0.clear() }
            if eventBytes.firstTime == nil {
                eventBytes.firstTime = shared.firstTime
                gate?.firstTime = shared.firstTime ?? 0
            }
            let batch = slot.input
            let me = UInt8(index)
            // Another worker's packet only moves this worker's clock, and only sweeps a second
            // after the last sweep (or when time goes back): such packets are passed over here,
            // without a call (every worker walks every record: on 16 workers the calls and
            // marks for the others' packets were a quarter of a `--summary`'s instructions).
            // Marks are then set at this worker's own packets and at the batch's end: a worker
            // waiting for this one's mark (`Marks.awaitOthers`) is never kept waiting by one
            // that waits itself, whose mark is its current packet.
            let skips = fileRuns == nil
            var swept = analyzer.lastSweepTime
            let numberOffset = batch.numberOffset
            slot.routes.withUnsafeBufferPointer { routes in
                batch.records.withUnsafeBufferPointer { records in
                    for i in 0..<records.count {
                        let route = routes[i]
                        let mine = route == me || route == Router.everyone
                        if !mine && skips {
                            let time = records[i].time
                            if time >= swept && time - swept <= 1_000_000_000 { continue }
                        }
                        let r = records[i]
                        let number = r.number + numberOffset
                        fileRuns?.note(number, file: r.file)
                        marks.set(index, number)
                        packet = number
                        if mine {
                            analyzer.process(number: number, time: r.time, wireLength: r.wireLength, bytes: batch.bytes(of: r),
                                             link: r.link, routed: route == me, file: r.file, fileOffset: r.fileOffset, emit: emit, summary: summary)
                        } else {
                            analyzer.advanceClock(number: number, time: r.time, wireLength: r.wireLength,
                                                  capturedLength: r.length, emit: emit, summary: summary)
                        }
                        swept = analyzer.lastSweepTime
                    }
                }
            }
            if let last = batch.records.last { marks.set(index, last.number + numberOffset + 1) }
            shared.finished(slot)
            sequence += 1
        }
        marks.set(index, Int.max)
        guard !shared.stopped else { return }
        output = Unmanaged.passUnretained(end)
        end.clear()
        packet = Int.max
        analyzer.finish(emit: emit, summary: summary, step: { [unowned self] in self.finishing = $0 })
    }

    private var kind: Int {
        if packet == Int.max { return 2 + finishing }
        return analyzer.inClockSweep ? 0 : 1
    }

    private func add(_ e: TimelineEvent) {
        if let gate {
            guard gate.keep(e), !summaryOnly else { return }
        }
        let kind = self.kind, packet = self.packet
        output._withUnsafeGuaranteedRef { output in
            let start = output.writer.count
            let at = eventBytes.render(e, into: &output.writer)
            output.items.append(OutputItem(packet: packet, kind: kind, stream: e.stream ?? -1, start: start,
                                           end: output.writer.count, streamAt: at >= 0 ? at - start : -1, isSummary: false))
        }
    }

    private func add(_ s: ConnectionSummary) {
        if let gate, !gate.keep(s) { return }
        let rendered = RenderedSummaries.rendered(s, format: shared.settings.format, options: shared.settings.render,
                                                  firstTime: eventBytes.firstTime ?? shared.firstTime)
        let kind = self.kind, packet = self.packet
        output._withUnsafeGuaranteedRef { output in
            let start = output.writer.count
            output.writer.append(rendered.bytes)
            output.endings.append(rendered.ending)
            output.items.append(OutputItem(packet: packet, kind: kind, stream: s.stream, start: start,
                                           end: output.writer.count, streamAt: output.endings.count - 1, isSummary: true))
        }
    }
}

// MARK: - The merge

/// Puts the workers' output back into one-thread order, numbering streams as it goes.
final class Merge {
    private let shared: Shared
    private let renderer: PrerenderedRendering
    private var globalOf: [[Int]]
    private var streams = 0
    /// The next batch to merge.
    private(set) var next = 0

    init(shared: Shared, renderer: PrerenderedRendering) {
        self.shared = shared
        self.renderer = renderer
        globalOf = Array(repeating: [], count: shared.settings.workers)
    }

    func batch(_ slot: Slot) {
        merge(slot.outputs)
        next += 1
    }

    func ends(_ outputs: [WorkerOutput]) {
        merge(outputs)
    }

    private func merge(_ outputs: [WorkerOutput]) {
        number(outputs)
        // A k-way merge of the workers' rows, each list already in order: a binary heap of the
        // workers by their next row's key, ties to the lower worker. (A scan of every worker's
        // next row for each row cost 16 comparisons a row on 16 workers: the merge, which only
        // one worker does at a time, took 11% of a 16-worker NDJSON run's instructions.) While
        // the worker at the top still has the first row, the sift stops at once.
        let count = outputs.count
        let heads = UnsafeMutablePointer<Int>.allocate(capacity: count)
        let keys = UnsafeMutablePointer<RowKey>.allocate(capacity: count)
        let heap = UnsafeMutablePointer<Int>.allocate(capacity: count)
        defer {
            heads.deallocate()
            keys.deallocate()
            heap.deallocate()
        }
        heads.initialize(repeating: 0, count: count)
        var size = 0
        for w in 0..<count where !outputs[w].items.isEmpty {
            (keys + w).initialize(to: key(outputs[w].items[0], worker: w))
            heap[size] = w
            size += 1
        }
        @inline(__always) func less(_ a: Int, _ b: Int) -> Bool {
            let x = keys[a], y = keys[b]
            if x.packet != y.packet { return x.packet < y.packet }
            if x.kind != y.kind { return x.kind < y.kind }
            if x.stream != y.stream { return x.stream < y.stream }
            return a < b
        }
        @inline(__always) func siftDown(_ from: Int) {
            var i = from
            while true {
                let l = 2 * i + 1
                guard l < size else { return }
                var m = l
                if l + 1 < size && less(heap[l + 1], heap[l]) { m = l + 1 }
                guard less(heap[m], heap[i]) else { return }
                (heap[i], heap[m]) = (heap[m], heap[i])
                i = m
            }
        }
        if size > 1 {
            for i in stride(from: size / 2 - 1, through: 0, by: -1) { siftDown(i) }
        }
        // Borrowed for the whole merge (`outputs` holds them): no reference counting per row.
        let borrowed = outputs.map { Unmanaged.passUnretained($0) }
        while size > 0 {
            let w = heap[0]
            borrowed[w]._withUnsafeGuaranteedRef { out in
                let at = heads[w]
                let item = out.items[at]
                heads[w] = at + 1
                if at + 1 < out.items.count {
                    keys[w] = key(out.items[at + 1], worker: w)
                    siftDown(0)
                } else {
                    size -= 1
                    heap[0] = heap[size]
                    siftDown(0)
                }
                let stream = item.stream >= 0 ? globalOf[w][item.stream] : nil
                let bytes = out.writer.bytes(item.start..<item.end)
                if item.isSummary {
                    renderer.connection(rendered: Array(bytes), stream: stream ?? 0, ending: out.endings[item.streamAt])
                } else {
                    renderer.event(rendered: bytes, stream: stream, streamAt: item.streamAt)
                }
            }
        }
    }

    /// Where a row goes in the merged order: its packet, then its kind, then (clock sweeps and
    /// the finishing steps) its stream's capture-wide index.
    private struct RowKey {
        var packet: Int
        var kind: Int
        var stream: Int
    }

    @inline(__always)
    private func key(_ item: OutputItem, worker: Int) -> RowKey {
        RowKey(packet: item.packet, kind: item.kind,
               stream: item.kind == 1 || item.stream < 0 ? 0 : globalOf[worker][item.stream])
    }

    /// Gives the streams opened in these outputs their capture-wide indexes, by first packet.
    private func number(_ outputs: [WorkerOutput]) {
        guard outputs.contains(where: { !$0.openings.isEmpty }) else { return }
        // Each worker's streams open in its own index order, so its n-th pair here is its n-th stream.
        for at in ShardMerge.order(firstPackets: outputs.map { $0.openings.map(\.packet) }) {
            globalOf[at.shard].append(streams)
            streams += 1
        }
    }
}

// MARK: - Threads

/// A POSIX thread running one closure; `join()` waits for it to return.
public final class WorkerThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private var thread = pthread_t()
    private var started = false

    /// Starts `body` on a new thread. If no thread can be made, runs it now, on this one.
    public convenience init(_ body: @escaping @Sendable () -> Void) {
        self.init(body, runHereIfNoThread: true)!
    }

    /// Starts `body` on a new thread; nil (and `body` not run) when no thread can be made.
    /// `reserveHeap`: the thread first makes room in its malloc heap (`reserveHeap()`), for
    /// a worker that will grow it by many megabytes.
    public static func start(reserveHeap: Bool = false, _ body: @escaping @Sendable () -> Void) -> WorkerThread? {
        guard reserveHeap else { return WorkerThread(body, runHereIfNoThread: false) }
        return WorkerThread({ WorkerThread.reserveHeap(); body() }, runHereIfNoThread: false)
    }

    private init?(_ body: @escaping @Sendable () -> Void, runHereIfNoThread: Bool) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context)
        if status == 0 {
            started = true
            return
        }
        let body = Unmanaged<Body>.fromOpaque(context).takeRetainedValue()
        guard runHereIfNoThread else { return nil }
        body.run()
    }

    /// Has glibc make room in this thread's heap before the worker allocates in it.
    ///
    /// A thread's malloc arena (not the main thread's) is a 64 MiB reservation whose pages are
    /// made usable as the heap grows, by an `mprotect` call for each step, and a step is only
    /// what the allocation at hand needs: a worker's heap grew 4 KiB at a time, 1,000 to 5,000
    /// calls a worker on the 100 MiB benchmark captures (strace), each taking the process's
    /// memory-map lock that the other workers' page faults wait on. Blocks just under the
    /// 128 KiB at which glibc starts mapping allocations apart, taken and given back, grow the
    /// usable part to 15 MiB in 128 steps; glibc then gives the pages back (the heap's top is
    /// trimmed with `MADV_DONTNEED`), but the usable part stays, so the worker's own growth
    /// within it needs no call. With strict overcommit (`vm.overcommit_memory = 2`) glibc
    /// unmaps what it trims, and the heap grows as before.
    ///
    /// The blocks are given back in the order they were taken: each joins the free ones before
    /// it, and only the last joins the heap's top, so glibc trims once. Given back from the top
    /// down, each block was trimmed on its own: up to 128 `madvise` calls a worker (128 and 45
    /// on the plain benchmark capture), each one flushing the other cores' TLBs (an interrupt to
    /// every core running the process).
    static func reserveHeap() {
        #if canImport(Glibc)
        let blocks = 128, size = 120 << 10
        withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: blocks) { held in
            for i in 0 ..< blocks { held[i] = malloc(size) }
            for i in 0 ..< blocks { free(held[i]) }
        }
        #endif
    }

    /// Waits until the closure has returned.
    public func join() {
        if started { pthread_join(thread, nil) }
        started = false
    }

    /// The cores online: how many threads a run can keep busy.
    public static var cores: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

/// The packet a worker is analysing, read by its TLS session store.
final class PacketBox: @unchecked Sendable {
    var packet = 0
}

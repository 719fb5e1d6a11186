import Synchronization
import WSDissector
import WSEngine
import WSOutput
import WSTimeline
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A renderer that renders on a second thread, so that analysing packets and writing text or
/// JSON use two cores. The analysis thread only copies each call, and the payload bytes an
/// event borrows, into a batch; the rendering thread hands the batches to `target` in the
/// order they were made. Output is byte for byte what `target` alone would write.
final class PipelinedRenderer: Renderer {
    private let target: Renderer
    private let handoff = Handoff()
    private let closed: Closed
    private var thread: WorkerThread?
    private var batch = Batch()

    /// Calls per batch: large enough that locking is rare, small enough to stay in cache.
    static let batchSize = 512
    /// Payload bytes a batch may hold in large copies before it goes (its arena is apart):
    /// with `Handoff.capacity` batches in flight, what the queue holds stays a few MiB even
    /// when every event carries a large payload (JSON's full payloads of a flood).
    static let largeBytesPerBatch = 1 << 20

    init(_ target: Renderer) {
        self.target = target
        let closed = Closed()
        self.closed = closed
        let handoff = self.handoff
        nonisolated(unsafe) let renderer = target
        thread = WorkerThread {
            while let batch = handoff.take() {
                guard !closed.flag.load(ordering: .relaxed) else { continue }
                batch.render(into: renderer)
                if renderer.isClosed { closed.flag.store(true, ordering: .relaxed) }
            }
        }
    }

    deinit { drain() }

    func begin(file: String, linkType: String) { add(.begin(file: file, linkType: linkType)) }
    func firstPacket(time: Int64) { add(.firstPacket(time)) }
    func connection(_ s: ConnectionSummary) { add(.connection(s)) }

    func event(_ e: TimelineEvent) {
        if !batch.append(e) {
            submit()  // the batch's payload space is full: a new batch always has room
            _ = batch.append(e)
        }
        if batch.isFull { submit() }
    }

    /// Renders everything still queued, then the end, on this thread.
    func end(counters: CaptureCounters, warnings: [String]) {
        drain()
        if !closed.flag.load(ordering: .relaxed) { target.end(counters: counters, warnings: warnings) }
    }

    var isClosed: Bool { closed.flag.load(ordering: .relaxed) }

    private func add(_ item: Batch.Other) {
        batch.others.append((batch.events.count, item))
        if batch.isFull { submit() }  // summaries alone (300,000 at the end of a capture) fill batches too
    }

    private func submit() {
        handoff.put(batch)
        batch = Batch()
    }

    /// Hands over the last batch and waits until the rendering thread has rendered all.
    private func drain() {
        guard let thread else { return }
        if !batch.events.isEmpty || !batch.others.isEmpty { submit() }
        handoff.finish()
        thread.join()
        self.thread = nil
    }

    private final class Closed: Sendable {
        let flag = Atomic<Bool>(false)
    }

    /// Calls on their way to the rendering thread, with copies of the payload bytes they
    /// point into (owned by the batch, freed with it).
    private final class Batch: @unchecked Sendable {
        /// Calls other than events, rare: each goes before the event at `before`.
        enum Other {
            case begin(file: String, linkType: String)
            case firstPacket(Int64)
            case connection(ConnectionSummary)
        }

        var events: [TimelineEvent] = []
        var others: [(before: Int, call: Other)] = []
        private static let arenaSize = 128 << 10
        private let arena = UnsafeMutableRawPointer.allocate(byteCount: arenaSize, alignment: 16)
        private var used = 0
        /// Payloads too large to share the arena, and their bytes.
        private var large: [UnsafeMutableRawPointer] = []
        private var largeBytes = 0

        /// Time to hand the batch over: enough calls, or enough payload copied.
        var isFull: Bool {
            // A summary weighs 8 events (a few KiB against about 600 bytes).
            events.count + 8 * others.count >= PipelinedRenderer.batchSize || largeBytes >= PipelinedRenderer.largeBytesPerBatch
        }

        init() { events.reserveCapacity(PipelinedRenderer.batchSize) }

        deinit {
            arena.deallocate()
            for p in large { p.deallocate() }
        }

        /// Appends `e`, its borrowed payload views pointing at copies this batch owns. False
        /// (nothing appended) when the arena has no room left for them.
        func append(_ e: TimelineEvent) -> Bool {
            guard case .frame(var frame, let role) = e.detail,
                  !frame.payload.isEmpty || !(frame.message?.payload.isEmpty ?? true) else {
                events.append(e)
                return true
            }
            let mark = used, largeCount = large.count, largeBytesMark = largeBytes
            guard let payload = keep(frame.payload) else { return false }
            frame.payload = payload
            if var message = frame.message {
                guard let kept = keep(message.payload) else {
                    used = mark  // the frame's copy goes too; the retry copies both again
                    largeBytes = largeBytesMark
                    while large.count > largeCount { large.removeLast().deallocate() }
                    return false
                }
                message.payload = kept
                frame.message = message
            }
            events.append(e)
            events[events.count - 1].detail = .frame(frame, role)
            return true
        }

        private func keep(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
            guard let source = bytes.baseAddress, !bytes.isEmpty else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            if bytes.count > Self.arenaSize / 4 {
                let copy = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 16)
                copy.copyMemory(from: source, byteCount: bytes.count)
                large.append(copy)
                largeBytes += bytes.count
                return UnsafeRawBufferPointer(start: copy, count: bytes.count)
            }
            guard used + bytes.count <= Self.arenaSize else { return nil }
            let copy = arena + used
            copy.copyMemory(from: source, byteCount: bytes.count)
            used += (bytes.count + 15) & ~15
            return UnsafeRawBufferPointer(start: copy, count: bytes.count)
        }

        func render(into target: Renderer) {
            var next = 0
            func othersBefore(_ index: Int) {
                while next < others.count && others[next].before <= index {
                    switch others[next].call {
                    case let .begin(file, linkType): target.begin(file: file, linkType: linkType)
                    case let .firstPacket(time): target.firstPacket(time: time)
                    case let .connection(s): target.connection(s)
                    }
                    next += 1
                }
            }
            // Runs of events between the rare other calls go over as one buffer, rendered in place.
            events.withUnsafeBufferPointer { list in
                var start = 0
                while start < list.count {
                    othersBefore(start)
                    let end = next < others.count ? min(max(others[next].before, start + 1), list.count) : list.count
                    target.events(UnsafeBufferPointer(rebasing: list[start..<end]))
                    start = end
                }
            }
            othersBefore(Int.max)
        }
    }

    /// A bounded first-in first-out hand-over of batches between two threads.
    private final class Handoff: @unchecked Sendable {
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let notEmpty = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private let notFull = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private var queue: [Batch] = []
        private var finished = false
        /// Batches in flight at most: bounds memory when rendering is the slower side (each
        /// holds up to `batchSize` events of about 600 bytes and its payload arena).
        private let capacity = 4

        init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(notEmpty, nil)
            pthread_cond_init(notFull, nil)
        }

        deinit {
            pthread_mutex_destroy(mutex)
            pthread_cond_destroy(notEmpty)
            pthread_cond_destroy(notFull)
            mutex.deallocate()
            notEmpty.deallocate()
            notFull.deallocate()
        }

        func put(_ batch: Batch) {
            pthread_mutex_lock(mutex)
            while queue.count >= capacity { pthread_cond_wait(notFull, mutex) }
            queue.append(batch)
            pthread_cond_signal(notEmpty)
            pthread_mutex_unlock(mutex)
        }

        /// The next batch, or nil once `finish` was called and every batch was taken.
        func take() -> Batch? {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            while queue.isEmpty && !finished { pthread_cond_wait(notEmpty, mutex) }
            guard !queue.isEmpty else { return nil }
            let batch = queue.removeFirst()  // at most `capacity` entries
            pthread_cond_signal(notFull)
            return batch
        }

        func finish() {
            pthread_mutex_lock(mutex)
            finished = true
            pthread_cond_broadcast(notEmpty)
            pthread_mutex_unlock(mutex)
        }
    }
}

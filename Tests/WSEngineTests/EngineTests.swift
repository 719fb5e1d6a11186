import Foundation
import Testing
import WSCapture
import WSDecode
import WSDiagnosis
import WSEngine
import WSOutput
import WSTimeline

/// What `withinDeadline`'s thread runs, and what it hands back.
private final class DeadlineWork<T>: @unchecked Sendable {
    let body: () -> T
    var value: T?
    init(_ body: @escaping () -> T) { self.body = body }
}

struct DeadlineExceeded: Error, CustomStringConvertible {
    let seconds: Int
    var description: String { "the engine did not finish within \(seconds) s (a deadlock: its threads are left blocked)" }
}

/// Runs `body` on a thread of its own and waits for it at most `seconds`: an engine that
/// deadlocks fails the test that ran it instead of hanging the whole test run.
func withinDeadline<T>(seconds: Int = 120, _ body: @escaping () -> T) throws -> T {
    let work = DeadlineWork(body)
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        work.value = work.body()
        done.signal()
    }
    thread.stackSize = 8 << 20
    thread.start()
    guard done.wait(timeout: .now() + .seconds(seconds)) == .success else { throw DeadlineExceeded(seconds: seconds) }
    return work.value!
}

/// The engine prints, byte for byte, what one analyzer on one thread prints: every format, any
/// number of workers, real captures (the repository's fixtures).
@Suite struct EngineTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Captures with many connections, idle pauses, TCP oddities, mid-stream pick-ups, non-TCP
    /// packets, fragments and several link types.
    static let captures = [
        "seed-walkthrough.pcap", "websocket/ws-concurrent.pcap", "tcp/tcp-ack-before-data.pcap",
        "tcp/tcp-captured-twice.pcap", "tcp/tcp-late-segment.pcap", "linktypes/ipv4-fragments.pcap",
        "linktypes/qinq-8021ad.pcap", "linktypes/mixed-nontcp.pcap", "linktypes/null-le.pcap", "linktypes/dumpcap.pcapng",
        "external/zeek/http__docker-http-upgrade.pcap", "external/zeek/websocket__broker-websocket.pcap",
        "external/zeek/websocket__jupyter-websocket.pcap", "tls/wss-tls13-midstream.pcap",
    ].filter { FileManager.default.fileExists(atPath: fixtures.appendingPathComponent($0).path) }

    /// The capture's records handed out `count` at a time (copied into each batch), so that a
    /// small fixture spans many batches and every slot is used again and again.
    static func fillInBatches(of count: Int, from reader: CaptureReader) -> (RecordBatch) -> Bool {
        var all: [(number: Int, time: Int64, wire: Int, bytes: [UInt8], file: Int, link: LinkType)] = []
        reader.forEach { h, file, bytes in
            all.append((h.number, h.timestampNanoseconds, h.wireLength, Array(bytes), file, h.link))
            return true
        }
        var next = 0
        return { batch in
            guard next < all.count else { return false }
            let end = min(next + count, all.count)
            for r in all[next..<end] {
                r.bytes.withUnsafeBytes { _ = batch.append(number: r.number, time: r.time, wireLength: r.wire, bytes: $0, file: r.file, link: r.link) }
            }
            next = end
            return true
        }
    }

    /// What the files print through `format` on one thread, or through the engine on `workers`
    /// (reading on the calling thread, or on the workers by turns with `workersRead`; with
    /// `recordsPerBatch`, in batches of that many records, through `slots` slots).
    static func output(_ paths: [String], format: OutputFormat, workers: Int, summaryOnly: Bool = false,
                       idleSeconds: Int? = nil, workersRead: Bool = false, recordsPerBatch: Int? = nil,
                       slots: Int? = nil, chunkBytes: Int? = nil) throws -> String {
        let reader = try CaptureReader(paths: paths, filter: nil)
        let link = try #require(LinkType(dlt: reader.linkType))
        var analyzer = AnalyzerOptions()
        analyzer.buildsEvents = !summaryOnly
        if let idleSeconds { analyzer.reassembly.idleTimeoutNanoseconds = Int64(idleSeconds) * 1_000_000_000 }
        var options = RenderOptions(timeDecimals: reader.timestampDecimals)
        if paths.count > 1 { options.files = paths }
        // One thread says each event's file from the runs it notes (the engine's workers note
        // their own, as the command does).
        let runs = FileRuns()
        if paths.count > 1 && workers == 0 { options.fileOfPacket = { runs.file(of: $0) } }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("engine-\(UUID().uuidString)")
        let fd = open(out.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { unlink(out.path) }
        let sink = OutputSink(fd: fd)
        let renderer = format.makeRenderer(sink: sink, options: options, summaryOnly: summaryOnly)
        renderer.begin(file: reader.displayName, linkType: reader.linkTypeName)
        if workers == 0 {
            let analysis = Analyzer(linkType: link, options: analyzer)
            var first = true
            reader.forEach { header, file, bytes in
                if first { renderer.firstPacket(time: header.timestampNanoseconds); first = false }
                runs.note(header.number, file: file)
                analysis.process(number: header.number, time: header.timestampNanoseconds, wireLength: header.wireLength,
                                 bytes: bytes, emit: { renderer.event($0) }, summary: { renderer.connection($0) })
                return true
            }
            analysis.finish(emit: { renderer.event($0) }, summary: { renderer.connection($0) })
            renderer.end(counters: analysis.counters, warnings: [])
        } else {
            var settings = ParallelEngine.Settings(workers: workers, linkType: link, analyzer: analyzer, format: format,
                                                   render: options, summaryOnly: summaryOnly)
            settings.workersRead = workersRead
            if let slots { settings.slots = slots }
            if let chunkBytes { settings.chunkBytes = chunkBytes }
            let engine = ParallelEngine(settings: settings)
            let fill = recordsPerBatch.map { fillInBatches(of: $0, from: reader) } ?? { reader.fill($0) }
            let chunks = chunkBytes.flatMap { reader.chunks(bytes: $0) }
            if chunkBytes != nil { #expect(chunks != nil) }
            let prerendered = try #require(renderer as? PrerenderedRendering)
            let outcome = try withinDeadline { engine.run(fill: fill, chunks: chunks, into: prerendered) }
            #expect(outcome.exact)
            if let first = outcome.firstTime { renderer.firstPacket(time: first) }
            renderer.end(counters: outcome.counters, warnings: [])
        }
        sink.flush()
        close(fd)
        return try String(contentsOf: out, encoding: .utf8)
    }

    @Test(arguments: captures)
    func workersPrintWhatOneThreadPrints(capture: String) throws {
        let path = Self.fixtures.appendingPathComponent(capture).path
        for format in [OutputFormat.text, .ndjson, .json] {
            for summaryOnly in [false, true] {
                let one = try Self.output([path], format: format, workers: 0, summaryOnly: summaryOnly)
                #expect(!one.isEmpty)
                for workers in [1, 2, 3, 5] {
                    for workersRead in [false, true] {
                        let many = try Self.output([path], format: format, workers: workers, summaryOnly: summaryOnly,
                                                   workersRead: workersRead)
                        #expect(many == one, "\(capture) \(format) summaryOnly=\(summaryOnly) workers=\(workers) workersRead=\(workersRead)")
                    }
                }
            }
        }
    }

    /// The workers copy the capture's chunks ahead, several at once, and sequence them in turn
    /// (`PcapChunks`): small chunks (many records crossing their ends, many guesses of where a
    /// chunk's first record starts) through few or many slots still print the one thread's
    /// output, byte for byte.
    @Test(arguments: ["seed-walkthrough.pcap", "websocket/ws-concurrent.pcap", "tcp/tcp-late-segment.pcap",
                      "linktypes/ipv4-fragments.pcap", "linktypes/truncated-mid-record.pcap",
                      "external/zeek/websocket__jupyter-websocket.pcap", "tls/wss-tls13-midstream.pcap",
                      "external/ndpi/tls_heur__vmess-websocket.pcapng", "linktypes/dumpcap.pcapng"])
    func workersCopyingChunksPrintWhatOneThreadPrints(capture: String) throws {
        let path = Self.fixtures.appendingPathComponent(capture).path
        try #require(FileManager.default.fileExists(atPath: path))
        for format in [OutputFormat.ndjson, .text] {
            for summaryOnly in [false, true] {
                let one = try Self.output([path], format: format, workers: 0, summaryOnly: summaryOnly)
                for (workers, chunkBytes, slots) in [(2, 700, 4), (3, 4096, 2), (5, 1514, 8), (16, 333, 6)] {
                    let many = try Self.output([path], format: format, workers: workers, summaryOnly: summaryOnly,
                                               workersRead: true, slots: slots, chunkBytes: chunkBytes)
                    #expect(many == one, "\(capture) \(format) summaryOnly=\(summaryOnly) workers=\(workers) chunks of \(chunkBytes)")
                }
            }
        }
    }

    /// A set of files copied in chunks by the workers, one file after the other, prints what
    /// one thread prints: a rotated set (read in chunks to its end), and a set whose files
    /// overlap in time (the chunks give the reading back to the merge mid-file). Real records,
    /// cut into files here.
    @Test func workersCopyingASetsChunksPrintWhatOneThreadPrints() throws {
        let whole = Self.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path
        let (link, all) = try CaptureReaderTests.records(whole)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("set-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let n = all.count
        func write(_ name: String, _ ranges: [Range<Int>]) throws -> [String] {
            try ranges.enumerated().map { i, range in
                let path = dir.appendingPathComponent("\(name)\(i).pcap").path
                try CaptureReaderTests.write(all[range].map { ($0.time, $0.bytes, $0.wire) }, link: UInt32(link), to: path)
                return path
            }
        }
        let sets = [try write("rotated", [0..<(n / 3), (n / 3)..<(2 * n / 3), (2 * n / 3)..<n]),
                    try write("overlapping", [0..<(2 * n / 3), (n / 3)..<n])]
        for paths in sets {
            for format in [OutputFormat.ndjson, .text] {
                for summaryOnly in [false, true] {
                    let one = try Self.output(paths, format: format, workers: 0, summaryOnly: summaryOnly)
                    for (workers, chunkBytes, slots) in [(2, 700, 4), (5, 1514, 8), (16, 333, 6)] {
                        let many = try Self.output(paths, format: format, workers: workers, summaryOnly: summaryOnly,
                                                   workersRead: true, slots: slots, chunkBytes: chunkBytes)
                        #expect(many == one, "\(paths[0]) \(format) summaryOnly=\(summaryOnly) workers=\(workers)")
                    }
                }
            }
        }
    }

    /// Hand-made (the only way to get it): a real capture with its snapshot length lowered to
    /// 200 bytes, so that the first longer record hands the chunked reading back to the file
    /// mid-capture while other workers still copy chunks ahead; libpcap reads the rest (cutting
    /// those records to 200 bytes). Still the one thread's output, byte for byte.
    @Test func chunksHandingTheReadingBackMidCapture() throws {
        // Its first record longer than 200 bytes is the 162nd of 600 (13.6 KB into 50 KB).
        var data = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent("tcp/tcp-one-byte-segments.pcap")))
        data[16] = 200; data[17] = 0; data[18] = 0; data[19] = 0
        let path = NSTemporaryDirectory() + "wstrace-engine-snaplen-\(getpid()).pcap"
        try Data(data).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        // The chunks do hand the reading back before their last one.
        let reader = try CaptureReader(paths: [path], filter: nil)
        let chunks = try #require(reader.chunks(bytes: 700))
        let batch = RecordBatch(capacity: chunks.batchCapacity)
        var sequenced = 0
        while sequenced < chunks.count {
            chunks.copy(sequenced, into: batch)
            sequenced += 1
            if !chunks.sequence(sequenced - 1, batch).more { break }
        }
        #expect(sequenced > 1 && sequenced < chunks.count, "\(sequenced) of \(chunks.count) chunks")
        for format in [OutputFormat.ndjson, .text] {
            let one = try Self.output([path], format: format, workers: 0)
            for (workers, chunkBytes, slots) in [(2, 700, 4), (16, 333, 6), (5, 4096, 8)] {
                let many = try Self.output([path], format: format, workers: workers, workersRead: true, slots: slots,
                                           chunkBytes: chunkBytes)
                #expect(many == one, "\(format) workers=\(workers) chunks of \(chunkBytes)")
            }
        }
    }

    /// Many small batches through few slots (each slot filled again as soon as its batch is
    /// merged), the reader on the calling thread or on the workers by turns: still the one
    /// thread's output, byte for byte.
    @Test func manySmallBatchesThroughFewSlots() throws {
        for capture in ["websocket/ws-concurrent.pcap", "external/zeek/websocket__jupyter-websocket.pcap",
                        "tls/wss-tls13-midstream.pcap", "linktypes/dumpcap.pcapng", "linktypes/ipv4-fragments.pcap"] {
            let path = Self.fixtures.appendingPathComponent(capture).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            for (format, summaryOnly) in [(OutputFormat.ndjson, false), (.text, true)] {
                let one = try Self.output([path], format: format, workers: 0, summaryOnly: summaryOnly)
                for workers in [2, 3] {
                    for (records, slots) in [(1, 2), (3, 2), (5, 4)] {
                        for workersRead in [false, true] {
                            let many = try Self.output([path], format: format, workers: workers, summaryOnly: summaryOnly,
                                                       workersRead: workersRead, recordsPerBatch: records, slots: slots)
                            #expect(many == one, "\(capture) \(format) workers=\(workers) records=\(records) slots=\(slots) workersRead=\(workersRead)")
                        }
                    }
                }
            }
        }
    }

    /// Idle connections released mid-capture (by other connections' packets, in other workers)
    /// come out at the same packets, and later streams get the same indexes.
    @Test func idleReleasesMergeInPlace() throws {
        for capture in ["websocket/ws-concurrent.pcap", "external/zeek/http__docker-http-upgrade.pcap", "seed-walkthrough.pcap"] {
            let path = Self.fixtures.appendingPathComponent(capture).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let one = try Self.output([path], format: .ndjson, workers: 0, idleSeconds: 1)
            for workers in [2, 4] {
                #expect(try Self.output([path], format: .ndjson, workers: workers, idleSeconds: 1) == one, "\(capture) \(workers)")
            }
        }
    }

    /// Stream indexes in the merged output are the order of the streams' first packets.
    @Test func streamsAreNumberedByFirstPacket() throws {
        let path = Self.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path
        let lines = try Self.output([path], format: .ndjson, workers: 3).split(separator: "\n")
        var firstPacket: [Int: Int] = [:]
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard object["type"] as? String == "event", let stream = object["stream"] as? Int,
                  let packet = object["packet"] as? Int else { continue }
            if firstPacket[stream] == nil { firstPacket[stream] = packet }
        }
        #expect(firstPacket.count > 2)
        let byStream = firstPacket.sorted { $0.key < $1.key }.map(\.value)
        #expect(byStream == byStream.sorted())
        #expect(Set(firstPacket.keys) == Set(0..<firstPacket.count))
    }

    /// When the system gives fewer threads than workers, nothing is read or rendered and the
    /// outcome says so (the command line then reads on one thread); the threads that did start end.
    @Test func noThreadsReadsNothing() throws {
        let path = Self.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        let reader = try CaptureReader(paths: [path], filter: nil)
        var settings = ParallelEngine.Settings(workers: 3, linkType: try #require(LinkType(dlt: reader.linkType)),
                                               analyzer: AnalyzerOptions(), format: .ndjson, render: RenderOptions(),
                                               summaryOnly: false)
        nonisolated(unsafe) var given = 0
        settings.startThread = { body in
            given += 1
            return given == 2 ? nil : WorkerThread.start(body)
        }
        var filled = 0
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("engine-\(UUID().uuidString)")
        let fd = open(out.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd); unlink(out.path) }
        let renderer = try #require(OutputFormat.ndjson.makeRenderer(sink: OutputSink(fd: fd), options: RenderOptions(),
                                                                    summaryOnly: false) as? PrerenderedRendering)
        let outcome = ParallelEngine(settings: settings).run(fill: { filled += 1; return reader.fill($0) }, into: renderer)
        #expect(outcome.noThreads && filled == 0 && outcome.counters.packets == 0)
    }

    /// A renderer whose output goes away stops the run: the workers end, nothing hangs.
    @Test func closedOutputStopsTheRun() throws {
        final class Closing: PrerenderedRendering {
            var rows = 0
            var isClosed: Bool { rows >= 10 }
            func begin(file: String, linkType: String) {}
            func event(_ e: TimelineEvent) {}
            func connection(_ s: ConnectionSummary) {}
            func end(counters: CaptureCounters, warnings: [String]) {}
            func connection(rendered: [UInt8], stream: Int, ending: EndingRecord) { rows += 1 }
            func event(rendered: UnsafeRawBufferPointer, stream: Int?, streamAt: Int) { rows += 1 }
        }
        let path = Self.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path
        for workersRead in [false, true] {
            let reader = try CaptureReader(paths: [path], filter: nil)
            var settings = ParallelEngine.Settings(workers: 3, linkType: try #require(LinkType(dlt: reader.linkType)),
                                                   analyzer: AnalyzerOptions(), format: .ndjson,
                                                   render: RenderOptions(), summaryOnly: false)
            settings.workersRead = workersRead
            settings.slots = 2
            let engine = ParallelEngine(settings: settings)
            let renderer = Closing()
            // Small batches, so that the output closes while input is still coming.
            let fill = Self.fillInBatches(of: 2, from: reader)
            let outcome = try withinDeadline { engine.run(fill: fill, into: renderer) }
            #expect(outcome.closed, "workersRead=\(workersRead)")
            #expect(renderer.rows >= 10)
        }
    }
}

/// Several files read as one capture, as mergecap joins them.
@Suite struct CaptureReaderTests {
    /// Writes `records` as a classic microsecond pcap with `link`.
    static func write(_ records: [(time: Int64, bytes: [UInt8], wire: Int)], link: UInt32, to path: String) throws {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        u32(0xa1b2_c3d4); u16(2); u16(4); u32(0); u32(0); u32(262_144); u32(link)
        for r in records {
            u32(UInt32(r.time / 1_000_000_000)); u32(UInt32((r.time % 1_000_000_000) / 1000))
            u32(UInt32(r.bytes.count)); u32(UInt32(r.wire))
            out += r.bytes
        }
        try Data(out).write(to: URL(fileURLWithPath: path))
    }

    static func records(_ path: String) throws -> (link: Int32, list: [(number: Int, time: Int64, bytes: [UInt8], wire: Int, file: Int)]) {
        let reader = try CaptureReader(paths: [path], filter: nil)
        var list: [(Int, Int64, [UInt8], Int, Int)] = []
        reader.forEach { h, file, bytes in
            list.append((h.number, h.timestampNanoseconds, Array(bytes), h.wireLength, file))
            return true
        }
        return (reader.linkType, list)
    }

    /// A capture cut in three (as `editcap -c` or `tcpdump -C` rotates) reads back as the
    /// whole: the same records, numbered 1…n, each saying its file; and the same through `fill`.
    @Test func rotatedFilesReadAsTheWhole() throws {
        let whole = EngineTests.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path
        let (link, all) = try Self.records(whole)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rotated-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cut = [0, all.count / 3, 2 * all.count / 3, all.count]
        var paths: [String] = []
        for part in 0..<3 {
            let path = dir.appendingPathComponent("part\(part).pcap").path
            try Self.write(all[cut[part]..<cut[part + 1]].map { ($0.time, $0.bytes, $0.wire) }, link: UInt32(link), to: path)
            paths.append(path)
        }
        // Given in the wrong order: time decides.
        let reader = try CaptureReader(paths: paths.reversed(), filter: nil)
        var merged: [(Int, Int64, [UInt8], Int)] = []
        reader.forEach { h, file, bytes in
            merged.append((h.number, h.timestampNanoseconds, Array(bytes), 2 - file))
            return true
        }
        #expect(merged.count == all.count)
        for (i, m) in merged.enumerated() {
            #expect(m.0 == i + 1)
            #expect(m.1 == all[i].time && m.2 == all[i].bytes)
            #expect(m.3 == (i < cut[1] ? 0 : i < cut[2] ? 1 : 2))
        }
        let again = try CaptureReader(paths: paths, filter: nil)
        let batch = RecordBatch(capacity: 64 << 10)
        var numbers: [Int] = []
        while again.fill(batch) {
            numbers += batch.records.map(\.number)
            batch.reset()
        }
        #expect(numbers == Array(1...all.count))
        #expect(again.bytesRead == again.totalBytes)
    }

    /// Interleaved files (two interfaces captured at once) are merged by time; a tie goes to
    /// the file given first; a filter skips records but they keep their numbers.
    @Test func interleavedFilesMergeByTime() throws {
        let (link, all) = try Self.records(EngineTests.fixtures.appendingPathComponent("seed-walkthrough.pcap").path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("merge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.pcap").path, b = dir.appendingPathComponent("b.pcap").path
        let odd = all.enumerated().filter { $0.offset % 2 == 0 }.map { ($0.element.time, $0.element.bytes, $0.element.wire) }
        let even = all.enumerated().filter { $0.offset % 2 == 1 }.map { ($0.element.time, $0.element.bytes, $0.element.wire) }
        try Self.write(odd, link: UInt32(link), to: a)
        try Self.write([(odd[0].0, odd[0].1, odd[0].2)] + even, link: UInt32(link), to: b)
        let reader = try CaptureReader(paths: [b, a], filter: nil)
        var seen: [(Int64, Int)] = []
        reader.forEach { h, file, _ in
            seen.append((h.timestampNanoseconds, file))
            return true
        }
        #expect(seen.count == all.count + 1)
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.0 <= $1.0 })
        // The first record's time is in both files: b (given first) comes first.
        #expect(seen[0].1 == 0 && seen[1].1 == 1 && seen[0].0 == seen[1].0)
        let filtered = try CaptureReader(paths: [a, b], filter: "tcp[tcpflags] & tcp-syn != 0")
        var numbers: [Int] = []
        filtered.forEach { h, _, _ in numbers.append(h.number); return true }
        #expect(!numbers.isEmpty && numbers.count < all.count)
        #expect(numbers.allSatisfy { (1...(all.count + 1)).contains($0) })
    }

    /// Many files, some following one another in time and some interleaved, with ties and a
    /// file whose times go back: the reader's order is the plain merge's (at each step the file
    /// whose next record has the smallest time, a tie to the file given first), which it
    /// reaches through a heap of files and runs of records. The records are real; how they are
    /// dealt to files, and the ties (times cut to the second in some files), are made here.
    @Test func manyFilesMergeAsThePlainMergeDoes() throws {
        let (link, all) = try Self.records(EngineTests.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("many-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for fileCount in [2, 7, 40] {
            var parts = Array(repeating: [(time: Int64, bytes: [UInt8], wire: Int)](), count: fileCount)
            var seed: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(fileCount)
            var at = 0, file = 0
            while at < all.count {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let run = 1 + Int(seed >> 58)  // 1 to 64 records to one file, then another
                for r in all[at..<min(all.count, at + run)] {
                    // Every third file keeps whole seconds only: ties with the others.
                    let time = file % 3 == 2 ? r.time / 1_000_000_000 * 1_000_000_000 : r.time
                    parts[file].append((time, r.bytes, r.wire))
                }
                at += run
                file = (file + 1 + Int(seed >> 60) % 3) % fileCount
            }
            // The last file's times go back once, midway.
            if let last = parts.indices.last, parts[last].count > 4 {
                let mid = parts[last].count / 2
                parts[last][mid].time -= 5_000_000_000
            }
            var paths: [String] = []
            for (i, part) in parts.enumerated() {
                let path = dir.appendingPathComponent("f\(fileCount)-\(i).pcap").path
                try Self.write(part, link: UInt32(link), to: path)
                paths.append(path)
            }
            // The plain merge.
            var heads = Array(repeating: 0, count: fileCount)
            var expected: [(Int64, [UInt8], Int)] = []
            while true {
                var pick = -1
                for i in 0..<fileCount where heads[i] < parts[i].count {
                    if pick < 0 || parts[i][heads[i]].time < parts[pick][heads[pick]].time { pick = i }
                }
                guard pick >= 0 else { break }
                expected.append((parts[pick][heads[pick]].time, parts[pick][heads[pick]].bytes, pick))
                heads[pick] += 1
            }
            let reader = try CaptureReader(paths: paths, filter: nil)
            var got: [(Int64, [UInt8], Int)] = []
            var numbers: [Int] = []
            reader.forEach { h, file, bytes in
                got.append((h.timestampNanoseconds, Array(bytes), file))
                numbers.append(h.number)
                return true
            }
            #expect(got.count == all.count, "\(fileCount) files")
            #expect(numbers == Array(1...all.count))
            #expect(got.elementsEqual(expected) { $0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 }, "\(fileCount) files")
            #expect(reader.damage.isEmpty)
        }
    }

    /// Records larger than a file's small read-ahead (bytes made up here: only their sizes
    /// matter) come through whole, on the chunked path (link type 1) and on libpcap's (147,
    /// a link type the chunked path leaves to libpcap), merged from two files.
    @Test func recordsLargerThanTheReadAhead() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let sizes = [60, 200_000, 70, 262_144, 100_000, 10]
        for link: UInt32 in [1, 147] {
            let records = sizes.enumerated().map { i, n in
                (time: Int64(i + 1) * 1_000_000_000, bytes: (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }, wire: n)
            }
            let a = dir.appendingPathComponent("a\(link).pcap").path, b = dir.appendingPathComponent("b\(link).pcap").path
            try Self.write(Array(records.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)), link: link, to: a)
            try Self.write(Array(records.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)), link: link, to: b)
            let reader = try CaptureReader(paths: [a, b], filter: nil)
            var seen: [[UInt8]] = []
            reader.forEach { _, _, bytes in seen.append(Array(bytes)); return true }
            #expect(seen == records.map(\.bytes), "link type \(link)")
            #expect(reader.damage.isEmpty)
        }
    }

    /// Files of different link types read as one capture (a capture on `lo` beside one on
    /// `any`, as mergecap joins them): each record carries its own file's link type, and the
    /// capture's connections are those of each file read alone.
    @Test func filesOfDifferentLinkTypesAreOneCapture() throws {
        let names = ["seed-walkthrough.pcap", "linktypes/sll2.pcap", "linktypes/sll.pcap", "linktypes/null-le.pcap"]
        let paths = names.map { EngineTests.fixtures.appendingPathComponent($0).path }
        let reader = try CaptureReader(paths: paths, filter: nil)
        #expect(reader.linkTypeName == "EN10MB, LINUX_SLL2, LINUX_SLL, NULL")
        var links: [[String]] = Array(repeating: [], count: names.count)
        reader.forEach { h, file, _ in
            if !links[file].contains("\(h.link)") { links[file].append("\(h.link)") }
            return true
        }
        #expect(links == [["ethernet"], ["linuxSLL2"], ["linuxSLL"], ["null"]])
        #expect(reader.damage.isEmpty)
    }

    @Test func fileRunsFindEachPacketsFile() {
        let runs = FileRuns()
        for (n, f) in [(1, 0), (2, 0), (3, 1), (4, 0), (5, 2), (6, 2)] { runs.note(n, file: f) }
        #expect((1...6).map { runs.file(of: $0) } == [0, 0, 1, 0, 2, 2])
    }
}

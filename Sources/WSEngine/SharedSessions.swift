import Synchronization
import WSTLS
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// How far each worker has got: every packet numbered below its mark has been analysed.
final class Marks: @unchecked Sendable {
    private let marks: [Mark]

    private final class Mark: Sendable {
        let value = Atomic<Int>(0)
        // Apart from the neighbours' marks: each is written by its worker at every packet.
        let padding = (0, 0, 0, 0, 0, 0, 0)
    }

    init(workers: Int) {
        marks = (0..<workers).map { _ in Mark() }
    }

    @inline(__always)
    func set(_ worker: Int, _ packet: Int) {
        marks[worker].value.store(packet, ordering: .releasing)
    }

    /// Waits until every worker but `worker` has analysed every packet below `packet`. The
    /// worker furthest behind never waits on one further ahead, so the waits end; a stopped
    /// run sets every mark to the end.
    func awaitOthers(_ worker: Int, before packet: Int) {
        for (i, mark) in marks.enumerated() where i != worker {
            while mark.value.load(ordering: .acquiring) < packet {
                var pause = timespec(tv_sec: 0, tv_nsec: 20_000)
                nanosleep(&pause, nil)
            }
        }
    }

    func setAll(_ packet: Int) {
        for i in marks.indices { set(i, packet) }
    }
}

/// TLS 1.2 sessions shared by every worker, so that a connection resumes a session whichever
/// worker learned it: each entry says at which packet it was learned, and a lookup at packet P
/// first waits until every worker has passed P, then sees only what was learned before P:
/// exactly what one analyzer over every flow would see.
final class SharedSessions: @unchecked Sendable {
    private var byID: [[UInt8]: (master: [UInt8], packet: Int)] = [:]
    private var byTicket: [[UInt8]: (master: [UInt8], packet: Int)] = [:]
    private let lock = Mutex<Void>(())
    let marks: Marks
    private let limit = 65_536

    init(workers: Int) {
        marks = Marks(workers: workers)
    }

    func remember(_ key: [UInt8], byID: Bool, master: [UInt8], packet: Int) {
        guard !key.isEmpty else { return }
        lock.withLock { _ in
            if byID {
                Self.store(&self.byID, key, master, packet, limit: limit)
            } else {
                Self.store(&self.byTicket, key, master, packet, limit: limit)
            }
        }
    }

    /// The same master learned again keeps its first packet; another master replaces it.
    private static func store(_ table: inout [[UInt8]: (master: [UInt8], packet: Int)], _ key: [UInt8],
                              _ master: [UInt8], _ packet: Int, limit: Int) {
        if let old = table[key], old.master == master {
            table[key] = (master, min(old.packet, packet))
            return
        }
        if table.count >= limit { table.removeAll(keepingCapacity: true) }
        table[key] = (master, packet)
    }

    func master(_ key: [UInt8], byID: Bool, worker: Int, packet: Int) -> [UInt8]? {
        guard !key.isEmpty else { return nil }
        marks.awaitOthers(worker, before: packet)
        return lock.withLock { _ in
            guard let entry = byID ? self.byID[key] : self.byTicket[key], entry.packet < packet else { return nil }
            return entry.master
        }
    }
}

/// One worker's view of the shared sessions, stamped with the packet it is analysing.
final class WorkerSessions: TLSSessionStore, @unchecked Sendable {
    private let shared: SharedSessions
    private let worker: Int
    private let packet: () -> Int

    init(shared: SharedSessions, worker: Int, packet: @escaping () -> Int) {
        self.shared = shared
        self.worker = worker
        self.packet = packet
    }

    func remember(sessionID: [UInt8], master: [UInt8]) {
        shared.remember(sessionID, byID: true, master: master, packet: packet())
    }

    func remember(ticket: [UInt8], master: [UInt8]) {
        shared.remember(ticket, byID: false, master: master, packet: packet())
    }

    func master(sessionID: [UInt8]) -> [UInt8]? {
        shared.master(sessionID, byID: true, worker: worker, packet: packet())
    }

    func master(ticket: [UInt8]) -> [UInt8]? {
        shared.master(ticket, byID: false, worker: worker, packet: packet())
    }
}

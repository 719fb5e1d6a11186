import Foundation
import Testing

/// Threads change speed, never output: `read` on several threads (sharded --summary, rendering
/// on a second thread) prints byte for byte what it prints on one (`--threads 1`).
@Suite struct ThreadedReadTests {
    @Test(arguments: Tools.captures())
    func summaryOnSeveralThreadsIsTheSummaryOnOne(path: String) throws {
        // The last variant releases idle connections mid-capture (4 captures have such pauses):
        // shards must release them at the same packets, and number later streams the same.
        // wss captures are decrypted: a TLS 1.2 session resumed across shards redoes the run.
        let keys = Tools.keyLog(for: path).map { ["--keylog", $0] } ?? []
        for arguments in [["--format", "text"], ["--format", "json"], ["--idle-timeout", "1"]].map({ $0 + keys }) {
            let one = try Tools.wstrace(["read", path, "--summary", "--threads", "1"] + arguments)
            for threads in [2, 3] {
                let many = try Tools.wstrace(["read", path, "--summary", "--threads", "\(threads)"] + arguments)
                let format = arguments.joined(separator: " ")
                #expect(many.status == one.status, "\(path) \(format) \(threads)")
                #expect(many.stdout == one.stdout, "\(path) \(format) \(threads)")
                #expect(many.stderr == one.stderr, "\(path) \(format) \(threads)")
            }
        }
    }

    @Test(arguments: Tools.captures())
    func renderingThreadChangesNothing(path: String) throws {
        let keys = Tools.keyLog(for: path).map { ["--keylog", $0] } ?? []
        for arguments in [["--no-color"], ["--format", "ndjson"], ["--format", "json"], ["--format", "ndjson", "--payloads", "full"]].map({ $0 + keys }) {
            let one = try Tools.wstrace(["read", path, "--threads", "1"] + arguments)
            let two = try Tools.wstrace(["read", path, "--threads", "2"] + arguments)
            #expect(two.status == one.status, "\(path) \(arguments)")
            #expect(two.stdout == one.stdout, "\(path) \(arguments)")
            #expect(two.stderr == one.stderr, "\(path) \(arguments)")
        }
    }

    /// With a connection cap small enough to act, the shards' peaks exceed it and the summary
    /// falls back to one pass: still the one-thread output (evictions included).
    @Test func sharedCapFallsBackToOnePass() throws {
        let path = Tools.fixtures.appendingPathComponent("websocket/ws-concurrent.pcap").path
        for cap in ["1", "2", "3"] {
            let one = try Tools.wstrace(["read", path, "--summary", "--max-connections", cap, "--threads", "1"])
            let two = try Tools.wstrace(["read", path, "--summary", "--max-connections", cap, "--threads", "2"])
            #expect(one.status == 0)
            #expect(two.stdout == one.stdout, "cap \(cap)")
        }
        let evicted = try Tools.wstrace(["read", path, "--summary", "--format", "json", "--max-connections", "1", "--threads", "2"])
        #expect(evicted.text.contains("connection table full"))
    }

    /// A file cut mid-record: every thread stops at the same record, with the same message.
    /// The resumed TLS 1.2 connection needs the session of the first: whichever shards they
    /// fall in, the summary is the one-pass summary (resumed and decrypted).
    @Test func resumedSessionAcrossShards() throws {
        let dir = Tools.fixtures.appendingPathComponent("tls")
        for name in ["wss-tls12-resume-id", "wss-tls12-resume-ticket"] {
            let args = ["read", dir.appendingPathComponent(name + ".pcap").path, "--keylog",
                        dir.appendingPathComponent(name + ".keys").path, "--summary", "--format", "json"]
            let one = try Tools.wstrace(args + ["--threads", "1"])
            for threads in 2...4 {
                let many = try Tools.wstrace(args + ["--threads", "\(threads)"])
                #expect(many.stdout == one.stdout, "\(name) \(threads)")
            }
            let connections = try Tools.json(one.stdout)["connections"] as! [[String: Any]]
            #expect(connections.allSatisfy { ($0["tls"] as? [String: Any])?["decryption"] as? String == "decrypted" })
        }
    }

    @Test func damagedFileOnSeveralThreads() throws {
        let path = Tools.fixtures.appendingPathComponent("linktypes/truncated-mid-record.pcap").path
        for arguments in [["--summary"], ["--summary", "--format", "json"], ["--format", "ndjson"], []] {
            let one = try Tools.wstrace(["read", path, "--threads", "1"] + arguments)
            let two = try Tools.wstrace(["read", path, "--threads", "2"] + arguments)
            #expect(one.status == 1 && two.status == 1)
            #expect(two.stdout == one.stdout, "\(arguments)")
            #expect(two.stderr == one.stderr && one.stderr.contains("damaged"), "\(arguments)")
        }
    }

    @Test func threadsMustBeSensible() throws {
        let seed = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        #expect(try Tools.wstrace(["read", seed, "--threads", "0"]).status == 64)
        #expect(try Tools.wstrace(["read", seed, "--threads", "65"]).status == 64)
    }
}

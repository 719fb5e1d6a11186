import Foundation
import Testing

/// The JSON contract (docs/schema.json) holds for every capture, in json, ndjson and `stats`, and
/// the three formats agree on the counts.
@Suite struct OutputContractTests {
    @Test func everyCaptureValidatesAgainstTheSchemaAndFormatsAgree() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wstrace-schema-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var files: [String] = []
        for (i, path) in Tools.captures().enumerated() {
            let json = try Tools.wstrace(["read", path, "--format", "json"])
            let ndjson = try Tools.wstrace(["read", path, "--format", "ndjson"])
            let text = try Tools.wstrace(["read", path, "--no-color"])
            #expect(json.status == 0 && ndjson.status == 0 && text.status == 0, "\(path)")
            let stats = try Tools.wstrace(["stats", path, "--format", "json"])
            #expect(stats.status == 0, "\(path): stats")
            let j = dir.appendingPathComponent("\(i).json"), n = dir.appendingPathComponent("\(i).ndjson")
            let st = dir.appendingPathComponent("\(i)-stats.json")
            try json.stdout.write(to: j)
            try ndjson.stdout.write(to: n)
            try stats.stdout.write(to: st)
            files += [j.path, n.path, st.path]
            // stats counts what read counts.
            let statsObject = try Tools.json(stats.stdout)
            #expect(statsObject["connections"] as? Int == (try Tools.json(json.stdout)["connections"] as? [Any])?.count, "\(path)")

            let doc = try Tools.json(json.stdout)
            let events = (doc["events"] as? [[String: Any]]) ?? []
            let connections = (doc["connections"] as? [[String: Any]]) ?? []
            let lines = ndjson.text.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            let ndEvents = lines.filter { $0["type"] as? String == "event" }
            let ndConnections = lines.filter { $0["type"] as? String == "connection" }
            #expect(events.count == ndEvents.count, "\(path): json vs ndjson events")
            #expect(connections.count == ndConnections.count, "\(path): json vs ndjson connections")
            #expect(lines.last?["type"] as? String == "capture")
            #expect(ndConnections.allSatisfy { $0["packet"] == nil })
            // Text: one row per event between the header and the first blank line.
            let rows = text.text.split(separator: "\n", omittingEmptySubsequences: false)
            let body = rows.dropFirst().prefix { !$0.isEmpty }
            #expect(body.count == events.count, "\(path): text rows vs json events")
            let summaries = rows.filter { $0.hasPrefix("Stream ") }
            #expect(summaries.count == connections.count, "\(path): text summaries vs json connections")
            // Every packet yields at least one event, in packet order.
            let packets = events.map { $0["packet"] as! Int }
            #expect(packets == packets.sorted(), "\(path): events out of packet order")
            #expect(Set(packets).count == doc["packets"] as! Int, "\(path): a packet without an event")
        }
        let python = try #require(Tools.which("python3"))
        let check = try Tools.run(python, [Tools.root.appendingPathComponent("scripts/validate-json.py").path,
                                           Tools.root.appendingPathComponent("docs/schema.json").path] + files)
        if check.stderr.contains("No module named 'jsonschema'") && !Tools.isCI { return }
        #expect(check.status == 0, "schema violations:\n\(check.text.prefix(3000))\(check.stderr.prefix(2000))")
        #expect(check.text.hasPrefix("ok "))
    }

    /// A connection's summary does not depend on what else is shown: `--summary` keeps no
    /// payload, the timeline keeps a preview or all of it, and every one reports the same
    /// connections (close code and reason, proxy pairs, diagnosis) for every capture.
    @Test func summariesDoNotDependOnThePayloadsShown() throws {
        for path in Tools.captures() {
            let keys = Tools.keyLog(for: path).map { ["--keylog", $0] } ?? []
            let summary = try Tools.wstrace(["read", path, "--summary", "--format", "json"] + keys)
            #expect(summary.status == 0, "\(path): \(summary.stderr)")
            let expected = try Tools.json(summary.stdout)
            for extra in [[], ["--payloads", "full"], ["--payloads", "preview"]] {
                let run = try Tools.wstrace(["read", path, "--format", "json"] + keys + extra)
                let got = try Tools.json(run.stdout)
                for key in ["connections", "patterns", "proxy_pairs"] {
                    let want = try #require(expected[key] as? NSArray, "\(path): \(key)")
                    #expect((got[key] as? NSArray)?.isEqual(want) == true, "\(path) \(extra): \(key) differ from --summary's")
                }
            }
        }
    }
}

import Foundation
import Testing

/// `-Y`: the packets whose rows match equal the packets tshark's display filter keeps, on real
/// captures and for expressions covering every operator; `!`, `&&`, `||` agree with set algebra
/// on the rows; errors exit 64 with a caret; the summaries are those of connections with a
/// matching row.
@Suite struct DisplayFilterTests {
    /// Every operator: == != ~= === < > <= >= contains matches in (values and ranges), && || !
    /// and or not, parentheses, bare fields; IPv4/IPv6 addresses and CIDR, booleans, hex.
    static let expressions = [
        "websocket.opcode == 8",
        "websocket.opcode != 1",
        "websocket.opcode ~= 1",
        "websocket.opcode === 2",
        "tcp.flags.syn == 1 && tcp.flags.ack == 0",
        "tcp.flags.reset == True",
        "websocket.payload_length > 100",
        "websocket.payload_length <= 5",
        "websocket.payload_length >= 0x7e",
        "tcp.len >= 1000",
        "tcp.len < 10 and tcp.len > 0",
        "frame.time_relative < 0.01",
        "frame.number >= 10 && frame.number <= 20",
        "http.request.method == \"GET\"",
        "http.response.code == 101",
        "http.request.uri contains \"/\"",
        "http.request.uri matches \"^/[A-Z]\"",
        "websocket.payload.close.status_code in {1000, 1001}",
        "tcp.len in {1..10, 100..200}",
        "!websocket && tcp.len > 0",
        "websocket.mask == 0 || tcp.flags.fin == 1",
        "not (tcp.port == 80) and websocket",
        "ip.addr == 127.0.0.0/8 && websocket.fin == 0",
        "ipv6.addr == ::1",
        "websocket.rsv == 4",
        "tcp.analysis.retransmission",
        "tcp.analysis.duplicate_ack",
        "websocket.payload.close.reason contains \"e\"",
        "tcp.stream == 1",
        "websocket.payload.text contains \"e\"",
        "websocket.opcode >= 8 || http",
        "websocket && !(websocket.opcode in {1, 2})",
    ]

    /// Real captures: plain and deflate peers, fragments, IPv6, a refused upgrade, a reset, loss,
    /// duplicates, a proxy, the application-protocol peers.
    static let captures = [
        "seed-walkthrough.pcap",
        "websocket/ws-deflate-fragmented.pcap", "websocket/ws-fragmented.pcap", "websocket/ws-ipv6.pcap",
        "websocket/ws-rejected-upgrade.pcap", "websocket/ws-rst-no-close.pcap", "websocket/ws-sizes.pcap",
        "peers/ws-gorilla.pcap", "peers/ws-nginx-proxy.pcap",
        "tcp/netem-loss.pcap", "tcp/netem-duplicate.pcap", "tcp/tcp-captured-twice.pcap",
        "apps/mqtt-v311.pcap", "apps/socketio-websocket.pcap", "apps/stomp-rabbitmq.pcap",
    ]

    /// Where tshark and wstrace differ, and why (the RFC, or what a row is, decides).
    static let differences: [String: String] = [
        // A row is one frame: tshark tests a packet's fields together ("!=" and "===" over all of
        // a packet's frames), wstrace tests each frame's row. nginx relays eight frames in one
        // packet; netem-loss's packet 50 holds a text frame and a ping.
        "peers/ws-nginx-proxy.pcap|websocket.opcode != 1": "several frames in one packet",
        "peers/ws-nginx-proxy.pcap|websocket.opcode === 2": "several frames in one packet",
        "peers/ws-nginx-proxy.pcap|websocket && !(websocket.opcode in {1, 2})": "several frames in one packet",
        "tcp/netem-loss.pcap|websocket.opcode != 1": "a text frame and a ping in one packet",
        "tcp/netem-loss.pcap|websocket && !(websocket.opcode in {1, 2})": "a text frame and a ping in one packet",
        // Packet 42 completes one frame and carries the start of the next: a frame row and a
        // progress row; tshark's packet has websocket.
        "tcp/netem-loss.pcap|!websocket && tcp.len > 0": "a frame row and a progress row in one packet",
        // A fragmented text message whose final frame is empty: wstrace gives the joined text to
        // the row that completes the message, tshark shows no text for an empty frame.
        "websocket/ws-fragmented.pcap|websocket.payload.text contains \"e\"": "an empty final frame completes a text message",
        "websocket/ws-deflate-fragmented.pcap|websocket.payload.text contains \"e\"": "an empty final frame completes a text message",
        "peers/ws-gorilla.pcap|websocket.payload.text contains \"e\"": "an empty final frame completes a text message",
    ]

    static func tsharkPackets(_ tshark: URL, _ path: String, _ expression: String) throws -> Set<Int> {
        let r = try Tools.run(tshark, ["-r", path, "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", expression,
                                       "-T", "fields", "-e", "frame.number"])
        #expect(r.status == 0, "tshark -Y '\(expression)' failed on \(path): \(r.stderr)")
        return Set(r.text.split(separator: "\n").compactMap { Int($0) })
    }

    /// The NDJSON event lines `read -Y expression` prints.
    static func rows(_ path: String, _ expression: String?, threads: Int = 1) throws -> [String] {
        var args = ["read", path, "--format", "ndjson", "--threads", String(threads)]
        if let expression { args += ["-Y", expression] }
        let r = try Tools.wstrace(args)
        #expect(r.status == 0, "wstrace -Y '\(expression ?? "")' failed on \(path): \(r.stderr)")
        return r.text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("{\"type\":\"event\"") }
    }

    static func packet(_ line: String) -> Int {
        let start = line.range(of: "\"packet\":")!.upperBound
        return Int(line[start...].prefix { $0.isNumber })!
    }

    @Test(arguments: captures)
    func agreesWithTshark(_ capture: String) throws {
        guard let tshark = Tools.tshark() else { return }
        let path = Tools.fixtures.appendingPathComponent(capture).path
        var compared = 0
        for expression in Self.expressions {
            let ours = Set(try Self.rows(path, expression).map(Self.packet))
            let theirs = try Self.tsharkPackets(tshark, path, expression)
            if let why = Self.differences["\(capture)|\(expression)"] {
                // A named difference must still be one (else the table is stale).
                #expect(ours != theirs, "\(capture) '\(expression)': listed as differing (\(why)) but now agrees")
                continue
            }
            #expect(ours == theirs, "\(capture) '\(expression)': tshark only \(theirs.subtracting(ours).sorted()), wstrace only \(ours.subtracting(theirs).sorted())")
            compared += 1
        }
        #expect(compared >= 25)
    }

    /// `!A`, `A && B`, `A || B` are the complement, intersection and union of the rows, and the
    /// rows kept are the unfiltered rows, byte for byte.
    @Test(arguments: ["websocket/ws-fragmented.pcap", "apps/mqtt-v311.pcap", "tcp/netem-loss.pcap"])
    func setAlgebra(_ capture: String) throws {
        let path = Tools.fixtures.appendingPathComponent(capture).path
        let all = try Self.rows(path, nil)
        let pairs = [("websocket", "tcp.srcport > 30000"), ("tcp.len > 0", "wstrace.side == \"client\""),
                     ("wstrace.message", "websocket.mask == 1"), ("frame.number > 20", "tcp.flags.ack == 1")]
        func multiset(_ lines: [String]) -> [String: Int] { lines.reduce(into: [:]) { $0[$1, default: 0] += 1 } }
        let everything = multiset(all)
        for (a, b) in pairs {
            let ra = multiset(try Self.rows(path, a)), rb = multiset(try Self.rows(path, b))
            let notA = multiset(try Self.rows(path, "!(\(a))"))
            let and = multiset(try Self.rows(path, "(\(a)) && (\(b))")), or = multiset(try Self.rows(path, "(\(a)) || (\(b))"))
            #expect(!ra.isEmpty && ra.count < everything.count, "\(capture) '\(a)' should split the rows")
            for (line, n) in everything {
                let inA = ra[line] ?? 0, inB = rb[line] ?? 0
                #expect(inA == 0 || inA == n)
                #expect((notA[line] ?? 0) == (inA == 0 ? n : 0), "!(\(a))")
                #expect((and[line] ?? 0) == (inA > 0 && inB > 0 ? n : 0), "\(a) && \(b)")
                #expect((or[line] ?? 0) == (inA > 0 || inB > 0 ? n : 0), "\(a) || \(b)")
            }
            for line in ra.keys { #expect(everything[line] != nil, "a kept row differs from the unfiltered one") }
        }
    }

    @Test func errorsExit64WithACaret() throws {
        let path = Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap").path
        let cases: [(String, String, String)] = [
            // expression, the message's start, the caret line (under the fault)
            ("websocket.opcode = 8", "\"=\" is not an operator", "                     ^"),
            ("websocket.bogus == 1", "\"websocket.bogus\" is neither a field nor a protocol name.", "    ^~~~~~~~~~~~~~~"),
            ("tcp.port == ", "Unexpected end of filter expression.", "                ^"),
            ("(tcp.port == 1", "Unmatched parenthesis.", "    ^"),
            ("tcp.port in {80 x}", "\"x\" is not a valid number for tcp.port.", "                    ^"),
            ("http.request.uri matches \"(\"", "is not a valid regular expression", "                             ^~~"),
            ("tcp.port contains \"8\"", "\"tcp.port\" is not a text field", "    ^~~~~~~~"),
            ("websocket.opcode == 1 &&", "Unexpected end of filter expression.", "                            ^"),
        ]
        for (expression, message, caret) in cases {
            let r = try Tools.wstrace(["read", path, "-Y", expression])
            #expect(r.status == 64, "'\(expression)' should exit 64, not \(r.status)")
            #expect(r.stdout.isEmpty)
            let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.count >= 3, "'\(expression)': \(r.stderr)")
            guard lines.count >= 3 else { continue }
            #expect(lines[0].contains(message), "'\(expression)': \(lines[0])")
            #expect(lines[1] == "    " + expression)
            #expect(lines[2] == caret, "'\(expression)': caret line '\(lines[2])'")
        }
        // The same on every command that takes -Y.
        for command in [["stats", path], ["report", path, "-o", "/dev/null"]] {
            let r = try Tools.wstrace(command + ["-Y", "websocket.opcode = 8"])
            #expect(r.status == 64)
        }
        // A connection-level field cannot choose rows as they stream out.
        let r = try Tools.wstrace(["read", path, "-Y", "wstrace.cause == \"clean_close\""])
        #expect(r.status == 64 && r.stderr.contains("--summary"))
    }

    /// The summaries printed are those of connections with at least one matching row; a
    /// connection-level filter keeps the connections it matches; the capture object says
    /// which filter and how many rows; several workers give the same bytes.
    @Test func summariesAndCaptureObject() throws {
        let path = Tools.fixtures.appendingPathComponent("apps/socketio-websocket.pcap").path
        let all = try Tools.json(try Tools.wstrace(["read", path, "--format", "json", "--summary"]).stdout)
        let connections = try #require(all["connections"] as? [[String: Any]])
        #expect(connections.count == 3)
        // Only the third client (CONNECT_ERROR on /private) has a Socket.IO CONNECT_ERROR.
        let r = try Tools.wstrace(["read", path, "--format", "json", "-Y", "socketio.type == \"CONNECT_ERROR\""])
        let doc = try Tools.json(r.stdout)
        let events = try #require(doc["events"] as? [[String: Any]])
        let kept = try #require(doc["connections"] as? [[String: Any]])
        #expect(!events.isEmpty)
        #expect(Set(events.compactMap { $0["stream"] as? Int }) == Set(kept.compactMap { $0["stream"] as? Int }))
        #expect(kept.count == 1)
        let capture = try #require(doc["capture"] as? [String: Any])
        #expect(capture["filter"] as? String == "socketio.type == \"CONNECT_ERROR\"")
        #expect(capture["matched"] as? Int == events.count)
        // --summary with a row filter: the same connections, no events.
        let summary = try Tools.json(try Tools.wstrace(["read", path, "--format", "json", "--summary", "-Y", "socketio.type == \"CONNECT_ERROR\""]).stdout)
        #expect((summary["events"] as? [Any])?.isEmpty ?? true)
        #expect((summary["connections"] as? [[String: Any]])?.map { $0["stream"] as? Int } == kept.map { $0["stream"] as? Int })
        // A connection-level filter.
        let clean = try Tools.json(try Tools.wstrace(["read", path, "--format", "json", "--summary", "-Y", "wstrace.cause == \"clean_close\" && tcp.port == 20000"]).stdout)
        let expected = connections.filter { (($0["diagnosis"] as? [String: Any])?["cause"] as? String) == "clean_close" }
        #expect((clean["connections"] as? [[String: Any]])?.count == expected.count)
        // Workers: the same bytes as one thread, events and summaries.
        for format in ["text", "ndjson", "json"] {
            for extra in [[], ["--summary"]] {
                for filter in ["app.type == \"EVENT\" || tcp.flags.fin == 1", "tcp.stream == 1", "wstrace.cause == \"clean_close\""] {
                    if filter.hasPrefix("wstrace") && extra.isEmpty { continue }
                    let one = try Tools.wstrace(["read", path, "--format", format, "--threads", "1", "-Y", filter] + extra)
                    let three = try Tools.wstrace(["read", path, "--format", format, "--threads", "3", "-Y", filter] + extra)
                    #expect(one.status == 0 && one.stdout == three.stdout, "\(format) \(extra) \(filter)")
                }
            }
        }
    }

    /// docs/filters.md's table is `wstrace fields --markdown`: every field documented, none stale.
    @Test func fieldTableIsDocumented() throws {
        let doc = try String(contentsOf: Tools.root.appendingPathComponent("docs/filters.md"), encoding: .utf8)
        let r = try Tools.wstrace(["fields", "--markdown"])
        #expect(r.status == 0)
        #expect(r.text.split(separator: "\n").count > 100)
        #expect(doc.hasSuffix(r.text), "docs/filters.md must end with `wstrace fields --markdown`")
    }

    /// --decode-as and --no-app choose what the App stage does.
    @Test func decodeAsAndNoApp() throws {
        let path = Tools.fixtures.appendingPathComponent("apps/socketio-websocket.pcap").path
        func protos(_ extra: [String]) throws -> Set<String> {
            let lines = try Tools.wstrace(["read", path, "--format", "ndjson"] + extra).text.split(separator: "\n")
            var out = Set<String>()
            for line in lines {
                let o = try Tools.json(Data(line.utf8))
                for a in o["app"] as? [[String: Any]] ?? [] { out.insert(a["proto"] as! String) }
            }
            return out
        }
        #expect(try protos([]) == ["engine.io", "socket.io"])
        #expect(try protos(["--decode-as", "engine.io"]) == ["engine.io"])
        #expect(try protos(["--no-app"]).isEmpty)
        let bad = try Tools.wstrace(["read", path, "--decode-as", "smtp"])
        #expect(bad.status == 64)
    }
}

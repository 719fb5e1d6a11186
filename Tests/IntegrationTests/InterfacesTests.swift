import Foundation
import Testing

/// Captures of interfaces with different link types: one pcapng of several (dumpcap's capture
/// of `lo` and `any` at once, or mergecap's join of separate files), or separate files read as
/// one capture. libpcap reads one link type per file; each packet here is decoded with its own.
@Suite struct InterfacesTests {
    static let twoInterfaces = Tools.fixtures.appendingPathComponent("linktypes/dumpcap-two-interfaces.pcapng").path

    /// A tool of Wireshark's (a failure under CI when missing), and a new empty directory.
    static func tool(_ name: String) throws -> (URL, URL)? {
        guard let tool = Tools.which(name) else {
            if Tools.isCI { Issue.record("\(name) is required under CI (apt-get install tshark brings it)") }
            return nil
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("interfaces-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (tool, dir)
    }

    static func summary(_ paths: [String], threads: String) throws -> [String: Any] {
        let r = try Tools.wstrace(["read"] + paths + ["--summary", "--format", "json", "--threads", threads])
        #expect(r.status == 0, "\(paths): \(r.stderr)")
        return try Tools.json(r.stdout)
    }

    /// What a connection is, whatever the packets' numbers: its endpoints, what each side sent,
    /// how it closed and ended.
    static func connections(_ doc: [String: Any]) throws -> [String] {
        let all = try #require(doc["connections"] as? [[String: Any]])
        return try all.map { c in
            var kept: [String: Any] = [:]
            for key in ["client", "server", "messages", "verdict", "state", "websocket", "violations"] { kept[key] = c[key] }
            if var close = c["close"] as? [String: Any] {
                close["packets"] = nil  // numbers: the set is merged by time, the pcapng is in dumpcap's order
                kept["close"] = close
            }
            let data = try JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }.sorted()
    }

    /// The fixture: both sessions, each packet with its own link type; tshark finds the same
    /// WebSocket frames (it reads every interface); the capture names both link types.
    @Test func onePcapngOfTwoLinkTypes() throws {
        for threads in ["1", "2"] {
            let doc = try Self.summary([Self.twoInterfaces], threads: threads)
            let capture = try #require(doc["capture"] as? [String: Any])
            #expect(capture["link_type"] as? String == "EN10MB, LINUX_SLL")
            #expect(capture["packets"] as? Int == 44 && capture["tcp"] as? Int == 44)
            #expect(capture["websocket_connections"] as? Int == 2)
            #expect((capture["warnings"] as? [Any])?.isEmpty == true)
            let servers = try #require(doc["connections"] as? [[String: Any]]).compactMap { $0["server"] as? String }.sorted()
            #expect(servers == ["127.0.0.1:18008", "127.0.0.1:18009"])
            if let tshark = Tools.which("tshark") {
                let r = try Tools.run(tshark, ["-r", Self.twoInterfaces, "-Y", "websocket", "-T", "fields", "-e", "frame.number"])
                #expect(capture["frames"] as? Int == r.text.split(separator: "\n").count)
            } else if Tools.isCI {
                Issue.record("tshark is required under CI")
            }
        }
    }

    /// Hand-built (no tool here writes it): a pcapng with an interface of a link type wstrace
    /// does not decode (USER0, 147), second or first: its packet is numbered and counted, not
    /// decoded; the Ethernet interface's packets around it are.
    @Test(arguments: [false, true])
    func anInterfaceOfAnotherKindIsCountedNotDecoded(first: Bool) throws {
        func u32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
        func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
            return u32(type) + u32(UInt32(12 + padded.count)) + padded + u32(UInt32(12 + padded.count))
        }
        func packet(_ interface: UInt32, _ second: UInt64, _ data: [UInt8]) -> [UInt8] {
            let stamp = second * 1_000_000
            return block(6, u32(interface) + u32(UInt32(stamp >> 32)) + u32(UInt32(stamp & 0xffff_ffff))
                         + u32(UInt32(data.count)) + u32(UInt32(data.count)) + data)
        }
        // The seed's first two packets (a SYN and its SYN-ACK), each with its record header.
        let seed = try [UInt8](Data(contentsOf: Tools.fixtures.appendingPathComponent("seed-walkthrough.pcap")))
        let firstLength = Int(seed[32]) | Int(seed[33]) << 8
        let syn = Array(seed[40..<(40 + firstLength)])
        let second = 40 + firstLength + 16
        let synAck = Array(seed[second..<(second + (Int(seed[second - 8]) | Int(seed[second - 7]) << 8))])
        var file = block(0x0A0D_0D0A, u32(0x1A2B_3C4D) + u16(1) + u16(0) + u32(0xffff_ffff) + u32(0xffff_ffff))
        let ethernet = block(1, u16(1) + u16(0) + u32(262_144)), user0 = block(1, u16(147) + u16(0) + u32(262_144))
        file += first ? user0 + ethernet : ethernet + user0
        let (e, u): (UInt32, UInt32) = first ? (1, 0) : (0, 1)
        file += packet(e, 1_700_000_000, syn) + packet(u, 1_700_000_001, [1, 2, 3, 4, 5]) + packet(e, 1_700_000_002, synAck)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("user0-\(UUID().uuidString).pcapng").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let doc = try Self.summary([path], threads: "1")
        let capture = try #require(doc["capture"] as? [String: Any])
        #expect(capture["link_type"] as? String == (first ? "DLT 147, EN10MB" : "EN10MB, DLT 147"))  // (libpcap has no name for it)
        #expect(capture["packets"] as? Int == 3 && capture["tcp"] as? Int == 2 && capture["non_ip"] as? Int == 1)
        // A filter holds for the Ethernet interface's packets, whichever interface is first
        // (libpcap compiles none for USER0): the USER0 packet passes none.
        let filtered = try Tools.wstrace(["read", path, "--summary", "--format", "json", "-f", "tcp"])
        #expect(filtered.status == 0, "\(filtered.stderr)")
        let fc = try #require(try Tools.json(filtered.stdout)["capture"] as? [String: Any])
        #expect(fc["packets"] as? Int == 2 && fc["tcp"] as? Int == 2 && fc["non_ip"] as? Int == 0)
        let text = try Tools.wstrace(["read", path])
        #expect(text.status == 0)
        let lines = text.text.split(separator: "\n").filter { $0.contains("link type not decoded") }
        #expect(lines.count == 1, "\(text.text)")
    }

    /// Each interface's packets written to a file of its own (tshark -Y frame.interface_id), the
    /// two files read as one capture: the same connections as the file of both.
    @Test func eachInterfaceAsAFileOfItsOwn() throws {
        guard let (tshark, dir) = try Self.tool("tshark") else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        var parts: [String] = []
        for index in 0..<2 {
            let part = dir.appendingPathComponent("interface-\(index).pcapng").path
            let r = try Tools.run(tshark, ["-r", Self.twoInterfaces, "-Y", "frame.interface_id == \(index)", "-w", part])
            #expect(r.status == 0, "\(r.stderr)")
            parts.append(part)
        }
        let whole = try Self.connections(try Self.summary([Self.twoInterfaces], threads: "1"))
        #expect(whole.count == 2)
        for threads in ["1", "2"] {
            #expect(try Self.connections(try Self.summary(parts, threads: threads)) == whole, "--threads \(threads)")
        }
    }

    /// Files of three link types read as one capture equal mergecap's pcapng of them (which
    /// describes an interface per file): the same summaries, the same events in the same
    /// order, each event of the set saying its file.
    @Test func filesOfDifferentLinkTypesAreMergecapsJoin() throws {
        guard let (mergecap, dir) = try Self.tool("mergecap") else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = ["seed-walkthrough.pcap", "linktypes/sll2.pcap", "linktypes/sll.pcap"]
            .map { Tools.fixtures.appendingPathComponent($0).path }
        let merged = dir.appendingPathComponent("merged.pcapng").path
        let r = try Tools.run(mergecap, ["-F", "pcapng", "-w", merged] + files)
        #expect(r.status == 0, "\(r.stderr)")
        for threads in ["1", "2"] {
            let set = try Self.summary(files, threads: threads)
            let joined = try Self.summary([merged], threads: threads)
            let a = try JSONSerialization.data(withJSONObject: set["connections"] as Any, options: [.sortedKeys])
            let b = try JSONSerialization.data(withJSONObject: joined["connections"] as Any, options: [.sortedKeys])
            #expect(a == b, "--threads \(threads)")
            let sc = try #require(set["capture"] as? [String: Any])
            #expect(sc["link_type"] as? String == "EN10MB, LINUX_SLL2, LINUX_SLL")
            #expect(sc["websocket_connections"] as? Int == 3)
            let events = { (paths: [String]) throws -> [[String: Any]] in
                try Tools.wstrace(["read"] + paths + ["--format", "ndjson", "--threads", threads]).text
                    .split(separator: "\n").map { try Tools.json(Data($0.utf8)) }.filter { $0["type"] as? String == "event" }
            }
            let one = try events([merged]), many = try events(files)
            #expect(one.count == many.count && one.count > 60)
            for (o, var m) in zip(one, many) {
                #expect(m.removeValue(forKey: "file") != nil)
                #expect(NSDictionary(dictionary: o) == NSDictionary(dictionary: m))
            }
        }
    }
}

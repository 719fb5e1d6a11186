import Testing
import WSDecode
@testable import WSReassembly

/// The connection index is a hand-written open-addressing table (backward-shift deletion):
/// random inserts, replacements and removals must leave it agreeing with a `Dictionary`.
@Suite struct FlowTableTests {
    func key(_ n: Int, v6: Bool) -> FlowKey {
        let a = v6 ? IPAddress(ipv6High: 0x2001_0db8 << 32, low: UInt64(n % 37))
                   : IPAddress(ipv4: 0x0a00_0000 | UInt32(n % 37))
        return FlowKey(Endpoint(address: a, port: UInt16(1000 + n % 53)),
                       Endpoint(address: IPAddress(ipv4: 0x0a01_0001), port: 8080))
    }

    @Test func agreesWithADictionary() {
        var rng = SystemRandomNumberGenerator()
        var table = FlowTable(capacity: 4)  // small: grows many times
        var reference: [FlowKey: Connection] = [:]
        var connections: [Connection] = []
        for step in 0..<20_000 {
            let k = key(Int.random(in: 0..<600, using: &rng), v6: Bool.random(using: &rng))
            if Int.random(in: 0..<3, using: &rng) == 0 {
                table.remove(k)
                reference[k] = nil
            } else {
                let c = Connection(stream: step, client: k.low, server: k.high, midstream: false, time: 0)
                connections.append(c)
                table.insert(c, for: k)
                reference[k] = c
            }
            if step % 500 == 0 {
                #expect(table.count == reference.count)
                for (k, c) in reference { #expect(table[k] === c) }
                #expect(Set(table.entries.map(\.connection.stream)) == Set(reference.values.map(\.stream)))
            }
        }
        // Every key ever used: present exactly when the dictionary has it.
        for n in 0..<600 {
            for v6 in [false, true] {
                let k = key(n, v6: v6)
                #expect(table[k] === reference[k])
            }
        }
        table.removeAll()
        #expect(table.count == 0 && table.entries.isEmpty)
    }
}

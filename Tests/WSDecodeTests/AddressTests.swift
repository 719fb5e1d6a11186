import Testing
@testable import WSDecode

@Suite struct AddressTests {
    @Test func ipv6TextFollowsRFC5952() {
        #expect(IPAddress(ipv6High: 0, low: 1).text == "::1")
        #expect(IPAddress(ipv6High: 0x2001_0db8_0000_0000, low: 0x0000_0000_0000_0001).text == "2001:db8::1")
        // The longest zero run is compressed; on a tie, the first.
        #expect(IPAddress(ipv6High: 0x2001_0db8_0000_0000, low: 0x0001_0000_0000_0001).text == "2001:db8::1:0:0:1")
        // A single zero group is not compressed.
        #expect(IPAddress(ipv6High: 0x2001_0db8_0000_0001, low: 0x0001_0001_0001_0001).text == "2001:db8:0:1:1:1:1:1")
        #expect(IPAddress(ipv6High: 0, low: 0x0000_ffff_c000_0201).text == "::ffff:192.0.2.1")
        #expect(IPAddress(ipv6High: 0, low: 0).text == "::")
    }

    @Test func endpointText() {
        #expect(Endpoint(address: IPAddress(ipv4: 0x7f00_0001), port: 80).text == "127.0.0.1:80")
        #expect(Endpoint(address: IPAddress(ipv6High: 0, low: 1), port: 8080).text == "[::1]:8080")
    }

    @Test func linkTypesFromDLT() {
        #expect(LinkType(dlt: 1) == .ethernet)
        #expect(LinkType(dlt: 113) == .linuxSLL)
        #expect(LinkType(dlt: 276) == .linuxSLL2)
        #expect(LinkType(dlt: 0) == .null)
        #expect(LinkType(dlt: 108) == .loop)
        #expect(LinkType(dlt: 12) == .raw)
        #expect(LinkType(dlt: 228) == .ipv4)
        #expect(LinkType(dlt: 229) == .ipv6)
        #expect(LinkType(dlt: 105) == nil)  // 802.11: not supported
    }
}

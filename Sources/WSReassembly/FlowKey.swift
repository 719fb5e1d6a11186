import WSDecode

/// Both directions of a 4-tuple map to one key.
struct FlowKey: Hashable {
    var low: Endpoint
    var high: Endpoint

    @inline(__always)
    init(_ a: Endpoint, _ b: Endpoint) {
        if a < b { low = a; high = b } else { low = b; high = a }
    }
}

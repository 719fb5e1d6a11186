/// The phase of a connection's life an event belongs to.
public enum Phase: String, Sendable, Hashable, CaseIterable {
    case handshake
    case upgrade
    case data
    case close
    case teardown
    case other
}

/// The phase of a connection's life an event belongs to.
public enum Phase: String, Sendable, Hashable, CaseIterable {
    case handshake
    /// wss: the TLS handshake, after TCP's and before the HTTP Upgrade.
    case tls
    case upgrade
    case data
    case close
    case teardown
    case other
}

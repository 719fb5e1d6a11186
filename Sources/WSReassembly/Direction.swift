/// Which way a segment travels, relative to the connection's roles.
public enum Direction: UInt8, Sendable, Hashable {
    case clientToServer
    case serverToClient

    public var reversed: Direction { self == .clientToServer ? .serverToClient : .clientToServer }
}

/// Why a live capture could not be started, sorted so the command line can say what to do.
public struct LiveCaptureError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Kind: Sendable, Equatable {
        /// libpcap knows no device by that name.
        case noSuchDevice
        /// The process may not open a capture socket (needs root or CAP_NET_RAW + CAP_NET_ADMIN).
        case permissionDenied
        /// Any other failure (device down, bad option, ...).
        case other
    }

    /// The kind of failure.
    public var kind: Kind
    /// The failure as the capture layer reports it (`CaptureError.live`).
    public var error: CaptureError

    public init(kind: Kind, error: CaptureError) {
        self.kind = kind
        self.error = error
    }

    public var description: String { error.description }
}

/// What reassembly hands to the layer above, in order.
///
/// `bytes` borrows the current packet or the reassembler's buffers: valid only during the call.
public enum StreamEvent {
    /// In-order payload bytes of `direction`, starting at stream `offset`, first captured in
    /// packet `sourcePacket`.
    case data(stream: Int, direction: Direction, bytes: UnsafeRawBufferPointer, sourcePacket: Int, offset: UInt64)
    /// `size` bytes at `offset` were never captured and are skipped.
    case gap(stream: Int, direction: Direction, size: UInt64, offset: UInt64, reason: GapReason)
    /// `direction` ended: its FIN was reached in order, or the connection was reset.
    case end(stream: Int, direction: Direction, reset: Bool)
    /// The connection's state was dropped; no more events for `stream`.
    case released(stream: Int, reason: ReleaseReason)
}

/// Standard name of a close status code (RFC 6455 section 7.4, IANA registry):
/// 1000-1015 by name, "Registered" for 3000-3999, "Private" for 4000-4999, "Unassigned" for
/// other codes in 1000-2999 and "Invalid" below 1000 or from 5000.
public func closeCodeName(_ code: UInt16) -> String {
    switch code {
    case 1000: return "Normal Closure"
    case 1001: return "Going Away"
    case 1002: return "Protocol Error"
    case 1003: return "Unsupported Data"
    case 1004: return "Reserved"
    case 1005: return "No Status Received"
    case 1006: return "Abnormal Closure"
    case 1007: return "Invalid Frame Payload Data"
    case 1008: return "Policy Violation"
    case 1009: return "Message Too Big"
    case 1010: return "Mandatory Extension"
    case 1011: return "Internal Error"
    case 1012: return "Service Restart"
    case 1013: return "Try Again Later"
    case 1014: return "Bad Gateway"
    case 1015: return "TLS Handshake"
    case 1016...2999: return "Unassigned"
    case 3000...3999: return "Registered"
    case 4000...4999: return "Private"
    default: return "Invalid"
    }
}

/// Whether an endpoint may send `code` in a Close frame (RFC 6455 section 7.4.1): not 1004,
/// 1005, 1006, 1015, unassigned codes or codes outside 1000-4999.
public func closeCodeAllowedOnWire(_ code: UInt16) -> Bool {
    switch code {
    case 1000...1003, 1007...1014: return true
    case 3000...4999: return true
    default: return false
    }
}

/// Name of a frame opcode: continuation, text, binary, close, ping, pong or reserved-N.
public func opcodeName(_ opcode: UInt8) -> String {
    if let name = opcodeNameLiteral(opcode) { return "\(name)" }
    return "reserved-\(opcode)"
}

/// `opcodeName` of a defined opcode, as a literal (nil for a reserved one: "reserved-N").
public func opcodeNameLiteral(_ opcode: UInt8) -> StaticString? {
    switch opcode {
    case 0: return "continuation"
    case 1: return "text"
    case 2: return "binary"
    case 8: return "close"
    case 9: return "ping"
    case 10: return "pong"
    default: return nil
    }
}

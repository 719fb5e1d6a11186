/// The hash a suite's key schedule uses (TLS 1.3 HKDF, TLS 1.2 PRF).
public enum TLSHash: Sendable {
    case sha256, sha384

    public var length: Int { self == .sha256 ? 32 : 48 }
}

/// How a suite protects records.
enum RecordProtection: Sendable, Equatable {
    /// AES-GCM with a key of 16 or 32 bytes.
    case aesGCM(keyLength: Int)
    case chacha20Poly1305
    /// AES-CBC with a key of 16 or 32 bytes and an HMAC of the given hash.
    case aesCBC(keyLength: Int, mac: MACHash)
}

enum MACHash: Sendable, Equatable {
    case sha1, sha256, sha384

    var length: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha384: 48
        }
    }
}

/// One cipher suite as IANA names it, and what decrypting it takes (nil: not supported here).
public struct CipherSuite: Sendable {
    public let id: UInt16
    public let name: String
    /// A TLS 1.3 suite (its name has no key exchange).
    public let isTLS13: Bool
    let protection: RecordProtection?
    let hash: TLSHash

    public var isSupported: Bool { protection != nil }

    /// The suite with this IANA number; unknown numbers get a hex name and no protection.
    public static func named(_ id: UInt16) -> CipherSuite {
        if let suite = table[id] { return suite }
        return CipherSuite(id: id, name: "0x" + hex16(id), isTLS13: false, protection: nil, hash: .sha256)
    }

    private static func hex16(_ v: UInt16) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(v >> 12)], digits[Int(v >> 8 & 15)], digits[Int(v >> 4 & 15)], digits[Int(v & 15)]])
    }

    private static let table: [UInt16: CipherSuite] = {
        var t: [UInt16: CipherSuite] = [:]
        func add(_ id: UInt16, _ name: String, _ p: RecordProtection?, _ hash: TLSHash = .sha256, tls13: Bool = false) {
            t[id] = CipherSuite(id: id, name: name, isTLS13: tls13, protection: p, hash: hash)
        }
        // TLS 1.3 (RFC 8446 appendix B.4).
        add(0x1301, "TLS_AES_128_GCM_SHA256", .aesGCM(keyLength: 16), tls13: true)
        add(0x1302, "TLS_AES_256_GCM_SHA384", .aesGCM(keyLength: 32), .sha384, tls13: true)
        add(0x1303, "TLS_CHACHA20_POLY1305_SHA256", .chacha20Poly1305, tls13: true)
        add(0x1304, "TLS_AES_128_CCM_SHA256", nil, tls13: true)
        add(0x1305, "TLS_AES_128_CCM_8_SHA256", nil, tls13: true)
        // TLS 1.2 AEAD (RFC 5288, 5289, 7905). The key exchange does not matter with a key log.
        add(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", .aesGCM(keyLength: 16))
        add(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", .aesGCM(keyLength: 32), .sha384)
        add(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", .aesGCM(keyLength: 16))
        add(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", .aesGCM(keyLength: 32), .sha384)
        add(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", .aesGCM(keyLength: 16))
        add(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", .aesGCM(keyLength: 32), .sha384)
        add(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", .aesGCM(keyLength: 16))
        add(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", .aesGCM(keyLength: 32), .sha384)
        add(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", .chacha20Poly1305)
        add(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", .chacha20Poly1305)
        add(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", .chacha20Poly1305)
        // TLS 1.2 CBC with HMAC (RFC 5246, 5289); the PRF is SHA-256 unless the MAC is SHA-384.
        add(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", .aesCBC(keyLength: 16, mac: .sha1))
        add(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", .aesCBC(keyLength: 32, mac: .sha1))
        add(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", .aesCBC(keyLength: 16, mac: .sha256))
        add(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", .aesCBC(keyLength: 32, mac: .sha256))
        add(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", .aesCBC(keyLength: 16, mac: .sha1))
        add(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", .aesCBC(keyLength: 32, mac: .sha1))
        add(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", .aesCBC(keyLength: 16, mac: .sha256))
        add(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", .aesCBC(keyLength: 32, mac: .sha256))
        add(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", .aesCBC(keyLength: 16, mac: .sha1))
        add(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", .aesCBC(keyLength: 32, mac: .sha1))
        add(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", .aesCBC(keyLength: 16, mac: .sha1))
        add(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", .aesCBC(keyLength: 32, mac: .sha1))
        add(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", .aesCBC(keyLength: 16, mac: .sha256))
        add(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", .aesCBC(keyLength: 32, mac: .sha384), .sha384)
        add(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", .aesCBC(keyLength: 16, mac: .sha256))
        add(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", .aesCBC(keyLength: 32, mac: .sha384), .sha384)
        // Named so that a capture using them says which suite it could not decrypt.
        add(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", nil)
        add(0x0005, "TLS_RSA_WITH_RC4_128_SHA", nil)
        add(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", nil)
        add(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", nil)
        add(0xC09C, "TLS_RSA_WITH_AES_128_CCM", nil)
        add(0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", nil)
        return t
    }()
}

/// "TLS 1.2" for 0x0303 and so on; hex for anything else.
public func tlsVersionName(_ v: UInt16) -> String {
    switch v {
    case 0x0300: "SSL 3.0"
    case 0x0301: "TLS 1.0"
    case 0x0302: "TLS 1.1"
    case 0x0303: "TLS 1.2"
    case 0x0304: "TLS 1.3"
    default: "0x" + String(v, radix: 16)
    }
}

/// Alert levels: "warning" (1), "fatal" (2), else the number.
public func tlsAlertLevelName(_ level: UInt8) -> String {
    level == 2 ? "fatal" : level == 1 ? "warning" : String(level)
}

/// Alert descriptions (RFC 8446 section 6, RFC 5246 section 7.2).
public func tlsAlertName(_ d: UInt8) -> String {
    switch d {
    case 0: "close_notify"
    case 10: "unexpected_message"
    case 20: "bad_record_mac"
    case 21: "decryption_failed"
    case 22: "record_overflow"
    case 40: "handshake_failure"
    case 42: "bad_certificate"
    case 43: "unsupported_certificate"
    case 44: "certificate_revoked"
    case 45: "certificate_expired"
    case 46: "certificate_unknown"
    case 47: "illegal_parameter"
    case 48: "unknown_ca"
    case 49: "access_denied"
    case 50: "decode_error"
    case 51: "decrypt_error"
    case 70: "protocol_version"
    case 71: "insufficient_security"
    case 80: "internal_error"
    case 86: "inappropriate_fallback"
    case 90: "user_canceled"
    case 100: "no_renegotiation"
    case 109: "missing_extension"
    case 110: "unsupported_extension"
    case 112: "unrecognized_name"
    case 113: "bad_certificate_status_response"
    case 115: "unknown_psk_identity"
    case 116: "certificate_required"
    case 120: "no_application_protocol"
    default: "alert \(d)"
    }
}

/// Handshake message names (RFC 8446 section 4, RFC 5246 section 7.4).
public func tlsHandshakeName(_ t: UInt8) -> String {
    switch t {
    case 0: "Hello Request"
    case 1: "Client Hello"
    case 2: "Server Hello"
    case 4: "New Session Ticket"
    case 5: "End of Early Data"
    case 8: "Encrypted Extensions"
    case 11: "Certificate"
    case 12: "Server Key Exchange"
    case 13: "Certificate Request"
    case 14: "Server Hello Done"
    case 15: "Certificate Verify"
    case 16: "Client Key Exchange"
    case 20: "Finished"
    case 22: "Certificate Status"
    case 24: "Key Update"
    case 254: "Message Hash"
    default: "Handshake \(t)"
    }
}

import Crypto

/// TLS key derivation, every primitive from swift-crypto.
public enum TLSKeySchedule {
    /// HKDF-Expand-Label (RFC 8446 section 7.1): HKDF-Expand(secret, HkdfLabel, length) with the
    /// label prefixed by "tls13 ".
    public static func expandLabel(secret: [UInt8], label: String, context: [UInt8] = [], length: Int,
                                   hash: TLSHash) -> [UInt8] {
        let fullLabel = Array(("tls13 " + label).utf8)
        var info: [UInt8] = [UInt8(length >> 8), UInt8(length & 0xFF), UInt8(fullLabel.count)]
        info += fullLabel
        info.append(UInt8(context.count))
        info += context
        let prk = SymmetricKey(data: secret)
        let key: SymmetricKey
        switch hash {
        case .sha256: key = HKDF<SHA256>.expand(pseudoRandomKey: prk, info: info, outputByteCount: length)
        case .sha384: key = HKDF<SHA384>.expand(pseudoRandomKey: prk, info: info, outputByteCount: length)
        }
        return key.withUnsafeBytes { Array($0) }
    }

    /// The write key and IV of a TLS 1.3 traffic secret (RFC 8446 section 7.3).
    public static func trafficKeys(secret: [UInt8], keyLength: Int, hash: TLSHash) -> (key: [UInt8], iv: [UInt8]) {
        (expandLabel(secret: secret, label: "key", length: keyLength, hash: hash),
         expandLabel(secret: secret, label: "iv", length: 12, hash: hash))
    }

    /// The next application traffic secret after a KeyUpdate (RFC 8446 section 7.2).
    public static func nextTrafficSecret(_ secret: [UInt8], hash: TLSHash) -> [UInt8] {
        expandLabel(secret: secret, label: "traffic upd", length: hash.length, hash: hash)
    }

    /// The TLS 1.2 PRF (RFC 5246 section 5): P_hash(secret, label + seed) cut to `length`.
    public static func prf(secret: [UInt8], label: String, seed: [UInt8], length: Int, hash: TLSHash) -> [UInt8] {
        switch hash {
        case .sha256: return pHash(SHA256.self, secret: secret, seed: Array(label.utf8) + seed, length: length)
        case .sha384: return pHash(SHA384.self, secret: secret, seed: Array(label.utf8) + seed, length: length)
        }
    }

    private static func pHash<H: HashFunction>(_: H.Type, secret: [UInt8], seed: [UInt8], length: Int) -> [UInt8] {
        let key = SymmetricKey(data: secret)
        var out: [UInt8] = []
        out.reserveCapacity(length + H.Digest.byteCount)
        var a = seed
        while out.count < length {
            a = Array(HMAC<H>.authenticationCode(for: a, using: key))
            out += Array(HMAC<H>.authenticationCode(for: a + seed, using: key))
        }
        return Array(out.prefix(length))
    }
}

import Crypto
import WSTLS

/// Encrypts the generator's records as a TLS 1.3 (TLS_AES_128_GCM_SHA256) or TLS 1.2
/// (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) peer would: the benchmark's wss captures. The keys
/// come from random secrets that the generator writes to its key log.
struct TLSSealer {
    let tls13: Bool
    private let key: SymmetricKey
    private let iv: [UInt8]
    private var sequence: UInt64 = 0

    /// TLS 1.3: from a traffic secret (RFC 8446 section 7.3).
    init(tls13Secret secret: [UInt8]) {
        let (k, iv) = TLSKeySchedule.trafficKeys(secret: secret, keyLength: 16, hash: .sha256)
        tls13 = true
        key = SymmetricKey(data: k)
        self.iv = iv
    }

    /// TLS 1.2: a key and 4-byte salt from the key block.
    init(tls12Key k: [UInt8], salt: [UInt8]) {
        tls13 = false
        key = SymmetricKey(data: k)
        iv = salt
    }

    /// Both directions' TLS 1.2 sealers from a master secret (RFC 5246 section 6.3).
    static func tls12(master: [UInt8], clientRandom: [UInt8], serverRandom: [UInt8]) -> (client: TLSSealer, server: TLSSealer) {
        let block = TLSKeySchedule.prf(secret: master, label: "key expansion", seed: serverRandom + clientRandom,
                                       length: 40, hash: .sha256)
        return (TLSSealer(tls12Key: Array(block[0..<16]), salt: Array(block[32..<36])),
                TLSSealer(tls12Key: Array(block[16..<32]), salt: Array(block[36..<40])))
    }

    /// One record of `type` carrying `plain` (at most 2^14 bytes).
    mutating func seal(type: UInt8, _ plain: ArraySlice<UInt8>) -> [UInt8] {
        let seq = (0..<8).map { UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64($0))) }
        defer { sequence += 1 }
        if tls13 {
            var nonce = iv
            for i in 0..<8 { nonce[4 + i] ^= seq[i] }
            let inner = Array(plain) + [type]
            let length = inner.count + 16
            let header: [UInt8] = [23, 3, 3, UInt8(length >> 8), UInt8(length & 0xFF)]
            let box = try! AES.GCM.seal(inner, using: key, nonce: try! AES.GCM.Nonce(data: nonce), authenticating: header)
            return header + Array(box.ciphertext) + Array(box.tag)
        }
        let aad = seq + [type, 3, 3, UInt8(plain.count >> 8), UInt8(plain.count & 0xFF)]
        let box = try! AES.GCM.seal(Array(plain), using: key, nonce: try! AES.GCM.Nonce(data: iv + seq), authenticating: aad)
        let length = 8 + plain.count + 16
        return [type, 3, 3, UInt8(length >> 8), UInt8(length & 0xFF)] + seq + Array(box.ciphertext) + Array(box.tag)
    }

    /// Application bytes as records of at most 16 KiB.
    mutating func records(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + (bytes.count / 16_384 + 1) * 29)
        var at = 0
        while at < bytes.count {
            let end = min(bytes.count, at + 16_384)
            out += seal(type: 23, bytes[at..<end])
            at = end
        }
        return out
    }
}

import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials  // Data, without the rest of Foundation (and its ICU data) in the binary
#else
import Foundation
#endif
import _CryptoExtras

/// A decrypted record: its content type and its content, the first `length` bytes of `data`
/// (TLS 1.3's inner type and padding, or TLS 1.2 CBC's MAC and padding, lie past it).
struct OpenedRecord {
    var type: UInt8
    var data: Data
    var length: Int

    /// The content as an array (tests).
    var plaintext: [UInt8] { Array(data.prefix(length)) }

    func withContent<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        data.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
    }
}

/// Why a record could not be decrypted.
enum RecordError: Error, Equatable {
    /// The AEAD tag or the HMAC did not match: a wrong key, a wrong sequence number, or damage.
    case authentication
    /// The record is too short or badly padded for its cipher.
    case malformed
}

/// A buffer reused for every record: swift-crypto's sealed box is built from one contiguous
/// nonce + ciphertext + tag (its cheapest form) without an allocation per record. One per
/// analysis (one thread), shared by all its connections, so memory does not grow with them.
public final class SealScratch {
    var bytes: [UInt8] = []
    public init() {}
}

/// One direction's record protection: the key material of a suite and the next sequence number.
struct RecordCipher {
    private let scratch: SealScratch
    let protection: RecordProtection
    let isTLS13: Bool
    private let key: SymmetricKey
    private let iv: [UInt8]
    private let macKey: SymmetricKey?
    let encryptThenMAC: Bool
    var sequence: UInt64 = 0

    /// TLS 1.3: keys derived from a traffic secret.
    init(tls13Secret secret: [UInt8], suite: CipherSuite, scratch: SealScratch) {
        self.scratch = scratch
        let protection = suite.protection ?? .aesGCM(keyLength: 16)
        let keyLength: Int
        switch protection {
        case .aesGCM(let n): keyLength = n
        case .chacha20Poly1305: keyLength = 32
        case .aesCBC(let n, _): keyLength = n
        }
        let (key, iv) = TLSKeySchedule.trafficKeys(secret: secret, keyLength: keyLength, hash: suite.hash)
        self.protection = protection
        self.isTLS13 = true
        self.key = SymmetricKey(data: key)
        self.iv = iv
        self.macKey = nil
        self.encryptThenMAC = false
    }

    /// TLS 1.2: one side's keys from the key block.
    init(tls12Protection protection: RecordProtection, key: [UInt8], iv: [UInt8], macKey: [UInt8]?, encryptThenMAC: Bool,
         scratch: SealScratch) {
        self.scratch = scratch
        self.protection = protection
        self.isTLS13 = false
        self.key = SymmetricKey(data: key)
        self.iv = iv
        self.macKey = macKey.map { SymmetricKey(data: $0) }
        self.encryptThenMAC = encryptThenMAC
    }

    /// The two directions' ciphers of a TLS 1.2 session (RFC 5246 section 6.3 key block).
    static func tls12Pair(master: [UInt8], clientRandom: [UInt8], serverRandom: [UInt8], suite: CipherSuite,
                          encryptThenMAC: Bool, scratch: SealScratch) -> (client: RecordCipher, server: RecordCipher)? {
        guard let protection = suite.protection else { return nil }
        let macLength: Int, keyLength: Int, ivLength: Int
        switch protection {
        case .aesGCM(let n): (macLength, keyLength, ivLength) = (0, n, 4)
        case .chacha20Poly1305: (macLength, keyLength, ivLength) = (0, 32, 12)
        case let .aesCBC(n, mac): (macLength, keyLength, ivLength) = (mac.length, n, 16)
        }
        let total = 2 * (macLength + keyLength + ivLength)
        let block = TLSKeySchedule.prf(secret: master, label: "key expansion", seed: serverRandom + clientRandom,
                                       length: total, hash: suite.hash)
        var at = 0
        func take(_ n: Int) -> [UInt8] { defer { at += n }; return Array(block[at..<(at + n)]) }
        let clientMAC = take(macLength), serverMAC = take(macLength)
        let clientKey = take(keyLength), serverKey = take(keyLength)
        let clientIV = take(ivLength), serverIV = take(ivLength)
        let etm: Bool
        if case .aesCBC = protection { etm = encryptThenMAC } else { etm = false }
        return (RecordCipher(tls12Protection: protection, key: clientKey, iv: clientIV,
                             macKey: macLength > 0 ? clientMAC : nil, encryptThenMAC: etm, scratch: scratch),
                RecordCipher(tls12Protection: protection, key: serverKey, iv: serverIV,
                             macKey: macLength > 0 ? serverMAC : nil, encryptThenMAC: etm, scratch: scratch))
    }

    /// Decrypts one record's fragment; on success the sequence number moves on. TLS 1.3 returns
    /// the inner content type and strips the padding; TLS 1.2 returns the record's own type.
    mutating func open(type: UInt8, version: UInt16, fragment: UnsafeRawBufferPointer) throws(RecordError) -> OpenedRecord {
        let result = try open(type: type, version: version, fragment: fragment, sequence: sequence)
        sequence &+= 1
        return result
    }

    /// Decrypts with a given sequence number, moving nothing (for resynchronising after a gap).
    func open(type: UInt8, version: UInt16, fragment: UnsafeRawBufferPointer, sequence seq: UInt64) throws(RecordError) -> OpenedRecord {
        switch protection {
        case .aesGCM, .chacha20Poly1305:
            return try openAEAD(type: type, version: version, fragment: fragment, sequence: seq)
        case .aesCBC(_, let mac):
            return try openCBC(type: type, version: version, fragment: fragment, sequence: seq, mac: mac)
        }
    }

    private static func sequenceBytes(_ seq: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: seq >> (56 - 8 * UInt64($0))) }
    }

    private func openAEAD(type: UInt8, version: UInt16, fragment: UnsafeRawBufferPointer, sequence seq: UInt64) throws(RecordError) -> OpenedRecord {
        let seqBytes = RecordCipher.sequenceBytes(seq)
        var nonce: [UInt8]
        var body = fragment
        let aad: [UInt8]
        let tlsGCM: Bool
        if case .aesGCM = protection, !isTLS13 { tlsGCM = true } else { tlsGCM = false }
        if tlsGCM {
            // RFC 5288: a 4-byte implicit salt and an 8-byte explicit nonce at the fragment's start.
            guard fragment.count >= 8 + 16 else { throw .malformed }
            nonce = iv + Array(fragment[0..<8])
            body = UnsafeRawBufferPointer(rebasing: fragment[8...])
        } else {
            // RFC 8446 section 5.3 and RFC 7905: the IV XOR the sequence number.
            guard fragment.count >= 16 else { throw .malformed }
            nonce = iv
            for i in 0..<8 { nonce[4 + i] ^= seqBytes[i] }
        }
        let cipherLength = body.count - 16
        if isTLS13 {
            aad = [type, UInt8(version >> 8), UInt8(version & 0xFF), UInt8(fragment.count >> 8), UInt8(fragment.count & 0xFF)]
        } else {
            aad = seqBytes + [type, UInt8(version >> 8), UInt8(version & 0xFF), UInt8(cipherLength >> 8), UInt8(cipherLength & 0xFF)]
        }
        // nonce + ciphertext + tag, contiguous: the body already ends with the tag.
        scratch.bytes.removeAll(keepingCapacity: true)
        scratch.bytes.append(contentsOf: nonce)
        scratch.bytes.append(contentsOf: body)
        let plain: Data
        do {
            switch protection {
            case .aesGCM:
                plain = try AES.GCM.open(AES.GCM.SealedBox(combined: scratch.bytes), using: key, authenticating: aad)
            default:
                plain = try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: scratch.bytes), using: key, authenticating: aad)
            }
        } catch {
            throw .authentication
        }
        guard isTLS13 else { return OpenedRecord(type: type, data: plain, length: plain.count) }
        // TLSInnerPlaintext: content, the real type, then zeros.
        let inner: (type: UInt8, length: Int)? = plain.withUnsafeBytes { b in
            var end = b.count
            while end > 0 && b[end - 1] == 0 { end -= 1 }
            return end > 0 ? (b[end - 1], end - 1) : nil
        }
        guard let inner else { throw .malformed }
        return OpenedRecord(type: inner.type, data: plain, length: inner.length)
    }

    private func hmac(_ mac: MACHash, _ parts: [UInt8]...) -> [UInt8] {
        guard let macKey else { return [] }
        switch mac {
        case .sha1:
            var h = HMAC<Insecure.SHA1>(key: macKey)
            for p in parts { h.update(data: p) }
            return Array(h.finalize())
        case .sha256:
            var h = HMAC<SHA256>(key: macKey)
            for p in parts { h.update(data: p) }
            return Array(h.finalize())
        case .sha384:
            var h = HMAC<SHA384>(key: macKey)
            for p in parts { h.update(data: p) }
            return Array(h.finalize())
        }
    }

    private func openCBC(type: UInt8, version: UInt16, fragment: UnsafeRawBufferPointer, sequence seq: UInt64,
                         mac: MACHash) throws(RecordError) -> OpenedRecord {
        let seqBytes = RecordCipher.sequenceBytes(seq)
        let header: (Int) -> [UInt8] = { n in seqBytes + [type, UInt8(version >> 8), UInt8(version & 0xFF), UInt8(n >> 8), UInt8(n & 0xFF)] }
        var encrypted = fragment
        if encryptThenMAC {
            // RFC 7366: the MAC covers the explicit IV and the ciphertext, and follows them.
            guard fragment.count >= 32 + mac.length else { throw .malformed }
            let macStart = fragment.count - mac.length
            encrypted = UnsafeRawBufferPointer(rebasing: fragment[..<macStart])
            let expected = hmac(mac, header(encrypted.count), Array(encrypted))
            guard expected.elementsEqual(fragment[macStart...]) else { throw .authentication }
        }
        guard encrypted.count >= 32, encrypted.count % 16 == 0 else { throw .malformed }
        let ivBytes = Array(encrypted[0..<16])
        let body = UnsafeRawBufferPointer(rebasing: encrypted[16...])
        var plain: [UInt8]
        do {
            plain = Array(try AES._CBC.decrypt(body, using: key, iv: AES._CBC.IV(ivBytes: ivBytes), noPadding: true))
        } catch {
            throw .malformed
        }
        // TLS padding: padLength + 1 bytes, each equal to padLength.
        guard let padLength = plain.last, Int(padLength) + 1 <= plain.count else { throw .authentication }
        let padStart = plain.count - Int(padLength) - 1
        guard plain[padStart...].allSatisfy({ $0 == padLength }) else { throw .authentication }
        plain.removeLast(Int(padLength) + 1)
        if encryptThenMAC { return OpenedRecord(type: type, data: Data(plain), length: plain.count) }
        guard plain.count >= mac.length else { throw .authentication }
        let macStart = plain.count - mac.length
        let content = Array(plain[..<macStart])
        let expected = hmac(mac, header(content.count), content)
        guard expected.elementsEqual(plain[macStart...]) else { throw .authentication }
        return OpenedRecord(type: type, data: Data(content), length: content.count)
    }
}

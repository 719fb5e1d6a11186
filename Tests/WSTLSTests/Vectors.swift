// Test vectors for the TLS decryption stage. Values only: no logic, no imports.
//
// Every constant is a lowercase hex string without spaces, copied mechanically (by a script that
// parsed the RFC's "label (N octets): hex" blocks and checked each length against N) from:
//
//   RFC 8448, "Example Handshake Traces for TLS 1.3" (M. Thomson, January 2019),
//   https://www.rfc-editor.org/rfc/rfc8448.txt, text as vendored verbatim in
//   aws/s2n-tls compliance/specs/www.rfc-editor.org/rfc/rfc8448.txt (last changed in b3142d646; 159343 bytes,
//   sha256 6564d1376d1ec744fc7a9993da15ebc1b9be361908b166091f47ef605c537fba).
//   "p. N" below is the RFC's own page number where the value begins.
//
// CAUTION: the tlswg/draft-ietf-tls-tls13-vectors drafts carry DIFFERENT traces (same layout,
// other randoms/keys, e.g. a server record starting 17 03 03 02 a2 d8 62 31 ...). Only the values
// below are the published RFC 8448 ones.
//
// Record layout reminders (RFC 8446 §5.2): a "complete record" is the 5-byte header
// (type 0x17, legacy version 0x0303, length) + AEAD ciphertext + 16-byte tag. The RFC's "payload"
// is the plaintext content WITHOUT the inner content type: the decrypted TLSInnerPlaintext is
// payload || content type (0x16 handshake, 0x17 application data, 0x15 alert), with no padding in
// these traces. Nonce = iv XOR (64-bit sequence number, left-padded to 12 bytes); additional data =
// the 5-byte record header. Sequence numbers restart at 0 for every new key.

/// RFC 8448 §3 "Simple 1-RTT Handshake": TLS_AES_128_GCM_SHA256, x25519, RSA certificate.
enum RFC8448 {
    /// Negotiated cipher suite TLS_AES_128_GCM_SHA256 = {0x13,0x01} (RFC 8446 §B.4); it is the
    /// cipher_suite field of the ServerHello below ("... 00 13 01 00 ...", RFC 8448 §3, p. 5).
    static let cipherSuite = "1301"
    static let cipherSuiteValue: UInt16 = 0x1301

    // MARK: Hellos (handshake messages include the 4-byte handshake header)

    /// ClientHello handshake message.
    /// RFC 8448 §3, p. 4: construct a ClientHello handshake message — "ClientHello" (196 octets).
    static let clientHello = "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001"

    /// ServerHello handshake message.
    /// RFC 8448 §3, p. 5: construct a ServerHello handshake message — "ServerHello" (90 octets).
    static let serverHello = "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304"

    /// ClientHello.random: bytes 6..<38 of `clientHello` (after type, 24-bit length, legacy_version 0303).
    /// RFC 8448 §3, p. 4 (not labelled separately in the RFC; sliced from the ClientHello above).
    static let clientRandom = "cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7"

    /// ServerHello.random: bytes 6..<38 of `serverHello`.
    /// RFC 8448 §3, p. 5 (not labelled separately in the RFC; sliced from the ServerHello above).
    static let serverRandom = "a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928"

    /// ClientHello as sent on the wire (plaintext record, legacy version 0301).
    /// RFC 8448 §3, p. 4: send handshake record — "complete record" (201 octets).
    static let clientHelloRecord = "16030100c4010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c00024001"

    /// ServerHello as sent on the wire (plaintext record).
    /// RFC 8448 §3, p. 7: send handshake record — "complete record" (95 octets).
    static let serverHelloRecord = "160303005a020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304"

    // MARK: Key schedule (SHA-256; every secret is 32 bytes)

    /// (EC)DHE shared secret = IKM of the handshake-secret extract.
    /// RFC 8448 §3, p. 5: extract secret "handshake" — "IKM" (32 octets).
    static let x25519SharedSecret = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d"

    /// Early secret = HKDF-Extract(0, 00…00).
    /// RFC 8448 §3, p. 4: extract secret "early" — "secret" (32 octets).
    static let earlySecret = "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"

    /// Handshake secret.
    /// RFC 8448 §3, p. 5: extract secret "handshake" — "secret" (32 octets).
    static let handshakeSecret = "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac"

    /// client_handshake_traffic_secret (Derive-Secret "tls13 c hs traffic"). Same line as SSLKEYLOGFILE CLIENT_HANDSHAKE_TRAFFIC_SECRET.
    /// RFC 8448 §3, p. 6: derive secret "tls13 c hs traffic" — "expanded" (32 octets).
    static let clientHandshakeTrafficSecret = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"

    /// server_handshake_traffic_secret (Derive-Secret "tls13 s hs traffic"). SSLKEYLOGFILE SERVER_HANDSHAKE_TRAFFIC_SECRET.
    /// RFC 8448 §3, p. 6: derive secret "tls13 s hs traffic" — "expanded" (32 octets).
    static let serverHandshakeTrafficSecret = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"

    /// Master secret.
    /// RFC 8448 §3, p. 7: extract secret "master" — "secret" (32 octets).
    static let masterSecret = "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919"

    /// client_application_traffic_secret_0 ("tls13 c ap traffic"). SSLKEYLOGFILE CLIENT_TRAFFIC_SECRET_0.
    /// RFC 8448 §3, p. 10: derive secret "tls13 c ap traffic" — "expanded" (32 octets).
    static let clientApplicationTrafficSecret0 = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"

    /// server_application_traffic_secret_0 ("tls13 s ap traffic"). SSLKEYLOGFILE SERVER_TRAFFIC_SECRET_0.
    /// RFC 8448 §3, p. 11: derive secret "tls13 s ap traffic" — "expanded" (32 octets).
    static let serverApplicationTrafficSecret0 = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"

    /// exporter_master_secret ("tls13 exp master"). SSLKEYLOGFILE EXPORTER_SECRET.
    /// RFC 8448 §3, p. 11: derive secret "tls13 exp master" — "expanded" (32 octets).
    static let exporterMasterSecret = "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50"

    /// resumption_master_secret ("tls13 res master").
    /// RFC 8448 §3, p. 14: derive secret "tls13 res master" — "expanded" (32 octets).
    static let resumptionMasterSecret = "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c"

    // MARK: Traffic keys (HKDF-Expand-Label(secret, "key", "", 16) / ("iv", "", 12))

    /// Server handshake write key (from serverHandshakeTrafficSecret).
    /// RFC 8448 §3, p. 7: derive write traffic keys for handshake data — "key expanded" (16 octets).
    static let serverHandshakeKey = "3fce516009c21727d0f2e4e86ee403bc"

    /// Server handshake write IV.
    /// RFC 8448 §3, p. 7: derive write traffic keys for handshake data — "iv expanded" (12 octets).
    static let serverHandshakeIV = "5d313eb2671276ee13000b30"

    /// Client handshake write key (from clientHandshakeTrafficSecret; the RFC prints it as the server's handshake READ key).
    /// RFC 8448 §3, p. 11: derive read traffic keys for handshake data — "key expanded" (16 octets).
    static let clientHandshakeKey = "dbfaa693d1762c5b666af5d950258d01"

    /// Client handshake write IV (printed as the server's handshake read IV).
    /// RFC 8448 §3, p. 11: derive read traffic keys for handshake data — "iv expanded" (12 octets).
    static let clientHandshakeIV = "5bd3c71b836e0b76bb73265f"

    /// Server application write key (from serverApplicationTrafficSecret0).
    /// RFC 8448 §3, p. 11: derive write traffic keys for application data — "key expanded" (16 octets).
    static let serverApplicationKey = "9f02283b6c9c07efc26bb9f2ac92e356"

    /// Server application write IV.
    /// RFC 8448 §3, p. 11: derive write traffic keys for application data — "iv expanded" (12 octets).
    static let serverApplicationIV = "cf782b88dd83549aadf1e984"

    /// Client application write key (from clientApplicationTrafficSecret0).
    /// RFC 8448 §3, p. 13: derive write traffic keys for application data — "key expanded" (16 octets).
    static let clientApplicationKey = "17422dda596ed5d9acd890e3c63f5051"

    /// Client application write IV.
    /// RFC 8448 §3, p. 13: derive write traffic keys for application data — "iv expanded" (12 octets).
    static let clientApplicationIV = "5b78923dee08579033e523d9"

    // MARK: Server's encrypted flight (server handshake key, sequence number 0)

    /// EncryptedExtensions handshake message.
    /// RFC 8448 §3, p. 7: construct an EncryptedExtensions handshake message — "EncryptedExtensions" (40 octets).
    static let encryptedExtensions = "080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000"

    /// Certificate handshake message.
    /// RFC 8448 §3, p. 7: construct a Certificate handshake message — "Certificate" (445 octets).
    static let certificate = "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de10000"

    /// CertificateVerify handshake message.
    /// RFC 8448 §3, p. 8: construct a CertificateVerify handshake message — "CertificateVerify" (136 octets).
    static let certificateVerify = "0f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3"

    /// Server Finished handshake message.
    /// RFC 8448 §3, p. 8: construct a Finished handshake message — "Finished" (36 octets).
    static let serverFinished = "140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718"

    /// Plaintext of the server's encrypted handshake record: EncryptedExtensions || Certificate || CertificateVerify || Finished (inner content type 0x16 not included).
    /// RFC 8448 §3, p. 9: send handshake record — "payload" (657 octets).
    static let serverHandshakeRecordPlaintext = "080000240022000a00140012001d00170018001901000101010201030104001c00024001000000000b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de100000f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718"

    /// Server's encrypted handshake record as on the wire (header 17 03 03 02 a2).
    /// RFC 8448 §3, p. 9: send handshake record — "complete record" (679 octets).
    static let serverHandshakeRecord = "17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35edf7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13bd9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd610928d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead686945ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b3684596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b659622245317b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426f7d461e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c66a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e275592c12335ee340bbc4fddd502784016e4b3be7ef04dda49f4b440a30cb5d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e750edc53370d2b"

    // MARK: Client Finished (client handshake key, sequence number 0)

    /// Client Finished handshake message.
    /// RFC 8448 §3, p. 13: construct a Finished handshake message — "Finished" (36 octets).
    static let clientFinished = "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61"

    /// Plaintext of the client's Finished record (inner content type 0x16 not included).
    /// RFC 8448 §3, p. 13: send handshake record — "payload" (36 octets).
    static let clientFinishedRecordPlaintext = "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61"

    /// Client's encrypted Finished record as on the wire (header 17 03 03 00 35).
    /// RFC 8448 §3, p. 13: send handshake record — "complete record" (58 octets).
    static let clientFinishedRecord = "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546"

    // MARK: Application traffic (application keys). Server side: NewSessionTicket is seq 0,
    // application data seq 1, alert seq 2. Client side: application data seq 0, alert seq 1.

    /// NewSessionTicket handshake message.
    /// RFC 8448 §3, p. 14: construct a NewSessionTicket handshake message — "NewSessionTicket" (205 octets).
    static let newSessionTicket = "040000c90000001efad6aac502000000b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d3570008002a000400000400"

    /// Plaintext of the server's NewSessionTicket record (inner content type 0x16 not included).
    /// RFC 8448 §3, p. 14: send handshake record — "payload" (205 octets).
    static let newSessionTicketRecordPlaintext = "040000c90000001efad6aac502000000b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d3570008002a000400000400"

    /// Server's encrypted NewSessionTicket record (server application key, seq 0).
    /// RFC 8448 §3, p. 15: send handshake record — "complete record" (227 octets).
    static let newSessionTicketRecord = "17030300de3a6b8f90414a97d6959c3487680de5134a2b240e6cffac116e95d41d6af8f6b580dcf3d11d63c758db289a015940252f55713e061dc13e078891a38efbcf5753ad8ef170ad3c7353d16d9da773b9ca7f2b9fa1b6c0d4a3d03f75e09c30ba1e62972ac46f75f7b981be63439b2999ce13064615139891d5e4c5b406f16e3fc181a77ca475840025db2f0a77f81b5ab05b94c01346755f69232c86519d86cbeeac87aac347d143f9605d64f650db4d023e70e952ca49fe5137121c74bc2697687e248746d6df353005f3bce18696129c8153556b3b6c6779b37bf15985684f"

    /// Client application data: the 50 bytes 00 01 … 31 (inner content type 0x17 not included).
    /// RFC 8448 §3, p. 15: send application_data record — "payload" (50 octets).
    static let clientApplicationDataPlaintext = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"

    /// Client's encrypted application data record (client application key, seq 0).
    /// RFC 8448 §3, p. 15: send application_data record — "complete record" (72 octets).
    static let clientApplicationDataRecord = "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4"

    /// Server application data: the 50 bytes 00 01 … 31 (inner content type 0x17 not included).
    /// RFC 8448 §3, p. 15: send application_data record — "payload" (50 octets).
    static let serverApplicationDataPlaintext = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"

    /// Server's encrypted application data record (server application key, seq 1).
    /// RFC 8448 §3, p. 15: send application_data record — "complete record" (72 octets).
    static let serverApplicationDataRecord = "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb501a59a8fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d"

    /// Client close_notify alert (01 00; inner content type 0x15 not included).
    /// RFC 8448 §3, p. 15: send alert record — "payload" (2 octets).
    static let clientAlertPlaintext = "0100"

    /// Client's encrypted alert record (client application key, seq 1).
    /// RFC 8448 §3, p. 16: send alert record — "complete record" (24 octets).
    static let clientAlertRecord = "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3"

    /// Server close_notify alert (01 00; inner content type 0x15 not included).
    /// RFC 8448 §3, p. 16: send alert record — "payload" (2 octets).
    static let serverAlertPlaintext = "0100"

    /// Server's encrypted alert record (server application key, seq 2).
    /// RFC 8448 §3, p. 16: send alert record — "complete record" (24 octets).
    static let serverAlertRecord = "1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9"

    /// RFC 8448 §4 "Resumed 0-RTT Handshake" (resumes §3 with its ticket; PSK = HKDF-Expand-Label(
    /// resumptionMasterSecret, "resumption", 00 00, 32)). Same suite TLS_AES_128_GCM_SHA256.
    enum Resumed0RTT {
        /// PSK (= §3 resumption secret "tls13 resumption"): IKM of the early-secret extract.
        /// RFC 8448 §4, p. 16: extract secret "early" — "IKM" (32 octets).
        static let psk = "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3"

        /// Complete ClientHello handshake message (early_data + pre_shared_key, binders included): the record payload. Transcript input for "c e traffic".
        /// RFC 8448 §4, p. 18: send handshake record — "payload" (512 octets).
        static let clientHello = "010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc419d7876487d95000006130113031302010001cd0000000b0009000006736572766572ff01000100000a00140012001d00170018001901000101010201030104003300260024001d0020e4ffb68ac05f8d96c99da26698346c6be16482badddafe051a66b4f18d668f0b002a0000002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c0002400100150057000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002900dd00b800b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb0021203add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d"

        /// The RFC's "ClientHello (477 octets)": the partial ClientHello up to, not including, the binders list (input to the PSK binder hash). NOT the message on the wire.
        /// RFC 8448 §4, p. 16: construct a ClientHello handshake message — "ClientHello" (477 octets).
        static let clientHelloWithoutBinders = "010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc419d7876487d95000006130113031302010001cd0000000b0009000006736572766572ff01000100000a00140012001d00170018001901000101010201030104003300260024001d0020e4ffb68ac05f8d96c99da26698346c6be16482badddafe051a66b4f18d668f0b002a0000002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c0002400100150057000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002900dd00b800b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb"

        /// ClientHello as sent on the wire.
        /// RFC 8448 §4, p. 18: send handshake record — "complete record" (517 octets).
        static let clientHelloRecord = "1603010200010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc419d7876487d95000006130113031302010001cd0000000b0009000006736572766572ff01000100000a00140012001d00170018001901000101010201030104003300260024001d0020e4ffb68ac05f8d96c99da26698346c6be16482badddafe051a66b4f18d668f0b002a0000002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c0002400100150057000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002900dd00b800b22c035d829359ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb0021203add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d"

        /// ServerHello.
        /// RFC 8448 §4, p. 20: construct a ServerHello handshake message — "ServerHello" (96 octets).
        static let serverHello = "0200005c03033ccfd2dec890222763472ae8136777c9d7358777bb66e91ea5122495f559ea2d00130100003400290002000000330024001d0020121761ee42c333e1b9e77b60dd57c2053cd94512ab47f115e86eff50942cea31002b00020304"

        /// ServerHello as sent on the wire.
        /// RFC 8448 §4, p. 22: send handshake record — "complete record" (101 octets).
        static let serverHelloRecord = "16030300600200005c03033ccfd2dec890222763472ae8136777c9d7358777bb66e91ea5122495f559ea2d00130100003400290002000000330024001d0020121761ee42c333e1b9e77b60dd57c2053cd94512ab47f115e86eff50942cea31002b00020304"

        /// Early secret.
        /// RFC 8448 §4, p. 16: extract secret "early" — "secret" (32 octets).
        static let earlySecret = "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c"

        /// client_early_traffic_secret ("tls13 c e traffic"). SSLKEYLOGFILE CLIENT_EARLY_TRAFFIC_SECRET.
        /// RFC 8448 §4, p. 19: derive secret "tls13 c e traffic" — "expanded" (32 octets).
        static let clientEarlyTrafficSecret = "3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62"

        /// early_exporter_master_secret ("tls13 e exp master").
        /// RFC 8448 §4, p. 19: derive secret "tls13 e exp master" — "expanded" (32 octets).
        static let earlyExporterMasterSecret = "b2026866610937d7423e5be90862ccf24c0e6091186d34f812089ff5be2ef7df"

        /// Client early-data (0-RTT) write key.
        /// RFC 8448 §4, p. 20: derive write traffic keys for early application data — "key expanded" (16 octets).
        static let clientEarlyKey = "920205a5b7bf2115e6fc5c2942834f54"

        /// Client early-data (0-RTT) write IV.
        /// RFC 8448 §4, p. 20: derive write traffic keys for early application data — "iv expanded" (12 octets).
        static let clientEarlyIV = "6d475f0993c8e564610db2b9"

        /// 0-RTT application data (6 bytes; inner content type 0x17 not included).
        /// RFC 8448 §4, p. 20: send application_data record — "payload" (6 octets).
        static let earlyApplicationDataPlaintext = "414243444546"

        /// Client's 0-RTT application data record (early key, seq 0).
        /// RFC 8448 §4, p. 20: send application_data record — "complete record" (28 octets).
        static let earlyApplicationDataRecord = "1703030017ab1df420e75c457a7cc5d2844f76d5aee4b4edbf049be0"

        /// Handshake secret.
        /// RFC 8448 §4, p. 21: extract secret "handshake" — "secret" (32 octets).
        static let handshakeSecret = "005cb112fd8eb4ccc623bb88a07c64b3ede1605363fc7d0df8c7ce4ff0fb4ae6"

        /// client_handshake_traffic_secret.
        /// RFC 8448 §4, p. 21: derive secret "tls13 c hs traffic" — "expanded" (32 octets).
        static let clientHandshakeTrafficSecret = "2faac08f851d35fea3604fcb4de82dc62c9b164a70974d0462e27f1ab278700f"

        /// server_handshake_traffic_secret.
        /// RFC 8448 §4, p. 22: derive secret "tls13 s hs traffic" — "expanded" (32 octets).
        static let serverHandshakeTrafficSecret = "fe927ae271312e8bf0275b581c54eef020450dc4ecffaa05a1a35d27518e7803"

        /// Master secret.
        /// RFC 8448 §4, p. 22: extract secret "master" — "secret" (32 octets).
        static let masterSecret = "e2d32d4ed66dd37897a0e80c84107503ce58bf8aad4cb55a5002d77ecb890ece"

        /// Server handshake write key.
        /// RFC 8448 §4, p. 23: derive write traffic keys for handshake data — "key expanded" (16 octets).
        static let serverHandshakeKey = "27c6bdc0a3dcea39a47326d79bc9e4ee"

        /// Server handshake write IV.
        /// RFC 8448 §4, p. 23: derive write traffic keys for handshake data — "iv expanded" (12 octets).
        static let serverHandshakeIV = "9569ecdd4d0536705e9ef725"

        /// Plaintext of the server's encrypted handshake record: EncryptedExtensions || Finished.
        /// RFC 8448 §4, p. 24: send handshake record — "payload" (80 octets).
        static let serverHandshakeRecordPlaintext = "080000280026000a00140012001d00170018001901000101010201030104001c0002400100000000002a00001400002048d3e0e1b3d907c6acff145e16090388c77b05c050b634ab1a88bbd0dd1a34b2"

        /// Server's encrypted handshake record (server handshake key, seq 0).
        /// RFC 8448 §4, p. 24: send handshake record — "complete record" (102 octets).
        static let serverHandshakeRecord = "1703030061dc48237b4b879f50d0d4d262ea8b4716eb40ddc1eb957e11126e8a7149c2d012d37a7115957e64ce30008b9e0323f2c05a9c1c77b4f37849a695ab255060a33fee770ca95cb8486bfd0843b87024865ca35cc41c4e515c64dcb1369f98635bc7a5"

        /// client_application_traffic_secret_0.
        /// RFC 8448 §4, p. 24: derive secret "tls13 c ap traffic" — "expanded" (32 octets).
        static let clientApplicationTrafficSecret0 = "2abbf2b8e381d23dbebe1dd2a7d16a8bf484cb4950d23fb7fb7fa8547062d9a1"

        /// server_application_traffic_secret_0.
        /// RFC 8448 §4, p. 24: derive secret "tls13 s ap traffic" — "expanded" (32 octets).
        static let serverApplicationTrafficSecret0 = "cc21f1bf8feb7dd5fa505bd9c4b468a9984d554a993dc49e6d285598fb672691"

        /// Server application write key.
        /// RFC 8448 §4, p. 25: derive write traffic keys for application data — "key expanded" (16 octets).
        static let serverApplicationKey = "e857c690a34c5a9129d833619684f95e"

        /// Server application write IV.
        /// RFC 8448 §4, p. 25: derive write traffic keys for application data — "iv expanded" (12 octets).
        static let serverApplicationIV = "0685d6b561aab9ef1013faf9"

        /// EndOfEarlyData (05 00 00 00).
        /// RFC 8448 §4, p. 26: send handshake record — "payload" (4 octets).
        static let endOfEarlyDataPlaintext = "05000000"

        /// Client's EndOfEarlyData record (still the early key, seq 1).
        /// RFC 8448 §4, p. 26: send handshake record — "complete record" (26 octets).
        static let endOfEarlyDataRecord = "1703030015aca6fc944841298df99593725f9bf9754429b12f09"

        /// Client handshake write key.
        /// RFC 8448 §4, p. 26: derive write traffic keys for handshake data — "key expanded" (16 octets).
        static let clientHandshakeKey = "b1530806f4adfeac83f1413032bbfa82"

        /// Client handshake write IV.
        /// RFC 8448 §4, p. 26: derive write traffic keys for handshake data — "iv expanded" (12 octets).
        static let clientHandshakeIV = "eb50c16be7654abf99dd06d9"

        /// Client Finished.
        /// RFC 8448 §4, p. 27: send handshake record — "payload" (36 octets).
        static let clientFinishedRecordPlaintext = "140000207230a9c952c25cd6138fc5e6628308c41c5335dd81b9f96bcea50fd32bda416d"

        /// Client's encrypted Finished record (client handshake key, seq 0).
        /// RFC 8448 §4, p. 27: send handshake record — "complete record" (58 octets).
        static let clientFinishedRecord = "170303003500f8b467d14cf22a4b3f0b6ae0d8e6cc8d08e0db3515ef5c2bdf1922eafbb70009964716d834fb70c3d2a56c5b1f5f6bdba6c333cf"

        /// Client application write key.
        /// RFC 8448 §4, p. 27: derive write traffic keys for application data — "key expanded" (16 octets).
        static let clientApplicationKey = "3cf122f301c6358ca7989553250efd72"

        /// Client application write IV.
        /// RFC 8448 §4, p. 27: derive write traffic keys for application data — "iv expanded" (12 octets).
        static let clientApplicationIV = "ab1aec26aa78b8fc1176b9ac"

        /// Client application data (50 bytes 00 … 31).
        /// RFC 8448 §4, p. 28: send application_data record — "payload" (50 octets).
        static let clientApplicationDataPlaintext = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"

        /// Client's application data record (client application key, seq 0).
        /// RFC 8448 §4, p. 28: send application_data record — "complete record" (72 octets).
        static let clientApplicationDataRecord = "1703030043b1cebce242aa201be9ae5e1cb2a9aa4b33d4e866af1edb068919237741aa031d7a74d491c99b9d4e232b74206bc6fbaa04fe78be44a9b4f54320a17eb76992afac3103"

        /// Server application data (50 bytes 00 … 31).
        /// RFC 8448 §4, p. 28: send application_data record — "payload" (50 octets).
        static let serverApplicationDataPlaintext = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031"

        /// Server's application data record (server application key, seq 0).
        /// RFC 8448 §4, p. 28: send application_data record — "complete record" (72 octets).
        static let serverApplicationDataRecord = "1703030043275e9f20acff57bc000657d3867df039cccf79047884cf75771746f740b5a83f462a0954c3581393a203a25a7dd14141ef1a37900cdb62ff62dee1ba39ab2590cbf194"

    }
}

/// TLS 1.2 PRF (RFC 5246 §5: PRF(secret, label, seed) = P_<hash>(secret, label || seed)) known answers.
/// Source: the vectors posted to the IETF TLS WG list by Joseph Birr-Pixton,
/// https://www.ietf.org/mail-archive/web/tls/current/msg03416.html — copied here from BearSSL
/// test/test_crypto.c (test_PRF, which cites that post) and cross-checked against GnuTLS
/// tests/tls12-prf.c (sha384_test1, same citation); both reproduce with an HMAC-based P_hash.
/// The label is the ASCII string, without a terminating NUL.
enum TLS12PRFVectors {
    static let label = "test label"

    /// P_SHA256 (TLS 1.2 default PRF and every *_SHA256 suite): 16-byte secret, 16-byte seed, 100 bytes out.
    static let sha256Secret = "9bbe436ba940f017b17652849a71db35"
    static let sha256Seed = "a0ba9f936cda311827a6f796ffd5198c"
    static let sha256Output = "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66"

    /// P_SHA384 (the *_SHA384 suites, e.g. TLS_ECDHE_*_WITH_AES_256_GCM_SHA384): 148 bytes out.
    static let sha384Secret = "b80b733d6ceefcdc71566ea48e5567df"
    static let sha384Seed = "cd665cf6a8447dd6ff8b27555edb7465"
    static let sha384Output = "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f"
}

/// The WebSocket opening handshake (RFC 6455 section 4, RFC 7692 section 5): turning parsed
/// HTTP heads into request/response events and checking what the server selected.
enum Handshake {
    /// Parses every Sec-WebSocket-Extensions value: `name; param; param=value, name2 ...`.
    static func parseExtensions(_ values: [String]) -> [ExtensionOffer] {
        var offers: [ExtensionOffer] = []
        for value in values {
            for item in splitList(value) {
                let parts = item.split(separator: ";").map { trim($0) }
                guard let name = parts.first, !name.isEmpty else { continue }
                var parameters: [ExtensionParameter] = []
                for part in parts.dropFirst() where !part.isEmpty {
                    if let eq = part.firstIndex(of: "=") {
                        var v = trim(part[part.index(after: eq)...])
                        if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
                        parameters.append(ExtensionParameter(name: trim(part[..<eq]), value: v))
                    } else {
                        parameters.append(ExtensionParameter(name: part, value: nil))
                    }
                }
                offers.append(ExtensionOffer(name: name, parameters: parameters))
            }
        }
        return offers
    }

    /// permessage-deflate parameters of a selected extension.
    static func deflateParameters(_ offer: ExtensionOffer) -> DeflateParameters {
        var parameters = DeflateParameters()
        for p in offer.parameters {
            switch p.name.lowercased() {
            case "server_no_context_takeover": parameters.serverNoContextTakeover = true
            case "client_no_context_takeover": parameters.clientNoContextTakeover = true
            case "server_max_window_bits": parameters.serverMaxWindowBits = p.value.flatMap { Int($0) } ?? 15
            case "client_max_window_bits": parameters.clientMaxWindowBits = p.value.flatMap { Int($0) } ?? 15
            default: break
            }
        }
        return parameters
    }

    static func request(_ head: HTTPHead, side: Side) -> HTTPRequestInfo? {
        guard case .request(let method, let target, let version) = head.startLine else { return nil }
        let fields = head.handshakeFields()
        let upgrade = fields.upgradeWebSocket
        let key = fields.key
        let wsVersion = fields.version
        var violations: [Violation] = []
        if upgrade {
            if let key {
                if Base64.decodedLength(key) != 16 {
                    violations.append(Violation(.missingKey, "Sec-WebSocket-Key \"\(key)\" is not 16 bytes in base64"))
                }
            } else {
                violations.append(Violation(.missingKey, "Upgrade request without Sec-WebSocket-Key"))
            }
            if wsVersion != "13" {
                violations.append(Violation(.badWebSocketVersion,
                                            "Sec-WebSocket-Version is \(wsVersion.map { "\"\($0)\"" } ?? "missing"), not 13"))
            }
        }
        return HTTPRequestInfo(
            side: side, method: method, target: target, version: version, headers: head.headers,
            isWebSocketUpgrade: upgrade, host: fields.host, origin: fields.origin,
            key: key, webSocketVersion: wsVersion,
            offeredProtocols: fields.hasProtocols ? head.tokens("Sec-WebSocket-Protocol") : [],
            offeredExtensions: fields.hasExtensions ? parseExtensions(head.values("Sec-WebSocket-Extensions")) : [],
            violations: violations)
    }

    /// What a response is checked against of the Upgrade request it answers: the request's
    /// key and what it offered. Kept by the session instead of the whole request (its
    /// headers and every string, retained and released at each copy).
    struct Offer {
        var key: String?
        var extensions: [ExtensionOffer]
        var protocols: [String]

        init(_ request: HTTPRequestInfo) {
            key = request.key
            extensions = request.offeredExtensions
            protocols = request.offeredProtocols
        }
    }

    /// Builds the response event; `request` is what the Upgrade request it answers offered, if any.
    static func response(_ head: HTTPHead, side: Side, request: Offer?) -> HTTPResponseInfo? {
        guard case .response(let version, let status, let reason) = head.startLine else { return nil }
        let fields = head.handshakeFields()
        let upgraded = status == 101 && fields.upgradeWebSocket
        var violations: [Violation] = []
        var acceptValid: Bool?
        let selectedExtensions = fields.hasExtensions ? parseExtensions(head.values("Sec-WebSocket-Extensions")) : []
        let selectedProtocols = fields.hasProtocols ? head.tokens("Sec-WebSocket-Protocol") : []
        var deflate: DeflateParameters?
        if upgraded {
            let accept = fields.accept
            if let key = request?.key {
                if let accept {
                    let expected = webSocketAcceptValue(forKey: key)
                    acceptValid = accept == expected
                    if accept != expected {
                        violations.append(Violation(.badAcceptKey,
                                                    "Sec-WebSocket-Accept is \"\(accept)\", expected \"\(expected)\""))
                    }
                } else {
                    acceptValid = false
                    violations.append(Violation(.missingAcceptKey, "101 response without Sec-WebSocket-Accept"))
                }
            } else if accept == nil {
                violations.append(Violation(.missingAcceptKey, "101 response without Sec-WebSocket-Accept"))
            }
            if let request {
                let offered = Set(request.extensions.map { $0.name.lowercased() })
                for selected in selectedExtensions where !offered.contains(selected.name.lowercased()) {
                    violations.append(Violation(.extensionNotOffered,
                                                "server selected extension \"\(selected.name)\" the client did not offer"))
                }
                for selected in selectedProtocols where !request.protocols.contains(selected) {
                    violations.append(Violation(.protocolNotOffered,
                                                "server selected subprotocol \"\(selected)\" the client did not offer"))
                }
            }
            if let offer = selectedExtensions.first(where: { asciiCaseInsensitiveEquals($0.name, "permessage-deflate") }) {
                deflate = deflateParameters(offer)
            }
        }
        return HTTPResponseInfo(
            side: side, version: version, status: status, reason: reason, headers: head.headers,
            upgraded: upgraded, acceptValid: acceptValid, selectedProtocol: selectedProtocols.first,
            selectedExtensions: selectedExtensions, deflate: deflate, violations: violations)
    }
}

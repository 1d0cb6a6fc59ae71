// TLSErrorClassifier: turns a failed OpenSSL operation (SSL_get_error's code and the drained
// error queue) into a TLSError whose message says what the user should understand: different
// keys, a peer without encryption, damaged data, an alert from the peer.
//
// Thread: any (pure function).
import COpenSSLShim

/// Maps OpenSSL failures to `TLSError`s.
enum TLSErrorClassifier {
    /// OpenSSL numbers a fatal alert received from the peer as this plus the alert code.
    private static let alertOffset: Int32 = 1000

    /// The error for a failed operation.
    /// - Parameters:
    ///   - operation: what failed, the message's opening ("TLS handshake failed").
    ///   - code: `SSL_get_error`'s result.
    ///   - entries: the drained error queue.
    ///   - firstBytes: the first bytes the peer sent (up to 5).
    ///   - unknownIdentity: the server saw a PSK identity other than "mmnet".
    ///   - handshakeComplete: whether the failure came after the handshake.
    static func classify(operation: String, code: Int32, entries: [OpenSSLErrorQueue.Entry],
                         firstBytes: [UInt8], unknownIdentity: Bool,
                         handshakeComplete: Bool) -> TLSError {
        let fallback = code == SSL_ERROR_SYSCALL ? "unexpected end of data"
            : code == SSL_ERROR_ZERO_RETURN ? "close_notify" : "OpenSSL error code \(code)"
        let reasons = OpenSSLErrorQueue.reasons(entries, fallback: fallback)
        let codes = entries.map(\.reason)
        func error(_ kind: TLSError.Kind, _ explanation: String) -> TLSError {
            TLSError(kind, "\(operation): \(explanation) (\(reasons))")
        }
        if !handshakeComplete, let first = firstBytes.first {
            if firstBytes.starts(with: Array("MMNT".utf8)) {
                return error(.notEncrypted, "peer is not encrypted: it sent a plain mmnet hello "
                    + "(give both sides the same key, or neither)")
            }
            if !(20...23).contains(first) {  // not a TLS record type
                return error(.notEncrypted, "peer is not speaking TLS")
            }
        }
        if unknownIdentity {
            return error(.wrongKey, "the peer offered an unknown PSK identity (mmnet uses \"mmnet\")")
        }
        if codes.contains(SSL_R_BINDER_DOES_NOT_VERIFY) {
            return error(.wrongKey, "the two sides use different keys")
        }
        if codes.contains(SSL_R_NO_SHARED_CIPHER) {
            return error(.wrongKey, "the two sides use keys of different sizes (128 and 256 bits), "
                + "or the peer is not mmnet (it offers none of mmnet's cipher suites)")
        }
        if code == SSL_ERROR_ZERO_RETURN && !handshakeComplete {
            return error(.peerAlert, "the peer closed the TLS session before the handshake "
                + "completed: it is not mmnet with this key")
        }
        if codes.contains(SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC) {
            return error(.tampered, "a record failed its integrity check: the data was changed "
                + "on the way")
        }
        if let alert = codes.first(where: { $0 >= alertOffset }).map({ $0 - alertOffset }) {
            if !handshakeComplete {
                if alert == Int32(SSL_AD_DECRYPT_ERROR) || alert == Int32(SSL_AD_ILLEGAL_PARAMETER) {
                    return error(.wrongKey, "the peer refused our key: the two sides use "
                        + "different keys")
                }
                if alert == Int32(SSL_AD_HANDSHAKE_FAILURE) {
                    return error(.wrongKey, "the peer refused the handshake: the keys may be of "
                        + "different sizes, or the peer is not mmnet")
                }
            }
            return error(.peerAlert, "the peer ended the session with an alert")
        }
        return error(.protocolFailure, handshakeComplete ? "malformed TLS data"
            : "the peer's handshake is not one mmnet accepts")
    }
}

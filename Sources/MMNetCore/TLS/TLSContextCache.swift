// TLSContextCache: the client TLS contexts of one Lua state, one per key in use, so that every
// encrypted `Client` with the same key shares one SSL_CTX (about 11 KiB of the 57 an idle
// encrypted client and its server-side connection took) as a listener's accepted connections
// already do.
//
// Thread: the Lua thread of the state that owns it (clients are made there).

/// The client contexts a state's connections use, held weakly: a context lives as long as a
/// session made from it, and the cache never keeps one (or its key) alive by itself.
public final class TLSContextCache: @unchecked Sendable {
    /// A context that may have gone (such entries are dropped at the next lookup).
    private struct Entry {
        weak var context: TLSContext?
    }

    private var entries: [Entry] = []

    /// Creates an empty cache.
    public init() {}

    /// The client context for `key`: the one a live connection of this state already uses
    /// for an equal key, or a new one (kept weakly for the next).
    /// - Throws: `TLSError` of kind `.setup` when OpenSSL cannot build a new context.
    public func clientContext(for key: PresharedKey) throws(TLSError) -> TLSContext {
        entries.removeAll { $0.context == nil }
        if let shared = entries.lazy.compactMap(\.context).first(where: { $0.key.isEqual(to: key) }) {
            return shared
        }
        let context = try TLSContext(key: key, role: .client)
        entries.append(Entry(context: context))
        return context
    }
}

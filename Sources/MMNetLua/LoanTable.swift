// The Lua side of loans: a table in the registry (loan id -> string) that keeps the large
// strings a script sent reachable, so Lua neither frees nor moves them, until the send queues
// are done with them.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Lends the string at absolute stack index `index` (its `count` bytes at `bytes`) to `book`
/// and keeps it reachable under the loan's id; nil when Lua has no memory left to keep it (the
/// caller copies the bytes instead). Needs four free stack slots (the encoder's `encodeTable`
/// makes room for four, and a key and a value take two: it checks for more).
func lendString(_ L: OpaquePointer, at index: Int32, bytes: UnsafePointer<CChar>, count: Int, book: LoanBook) -> Loan? {
    guard lua_checkstack(L, 4) != 0 else { return nil }
    let loan = book.lend(UnsafeRawPointer(bytes), count: count)
    // Storing into the table may have to grow it: a memory error there comes back here, in
    // the encoder's frames, instead of unwinding them (and a loan nobody would return).
    var id = lua_Integer(loan.id)
    lua_pushvalue(L, index)
    // With the collector stopped: it runs the script's finalizers, and one that changed a
    // table the encoder is walking would make lua_next raise past the encoder's frames, or
    // leave a map with fewer pairs than its header says (sent, and refused by the peer). This
    // call is the one place in the walk where Lua may take a collection step.
    let stopped = mmnet_gc_stop(L)
    let status = mmnet_pcall(L, 1, keepLent, &id, 0)
    mmnet_gc_restart(L, stopped)
    guard status == LUA_OK else {
        mmnet_pop(L, 1)  // the error; the loan, dropped, ends at once
        return nil
    }
    return loan
}

/// Stores its argument, a string, in the loans table under the id at `context` (protected,
/// from `lendString`).
private let keepLent: mmnet_Protected = { state, context in
    let L = state!
    lua_rawgetp(L, mmnet_registryindex(), mmnet_loans_key())
    lua_pushvalue(L, 1)
    lua_rawseti(L, -2, context!.load(as: lua_Integer.self))
    return 0
}

/// Lets go of the strings whose loans ended (one compare while no loan is out).
@inline(__always)
func returnLoans(_ L: OpaquePointer, book: LoanBook) {
    if book.loansOut > 0 { returnEndedLoans(L, book: book) }
}

/// `returnLoans` once some loan is out.
private func returnEndedLoans(_ L: OpaquePointer, book: LoanBook) {
    let ids = book.takeReturned()
    guard !ids.isEmpty else { return }
    lua_rawgetp(L, mmnet_registryindex(), mmnet_loans_key())
    for id in ids {
        lua_pushnil(L)
        lua_rawseti(L, -2, lua_Integer(id))
    }
    mmnet_pop(L, 1)
}

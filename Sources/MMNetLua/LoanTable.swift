// The Lua side of loans: a table in the registry (loan id -> string) that keeps the large
// strings a script sent reachable, so Lua neither frees nor moves them, until the send queues
// are done with them.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Lends the string at absolute stack index `index` (its `count` bytes at `bytes`) to `book`
/// and keeps it reachable under the loan's id. Needs two free stack slots (the encoder's
/// `encodeTable` makes room for four, and a key and a value take two).
func lendString(_ L: OpaquePointer, at index: Int32, bytes: UnsafePointer<CChar>, count: Int, book: LoanBook) -> Loan {
    let loan = book.lend(UnsafeRawPointer(bytes), count: count)
    lua_rawgetp(L, mmnet_registryindex(), mmnet_loans_key())
    lua_pushvalue(L, index)
    lua_rawseti(L, -2, lua_Integer(loan.id))
    mmnet_pop(L, 1)
    return loan
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

// The Lua side of loans: a table in the registry (loan id -> string, an array of slots made
// beforehand) that keeps the large strings a script sent reachable, so Lua neither frees nor
// moves them, until the send queues are done with them.
//
// Thread: Lua thread only.
import CLuaShim
import MMNetCore

/// Lends the string at absolute stack index `index` (its `count` bytes at `bytes`) to `book`
/// and keeps it reachable in the loan's slot; nil when no slot is free or the stack cannot
/// grow (the caller copies the bytes instead). It runs in the middle of the encoder's walk of a
/// table, so it calls no Lua and allocates nothing: a debug hook or a finalizer that Lua ran
/// there could change the table under the walk (`lua_next` then raised past the encoder's
/// frames, and a map went out with fewer pairs than its header said), or raise an error that
/// would be lost. The slots are made beforehand (`reserveLoanSlots`).
func lendString(_ L: OpaquePointer, at index: Int32, bytes: UnsafePointer<CChar>, count: Int, book: LoanBook) -> Loan? {
    guard lua_checkstack(L, 2) != 0, let loan = book.lend(UnsafeRawPointer(bytes), count: count) else { return nil }
    lua_rawgetp(L, mmnet_registryindex(), mmnet_loans_key())
    lua_pushvalue(L, index)
    lua_rawseti(L, -2, lua_Integer(loan.id))  // a slot of the array part: nothing allocated
    mmnet_pop(L, 1)
    return loan
}

/// Makes the loans table the array of `LoanBook.initialIDLimit` slots a state starts with (in
/// the registry). Raises a memory error when Lua has no memory for it.
func makeLoanSlots(_ L: OpaquePointer) {
    lua_createtable(L, Int32(LoanBook.initialIDLimit), 0)
    lua_rawsetp(L, mmnet_registryindex(), mmnet_loans_key())
}

/// When a lend found no slot free since the last call (`LoanBook.isShort`), doubles the
/// slots, in protected mode, before a message is encoded (its strings were copied meanwhile).
/// Returns false, with the error on top, when a debug hook that Lua ran meanwhile raised one
/// (the caller raises it; nothing is sent); out of memory, the slots stay as they were.
func reserveLoanSlots(_ L: OpaquePointer, book: LoanBook) -> Bool {
    guard book.isShort else { return true }
    var growth = LoanGrowth(book: Unmanaged.passUnretained(book), limit: book.idLimit * 2)
    switch mmnet_pcall(L, 0, growLoanSlots, &growth, 0) {
    case LUA_OK:
        book.grow(to: growth.limit)
        return true
    case LUA_ERRMEM:
        mmnet_pop(L, 1)
        return true
    default:
        return false
    }
}

/// What `growLoanSlots` works from: the book (not retained: nothing in it is reference
/// counted, see `mmnet_pcall`) and the slot count wanted.
private struct LoanGrowth {
    let book: Unmanaged<LoanBook>
    let limit: Int
}

/// Replaces the loans table with one of the slot count the `LoanGrowth` at `context` wants,
/// holding the same strings (protected, from `reserveLoanSlots`). Lua may run before this body
/// (a call hook) and in `lua_createtable` (a finalizer of a collection step), and a `Send` made
/// there may grow the table itself and lend into the new slots: so the table and the book's
/// limit are read after the last call that can run Lua. (Read before, the slots that `Send`
/// lent into were left out of the new table, and their strings freed while the I/O thread
/// still wrote them: found by a review of this code, 30 messages of 30 corrupted.)
private let growLoanSlots: mmnet_Protected = { state, context in
    let L = state!
    let growth = context!.load(as: LoanGrowth.self)
    lua_createtable(L, Int32(growth.limit), 0)
    let current = growth.book._withUnsafeGuaranteedRef { $0.idLimit }
    guard current < growth.limit else { return 0 }  // grown meanwhile
    lua_rawgetp(L, mmnet_registryindex(), mmnet_loans_key())
    for id in 1...lua_Integer(current) {
        lua_rawgeti(L, -1, id)
        lua_rawseti(L, -3, id)
    }
    mmnet_pop(L, 1)
    lua_rawsetp(L, mmnet_registryindex(), mmnet_loans_key())
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

// Loans: the large strings a script sends, written from the script's own memory instead of
// being copied into the frame, and the book that says when that memory may go.
//
// Thread: any. A loan is made on the Lua thread (`LoanBook.lend`); its bytes are read by the
// I/O thread (writing, encrypting) and by the Lua thread (encrypting a large frame as it is
// sent); it ends on whichever thread drops the last block holding it; `LoanBook.recallAll`
// runs on the I/O thread while the Lua thread waits in `waitUntilRecalled`.
import Glibc

/// Bytes the script lent to the send queues: a string the binding keeps reachable (Lua neither
/// frees nor moves a string it can reach) until every queue holding it is done with it.
///
/// Why: a 1 MiB message used to be copied by the sending thread into the frame's buffer, a
/// copy (and, past the buffer pool, page faults) as costly as the socket write itself.
/// When the loan ends (its last `ByteBlock` goes) its id goes back to the book, and the binding
/// lets go of the string. Should the Lua state close first, the I/O thread copies the bytes
/// (`LoanBook.recallAll`) and the queues go on writing from the copy.
public final class Loan: @unchecked Sendable {
    /// Strings this long and longer are lent; shorter ones are copied, which costs less than
    /// the loan's bookkeeping.
    public static let minimumSize = 64 * 1024

    /// The first byte: the script's string, or the copy made at recall. Changed only by
    /// `recall`, on the I/O thread, while the Lua thread waits.
    @usableFromInline private(set) var start: UnsafeRawPointer
    /// The number of bytes.
    public let count: Int
    /// The number the binding keeps the string under.
    public let id: Int
    private let book: LoanBook
    /// The copy made at recall (freed with the loan).
    private var copy: UnsafeMutableRawPointer?

    fileprivate init(start: UnsafeRawPointer, count: Int, id: Int, book: LoanBook) {
        self.start = start
        self.count = count
        self.id = id
        self.book = book
    }

    deinit {
        book.returned(id)
        // After `returned`: a recall running meanwhile has finished with this loan.
        free(copy)
    }

    /// Copies the bytes and reads them from the copy from now on (under the book's lock).
    /// False when malloc has no memory for the copy: the loan goes on reading the script's
    /// string, which its state must then keep until the loan ends.
    fileprivate func recall() -> Bool {
        guard copy == nil else { return true }
        guard let memory = malloc(max(count, 1)) else { return false }
        memory.copyMemory(from: start, byteCount: count)
        copy = memory
        start = UnsafeRawPointer(memory)
        return true
    }
}

/// The loans of one Lua state: which are out, and which have ended since the binding last
/// asked (so that it lets go of their strings).
public final class LoanBook: @unchecked Sendable {
    private let lock = Lock()
    private let recalled: Condition
    /// The loans out, by id (not retained: a loan removes itself as it ends).
    private var out: [Int: Unmanaged<Loan>] = [:]
    /// Ids of the loans ended since `takeReturned`.
    private var ended: [Int] = []
    /// The state is closing: every loan out has been copied.
    private var isRecalled = false
    /// The id of the next loan never lent (Lua thread only).
    private var nextID = 1
    /// Ids handed back by `takeReturned`, lent again first (Lua thread only): ids stay as few
    /// as the loans out at once, each a slot the binding keeps its string in.
    private var freeIDs: [Int] = []
    /// Loans made and not yet handed back by `takeReturned` (Lua thread only): while it is 0,
    /// there is nothing to take.
    public private(set) var loansOut = 0
    /// The highest id that may be lent (Lua thread only): the binding has a slot for each id up
    /// to it, made before any loan needs it, so that storing a lent string allocates nothing
    /// (and so runs no Lua) in the middle of a message's encoding. `grow(to:)` raises it.
    public private(set) var idLimit = LoanBook.initialIDLimit
    /// A lend found no id up to `idLimit` free since the last `grow(to:)` (Lua thread only).
    public private(set) var isShort = false

    /// The slots a binding starts with.
    public static let initialIDLimit = 64

    /// An empty book.
    public init() {
        recalled = Condition(lock: lock)
    }

    /// Lends `count` bytes at `start` (Lua thread); nil when no id up to `idLimit` is free
    /// (`isShort` then says so: the caller copies the bytes). The caller keeps them valid,
    /// unchanged, until `takeReturned` hands back the loan's id.
    public func lend(_ start: UnsafeRawPointer, count: Int) -> Loan? {
        let id: Int
        if let free = freeIDs.popLast() {
            id = free
        } else if nextID <= idLimit {
            id = nextID
            nextID += 1
        } else {
            isShort = true
            return nil
        }
        let loan = Loan(start: start, count: count, id: id, book: self)
        loansOut += 1
        lock.withLock { out[loan.id] = Unmanaged.passUnretained(loan) }
        return loan
    }

    /// Lets ids up to `limit` be lent (Lua thread), once the binding has slots for them.
    public func grow(to limit: Int) {
        idLimit = max(idLimit, limit)
        isShort = false
    }

    /// The ids of the loans that ended since the last call (Lua thread): their bytes may go.
    /// The caller lets go of them before it lends again, which may reuse the ids.
    public func takeReturned() -> [Int] {
        guard loansOut > 0 else { return [] }
        var ids: [Int] = []
        lock.withLock { swap(&ids, &ended) }
        loansOut -= ids.count
        freeIDs.append(contentsOf: ids)
        return ids
    }

    /// Notes that the loan `id` ended (any thread).
    fileprivate func returned(_ id: Int) {
        lock.withLock {
            out.removeValue(forKey: id)
            ended.append(id)
            if out.isEmpty { recalled.broadcast() }
        }
    }

    /// Copies the bytes of every loan out (I/O thread, once the Lua state is closing). A loan
    /// malloc has no memory to copy stays on the script's string (before, the process
    /// stopped): the state's close then waits until it ends, as its connection writes it out
    /// or is given up (`IOThread.lingerTime`).
    func recallAll() {
        lock.withLock {
            var all = true
            for loan in out.values where !loan._withUnsafeGuaranteedRef({ $0.recall() }) { all = false }
            isRecalled = all
            if all { recalled.broadcast() }
        }
    }

    /// Waits until no loan reads the state's memory any more (Lua thread, closing the state,
    /// after asking the I/O thread for `recallAll`): at once when no loan is out, or once every
    /// loan is copied or has ended.
    func waitUntilRecalled() {
        lock.withLock {
            while !out.isEmpty && !isRecalled {
                recalled.wait(until: Clock.monotonic() + 1)
            }
        }
    }
}

// The common base of what a script holds: a server's listener or a connection.
//
// Thread: any: its identity and context are immutable; `surfaced` and `refusedQueued` are the
// Lua thread's only.
import CSystemShim

/// A network object a script can hold, identified by a process-unique number.
public class Endpoint: @unchecked Sendable {
    /// Unique for the life of the process (the binding keys its weak identity table with it).
    public let id: Int64
    /// The Lua state's context whose events this object reports to.
    public let context: ScriptContext

    /// The binding has made the Lua value of this object (Lua thread only). A client connection
    /// is made one when its EVENT_CONNECT is polled; if that event was lost to overflow, it never
    /// is, and its other events are counted as lost too.
    public var surfaced = false

    /// The script refused one of this connection's queued messages (Lua thread only,
    /// `Connection.refuseQueuedMessage`): the messages queued after it are not delivered, as
    /// nothing after a malformed message read from the wire is.
    public var refusedQueued = false

    /// The fork generation of its context.
    private let generation: UInt64

    /// True in the child of a fork() made after the object opened: it is the parent's
    /// (`ScriptContext.isInherited`). Reads no reference.
    public var isInherited: Bool { generation != mmnet_fork_generation() }

    /// Gives the object a fresh id and ties it to `context`.
    init(context: ScriptContext) {
        self.id = mmnet_next_id()
        self.context = context
        self.generation = context.generation
    }
}

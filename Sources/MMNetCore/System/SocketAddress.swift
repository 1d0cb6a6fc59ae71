// An IPv4 or IPv6 socket address: parsed from a literal, printed back, handed to the kernel.
//
// Thread: any (value type).
import Glibc

/// An IP address and port, as `sockaddr_in` or `sockaddr_in6`.
public struct SocketAddress: Sendable, Equatable {
    private var storage: sockaddr_storage

    /// Wraps an address the kernel filled in (accept, getsockname).
    public init(storage: sockaddr_storage) {
        self.storage = storage
    }

    /// Parses an IPv4 (`"127.0.0.1"`) or IPv6 (`"::1"`) literal; nil when it is neither.
    /// An IPv6 literal may end with a zone, an interface's name or index (`"fe80::1%eth0"`,
    /// `"fe80::1%4"`), which a link-local address needs. Host names are not resolved: the
    /// user's document asks for IP address strings.
    public init?(ip: String, port: UInt16) {
        var in4 = sockaddr_in()
        if inet_pton(AF_INET, ip, &in4.sin_addr) == 1 {
            in4.sin_family = sa_family_t(AF_INET)
            in4.sin_port = port.bigEndian
            storage = SocketAddress.storage(holding: in4)
            return
        }
        var in6 = sockaddr_in6()
        var literal = Substring(ip)
        if let percent = ip.firstIndex(of: "%") {
            let zone = String(ip[ip.index(after: percent)...])
            guard let index = SocketAddress.interfaceIndex(zone) else { return nil }
            in6.sin6_scope_id = index
            literal = ip[..<percent]
        }
        if inet_pton(AF_INET6, String(literal), &in6.sin6_addr) == 1 {
            in6.sin6_family = sa_family_t(AF_INET6)
            in6.sin6_port = port.bigEndian
            storage = SocketAddress.storage(holding: in6)
            return
        }
        return nil
    }

    /// The index of the interface `zone` names, by name or as a decimal number; nil when there
    /// is no such interface.
    private static func interfaceIndex(_ zone: String) -> UInt32? {
        if let number = UInt32(zone), number > 0 {
            var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
            return if_indextoname(number, &name) != nil ? number : nil
        }
        let index = if_nametoindex(zone)
        return index > 0 ? index : nil
    }

    /// A `sockaddr_storage` whose first bytes are `address` (a `sockaddr_in` or `sockaddr_in6`).
    private static func storage<T>(holding address: T) -> sockaddr_storage {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { dst in
            withUnsafeBytes(of: address) { dst.copyMemory(from: $0) }
        }
        return storage
    }

    /// AF_INET or AF_INET6.
    public var family: Int32 { Int32(storage.ss_family) }

    /// The port, in host byte order.
    public var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                return UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            }
            return UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    /// The address as text, without the port (`"127.0.0.1"`, `"::1"`, `"fe80::1%eth0"`: a zone
    /// as its interface's name, or its number when the interface is gone).
    public var ip: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var zone = ""
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                let in6 = raw.load(as: sockaddr_in6.self)
                var a = in6.sin6_addr
                _ = inet_ntop(AF_INET6, &a, &text, socklen_t(text.count))
                if in6.sin6_scope_id != 0 {
                    var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
                    zone = "%" + (if_indextoname(in6.sin6_scope_id, &name) != nil
                                  ? String(cString: name) : String(in6.sin6_scope_id))
                }
            } else {
                var a = raw.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &a, &text, socklen_t(text.count))
            }
        }
        return String(cString: text) + zone
    }

    /// Whether `a` and `b` are the same family, address and port.
    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        a.family == b.family && a.port == b.port && a.ip == b.ip
    }

    /// Whether this is an IPv6 link-local address (fe80::/10) without a zone, which the
    /// kernel refuses ("Invalid argument"): it does not know which interface is meant.
    public var isLinkLocalWithoutZone: Bool {
        guard family == AF_INET6 else { return false }
        let in6 = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }
        let first = withUnsafeBytes(of: in6.sin6_addr) { ($0[0], $0[1]) }
        return in6.sin6_scope_id == 0 && first.0 == 0xFE && first.1 & 0xC0 == 0x80
    }

    /// The IPv4 address in dotted form when this is an IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`), which mmnet's servers, listening on IPv6 only, cannot take; nil
    /// otherwise.
    public var mappedIPv4: String? {
        guard family == AF_INET6 else { return nil }
        let in6 = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }
        return withUnsafeBytes(of: in6.sin6_addr) { bytes in
            guard bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF else { return nil }
            return bytes[12...].map { String($0) }.joined(separator: ".")
        }
    }

    /// "ip:port", or "[ip]:port" for IPv6, for messages.
    public var description: String {
        family == AF_INET6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// Calls `body` with the address as a `sockaddr` pointer and its length.
    public func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T) rethrows -> T {
        let length = family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
        return try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(length))
        }
    }
}

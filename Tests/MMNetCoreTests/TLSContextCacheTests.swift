// Tests of TLSContextCache: clients with equal keys share one context, other keys (or sizes)
// get their own, a context goes once its last session does, and a shared context still
// handshakes with the right server only.
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

final class TLSContextCacheTests: XCTestCase {
    private let key128 = TLSPresharedKeyTests.key128
    private let key256 = TLSPresharedKeyTests.key256
    private let otherKey128 = "FFEEDDCCBBAA99887766554433221100"

    func testEqualKeysShareOneContext() throws {
        let cache = TLSContextCache()
        let first = try cache.clientContext(for: PresharedKey(hex: key128))
        let second = try cache.clientContext(for: PresharedKey(hex: key128.lowercased()))
        XCTAssertTrue(first === second)
        XCTAssertEqual(first.role, .client)
    }

    func testOtherKeysAndSizesGetTheirOwn() throws {
        let cache = TLSContextCache()
        let a = try cache.clientContext(for: PresharedKey(hex: key128))
        let b = try cache.clientContext(for: PresharedKey(hex: otherKey128))
        let c = try cache.clientContext(for: PresharedKey(hex: key256))
        XCTAssertFalse(a === b)
        XCTAssertFalse(a === c)
        XCTAssertFalse(b === c)
        XCTAssertEqual(c.bits, 256)
        XCTAssertTrue(try cache.clientContext(for: PresharedKey(hex: otherKey128)) === b)
    }

    func testTheCacheKeepsNoContextAlive() throws {
        let cache = TLSContextCache()
        weak var gone: TLSContext?
        do {
            let session = try TLSSession(context: cache.clientContext(for: PresharedKey(hex: key128)))
            gone = session.context
            XCTAssertNotNil(gone)
        }
        XCTAssertNil(gone)
        XCTAssertNotNil(try cache.clientContext(for: PresharedKey(hex: key128)))
    }

    func testSessionsOfASharedContextUseTheirOwnKey() throws {
        let cache = TLSContextCache()
        let server = try TLSContext(key: PresharedKey(hex: key128), role: .server)
        let otherServer = try TLSContext(key: PresharedKey(hex: otherKey128), role: .server)
        for _ in 0..<2 {
            try handshake(TLSSession(context: cache.clientContext(for: PresharedKey(hex: key128))),
                          TLSSession(context: server))
            try handshake(TLSSession(context: cache.clientContext(for: PresharedKey(hex: otherKey128))),
                          TLSSession(context: otherServer))
        }
        XCTAssertThrowsError(try handshake(TLSSession(context: cache.clientContext(for: PresharedKey(hex: key128))),
                                           TLSSession(context: otherServer)))
    }
}

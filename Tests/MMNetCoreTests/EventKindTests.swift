// EventKind: six distinct codes, and the Lua name of one (`EVENT_CONNECT`).
//
// Thread: test runner thread.
import XCTest
@testable import MMNetCore

final class EventKindTests: XCTestCase {
    func testCodesAreDistinctAndNamed() {
        let codes = Set(EventKind.allCases.map(\.rawValue))
        XCTAssertEqual(codes.count, 6)
        XCTAssertEqual(EventKind.connect.luaName, "EVENT_CONNECT")
    }
}

// swift-tools-version:5.10
//
// mmnet: pass Lua tables between programs over TCP.
//
// Targets keep Lua in one room:
// - CLuaShim   (C)     Lua's function-like macros and the one place Lua errors are raised.
// - CSystemShim (C)    Linux calls Swift's Glibc module leaves out (accept4, eventfd).
// - COpenSSLShim (C)   OpenSSL's headers, its function-like macros, the TLS 1.3 PSK callbacks;
//                      links the system's libssl and libcrypto (libssl-dev, OpenSSL 3).
// - MMNetCore  (Swift) codec, ring buffer, I/O thread, TLS. Never imports Lua.
// - MMNetLua   (Swift) the binding: the only Swift code that talks to a lua_State.
//
// Build the shipping library through the Makefile (`make build`): it adds -static-stdlib,
// which must not be an unsafeFlag here (that would stop anyone depending on the package).
import PackageDescription

let package = Package(
    name: "mmnet",
    products: [
        .library(name: "mmnet", type: .dynamic, targets: ["MMNetLua"]),
    ],
    targets: [
        .target(name: "CLuaShim"),
        .target(name: "CSystemShim"),
        .target(
            name: "COpenSSLShim",
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        .target(name: "MMNetCore", dependencies: ["CSystemShim", "COpenSSLShim"]),
        .target(name: "MMNetLua", dependencies: ["CLuaShim", "MMNetCore"]),
        // `make bench-tls`: in-memory speed of the TLS engine (not part of the library).
        .executableTarget(name: "TLSBench", dependencies: ["MMNetCore"]),
        .testTarget(name: "MMNetCoreTests", dependencies: ["MMNetCore", "COpenSSLShim"]),
        // The binding's internal entry points, run against Debian's liblua5.4 (tests only: the
        // shipping library never links Lua, the host provides it).
        .testTarget(name: "MMNetLuaTests", dependencies: ["MMNetLua", "CLuaShim", "MMNetCore"],
                    linkerSettings: [.linkedLibrary("lua5.4")]),
    ]
)

// The library's version, in one place.
//
// Thread: any (constants).

/// The mmnet version that `_VERSION`, the rockspec and CHANGELOG.md agree on.
public let mmnetVersion = "0.1.0"

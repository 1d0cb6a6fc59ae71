#!/usr/bin/python3
# Writes the seed corpus of the frame fuzz target (Fuzz/corpus/frames/*.bin): byte streams as
# a peer sends them after connecting — a hello, then frames — good and bad. Each malformed
# MessagePack file of Tests/corpus/msgpack also becomes one message frame after a good hello.
# Run from the repository root: /usr/bin/python3 Fuzz/make_frame_corpus.py
#
# Thread: a one-off script (not part of the build).
import os, struct, glob, msgpack

OUT = "Fuzz/corpus/frames"
HELLO = b"MMNT\x01\x00\x00\x00"

def frame(body, ftype=0, length=None):
    return struct.pack(">IB", len(body) if length is None else length, ftype) + body

seeds = {
    "hello-only": HELLO,
    "hello-encrypted": b"MMNT\x01\x01\x00\x00",
    "hello-version-2": b"MMNT\x02\x00\x00\x00",
    "hello-flags": b"MMNT\x01\x04\x00\x00",
    "http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "tls-client-hello": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32),
    "one-message": HELLO + frame(msgpack.packb({"k": "v"})),
    "three-messages": HELLO + b"".join(frame(msgpack.packb([i, "x" * i])) for i in range(3)),
    "ping": HELLO + frame(b"12345678", 1),
    "pong": HELLO + frame(struct.pack(">d", 1.5), 2),
    "ping-wrong-size": HELLO + frame(b"abc", 1),
    "unknown-type": HELLO + frame(b"abc", 7),
    "length-4gib": HELLO + frame(b"", 0, 0xFFFFFFFF),
    "length-over-limit": HELLO + frame(b"", 0, 4096),
    "partial-frame": HELLO + frame(msgpack.packb({"a": list(range(10))}))[:9],
    "nesting": HELLO + frame(b"\x91" * 70 + b"\x90"),
    "huge-map-count": HELLO + frame(b"\xdf\xff\xff\xff\xff"),
    "mixed": HELLO + frame(b"12345678", 1) + frame(msgpack.packb({"n": 1.25, "t": True, "z": None})) + frame(b"\x90"),
    "tiny-burst": HELLO + frame(b"\x90") * 200,
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(data)
for path in sorted(glob.glob("Tests/corpus/msgpack/*.bin")):
    body = open(path, "rb").read()
    with open(os.path.join(OUT, "msgpack-" + os.path.basename(path)), "wb") as f:
        f.write(HELLO + frame(body))

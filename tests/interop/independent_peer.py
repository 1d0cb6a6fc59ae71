#!/usr/bin/python3
"""An mmnet peer written from PROTOCOL.md alone (Python 3, stock msgpack; socket, select and
struct for the wire), and a test that runs it against real mmnet Lua programs both ways:

    independent_peer.py client LUA_SERVER_SCRIPT   Python client(s) against an mmnet server
    independent_peer.py server LUA_CLIENT_SCRIPT   an mmnet client against a Python server

The Lua script is started with `lua5.4` (or $LUA) and the environment given (LUA_PATH and
LUA_CPATH must find mmnet). Every wait has a time limit. Prints one line per check and exits
with 0 only if every check passed.

Thread: the Python process's only thread.
"""

import math
import os
import select
import socket
import struct
import subprocess
import sys
import time

import msgpack

# ---- The protocol (PROTOCOL.md) ------------------------------------------------------------

MAGIC = b"MMNT"
VERSION = 1
HELLO = MAGIC + bytes([VERSION, 0, 0, 0])
MESSAGE, PING, PONG = 0, 1, 2
MAX_MESSAGE = 16 * 1024 * 1024


class ProtocolError(Exception):
    """The peer broke the protocol; the connection is closed."""


class Pairs(tuple):
    """A MessagePack map as a tuple of (key, value) pairs: keeps keys a dict would merge
    (True and 1, 0 and False) and can itself be a key."""

    def __new__(cls, pairs=()):
        if isinstance(pairs, dict):
            pairs = pairs.items()
        return super().__new__(cls, tuple(pairs))


class Raw(bytes):
    """Bytes that are already MessagePack, put into an encoding as they are."""


def M(*pairs, **named):
    """A map from pairs and keyword arguments."""
    return Pairs(list(pairs) + list(named.items()))


_packer = msgpack.Packer(use_bin_type=True, autoreset=True)


def encode(v):
    """The MessagePack of a value: None, bool, int, float (float64), str (str), bytes (bin),
    tuple/list (array), Pairs/dict (map), Raw (as is)."""
    if isinstance(v, Raw):
        return bytes(v)
    if isinstance(v, (Pairs, dict)):
        items = v.items() if isinstance(v, dict) else v
        items = list(items)
        return _packer.pack_map_header(len(items)) + b"".join(
            encode(k) + encode(x) for k, x in items)
    if isinstance(v, (tuple, list)):
        return _packer.pack_array_header(len(v)) + b"".join(encode(x) for x in v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    return _packer.pack(v)


def decode(body):
    """One message body: a map (Pairs) or an array (tuple); str comes as str (checked UTF-8),
    bin as bytes. Raises ValueError for anything PROTOCOL.md says mmnet never sends."""
    v = msgpack.unpackb(body, raw=False, strict_map_key=False, use_list=False,
                        object_pairs_hook=Pairs)
    if not isinstance(v, tuple):
        raise ValueError("message is not a map or an array")
    return v


def frame(kind, body):
    """A frame: 4-byte big-endian length, type byte, body."""
    return struct.pack(">IB", len(body), kind) + body


class Link:
    """One connection after TCP connect. Reads frames into a queue, answers pings with pongs
    (unless answer_pings is False), sends its own pings every ping_interval (unless None)."""

    def __init__(self, sock, hub, name="link"):
        self.sock, self.hub, self.name = sock, hub, name
        self.buf = bytearray()
        self.messages = []       # (body bytes) of message frames, oldest first
        self.pings, self.pongs = [], []   # (time, payload) received
        # For each of self.pings: whether its time is uncertain, read after this process had
        # not run for a while (Hub.LATE), so that it may have come well before.
        self.pings_late = []
        self.read_time, self.read_late = time.monotonic(), False
        self.answer_pings = True
        self.write_shut = False  # our FIN is sent (shut_write): nothing more may be written
        self.ping_interval = 0.5
        self.last_ping = time.monotonic()
        self.last_sent = time.monotonic()
        self.last_received = time.monotonic()
        self.eof = None          # None while open; else why it ended ("eof", "reset", ...)
        self.eof_time = None
        self.hello_done = False
        self.hello_sent = False
        self.peer_hello = None
        self.error = None
        sock.settimeout(20)
        hub.links.append(self)

    # -- writing
    def write(self, data):
        self.sock.sendall(data)
        self.last_sent = time.monotonic()

    def send_hello(self, data=HELLO):
        self.write(data)
        self.hello_sent = True

    def send(self, value):
        body = encode(value)
        assert len(body) <= MAX_MESSAGE
        self.write(frame(MESSAGE, body))

    def ping(self, payload=None):
        payload = payload if payload is not None else struct.pack(">d", time.time())
        self.write(frame(PING, payload))
        return payload

    # -- reading (driven by the hub)
    def on_readable(self):
        try:
            data = self.sock.recv(1 << 20)
            self.read_time = time.monotonic()
            self.read_late = self.read_time - self.hub.listening_since > Hub.LATE
        except ConnectionResetError:
            self._end("reset")
            return
        except OSError as e:
            self._end("error: %s" % e)
            return
        if not data:
            self._end("eof")
            return
        self.last_received = time.monotonic()
        self.buf += data
        self._parse()

    def _end(self, why):
        if self.eof is None:
            self.eof, self.eof_time = why, time.monotonic()

    def _parse(self):
        if not self.hello_done:
            if len(self.buf) < 8:
                return
            hello, self.buf = bytes(self.buf[:8]), self.buf[8:]
            self.peer_hello = hello
            self.hello_done = True
            if hello != HELLO:
                self.error = "bad hello %s" % hello.hex()
                raise ProtocolError(self.error)
        while len(self.buf) >= 5:
            n, kind = struct.unpack_from(">IB", self.buf)
            if kind not in (MESSAGE, PING, PONG):
                raise ProtocolError("unknown frame type %d" % kind)
            if kind != MESSAGE and n != 8:
                raise ProtocolError("control frame of %d bytes (expected 8)" % n)
            if n > MAX_MESSAGE:
                raise ProtocolError("message of %d bytes is over MaxMessageSize" % n)
            if len(self.buf) < 5 + n:
                return
            body = bytes(self.buf[5:5 + n])
            del self.buf[:5 + n]
            if kind == PING:
                self.pings.append((self.read_time, body))
                self.pings_late.append(self.read_late)
                # Not once our FIN is out: a ping the peer sent before it read our FIN can
                # still arrive, and a write after SHUT_WR fails with EPIPE.
                if self.answer_pings and not self.write_shut:
                    self.write(frame(PONG, body))
            elif kind == PONG:
                self.pongs.append((time.monotonic(), body))
            else:
                self.messages.append(body)

    def tick(self):
        now = time.monotonic()
        if self.ping_interval and self.eof is None and self.hello_done and \
                self.hello_sent and not self.write_shut and \
                now - self.last_ping >= self.ping_interval:
            self.last_ping = now
            try:
                self.ping()
            except OSError:
                pass

    # -- waiting
    def read_hello(self, timeout=3):
        self.hub.until(lambda: self.hello_done or self.eof, timeout)
        return self.peer_hello

    def next_body(self, timeout=5):
        """The next message body, or None on end of stream or timeout."""
        self.hub.until(lambda: self.messages or self.eof, timeout)
        return self.messages.pop(0) if self.messages else None

    def recv(self, timeout=5):
        body = self.next_body(timeout)
        return None if body is None else decode(body)

    def wait_eof(self, timeout=3):
        self.hub.until(lambda: self.eof, timeout)
        return self.eof

    def shut_write(self):
        """Sends our FIN (shutdown SHUT_WR); from then on pings are read but not answered."""
        self.write_shut = True
        self.sock.shutdown(socket.SHUT_WR)

    def close(self, timeout=2):
        """Orderly close: FIN, then read until the peer's FIN."""
        try:
            self.shut_write()
        except OSError:
            pass
        self.wait_eof(timeout)
        self.drop()

    def reset(self):
        """Close with a TCP RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.drop()

    def drop(self):
        if self in self.hub.links:
            self.hub.links.remove(self)
        self.sock.close()


class Hub:
    """Every open link; waiting on one reads all, so each answers its pings meanwhile."""

    # What a link reads arrived after the previous select began (it read everything that was
    # there then). From then to the read takes two selects of up to 0.05 s and some work; when
    # it took longer than this (seconds), this process did not run for a while (a busy
    # machine), and the read's time may be late by as much: Link.read_late.
    LATE = 0.25

    def __init__(self):
        self.links = []
        self.listening_since = time.monotonic()   # when the previous select began
        self.select_start = self.listening_since

    def pump(self, timeout):
        for link in self.links:
            link.tick()
        open_links = [l for l in self.links if l.eof is None]
        if not open_links:
            time.sleep(timeout)
            return
        self.listening_since, self.select_start = self.select_start, time.monotonic()
        readable, _, _ = select.select([l.sock for l in open_links], [], [], timeout)
        for link in open_links:
            if link.sock in readable:
                try:
                    link.on_readable()
                except ProtocolError as e:
                    link.error = str(e)
                    link._end("protocol error: %s" % e)

    def until(self, done, timeout):
        deadline = time.monotonic() + timeout
        while True:
            value = done()
            if value or time.monotonic() >= deadline:
                return value
            self.pump(min(0.05, max(0.0, deadline - time.monotonic())))


def connect(hub, port, name="client", hello=HELLO):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    link = Link(s, hub, name)
    if hello is not None:
        link.send_hello(hello)
    return link


# ---- The test tables (the same names as tests/interop/common.lua) -----------------------------

def text(b):
    """A Lua string as PROTOCOL.md says it arrives: str when valid UTF-8, else bin."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


NAN = float("nan")
INF = float("inf")
MAXI, MINI = 2 ** 63 - 1, -2 ** 63
BIG_STRING = b"0123456789abcdef\0\xff" * (5 * 1024 * 1024 // 18)

CASES = {
    "ints": (0, 1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33,
             -128, -129, -32768, -32769, -2147483648, -2147483649, MAXI, MINI, 2 ** 53 + 1),
    "floats": (0.0, -0.0, 1.0, 1.5, INF, -INF, NAN, 2.0 ** 53, 1e308, 5e-324, math.pi,
               2.0 ** 63, -(2.0 ** 63), 0.1),
    "strings": tuple(text(b) for b in (
        b"", b"a\0b", b"\0", b"\xff", "é".encode(), b"\xc3\x28", b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xef\xbf\xbf", b"\xf0\x9f\x98\x80", b"x" * 31,
        b"x" * 32, b"y" * 255, b"y" * 256, b"z" * 65535, b"z" * 65536, b"\xff" * 300)),
    "nested": M(a=M(b=M(c=M(d=M()))), list=(1, 2, (3, (4, ("five",)))), e=M()),
    "holes": M((1, 1), (3, 3)),
    "holes2": M((2, 2)),
    "sparse": M((2, 2), (100, "hundred")),
    "mixed": M((1, 1), (2, 2), ("n", 2)),
    "empty": M(),
    "empties": (M(), M(), (M(),)),
    "bools": M((1, True), (2, False), ("x", False)),
    "keys": M((1.5, "f"), (True, "t"), (False, "F"), ("s", "str"), (-1, "neg"), (0, "zero"),
              (MAXI, "max"), (MINI, "min"), (INF, "inf"), (-INF, "-inf"), ((1, 2), "arraykey"),
              (M(k="v"), "mapkey"), (M(), "emptykey"), (b"\xff", "binkey"), ("", "emptystr"),
              ("a\0b", "zero in key"), (2 ** 53, "2^53 float key is an integer")),
    "arr16": tuple(range(1, 17)),
    "big_array": tuple(i * 7 - 100000 for i in range(1, 200001)),
    "big_string": (BIG_STRING,),
}

# MessagePack forms mmnet never sends but must accept (names as common.decoded)
DECODED = {
    "nonminimal": "98 cf0000000000000001 d3ffffffffffffffff cc05 d005 cd0001 d2ffffffff"
                  " cf7fffffffffffffff d38000000000000000",
    "float32": "95 ca3fc00000 ca80000000 ca7f800000 caff800000 ca7fc00000",
    "str_not_utf8": "91 a4fffefdfc",
    "bin_utf8": "91 c403616263",
    "nil_elements": "93 01 c0 03",
    "nil_values": "82 a161c0 a16201",
    "duplicates": "82 a16101 a16102",
    "float_key": "82 cb4000000000000000 a374776f cb3ff8000000000000 a178",
    "map_as_array": "82 01a161 02a162",
    "empty_array": "90",
    "nil_last": "93 01 02 c0",
}

# PROTOCOL.md "Examples": Lua table -> bytes
VECTORS = [
    ("{}", "80"), ("{1, 2, 3}", "93 01 02 03"), ("{1, nil, 3}", "82 01 01 03 03"),
    ("{OpCode = 10}", "81 a6 4f70436f6465 0a"), ("{true, false}", "92 c3 c2"),
    ("{1.0}", "91 cb 3ff0000000000000"), ("{-0.0}", "91 cb 8000000000000000"),
    ("{1/0, -1/0}", "92 cb 7ff0000000000000 cb fff0000000000000"),
    ("{math.maxinteger}", "91 cf 7fffffffffffffff"),
    ("{math.mininteger}", "91 d3 8000000000000000"),
    ("{(1 << 53) + 1}", "91 cf 0020000000000001"),
    ("{-1, -32, -33, 127, 128, 255, 256, 65535, 65536}",
     "99 ff e0 d0df 7f cc80 ccff cd0100 cdffff ce00010000"),
    ('{"a\\0b"}', "91 a3 610062"), ('{"\\255"}', "91 c4 01 ff"), ('{"é"}', "91 a2 c3a9"),
    ("{{}}", "91 80"), ("{[1.5] = true}", "81 cb 3ff8000000000000 c3"),
    ("{[true] = 1}", "81 c3 01"),
    ("{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16}",
     "dc 0010 " + " ".join("%02x" % i for i in range(1, 17))),
]


def hx(s):
    return bytes.fromhex(s.replace(" ", ""))


def same(a, b):
    """Strict equality: types (bool is not int, str is not bytes, int is not float), NaN equals
    NaN, -0.0 differs from 0.0, maps compared as unordered pairs."""
    if type(a) is not type(b):
        if not (isinstance(a, tuple) and isinstance(b, tuple) and
                isinstance(a, Pairs) == isinstance(b, Pairs)):
            return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, Pairs):
        if len(a) != len(b):
            return False
        rest = list(b)
        for k, v in a:
            for i, (k2, v2) in enumerate(rest):
                if same(k, k2) and same(v, v2):
                    del rest[i]
                    break
            else:
                return False
        return True
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def show(v, limit=200):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


def field(msg, key, default=None):
    """A string-keyed field of a decoded map."""
    if isinstance(msg, Pairs):
        for k, v in msg:
            if k == key and type(k) is str:
                return v
    return default


# ---- Running the checks ------------------------------------------------------------------------

class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def __call__(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print("ok   %s" % what, flush=True)
        else:
            self.failed += 1
            print("FAIL %s %s" % (what, detail), flush=True)
        return ok


check = Checks()


def spawn(args):
    lua = os.environ.get("LUA", "lua5.4")
    proc = subprocess.Popen([lua] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc


def read_line(proc, timeout):
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.1)
        if r:
            c = os.read(proc.stdout.fileno(), 1)
            if not c:
                break
            if c == b"\n":
                return line.decode()
            line += c
    return None


class Reports:
    """The events the mmnet side reports on its control link (a monitor connection on the
    server, the control client on the client side), kept in arrival order."""

    def __init__(self, link):
        self.link, self.seen = link, []

    def pump(self, timeout):
        body = self.link.next_body(timeout)
        if body is not None:
            m = decode(body)
            if field(m, "ev") is not None:
                self.seen.append(m)
            else:
                self.link.messages.insert(0, body)
                return False
        return body is not None

    def wait(self, pred, timeout=4):
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.seen):
                if pred(m):
                    del self.seen[i]
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self.pump(min(left, 0.2)) and self.link.messages:
                self.link.hub.pump(0.05)

    def events_of(self, ident, timeout=0.3):
        """Every report about one id that arrives within timeout (after those kept)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.05)
        out = [m for m in self.seen if field(m, "id") == ident and field(m, "ev") != "connect"]
        self.seen = [m for m in self.seen if field(m, "id") != ident]
        return out


def request(link, msg, reply_cmd, timeout=8):
    """Sends a command and returns the first message with cmd == reply_cmd."""
    link.send(msg)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = link.next_body(deadline - time.monotonic())
        if body is None:
            return None
        m = decode(body)
        if field(m, "cmd") == reply_cmd:
            return m
        if field(m, "ev") is not None and getattr(link, "reports", None):
            link.reports.seen.append(m)
    return None


def check_values(link, side):
    """Every test table both ways, the byte vectors, float bits, many and large messages."""
    t0 = time.monotonic()
    link.send(M(cmd="send_cases"))
    got = {}
    while True:
        m = link.recv(20)
        if m is None or field(m, "cmd") == "cases_done":
            break
        if field(m, "cmd") == "case":
            got[field(m, "name")] = field(m, "value")
    for name, want in CASES.items():
        check(same(want, got.get(name)), "%s: mmnet -> python table %s" % (side, name),
              "want %s got %s" % (show(want), show(got.get(name))))
    for name, want in CASES.items():
        r = request(link, M(cmd="check", name=name, value=want), "checked", 15)
        check(r is not None and field(r, "ok") is True, "%s: python -> mmnet table %s" % (side, name),
              show(r))
    for name, raw in DECODED.items():
        r = request(link, M(cmd="check_decoded", name=name, value=Raw(hx(raw))), "checked")
        check(r is not None and field(r, "ok") is True,
              "%s: python -> mmnet non-canonical %s" % (side, name), show(r))
    for lua, want in VECTORS:
        link.send(M(cmd="send_table", name=lua))
        body = link.next_body(5)
        check(body == hx(want), "%s: vector %s" % (side, lua),
              "want %s got %s" % (want, body.hex() if body else None))
    # NaN bits: mmnet's NaN goes out bit-exact (it is Lua's own 0/0); ours comes in bit-exact
    link.send(M(cmd="send_table", name='{0/0, string.pack(">d", 0/0)}'))
    body = link.next_body(5)
    ok = body is not None and body[:2] == b"\x92\xcb" and body[2:10] == body[-8:]
    check(ok, "%s: NaN bits mmnet -> python" % side, body.hex() if body else None)
    # many messages, pipelined
    n = 1000
    values = [M(seq=i, v=(i, -i, i / 3, "s%d" % i, text(b"\xfe" * (i % 5)), M(x=i % 2 == 0)))
              for i in range(n)]
    for v in values:
        link.send(M(cmd="echo", value=v, seq=field(v, "seq")))
    ok = True
    for i in range(n):
        m = link.recv(10)
        if m is None or field(m, "seq") != i or not same(field(m, "value"), values[i]):
            ok = False
            check(False, "%s: echo %d in order" % (side, i), show(m))
            break
    check(ok, "%s: %d echoes in order, values intact" % (side, n))
    # large: several MiB each way; and exactly MaxMessageSize
    blob = bytes(range(256)) * (3 * 1024 * 1024 // 256)
    r = request(link, M(cmd="size", value=(blob, blob.decode("latin-1"), blob[:1000])), "size", 20)
    want = len(blob) + len(blob.decode("latin-1").encode()) + 1000
    check(r is not None and field(r, "bytes") == want, "%s: python -> mmnet 9 MiB message" % side,
          show(r))
    prefix = encode(M(cmd="size", value=(b"",)))
    size = MAX_MESSAGE - (len(prefix) - 2) - 5
    body = encode(M(cmd="size", value=(b"\x01" * size,)))
    check(len(body) == MAX_MESSAGE, "%s: body of exactly MaxMessageSize built" % side, len(body))
    r = request(link, Raw(body), "size", 30)
    check(r is not None and field(r, "bytes") == size,
          "%s: a message of exactly MaxMessageSize (16777216) is accepted" % side, show(r))
    print("     (values took %.1f s)" % (time.monotonic() - t0), flush=True)


# Frames mmnet must refuse, with the reason PROTOCOL.md gives
BAD_FRAMES = [
    ("oversized", struct.pack(">IB", MAX_MESSAGE + 1, 0),
     "message of 16777217 bytes is over MaxMessageSize (16777216)"),
    ("root integer", frame(0, b"\x01"),
     "malformed message: the message must be a table (MessagePack map or array), found an "
     "integer (0x01) at byte 0"),
    ("empty body", frame(0, b""), "malformed message: empty input"),
    ("truncated", frame(0, hx("91 ce 00 00")),
     "malformed message: truncated at byte 1 (4 bytes needed, 2 remain)"),
    ("huge count", frame(0, hx("dd ffffffff")),
     "malformed message: array of 4294967295 entries declared at byte 0 but only 0 bytes remain"),
    ("nil key", frame(0, hx("81 c0 01")), "malformed message: nil map key at byte 1"),
    ("NaN key f64", frame(0, hx("81 cb 7ff8000000000000 01")),
     "malformed message: NaN map key at byte 1"),
    ("NaN key f32", frame(0, hx("81 ca 7fc00000 01")), "malformed message: NaN map key at byte 1"),
    ("ext d4", frame(0, hx("91 d4 01 00")),
     "malformed message: MessagePack extension types are not supported (0xd4 at byte 1)"),
    ("timestamp", frame(0, hx("91 d6 ff 00000000")),
     "malformed message: MessagePack extension types are not supported (0xd6 at byte 1)"),
    ("ext8", frame(0, hx("91 c7 01 05 00")),
     "malformed message: MessagePack extension types are not supported (0xc7 at byte 1)"),
    ("c1", frame(0, hx("91 c1")), "malformed message: invalid byte 0xc1 at byte 1"),
    ("uint64 > 2^63-1", frame(0, hx("91 cf 8000000000000000")),
     "malformed message: unsigned integer above 9223372036854775807 at byte 1"),
    ("trailing", frame(0, hx("91 01 00")),
     "malformed message: 1 trailing byte after the message (at byte 2)"),
    ("65 levels", frame(0, b"\x91" * 64 + b"\x90"), "message nested deeper than 64 levels (at byte 64)"),
    ("ping of 7", frame(1, b"1234567"), "control frame of 7 bytes (expected 8)"),
    ("pong of 9", frame(2, b"123456789"), "control frame of 9 bytes (expected 8)"),
    ("ping of 0", frame(1, b""), "control frame of 0 bytes (expected 8)"),
    ("type 3", frame(3, b""), "unknown frame type 3"),
    ("type 255", frame(255, b"abc"), "unknown frame type 255"),
    ("type 3, N = 2^32-1", struct.pack(">IB", 0xffffffff, 3), "unknown frame type 3"),
    ("ping, N = 2^32-1", struct.pack(">IB", 0xffffffff, 1),
     "control frame of 4294967295 bytes (expected 8)"),
    ("cut header", struct.pack(">IB", 10, 0)[:3], "peer closed the connection in the middle of a message"),
    ("cut body", struct.pack(">IB", 10, 0) + b"\x93\x01", "peer closed the connection in the middle of a message"),
]
CUT = ("cut header", "cut body")


def hello_failures(port):
    """(name, bytes sent, shut down write side after, reason) for hellos mmnet refuses."""
    return [
        ("bad magic", b"XXXX\x01\x00\x00\x00", False, "peer is not mmnet (bad hello magic)"),
        ("HTTP GET", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False, "peer speaks HTTP, not mmnet"),
        ("HTTP POST", b"POST / HTTP/1.1\r\n\r\n", False, "peer speaks HTTP, not mmnet"),
        ("HTTP reply", b"HTTP/1.1 200 OK\r\n\r\n", False, "peer speaks HTTP, not mmnet"),
        ("version 2", b"MMNT\x02\x00\x00\x00", False,
         "protocol version mismatch: peer speaks 2, this side 1"),
        ("version 0", b"MMNT\x00\x00\x00\x00", False,
         "protocol version mismatch: peer speaks 0, this side 1"),
        ("encrypted flag", b"MMNT\x01\x01\x00\x00", False, "peer uses encryption and this side has no key"),
        ("unknown flag", b"MMNT\x01\x02\x00\x00", False, "peer hello has unknown flags"),
        ("reserved byte", b"MMNT\x01\x00\x00\x01", False, "peer hello has unknown flags"),
        ("TLS record", bytes.fromhex("160301002e0100002a0303") + bytes(40), False,
         "peer started TLS but this side has no key (encryption on one side only)"),
        ("closed in hello", b"MMN", True, "peer closed the connection during the hello"),
        ("nothing", b"", False, "no hello from peer within 1 s"),
        # checked only once 8 bytes are there: 7 bytes of HTTP wait for the timeout
        ("7 bytes", b"GET /\r\n", False, "no hello from peer within 1 s"),
    ]


# ---- Python client against an mmnet server -----------------------------------------------------

def run_client_mode(script):
    settings = "{PingInterval = 0.5, PeerTimeout = 3, HelloTimeout = 1}"
    proc = spawn([script, "60", settings, "0C03EA65238DD2C25EB87CE563868098"])
    try:
        line = read_line(proc, 10)
        if not check(line is not None and line.startswith("PORT "), "mmnet server started", line):
            return
        port = int(line.split()[1])
        tls_port = int(read_line(proc, 5).split()[1])
        hub = Hub()
        # the server sends its hello at once, without waiting for ours
        first = connect(hub, port, "early", hello=None)
        check(first.read_hello(3) == HELLO, "server: hello arrives before ours is sent",
              show(first.peer_hello))
        first.send_hello()
        mon = connect(hub, port, "monitor")
        mon.reports = Reports(mon)
        r = request(mon, M(cmd="monitor"), "monitoring")
        check(r is not None, "server: monitor connection works", show(r))
        reports = mon.reports
        bystander = connect(hub, port, "bystander")
        check_values(bystander, "server")
        r = request(first, M(cmd="count"), "count")
        check(field(r, "n") == 3, "server: 3 connections counted", show(r))

        # hello failures: an EVENT_ERROR on the server, naming our address; no connection
        # all at once (two of them wait for HelloTimeout)
        tried = []
        for name, data, shut, reason in hello_failures(port):
            link = connect(hub, port, name, hello=None)
            if data:
                link.write(data)
            if shut:
                link.shut_write()
            tried.append((name, reason, link, "127.0.0.1:%d: " % link.sock.getsockname()[1]))
        for name, reason, link, me in tried:
            ev = reports.wait(lambda m: field(m, "ev") == "error" and field(m, "server") is True
                              and str(field(m, "errors", "")).startswith(me), 4)
            check(ev is not None and field(ev, "errors") == me + reason,
                  "server: hello %s -> EVENT_ERROR %r" % (name, reason), show(ev))
            end = link.wait_eof(3)
            check(end in ("eof", "reset") or (end or "").startswith("protocol"),
                  "server: hello %s -> connection closed (%s)" % (name, end))
            link.drop()
        r = request(first, M(cmd="count"), "count")
        check(field(r, "n") == 3, "server: refused hellos made no connection", show(r))
        # an encrypted server answers a plain hello with its hello in clear, then closes
        link = connect(hub, tls_port, "plain to TLS")
        me = "127.0.0.1:%d: " % link.sock.getsockname()[1]
        link.hub.until(lambda: link.eof, 3)
        check(link.peer_hello == HELLO[:5] + b"\x01\x00\x00" and link.eof is not None,
              "server: encrypted server answers a plain hello with MMNT 01 01 00 00 in clear",
              "%s %s" % (show(link.peer_hello), link.eof))
        ev = reports.wait(lambda m: field(m, "ev") == "error" and
                          str(field(m, "errors", "")).startswith(me), 4)
        check(field(ev, "errors") == me + "TLS handshake failed: peer is not encrypted: it sent a "
              "plain mmnet hello (give both sides the same key, or neither) (wrong version number)",
              "server: encrypted server reports the plain hello", show(ev))
        link.drop()

        # bad frames: EVENT_ERROR on the connection, then EVENT_CLIENT_CLOSE with the same reason
        tried = []
        for name, data, reason in BAD_FRAMES:
            link = connect(hub, port, name)
            link.send(M(cmd="whoami"))
            tried.append((name, data, reason, link))
        for name, data, reason, link in tried:
            me = field(link.recv(3), "id")
            link.write(frame(0, encode(M(seq=7))) + data)
            if name in CUT:
                link.shut_write()
            link.me = me
        for name, data, reason, link in tried:
            me = link.me
            evs = []
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and not any(field(e, "ev") == "client_close" for e in evs):
                evs += reports.events_of(me, 0.02)
            kinds = [(field(e, "ev"), field(e, "seq") if field(e, "ev") == "receive" else field(e, "errors")) for e in evs]
            check(kinds == [("receive", 7), ("error", reason), ("client_close", reason)],
                  "server: %s -> message before it delivered, EVENT_ERROR and close %r" % (name, reason),
                  show(kinds))
            end = link.wait_eof(3)
            check(end is not None, "server: %s -> connection closed (%s)" % (name, end))
            link.drop()
        # the deepest message accepted, roots of every kind
        deep = Raw(b"\x91" * 62 + b"\x90")   # 63 levels inside the root: 64 in all
        r = request(bystander, M(cmd="echo", seq=64, value=deep), "echo")
        check(r is not None and field(r, "seq") == 64, "server: 64 levels accepted", show(r))
        me = field(request(bystander, M(cmd="whoami"), "you"), "id")
        bystander.write(frame(0, b"\x90") + frame(0, b"\x80") + frame(0, hx("dc0000")))
        evs = reports.events_of(me, 0.5)
        check(len(evs) == 3 and all(field(e, "ev") == "receive" for e in evs),
              "server: empty array, empty map, array16 of 0 as roots", show(evs))
        # a pong nobody asked for is ignored; our ping is answered with the same bytes
        bystander.write(frame(PONG, b"\x00" * 8))
        payload = bystander.ping(b"\x01\x02\x03\x04\x05\x06\x07\x08")
        hub.until(lambda: any(p == payload for _, p in bystander.pongs), 3)
        check(any(p == payload for _, p in bystander.pongs), "server: our ping is ponged")
        r = request(bystander, M(cmd="stats"), "stats")
        check(r is not None and isinstance(field(r, "rtt"), float) and field(r, "rtt") > 0,
              "server: RTT measured from our pongs", show(r))
        refused = sum(1 for _, data, _ in BAD_FRAMES if len(data) >= 5 and data[4] == 0 and
                      len(data) == 5 + struct.unpack(">I", data[:4])[0]) + 1
        check(field(r, "refused") == refused,
              "server: MessagesRefused counts the refused messages", show(r))

        # liveness: a silent peer times out after PeerTimeout (3 s) with only the close event;
        # one that only pings and one that only pongs stay
        silent = connect(hub, port, "silent")
        pinger = connect(hub, port, "pinger")
        ponger = connect(hub, port, "ponger")
        ids = {}
        for l in (silent, pinger, ponger):
            ids[l.name] = field(request(l, M(cmd="whoami"), "you"), "id")
        silent.answer_pings, silent.ping_interval = False, None
        pinger.answer_pings, pinger.ping_interval = False, 0.5
        ponger.answer_pings, ponger.ping_interval = True, None
        quiet_from = silent.last_sent
        hub.until(lambda: silent.eof, 6)
        took = (silent.eof_time or time.monotonic()) - quiet_from
        check(silent.eof is not None and 2.9 <= took <= 5.5,
              "server: silent peer closed after PeerTimeout (%.2f s)" % took, silent.eof)
        evs = reports.events_of(ids["silent"], 0.3)
        kinds = [(field(e, "ev"), field(e, "errors")) for e in evs]
        check(kinds == [("client_close", "peer timed out after 3 s")],
              "server: silent peer -> only EVENT_CLIENT_CLOSE 'peer timed out after 3 s'", show(kinds))
        # The gaps between the pings as they arrived; not those next to a ping read after this
        # process had not run for a while (failed once with a gap of 0.80 s then one of 0.03
        # s: two pings read 0.03 s apart after a stall of about 0.4 s).
        times = [t for t, _ in silent.pings]
        late = silent.pings_late
        gaps = [times[i + 1] - times[i] for i in range(len(times) - 1) if not late[i] and not late[i + 1]]
        check(len(gaps) >= 3 and all(0.2 < g < 1.2 for g in gaps),
              "server: pings every PingInterval (0.5 s)", show(gaps))
        hub.until(lambda: False, 1.5)
        check(pinger.eof is None and ponger.eof is None,
              "server: peers that only ping / only pong stay connected (%.1f s)"
              % (time.monotonic() - quiet_from), "%s %s" % (pinger.eof, ponger.eof))
        for l in (pinger, ponger):
            r = request(l, M(cmd="whoami"), "you")
            check(r is not None, "server: %s still answers" % l.name)
            l.close()

        # closing: our FIN after two messages -> both delivered, then 'closed by peer'
        link = connect(hub, port, "fin")
        me = field(request(link, M(cmd="whoami"), "you"), "id")
        link.write(frame(0, encode(M(seq=1))) + frame(0, encode(M(seq=2))))
        link.shut_write()
        end = link.wait_eof(3)
        evs = reports.events_of(me, 0.5)
        kinds = [(field(e, "ev"), field(e, "seq") if field(e, "ev") == "receive" else field(e, "errors")) for e in evs]
        check(kinds == [("receive", 1), ("receive", 2), ("client_close", "closed by peer")],
              "server: FIN -> messages, then EVENT_CLIENT_CLOSE 'closed by peer'", show(kinds))
        check(end == "eof", "server: it answers our FIN with its own", end)
        link.drop()
        # RST
        link = connect(hub, port, "rst")
        me = field(request(link, M(cmd="whoami"), "you"), "id")
        link.write(frame(0, encode(M(seq=3))))
        time.sleep(0.2)
        link.reset()
        evs = reports.events_of(me, 1)
        kinds = [(field(e, "ev"), field(e, "seq") if field(e, "ev") == "receive" else field(e, "errors")) for e in evs]
        check(kinds == [("receive", 3), ("error", "connection reset by peer"),
                        ("client_close", "connection reset by peer")],
              "server: RST -> EVENT_ERROR then close 'connection reset by peer'", show(kinds))
        # the server closes us: what it sent first arrives, then its FIN; no close event
        link = connect(hub, port, "kicked")
        me = field(request(link, M(cmd="whoami"), "you"), "id")
        link.send(M(cmd="echo", seq=9, value=M()))
        link.send(M(cmd="disconnect"))
        m = link.recv(3)
        check(field(m, "seq") == 9, "server: Disconnect delivers what was sent first", show(m))
        check(link.wait_eof(3) == "eof", "server: Disconnect ends with a FIN", link.eof)
        evs = reports.events_of(me, 0.5)
        check(evs == [], "server: no close event after its own Disconnect", show(evs))
        link.drop()

        # the bystander and the first link lived through all of it
        r = request(bystander, M(cmd="echo", seq=99, value=CASES["keys"]), "echo")
        check(r is not None and same(field(r, "value"), CASES["keys"]),
              "server: other connections unaffected", show(r))
        check(first.eof is None and bystander.eof is None and mon.eof is None,
              "server: long-lived links still open")
        first.send(M(cmd="quit"))
        for l in (first, bystander, mon):
            l.close()
    finally:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        rest = proc.stdout.read().decode(errors="replace")
        print("     (mmnet server output: %s)" % rest.strip().replace("\n", " | "), flush=True)


# ---- mmnet client against a Python server ------------------------------------------------------

def run_server_mode(script):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    settings = "{PingInterval = 0.5, PeerTimeout = 3, HelloTimeout = 1}"
    proc = spawn([script, str(port), "60", settings])
    hub = Hub()

    def accept(hello=HELLO, timeout=4):
        r, _, _ = select.select([lsock], [], [], timeout)
        if not r:
            return None
        s, _ = lsock.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = Link(s, hub, "server-side")
        if hello is not None:
            link.send_hello(hello)
        return link

    try:
        control = accept(hello=None)
        if not check(control is not None, "mmnet client connected"):
            return
        check(control.read_hello(3) == HELLO, "client: its hello is the plain hello",
              show(control.peer_hello))
        hub.until(lambda: control.messages, 2)
        check(len(control.messages) == 1, "client: what it sent before connecting follows its "
              "hello at once, before ours is sent", len(control.messages))
        control.send_hello()
        m = control.recv(3)
        check(field(m, "cmd") == "iam" and field(m, "id") == 1,
              "client: a message queued before the connect arrives first", show(m))
        control.reports = Reports(control)
        reports = control.reports
        check_values(control, "client")

        def new_client(hello=HELLO):
            control.send(M(cmd="new_client"))
            return accept(hello)

        # the client sends its hello at once too
        link = new_client(hello=None)
        check(link is not None and link.read_hello(3) == HELLO,
              "client: hello arrives before ours is sent")
        link.send_hello()
        m = link.recv(3)
        me = field(m, "id")
        ev = reports.wait(lambda e: field(e, "id") == me and field(e, "ev") == "connected")
        check(field(ev, "result") is True, "client: EVENT_CONNECTED true after our hello", show(ev))
        keep = link

        # hello failures: EVENT_CONNECTED false with the reason
        # all at once (two of them wait for HelloTimeout)
        tried = []
        for name, data, shut, reason in hello_failures(port):
            link = new_client(hello=None)
            if not check(link is not None, "client: connects for %s" % name):
                continue
            link.read_hello(3)
            me = field(link.recv(3), "id")   # its first message came right after its hello
            if data:
                link.write(data)
            if shut:
                link.shut_write()
            tried.append((name, reason, link, me))
        for name, reason, link, me in tried:
            ev = reports.wait(lambda e: field(e, "ev") == "connected" and field(e, "id") == me, 4)
            check(ev is not None and field(ev, "result") is False and field(ev, "errors") == reason,
                  "client: hello %s -> EVENT_CONNECTED false %r" % (name, reason), show(ev))
            end = link.wait_eof(3)
            check(end is not None, "client: hello %s -> connection closed (%s)" % (name, end))
            link.drop()

        # bad frames: EVENT_ERROR, then EVENT_SERVER_CLOSE with the same reason
        tried = []
        for name, data, reason in BAD_FRAMES:
            link = new_client()
            if not check(link is not None, "client: connects for %s" % name):
                continue
            link.me = field(link.recv(3), "id")
            tried.append((name, data, reason, link))
        for name, data, reason, link in tried:
            link.write(frame(0, encode(M(seq=7))) + data)
            if name in CUT:
                link.shut_write()
        for name, data, reason, link in tried:
            me = link.me
            evs = []
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and not any(field(e, "ev") == "server_close" for e in evs):
                evs += reports.events_of(me, 0.02)
            kinds = [(field(e, "ev"), field(e, "seq") if field(e, "ev") == "receive" else field(e, "errors"))
                     for e in evs if field(e, "ev") != "connected"]
            check(kinds == [("receive", 7), ("error", reason), ("server_close", reason)],
                  "client: %s -> message before it delivered, EVENT_ERROR and close %r" % (name, reason),
                  show(kinds))
            check(link.wait_eof(3) is not None, "client: %s -> connection closed" % name)
            link.drop()

        # liveness on the client: a silent server times out after 3 s
        link = new_client()
        me = field(link.recv(3), "id")
        link.answer_pings, link.ping_interval = False, None
        quiet_from = link.last_sent
        hub.until(lambda: link.eof, 6)
        took = (link.eof_time or time.monotonic()) - quiet_from
        evs = reports.events_of(me, 0.3)
        kinds = [(field(e, "ev"), field(e, "errors")) for e in evs if field(e, "ev") != "connected"]
        check(kinds == [("server_close", "peer timed out after 3 s")] and 2.9 <= took <= 5.5,
              "client: silent server -> EVENT_SERVER_CLOSE 'peer timed out after 3 s' (%.2f s)" % took,
              show(kinds))
        link.drop()
        # our FIN: messages, then 'closed by peer'
        link = new_client()
        me = field(link.recv(3), "id")
        link.write(frame(0, encode(M(seq=1))) + frame(0, encode(M(seq=2))))
        link.shut_write()
        end = link.wait_eof(3)
        evs = reports.events_of(me, 0.5)
        kinds = [(field(e, "ev"), field(e, "seq") if field(e, "ev") == "receive" else field(e, "errors"))
                 for e in evs if field(e, "ev") != "connected"]
        check(kinds == [("receive", 1), ("receive", 2), ("server_close", "closed by peer")],
              "client: FIN -> messages, then EVENT_SERVER_CLOSE 'closed by peer'", show(kinds))
        check(end == "eof", "client: it answers our FIN with its own", end)
        link.drop()
        # its Disconnect: FIN after what it sent, no event
        r = request(control, M(cmd="disconnect", id=2), "disconnected")
        check(field(r, "was") is True, "client: Disconnect of a connected client", show(r))
        check(keep.wait_eof(3) == "eof", "client: Disconnect ends with a FIN", keep.eof)
        keep.drop()
        r = request(control, M(cmd="echo", seq=5, value=CASES["nested"]), "echo")
        check(r is not None and same(field(r, "value"), CASES["nested"]),
              "client: the control connection is unaffected", show(r))
        control.send(M(cmd="quit"))
        control.close()
    finally:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        rest = proc.stdout.read().decode(errors="replace")
        print("     (mmnet client output: %s)" % rest.strip().replace("\n", " | "), flush=True)
        lsock.close()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("client", "server"):
        sys.exit(__doc__)
    start = time.monotonic()
    if sys.argv[1] == "client":
        run_client_mode(sys.argv[2])
    else:
        run_server_mode(sys.argv[2])
    print("%d passed, %d failed (%.1f s)" % (check.passed, check.failed, time.monotonic() - start))
    sys.exit(1 if check.failed or not check.passed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Example: an mmnet chat client in Python, written from PROTOCOL.md alone.

It speaks mmnet's wire protocol in plaintext with the standard `socket` module and the stock
`msgpack` package (Debian: python3-msgpack): the 8-byte hello, then frames (4-byte big-endian
body length, 1-byte type, body), MessagePack message bodies, and pongs for the server's pings.
It joins examples/chat_server.lua like examples/chat_client.lua does: waits for the chat to
start, sends its lines, answers at least one ping, says goodbye, and leaves on "all done".

    /usr/bin/python3 examples/python_client.py PORT NAME [LINE...]

Thread: its own process's main thread.
"""
import socket
import struct
import sys

import msgpack

HELLO = b"MMNT\x01\x00\x00\x00"   # magic, version 1, flags 0 (plain), reserved 0 0
MESSAGE, PING, PONG = 0, 1, 2     # frame types


def read_exactly(sock, n):
    """Reads exactly n bytes; raises EOFError if the peer closes first."""
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the server closed the connection")
        data += chunk
    return bytes(data)


def check_hello(hello):
    """Raises ValueError unless `hello` is a plain mmnet version-1 hello."""
    if hello[:4] != b"MMNT":
        raise ValueError("not an mmnet server (bad magic %r)" % hello[:4])
    if hello[4] != 1:
        raise ValueError("protocol version %d, this client speaks 1" % hello[4])
    if hello[5] & 1:
        raise ValueError("the server uses encryption; this client is plain")
    if hello[5] != 0 or hello[6:8] != b"\0\0":
        raise ValueError("unknown hello flags")


def send_frame(sock, frame_type, body):
    """Writes one frame: length (big-endian u32), type (u8), body."""
    sock.sendall(struct.pack(">IB", len(body), frame_type) + body)


def send_message(sock, table):
    """Sends a dict or list as one mmnet message (a Lua table on the other side)."""
    send_frame(sock, MESSAGE, msgpack.packb(table, use_bin_type=True))


def read_frame(sock):
    """Returns (type, body) of the next frame."""
    length, frame_type = struct.unpack(">IB", read_exactly(sock, 5))
    return frame_type, read_exactly(sock, length)


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: python_client.py PORT NAME [LINE...]\n")
        return 2
    port, name = int(sys.argv[1]), sys.argv[2]
    lines = sys.argv[3:] or ["hello from " + name]

    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(HELLO)                      # both sides send their hello at once
    check_hello(read_exactly(sock, 8))
    print("%s: connected to mmnet at 127.0.0.1 port %d" % (name, port), flush=True)

    pings, said_bye = 0, False
    while True:
        frame_type, body = read_frame(sock)
        if frame_type == PING:
            send_frame(sock, PONG, body)     # echo the 8 bytes
            pings += 1
            if pings == 1:
                print("%s: answered a ping (%d bytes)" % (name, len(body)), flush=True)
        elif frame_type == MESSAGE:
            # Lua strings arrive as str (UTF-8) or bytes (bin); arrays as lists; maps as dicts
            # whose keys may be integers, so strict_map_key is off.
            table = msgpack.unpackb(body, raw=False, strict_map_key=False)
            if table.get("System") == "start":
                for line in lines:
                    send_message(sock, {"Name": name, "Text": line})
            elif table.get("System") == "all done":
                print("%s: the server says all done; leaving" % name, flush=True)
                break
            elif "Name" in table:
                print("%s: <%s> %s" % (name, table["Name"], table["Text"]), flush=True)
        elif frame_type != PONG:
            raise ValueError("unknown frame type %d" % frame_type)
        # Say goodbye once the lines are out and a ping has been answered.
        if pings > 0 and not said_bye and frame_type != PONG:
            send_message(sock, {"Bye": True})
            said_bye = True

    # Close as mmnet does: finish writing, send FIN, wait (briefly) for the peer's FIN.
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(2)
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

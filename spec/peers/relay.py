# A peer process for the specs: a TCP relay that forwards bytes both ways between the clients
# that connect to it and a target, and that can be told to stop forwarding without closing
# anything (a link that goes silent: no FIN, no RST, the sockets stay open).
#
#   /usr/bin/python3 relay.py TARGET_PORT CONTROL_FILE
#
# Listens on 127.0.0.1 (OS-chosen port) and prints "PORT n". Each accepted connection gets its
# own connection to 127.0.0.1:TARGET_PORT. While CONTROL_FILE exists the relay reads nothing
# from any socket (bytes pile up in the kernel's buffers); once it is removed, forwarding
# resumes. Exits after 60 s at most.
#
# Thread: its own process's only thread (a select loop with a 20 ms step).
import os
import select
import socket
import sys
import time

target_port = int(sys.argv[1])
control = sys.argv[2]

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print("PORT %d" % listener.getsockname()[1], flush=True)

partner = {}  # socket -> the socket its bytes go to
pending = {}  # socket -> bytes read from its partner not yet written to it
deadline = time.monotonic() + 60


def close_pair(sock):
    other = partner.pop(sock, None)
    pending.pop(sock, None)
    sock.close()
    if other is not None:
        partner.pop(other, None)
        pending.pop(other, None)
        other.close()


while time.monotonic() < deadline:
    stalled = os.path.exists(control)
    readers = [listener] + ([] if stalled else list(partner))
    writers = [s for s, data in pending.items() if data and not stalled]
    readable, writable, _ = select.select(readers, writers, [], 0.02)
    for sock in readable:
        if sock is listener:
            client, _ = listener.accept()
            upstream = socket.create_connection(("127.0.0.1", target_port))
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.setblocking(False)
            partner[client], partner[upstream] = upstream, client
            pending[client], pending[upstream] = b"", b""
            continue
        if sock not in partner:
            continue
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            close_pair(sock)
            continue
        pending[partner[sock]] += data
    for sock in writable:
        if sock not in pending:
            continue
        try:
            n = sock.send(pending[sock])
        except BlockingIOError:
            continue
        except OSError:
            close_pair(sock)
            continue
        pending[sock] = pending[sock][n:]

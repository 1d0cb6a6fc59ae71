#!/usr/bin/python3
# A userspace TCP relay for the link tests (spec/links_spec.lua): forwards each connection to
# an upstream port, delaying every chunk by LATENCY seconds each way, capping each direction
# of each connection at RATE bytes/s, and stalling all forwarding for STALL_FOR seconds
# STALL_AT seconds after it starts. Reads the upstream ports from UPSTREAM_FILE ("plain PORT"
# and "encrypted PORT" lines, as soak.lua --ready-file writes them), listens on 127.0.0.1
# (OS-chosen ports), writes them to PORT_FILE in the same format, and exits after LIFETIME s.
#
#   relay.py UPSTREAM_FILE PORT_FILE [--latency 0.05] [--rate 1000000] [--stall-at 1.5]
#            [--stall-for 2] [--lifetime 120]
#
# Prints a summary line per connection when it ends ("relay: ... bytes up, ... down").
# Thread: one asyncio event loop.
import argparse, asyncio, os, sys, time

p = argparse.ArgumentParser()
p.add_argument("upstream_file")
p.add_argument("port_file")
p.add_argument("--latency", type=float, default=0.05)
p.add_argument("--rate", type=float, default=1e6)
p.add_argument("--stall-at", type=float, default=1.5)
p.add_argument("--stall-for", type=float, default=2.0)
p.add_argument("--lifetime", type=float, default=120)
args = p.parse_args()
START = time.monotonic()
CHUNK = 16384
QUEUED_CHUNKS = 64          # per direction: beyond this the relay stops reading (back-pressure)


def stalled_until(now):
    """The end of the stall if `now` is inside it, else None."""
    begin = START + args.stall_at
    end = begin + args.stall_for
    return end if begin <= now < end else None


async def pump(reader, writer, counter, key):
    """One direction: read, hold each chunk LATENCY s, write no faster than RATE, pause in the stall."""
    queue = asyncio.Queue(QUEUED_CHUNKS)

    async def read_side():
        while True:
            data = await reader.read(CHUNK)
            await queue.put((time.monotonic() + args.latency, data))
            if not data:
                return

    async def write_side():
        next_free = time.monotonic()
        while True:
            due, data = await queue.get()
            while True:
                now = time.monotonic()
                until = stalled_until(now)
                if until is not None:
                    await asyncio.sleep(until - now)
                elif now < due:
                    await asyncio.sleep(due - now)
                else:
                    break
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            next_free = max(next_free, time.monotonic()) + len(data) / args.rate
            writer.write(data)
            await writer.drain()
            counter[key] += len(data)
            delay = next_free - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    await asyncio.gather(read_side(), write_side())


async def handle(upstream_port, client_reader, client_writer):
    counter = {"up": 0, "down": 0}
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
    except OSError as e:
        print(f"relay: upstream {upstream_port}: {e}", flush=True)
        client_writer.close()
        return
    try:
        await asyncio.gather(pump(client_reader, up_writer, counter, "up"),
                             pump(up_reader, client_writer, counter, "down"))
    except (ConnectionError, OSError):
        pass
    finally:
        client_writer.close()
        up_writer.close()
    print(f"relay: connection to {upstream_port} ended: {counter['up']} bytes up, {counter['down']} down",
          flush=True)


async def main():
    deadline = time.monotonic() + 10
    text = ""
    while "plain" not in text:
        if time.monotonic() > deadline:
            sys.exit("relay: no upstream ports in " + args.upstream_file)
        try:
            text = open(args.upstream_file).read()
        except OSError:
            pass
        await asyncio.sleep(0.05)
    upstream = dict(line.split() for line in text.splitlines() if line.strip())
    lines = []
    servers = []
    for name, port in upstream.items():
        server = await asyncio.start_server(
            lambda r, w, port=int(port): handle(port, r, w), "127.0.0.1", 0)
        servers.append(server)
        lines.append(f"{name} {server.sockets[0].getsockname()[1]}\n")
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.rename(tmp, args.port_file)
    print("relay: listening: " + " ".join(l.strip() for l in lines), flush=True)
    await asyncio.sleep(args.lifetime)

asyncio.run(main())

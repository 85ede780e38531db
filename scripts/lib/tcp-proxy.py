#!/usr/bin/env python3
"""A loopback TCP proxy that can cut its clients off, to partition one process from a server (chaos.sh).

    tcp-proxy.py --listen PORT --target PORT

Listens on 127.0.0.1:PORT and forwards each connection to 127.0.0.1:TARGET, opening the backend
connection per accepted client, so a restarted server is reached again by the next client connection.
SIGUSR1 cuts: every open connection is reset (both sides) and new ones are reset as soon as they are
accepted, so the client sees the server vanish and its reconnects fail fast. SIGUSR2 heals. Says
"tcp-proxy: ready" once listening; logs each cut and heal. Standard library only.
"""
import argparse
import asyncio
import signal
import sys


def log(message):
    print(f"tcp-proxy: {message}", flush=True)


class Proxy:
    def __init__(self, target):
        self.target = target
        self.cut = False
        self.links = set()  # (client transport, backend transport) of every open connection

    async def serve(self, client_reader, client_writer):
        if self.cut:
            client_writer.transport.abort()
            return
        try:
            backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            # The server is down (a restart): the client sees a closed connection, as it would directly.
            client_writer.transport.abort()
            return
        if self.cut:  # cut while the backend connection was opening
            backend_writer.transport.abort()
            client_writer.transport.abort()
            return
        link = (client_writer.transport, backend_writer.transport)
        self.links.add(link)
        try:
            # Either side closing ends the connection: the Postgres protocol never half-closes.
            pumps = [asyncio.create_task(self.pump(client_reader, backend_writer)),
                     asyncio.create_task(self.pump(backend_reader, client_writer))]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for pump in pumps:
                pump.cancel()
        finally:
            self.links.discard(link)
            for writer in (client_writer, backend_writer):
                writer.close()

    @staticmethod
    async def pump(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass

    def cut_off(self):
        self.cut = True
        links = list(self.links)
        for transports in links:
            for transport in transports:
                transport.abort()
        log(f"cut: reset {len(links)} connections; refusing new ones")

    def heal(self):
        self.cut = False
        log("healed: accepting connections")


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    args = parser.parse_args()
    proxy = Proxy(args.target)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, proxy.cut_off)
    loop.add_signal_handler(signal.SIGUSR2, proxy.heal)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(proxy.serve, "127.0.0.1", args.listen)
    log(f"ready on 127.0.0.1:{args.listen}, forwarding to 127.0.0.1:{args.target}")
    async with server:
        await stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

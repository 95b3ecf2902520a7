#!/usr/bin/env python3
"""moto's server (STS GetCallerIdentity and the rest) for ssso's tests.

Listens on 127.0.0.1, port chosen by the kernel; prints the port as the first line of stdout.
Exits when stdin reaches EOF, so it dies with the process that started it.
Needs a python that has `moto[server]` (root's on the CI image).
"""
import os
import sys

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def main():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.buffer.read()  # blocks until EOF: our parent is gone
    os._exit(0)


if __name__ == "__main__":
    main()

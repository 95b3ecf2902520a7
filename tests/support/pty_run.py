#!/usr/bin/python3
"""Run a command on a fresh pseudo-terminal, expect/send style, bounded in time.

Usage: pty_run.py [--timeout SECS] [--expect REGEX --send TEXT]... -- PROGRAM [ARGS...]

Each --expect waits (from where the previous match ended) for REGEX in the terminal output,
then sends TEXT (Python escapes allowed: \\r, \\n, \\x04). After the last step it reads until the
program exits. Prints everything the terminal showed on stdout and exits with the program's
status (128+N if killed by signal N). On timeout: says which step timed out on stderr, kills the
program and exits 124. The window is 80x24; TERM=xterm unless set.
"""
import codecs
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time


def main():
    args = sys.argv[1:]
    timeout, steps = 30.0, []
    while args and args[0] != "--":
        if args[0] == "--timeout":
            timeout = float(args[1])
            args = args[2:]
        elif args[0] == "--expect" and len(args) >= 4 and args[2] == "--send":
            steps.append((re.compile(args[1].encode()),
                          codecs.decode(args[3], "unicode_escape").encode()))
            args = args[4:]
        else:
            sys.exit("pty_run.py: bad arguments: %r" % args)
    argv = args[1:]
    if not argv:
        sys.exit("pty_run.py: no program")
    os.environ.setdefault("TERM", "xterm")

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            os.write(2, ("pty_run.py: %s: %s\n" % (argv[0], e)).encode())
        os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    deadline = time.monotonic() + timeout
    out = bytearray()
    pos = 0

    def read_some():
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([fd], [], [], min(left, 0.2))
        if not r:
            return b""
        try:
            return os.read(fd, 65536)
        except OSError:  # EIO: the program closed the terminal
            return b"EOF"

    def fail(what):
        sys.stdout.buffer.write(bytes(out))
        sys.stdout.flush()
        sys.stderr.write("pty_run.py: timed out after %ss %s\n" % (timeout, what))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        sys.exit(124)

    eof = False
    for rx, text in steps:
        while True:
            m = rx.search(bytes(out), pos)
            if m:
                pos = m.end()
                os.write(fd, text)
                break
            if eof:
                fail("waiting for %r: the program closed the terminal" % rx.pattern)
            chunk = read_some()
            if chunk is None:
                fail("waiting for %r" % rx.pattern)
            if chunk == b"EOF":
                eof = True
            else:
                out += chunk
    while not eof:
        chunk = read_some()
        if chunk is None:
            fail("waiting for the program to exit")
        if chunk == b"EOF":
            break
        out += chunk
    # The terminal is closed; the program should be exiting now.
    while True:
        wpid, status = os.waitpid(pid, os.WNOHANG)
        if wpid:
            break
        if time.monotonic() > deadline:
            fail("waiting for the program to exit after it closed the terminal")
        time.sleep(0.02)
    sys.stdout.buffer.write(bytes(out))
    sys.stdout.flush()
    if os.WIFSIGNALED(status):
        sys.exit(128 + os.WTERMSIG(status))
    sys.exit(os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Mock AWS IAM Identity Center portal (and an SSO-OIDC that refuses refreshes) for ssso's tests.

Usage: mock_sso.py TOKENS_FILE SEEN_LOG

- GET /federation/credentials?role_name=R&account_id=A with header x-amz-sso_bearer_token: T
  -> 200 roleCredentials if T is a line of TOKENS_FILE (re-read on every request, so tests can
  append to it), else 401 UnauthorizedException. Every bearer token received (even unknown or
  empty ones) is appended as one line to SEEN_LOG before answering.
- POST /token (SSO-OIDC CreateToken, botocore's token refresh) -> 400 InvalidGrantException,
  so an expired token stays expired and nothing ever leaves 127.0.0.1.
- anything else -> 404.

Listens on 127.0.0.1, port chosen by the kernel; prints the port as the first line of stdout.
Exits when stdin reaches EOF, so it dies with the process that started it.
"""
import json
import os
import secrets
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKENS_FILE, SEEN_LOG = sys.argv[1], sys.argv[2]
LOCK = threading.Lock()


def valid_tokens():
    try:
        with open(TOKENS_FILE, encoding="utf-8") as f:
            return {line.strip() for line in f if line.strip()}
    except FileNotFoundError:
        return set()


def rand(alphabet, n):
    return "".join(secrets.choice(alphabet) for _ in range(n))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # to stderr, which the harness keeps in a file
        sys.stderr.write("mock_sso: " + (fmt % args) + "\n")

    def reply(self, status, body, error_type=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/federation/credentials":
            return self.reply(404, {"message": "not found: " + url.path}, "NotFoundException")
        token = self.headers.get("x-amz-sso_bearer_token", "")
        with LOCK:
            with open(SEEN_LOG, "a", encoding="utf-8") as f:
                f.write(token + "\n")
        query = parse_qs(url.query)
        if not query.get("role_name") or not query.get("account_id"):
            return self.reply(400, {"message": "role_name and account_id are required"},
                              "InvalidRequestException")
        if not token or token not in valid_tokens():
            return self.reply(401, {"message": "Session token not found or invalid"},
                              "UnauthorizedException")
        self.reply(200, {"roleCredentials": {
            "accessKeyId": "ASIA" + rand(string.ascii_uppercase + string.digits, 16),
            "secretAccessKey": rand(string.ascii_letters + string.digits, 40),
            "sessionToken": rand(string.ascii_letters + string.digits, 64),
            "expiration": int((time.time() + 3600) * 1000),
        }})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if urlparse(self.path).path == "/token":
            return self.reply(400, {"error": "invalid_grant",
                                    "error_description": "mock_sso refuses refreshes"},
                              "InvalidGrantException")
        self.reply(404, {"message": "not found"}, "NotFoundException")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.buffer.read()  # blocks until EOF: our parent is gone
    os._exit(0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Mock AWS IAM Identity Center portal and SSO-OIDC token refresh for ssso's tests.

Usage: mock_sso.py TOKENS_FILE SEEN_LOG [REFRESH_DIR]

- GET /federation/credentials?role_name=R&account_id=A with header x-amz-sso_bearer_token: T
  -> 200 roleCredentials if T is a line of TOKENS_FILE (re-read on every request, so tests can
  append to it), else 401 UnauthorizedException. Every bearer token received (even unknown or
  empty ones) is appended as one line to SEEN_LOG before answering. The credentials last 3600 s,
  or SECONDS for a token with a line "T SECONDS" in role-lifetimes (next to TOKENS_FILE); each
  one handed out is logged as "T ACCOUNT ROLE ACCESS_KEY_ID EXPIRATION_MS" in role-calls (there
  too).
- POST /token (SSO-OIDC CreateToken, grantType refresh_token), from ssso or from a host's
  botocore (the *client*: "host" for a User-Agent with "botocore", the remote's AWS CLI;
  "ssso" otherwise), with REFRESH_DIR given: the refreshToken must be a registration (the
  first word of a line of REFRESH_DIR/registered: "REFRESH_TOKEN EXPIRES_IN"; the refresh
  token is also the name of its *family*) or a token this mock issued, and not used before:
  refresh tokens rotate, each is good once, as the worst case of IAM Identity Center. A reused
  one is refused (400 InvalidGrantException) and logged as "FAMILY CLIENT" in
  REFRESH_DIR/reuses. A family listed in REFRESH_DIR/fail is refused; a family listed in
  REFRESH_DIR/refuse-host is refused to the host only (tests with token lifetimes below
  botocore's 15-minute window, where the host's botocore would refresh on every call), and
  each such attempt is logged as "FAMILY" in REFRESH_DIR/host-refused. Success: 200
  {accessToken, expiresIn, refreshToken, tokenType}; the new access token is appended to
  TOKENS_FILE (the portal accepts it until it expires: after that it is refused with 401 and
  logged in REFRESH_DIR/expired-uses; role credentials it buys last no longer than it does)
  and "FAMILY ACCESS_TOKEN CLIENT" to REFRESH_DIR/log.
  Anything else: 400 InvalidGrantException.
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
REFRESH_DIR = sys.argv[3] if len(sys.argv) > 3 else None
LOCK = threading.Lock()
ISSUED = {}  # refresh token this mock issued -> (family, expires_in)
USED = set()  # refresh tokens already exchanged
EXPIRES = {}  # access token issued by a refresh -> when it expires (epoch seconds)


def lines(name):
    try:
        with open(os.path.join(REFRESH_DIR, name), encoding="utf-8") as f:
            return [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def append(name, line):
    with open(os.path.join(REFRESH_DIR, name), "a", encoding="utf-8") as f:
        f.write(line + "\n")


def refresh(body, client):
    """(status, answer) for a CreateToken refresh_token request from `client`."""
    refused = (400, {"error": "invalid_grant", "error_description": "refresh token not valid"})
    if REFRESH_DIR is None or body.get("grantType") != "refresh_token":
        return refused
    if not body.get("clientId") or not body.get("clientSecret"):
        return 400, {"error": "invalid_client", "error_description": "client credentials missing"}
    token = body.get("refreshToken") or ""
    with LOCK:
        registered = {w[0]: (w[0], int(w[1])) for w in lines("registered") if len(w) == 2}
        family = ISSUED.get(token) or registered.get(token)
        if family is not None and client == "host" and \
                family[0] in {w[0] for w in lines("refuse-host")}:
            append("host-refused", family[0])
            return 400, {"error": "invalid_grant",
                         "error_description": "mock_sso refuses the host's refreshes of this family"}
        if token in USED:
            append("reuses", "%s %s" % (family[0] if family else "?", client))
            return 400, {"error": "invalid_grant", "error_description": "refresh token already used"}
        if family is None or family[0] in {w[0] for w in lines("fail")}:
            return refused
        USED.add(token)
        access = "refreshed-" + rand(string.ascii_lowercase + string.digits, 20)
        new_refresh = family[0] + "~" + rand(string.ascii_lowercase + string.digits, 8)
        ISSUED[new_refresh] = family
        EXPIRES[access] = time.time() + family[1]
        with open(TOKENS_FILE, "a", encoding="utf-8") as f:
            f.write(access + "\n")
        append("log", "%s %s %s" % (family[0], access, client))
    return 200, {"accessToken": access, "expiresIn": family[1], "refreshToken": new_refresh,
                 "tokenType": "Bearer"}


def side_lines(name):
    """The words of each line of the file `name` next to TOKENS_FILE (none if missing)."""
    try:
        with open(os.path.join(os.path.dirname(TOKENS_FILE), name), encoding="utf-8") as f:
            return [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return []


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
        expires = EXPIRES.get(token)
        if expires is not None and time.time() >= expires:
            with LOCK:
                append("expired-uses", token)
            return self.reply(401, {"message": "Session token expired"}, "UnauthorizedException")
        lifetime = 3600
        for words in side_lines("role-lifetimes"):
            if len(words) == 2 and words[0] == token:
                lifetime = int(words[1])
        if expires is not None:
            # Role credentials no longer than the token: every call after it presents a token.
            lifetime = max(1, min(lifetime, int(expires - time.time())))
        creds = {
            "accessKeyId": "ASIA" + rand(string.ascii_uppercase + string.digits, 16),
            "secretAccessKey": rand(string.ascii_letters + string.digits, 40),
            "sessionToken": rand(string.ascii_letters + string.digits, 64),
            "expiration": int((time.time() + lifetime) * 1000),
        }
        with LOCK:
            with open(os.path.join(os.path.dirname(TOKENS_FILE), "role-calls"), "a",
                      encoding="utf-8") as f:
                f.write("%s %s %s %s %d\n" % (token, query["account_id"][0], query["role_name"][0],
                                              creds["accessKeyId"], creds["expiration"]))
        self.reply(200, {"roleCredentials": creds})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if urlparse(self.path).path == "/token":
            client = "host" if "botocore" in self.headers.get("User-Agent", "") else "ssso"
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            status, answer = refresh(body if isinstance(body, dict) else {}, client)
            return self.reply(status, answer, None if status == 200 else "InvalidGrantException")
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

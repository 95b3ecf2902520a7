#!/bin/sh
# ssso --forward's credential_process helper. `ssso --forward` installs it as
# ~/.aws/ssso/credential-process (and replaces it when it changes); ~/.aws/config calls it:
#   [profile PROFILE]
#   credential_process = /home/USER/.aws/ssso/credential-process PROFILE
# It asks the ssso --forward session connected for PROFILE (the newest one that answers) for
# role credentials and prints them as credential_process JSON (Version 1). With no session
# connected it says so on stderr, with what to do, and exits 1.
# Needs curl 7.40 or later (--unix-socket) or python3; SSSO_FORWARD_CLIENT=curl|python3
# chooses one. No secret is ever on a command line: curl reads its header from stdin.
set -f
PATH=${PATH:-/usr/bin:/bin}:/usr/local/bin:/usr/bin:/bin
p=${1:-}
say() { printf 'ssso: %s\n' "$*" >&2; }
case $p in '' | *[!A-Za-z0-9._@+-]*)
  say "usage: $0 PROFILE (written by ssso --forward in ~/.aws/config)"
  exit 2
  ;;
esac
base=${0%/*}/forward/$p
host=$(uname -n 2>/dev/null) || host="this host"
NL='
'

client=${SSSO_FORWARD_CLIENT:-}
if [ -z "$client" ]; then
  if command -v curl >/dev/null 2>&1; then
    client=curl
  elif command -v python3 >/dev/null 2>&1; then
    client=python3
  fi
fi
case $client in curl | python3) ;; *)
  say "ssso --forward needs curl (7.40 or later) or python3 on $host to hand out credentials; install one of them"
  exit 1
  ;;
esac

# One request over the session's socket; prints the body, a newline and the HTTP status.
PY='import socket, sys
d = sys.argv[1]
try:
    secret = open(d + "/secret").read().strip()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(45)
    s.connect(d + "/s")
except OSError:
    sys.exit(7)
s.sendall(("GET /credential-process HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\nConnection: close\r\n\r\n" % secret).encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
parts = head.split(b" ")
code = parts[1].decode() if len(parts) > 1 else "000"
sys.stdout.write(body.decode("utf-8", "replace") + "\n" + code)'

# ask DIR: 0 = credentials printed, 3 = an error said, 7 = nobody answered on DIR/s.
ask() {
  secret=
  { IFS= read -r secret || [ -n "$secret" ]; } <"$1/secret" 2>/dev/null || return 7
  if [ "$client" = curl ]; then
    out=$(printf 'header = "Authorization: %s"\n' "$secret" |
      curl -s -K - --max-time 45 --unix-socket "$1/s" -w '\n%{http_code}' http://localhost/credential-process)
    rc=$?
    case $rc in
    0) ;;
    2) say "this curl cannot talk to a unix socket (it needs 7.40 or later); set SSSO_FORWARD_CLIENT=python3" && return 3 ;;
    7) return 7 ;;
    *) say "curl failed ($rc) talking to ssso's forward" && return 3 ;;
    esac
  else
    out=$(python3 -c "$PY" "$1") || return 7
  fi
  code=${out##*"$NL"}
  body=${out%"$NL"*}
  if [ "$code" = 200 ]; then
    printf '%s\n' "$body"
    return 0
  fi
  msg=$(printf '%s' "$body" | sed -n 's/.*"Message":"\([^"]*\)".*/\1/p')
  [ -n "$msg" ] || msg="the ssso forward answered HTTP $code"
  say "$msg"
  return 3
}

set +f
ids=$(ls -t "$base" 2>/dev/null)
set -f
for id in $ids; do
  IFS= read -r d <"$base/$id" 2>/dev/null || continue
  case $d in /*/ssso-fwd.*) ;; *) continue ;; esac
  tries=0
  while :; do
    ask "$d"
    case $? in
    0) exit 0 ;;
    3) exit 1 ;;
    esac
    # Nobody answered: a session that has ended (its watcher is gone), or one too busy for
    # a moment (a full listen queue): try that one again, briefly.
    IFS= read -r w <"$d/watcher" 2>/dev/null || w=
    if [ -z "$w" ] || ! kill -0 "$w" 2>/dev/null; then break; fi
    tries=$((tries + 1))
    [ "$tries" -lt 20 ] || break
    sleep 0.2 2>/dev/null || sleep 1
  done
done
say "no ssso --forward session for AWS profile $p is connected to $host (it ends with the ssso session); reconnect from your machine: ssso --forward --profile $p $host"
exit 1

#!/usr/bin/env bash
# Benchmark: ProxyCommand mode (`ssso proxy`) against plain ssh, on loopback.
#
#   bench/proxy.sh              (as root, after tests/support/setup.sh; needs hyperfine)
#
# It starts its own sshd on 127.0.0.1 for the test user ssso-bash, puts a fresh token in sync
# once, then
#   1. pushes SIZE (default 1 GiB) of zeros with `ssh HOST 'cat >/dev/null'` and pulls it with
#      `ssh HOST 'head -c SIZE /dev/zero' >/dev/null`, RUNS times each (best run kept), through:
#      direct ssh | ssso proxy (relay) | ssso proxy with SSSO_PROXY_RELAY=copy | ProxyUseFdpass;
#      prints MB/s and the ratio to direct;
#   2. times 20 back-to-back `scp` of a small file without and with the ProxyCommand (token in
#      sync, so the proxy reuses its master and skips the sync), with hyperfine.
# A benchmark, not a test: it asserts nothing.
set -euo pipefail
runs=${RUNS:-3}
size=${SIZE:-1G}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

cfg=$work/ssh_config
cat >"$cfg" <<CFG
Host direct relay fdpass
  HostName 127.0.0.1
  Port $port
  User $user
  SetEnv AWS_PROFILE=bench
Host relay fdpass
  ProxyCommand $ssso proxy -F $cfg --user %r --alias %n %h %p
Host fdpass
  ProxyUseFdpass yes
Host *
  IdentityFile $work/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/known_hosts
  StrictHostKeyChecking yes
  LogLevel ERROR
CFG
export HOME=$home
ssh -F "$cfg" relay true # first sync

# best-of-RUNS wall seconds for a shell command
best() {
  python3 - "$runs" "$1" <<'PY'
import subprocess, sys, time
best = None
for _ in range(int(sys.argv[1])):
    t = time.monotonic()
    subprocess.run(["bash", "-c", sys.argv[2]], check=True)
    t = time.monotonic() - t
    best = t if best is None or t < best else best
print(best)
PY
}
bytes=$(numfmt --from=iec "$size")
echo "== $size of zeros over loopback, best of $runs (MB/s; ratio to direct ssh)"
for dir in up down; do
  declare -A secs=()
  for how in direct relay relay-copy fdpass; do
    host=${how%-copy}
    env=""
    [ "$how" = relay-copy ] && env="SSSO_PROXY_RELAY=copy"
    if [ "$dir" = up ]; then
      c="head -c $size /dev/zero | $env ssh -F $cfg $host 'cat >/dev/null'"
    else
      c="$env ssh -F $cfg $host 'head -c $size /dev/zero' >/dev/null"
    fi
    [ -n "$env" ] && c="export $env; $c"
    secs[$how]=$(best "$c")
  done
  for how in direct relay relay-copy fdpass; do
    python3 -c "import sys; b,s,d=map(float,sys.argv[1:4]); print(f'  {sys.argv[4]:4s} {sys.argv[5]:11s} {b/s/1e6:7.1f} MB/s  {d/s:5.3f}x direct')" \
      "$bytes" "${secs[$how]}" "${secs[direct]}" "$dir" "$how"
  done
  unset secs
done

echo "== 20 back-to-back scp of a small file (token in sync)"
head -c 4096 /dev/urandom >"$work/small"
hyperfine -N --warmup 1 --runs "${SCP_RUNS:-5}" --export-json "$work/scp.json" \
  -n direct "bash -c 'for i in \$(seq 20); do scp -q -F $cfg $work/small direct:small; done'" \
  -n proxy "bash -c 'for i in \$(seq 20); do scp -q -F $cfg $work/small relay:small; done'" \
  >/dev/null
python3 - "$work/scp.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["direct"]["mean"]
for name in ("direct", "proxy"):
    x = r[name]
    print(f"  {name:7s} {x['mean']:6.2f} s ± {x['stddev'] or 0:4.2f}  ({x['mean']/20*1000:5.0f} ms per scp)  {x['mean']/base:5.2f}x direct")
PY

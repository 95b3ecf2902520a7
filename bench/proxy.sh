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
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
size=${SIZE:-1G}
user=${BENCH_USER:-ssso-bash}
cargo build --release --quiet
ssso=$PWD/target/release/ssso
work=$(mktemp -d /tmp/ssso-bench.XXXXXX)
pids=()
# Killing sshd also ends the proxy's sync master (its connection closes).
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/user_key"
mkdir -p "$work/keys" /run/sshd
cp "$work/user_key.pub" "$work/keys/$user"
chmod 755 "$work" "$work/keys"
port=$(free_port)
cat >"$work/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
UsePAM no
StrictModes no
AuthorizedKeysFile $work/keys/%u
PidFile none
Subsystem sftp internal-sftp
MaxStartups 100:30:200
CFG
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$work/host_key.pub")" >"$work/known_hosts"

home=$work/home
mkdir -p "$home/.aws/sso/cache"
cat >"$home/.aws/config" <<CFG
[profile bench]
sso_session = bench
sso_account_id = 123456789012
sso_role_name = ReadOnly
region = us-east-1

[sso-session bench]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
CFG
key=$(printf %s bench | sha1sum | cut -d' ' -f1).json
exp=$(date -u -d '+8 hours' +%Y-%m-%dT%H:%M:%SZ)
printf '{"startUrl": "https://example.awsapps.com/start", "region": "us-east-1", "accessToken": "bench-token", "expiresAt": "%s"}' "$exp" >"$home/.aws/sso/cache/$key"
chmod 600 "$home/.aws/sso/cache/$key"

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

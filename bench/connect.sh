#!/usr/bin/env bash
# Benchmark: the connect path against plain ssh and the manual recipe, on loopback and on an
# emulated 50 ms round-trip link (a relay that delays each direction by 25 ms).
#
#   bench/connect.sh            (as root, after tests/support/setup.sh; needs hyperfine)
#
# It starts its own sshd on 127.0.0.1 for the test user ssso-bash, puts a fresh token in sync
# once, then times with hyperfine:
#   ssh HOST true  |  ssso HOST true  |  scp TOKEN HOST:~/.aws/sso/cache/ && ssh HOST true
# and prints each one's ratio to plain ssh. A benchmark, not a test: it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-30}
user=${BENCH_USER:-ssso-bash}
cargo build --release --quiet
ssso=$PWD/target/release/ssso
work=$(mktemp -d /tmp/ssso-bench.XXXXXX)
pids=()
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
relay_port=$(free_port)
python3 bench/delay_relay.py "$relay_port" "$port" 25 < <(sleep infinity) >"$work/relay.out" &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/relay.out" 2>/dev/null && break; sleep 0.1; done

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

for link in loopback 50ms; do
  p=$port; [ "$link" = 50ms ] && p=$relay_port
  cat >"$work/ssh_config_$link" <<CFG
Host bench
  HostName 127.0.0.1
  Port $p
  User $user
  IdentityFile $work/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/known_hosts
  StrictHostKeyChecking accept-new
  LogLevel ERROR
CFG
done
export HOME=$home
"$ssso" --profile bench -F "$work/ssh_config_loopback" bench true  # first sync, host key

for link in loopback 50ms; do
  cfg=$work/ssh_config_$link
  echo "== $link"
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/$link.json" \
    -n ssh "ssh -F $cfg bench true" \
    -n ssso "$ssso --profile bench -F $cfg bench true" \
    -n manual "bash -c 'scp -q -F $cfg $home/.aws/sso/cache/$key bench:.aws/sso/cache/ && ssh -F $cfg bench true'" \
    >/dev/null
  python3 - "$work/$link.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["ssh"]["mean"]
for name in ("ssh", "ssso", "manual"):
    x = r[name]
    print(f"  {name:7s} {x['mean']*1000:7.1f} ms ± {x['stddev']*1000:5.1f}   {x['mean']/base:5.2f}x plain ssh")
PY
done

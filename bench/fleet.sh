#!/usr/bin/env bash
# Benchmark: `ssso sync` to 1, 8, 32 and 64 hosts at once, against the single-host sync run
# in a loop, on loopback.
#
#   bench/fleet.sh              (as root, after tests/support/setup.sh)
#
# It starts its own sshd on 127.0.0.1 (MaxStartups 100:30:200, as the test harness) for the
# test user ssso-bash; the hosts are N aliases of it in a generated ssh config. With the
# token already in sync (the steady state), it times, best of RUNS (default 3):
#   loop   for h in HOSTS; do ssso sync h; done
#   jobs8  ssso sync HOSTS              (the default --jobs 8)
#   jobsN  ssso sync --jobs N HOSTS     (every host at once)
# and prints each one's time and the speedup over the loop. A benchmark: it asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
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
MaxStartups 100:30:200
CFG
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
pids+=($!)
sleep 0.5

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
cat >"$work/ssh_config" <<CFG
Host h*
  HostName 127.0.0.1
  Port $port
  User $user
  IdentityFile $work/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/known_hosts
  StrictHostKeyChecking accept-new
  HostKeyAlias bench
  LogLevel ERROR
CFG
export HOME=$home
sync1() { "$ssso" sync --profile bench -F "$work/ssh_config" "$@" >/dev/null; }
sync1 h1  # first sync, host key

best() {  # best wall time in seconds of RUNS runs of "$@"
  local b=999999 s e t
  for _ in $(seq "$runs"); do
    s=$(date +%s.%N); "$@"; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc); if (( $(echo "$t < $b" | bc) )); then b=$t; fi
  done
  echo "$b"
}
loop() { for h in "$@"; do sync1 "$h"; done; }
echo "== ssso sync on loopback, token in sync, best of $runs ($(nproc) cores)"
one=$(best sync1 h1)
for n in 1 8 32 64; do
  hosts=$(seq -f 'h%g' 1 "$n")
  # shellcheck disable=SC2086
  l=$(best loop $hosts)
  # shellcheck disable=SC2086
  d=$(best sync1 $hosts)
  # shellcheck disable=SC2086
  a=$(best sync1 --jobs "$n" $hosts)
  printf '  %2d hosts  loop %6.2f s   jobs8 %6.2f s (%4.1fx loop)   jobs%-2d %6.2f s (%4.1fx loop, %4.1fx one host)\n' \
    "$n" "$l" "$d" "$(echo "$l / $d" | bc -l)" "$n" "$a" "$(echo "$l / $a" | bc -l)" "$(echo "$a / $one" | bc -l)"
done

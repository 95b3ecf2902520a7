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
# KEX=curve25519-sha256 sets the key exchange: OpenSSH 9's default, sntrup761x25519-sha512,
# costs about 0.13 CPU-seconds per connection on each side here, which is what bounds a fleet
# whose hosts all share this machine's two cores.
# and prints each one's time and the speedup over the loop. A benchmark: it asserts nothing.
set -euo pipefail
runs=${RUNS:-3}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

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
${KEX:+  KexAlgorithms $KEX}
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

#!/usr/bin/env bash
# Benchmark: the connect path against plain ssh and the manual recipe, on loopback and on an
# emulated 50 ms round-trip link (a relay that delays each direction by 25 ms).
#
#   bench/connect.sh            (as root, after tests/support/setup.sh; needs hyperfine)
#   PART=master bench/connect.sh    (only the part over the user's own ControlMaster)
#
# It starts its own sshd on 127.0.0.1 for the test user ssso-bash, puts a fresh token in sync
# once, then times with hyperfine:
#   ssh HOST true  |  ssso HOST true  |  scp TOKEN HOST:~/.aws/sso/cache/ && ssh HOST true
# and prints each one's ratio to plain ssh. Then, with the user's own connection sharing
# (ControlMaster auto, ControlPath, ControlPersist) and a live master started once with
# `ssh -f -N`:   ssh HOST true  |  ssso HOST true  |  ssso HOST true with its sync stamp
# removed first (ssso-sync: the sync runs), all over that master, and their ratio to ssh over
# the same master (the target is at most 2x). A benchmark, not a test: it asserts nothing.
set -euo pipefail
runs=${RUNS:-30}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

relay_port=$(free_port)
# The relay runs until its stdin ends: a fifo held open by a `sleep` that cleanup kills (a
# process substitution's sleep would outlive the script, and the user lock with it).
mkfifo "$work/relay.in"
sleep infinity 9>&- >"$work/relay.in" &
pids+=($!)
python3 bench/delay_relay.py "$relay_port" "$port" 25 9>&- <"$work/relay.in" >"$work/relay.out" &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/relay.out" 2>/dev/null && break; sleep 0.1; done

for link in loopback 50ms; do
  p=$port; [ "$link" = 50ms ] && p=$relay_port
  cat >"$work/ssh_config_master_$link" <<CFG
Host bench
  ControlMaster auto
  ControlPath $work/cm-$link-%C
  ControlPersist 600
Include $work/ssh_config_$link
CFG
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
# ssso's private directory (sockets, sync stamps) in the scratch directory.
export XDG_RUNTIME_DIR=$work/xdg
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
"$ssso" --profile bench -F "$work/ssh_config_loopback" bench true  # first sync, host key

for link in loopback 50ms; do
  [ "${PART:-all}" = master ] && break
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

for link in loopback 50ms; do
  cfg=$work/ssh_config_master_$link
  ssh -F "$cfg" -f -N bench   # the user's master, left in the background (ControlPersist)
  echo "== $link, over the user's live ControlMaster"
  # One --prepare per command, in order (a single one would apply to all three).
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/master-$link.json" \
    --prepare true --prepare true --prepare "find $XDG_RUNTIME_DIR -name u*.s -delete" \
    -n ssh "ssh -F $cfg bench true" \
    -n ssso "$ssso --profile bench -F $cfg bench true" \
    -n ssso-sync "$ssso --profile bench -F $cfg bench true" \
    >/dev/null
  ssh -F "$cfg" -O exit bench 2>/dev/null
  python3 - "$work/master-$link.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["ssh"]["mean"]
for name in ("ssh", "ssso", "ssso-sync"):
    x = r[name]
    print(f"  {name:9s} {x['mean']*1000:7.1f} ms ± {x['stddev']*1000:5.1f}   {x['mean']/base:5.2f}x ssh over the master")
PY
done

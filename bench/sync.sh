#!/usr/bin/env bash
# Benchmark: the sync against plain ssh, with host configs of 10 KB, 1 MB and 10 MB.
#
#   bench/sync.sh            (as root, after tests/support/setup.sh; needs hyperfine)
#   SIZES=10485760 MAX1=no bench/sync.sh     only the 10 MB case, without the MaxSessions 1 part
#
# It starts its own sshd on 127.0.0.1 for the test user ssso-bash (bench/lib.sh) and, for each
# size, writes a host ~/.aws/config of that size (profiles other than ssso's), then times:
#   ssh HOST true                 plain ssh
#   ssso HOST true, first sync    the host's token removed and its config restored before each
#                                 run, ssso's local record of the host dropped: the config is
#                                 fetched, merged and installed, the token written; the
#                                 sections are appended, so only they are sent back
#   ssso HOST true, first, replace  the same with an old [profile bench] in the middle of the
#                                 file: the whole merged file is sent back
#   ssso HOST true, unchanged     nothing to do: one round trip, nothing written
# and the transfer time of the file itself (down with `ssh HOST cat`, up with `ssh HOST
# 'cat >/dev/null'`), since a first sync moves it both ways. Targets (issue 9): unchanged with
# 10 MB within 1.2x plain ssh; first sync into 10 MB within 2x plain ssh plus the transfer.
# A benchmark, not a test: it asserts nothing.
set -euo pipefail
runs=${RUNS:-20}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

cfg=$work/ssh_config
cat >"$cfg" <<CFG
Host bench
  HostName 127.0.0.1
  Port $port
  User $user
  IdentityFile $work/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $work/known_hosts
  StrictHostKeyChecking accept-new
  LogLevel ERROR
CFG
export HOME=$home
export XDG_RUNTIME_DIR=$work/xdg XDG_STATE_HOME=$work/state
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
remote_home=$(getent passwd "$user" | cut -d: -f6)
rcfg=$remote_home/.aws/config
rtok=$remote_home/.aws/sso/cache/$key
rm -rf "$remote_home/.aws"
"$ssso" --profile bench -F "$cfg" bench true # the host key, the directories

gen() { # gen BYTES FILE [old]: an AWS config of about BYTES bytes (old: with an old
  # [profile bench] in the middle)
  python3 - "$1" "$2" "${3:-}" <<'PY'
import sys
n, out, old = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "old"
parts, i, size = ["# generated\n"], 0, 12
while size < n:
    s = f"[profile p{i}]\nregion = us-east-1\noutput = json\n\n"
    parts.append(s); size += len(s); i += 1
if old:
    parts.insert(len(parts) // 2, "[profile bench]\nregion = us-west-2\n\n")
open(out, "w").write("".join(parts))
PY
}

printf '%-7s %-22s %10s %8s %12s\n' size case "mean ms" "± ms" "x ssh"
for size in ${SIZES:-10240 1048576 10485760}; do
  gen "$size" "$work/gen"
  gen "$size" "$work/gen-old" old
  install -o "$user" -g "$user" -m 600 "$work/gen" "$rcfg"
  restore="install -o $user -g $user -m 600 $work/gen $rcfg && rm -f $rtok && rm -rf $XDG_STATE_HOME/ssso"
  restore_old="install -o $user -g $user -m 600 $work/gen-old $rcfg && rm -f $rtok && rm -rf $XDG_STATE_HOME/ssso"
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/replace.json" \
    --prepare "bash -c '$restore_old'" \
    -n replace "$ssso --profile bench -F $cfg bench true" >/dev/null
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/first.json" \
    --prepare "bash -c '$restore'" \
    -n first "$ssso --profile bench -F $cfg bench true" >/dev/null
  # Now in place: unchanged from here on.
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/steady.json" \
    -n ssh "ssh -F $cfg bench true" \
    -n unchanged "$ssso --profile bench -F $cfg bench true" \
    -n down "bash -c 'ssh -F $cfg bench cat .aws/config >/dev/null'" \
    -n up "bash -c 'ssh -F $cfg bench \"cat >/dev/null\" <$work/gen'" >/dev/null
  python3 - "$size" "$work/first.json" "$work/replace.json" "$work/steady.json" <<'PY'
import json, sys
size = int(sys.argv[1])
r = {}
for f in sys.argv[2:]:
    r.update({x["command"]: x for x in json.load(open(f))["results"]})
base = r["ssh"]["mean"]
label = f"{size // 1024} KB" if size < 1 << 20 else f"{size >> 20} MB"
transfer = r["down"]["mean"] + r["up"]["mean"] - 2 * base
for name, what in (("ssh", "ssh HOST true"), ("unchanged", "ssso, unchanged"),
                   ("first", "ssso, first sync"), ("replace", "ssso, first, replace"),
                   ("down", "ssh HOST cat config"),
                   ("up", "ssh HOST cat <config")):
    x = r[name]
    print(f"{label:7s} {what:22s} {x['mean']*1000:10.1f} {x['stddev']*1000:8.1f} {x['mean']/base:11.2f}x")
for name, what in (("first", "first vs 2x ssh+xfer"), ("replace", "replace vs 2x ssh+xfer")):
    print(f"{label:7s} {what:22s} {r[name]['mean']*1000:10.1f} {'':8s} "
          f"{r[name]['mean']/(2*base+max(transfer,0)):11.2f} of target")
PY
done

# A server that allows one session per connection: the sync goes over a second connection.
if [ "${MAX1:-yes}" = no ]; then
  rm -rf "$remote_home/.aws"
  exit 0
fi
port1=$(free_port)
sed -e "s/^Port .*/Port $port1/" -e "s/^MaxSessions .*/MaxSessions 1/" "$work/sshd_config" >"$work/sshd_config1"
/usr/sbin/sshd -D -e -f "$work/sshd_config1" 9>&- 2>"$work/sshd1.log" &
pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port1") 2>/dev/null && break; sleep 0.1; done
printf '[127.0.0.1]:%s %s\n' "$port1" "$(cut -d' ' -f1,2 "$work/host_key.pub")" >>"$work/known_hosts"
sed -e "s/^  Port .*/  Port $port1/" "$cfg" >"$work/ssh_config1"
# One --prepare per command, in order: the host's token removed before each ssso-token run.
hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/max1.json" \
  --prepare true --prepare "bash -c 'rm -f $rtok'" --prepare true \
  -n ssh "ssh -F $work/ssh_config1 bench true" \
  -n ssso-token "$ssso --profile bench -F $work/ssh_config1 bench true" \
  -n ssso-unchanged "$ssso --profile bench -F $work/ssh_config1 bench true" >/dev/null
python3 - "$work/max1.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["ssh"]["mean"]
for name, what in (("ssh", "ssh HOST true"), ("ssso-token", "ssso, token written"),
                   ("ssso-unchanged", "ssso, unchanged")):
    x = r[name]
    print(f"MaxSessions 1 {what:22s} {x['mean']*1000:10.1f} {x['stddev']*1000:8.1f} {x['mean']/base:11.2f}x")
PY
rm -rf "$remote_home/.aws"

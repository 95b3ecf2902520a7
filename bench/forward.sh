#!/usr/bin/env bash
# Benchmark: least-privilege mode (`ssso --forward`) against file-sync mode, on loopback.
#
#   bench/forward.sh      (as root, after tests/support/setup.sh; needs hyperfine; RUNS=20)
#
# It starts its own sshd on 127.0.0.1 for the test user ssso-bash, the tests' mock IAM Identity
# Center portal (which logs every GetRoleCredentials) and moto's STS, then, on the host:
#   1. file-sync mode: `aws sts get-caller-identity --profile bench` (the host's botocore calls
#      GetRoleCredentials itself, every process: AWS CLI v1 keeps no role-credential cache);
#   2. forward mode, while `ssso --forward ... 'cat >/dev/null'` holds a session: the same call
#      (credential_process -> the helper -> the forwarded socket -> ssso's cache), and the
#      helper alone with curl and with python3;
#   3. 100 concurrent `aws` calls in each mode: how many succeed, the wall time, and how many
#      GetRoleCredentials the portal answered.
# It prints the latency a call adds in forward mode. A benchmark, not a test: it asserts nothing.
set -euo pipefail
runs=${RUNS:-20}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# lib.sh holds the test user's lock (fd 9); start from an empty ~/.aws.
rm -rf "/home/$user/.aws"

# The mock portal and moto, alive as long as this script (they exit at EOF on stdin).
mock=$work/mock
mkdir -p "$mock"
echo bench-token >"$mock/tokens"
: >"$mock/seen"
# Their stdin: a FIFO held open by one sleep that the cleanup kills (without the user's lock:
# an orphaned sleep must not hold it).
mkfifo "$mock/hold"
sleep infinity >"$mock/hold" 2>/dev/null 9>&- &
pids+=($!)
python3 tests/support/mock_sso.py "$mock/tokens" "$mock/seen" <"$mock/hold" >"$mock/sso.port" 2>"$mock/sso.log" &
pids+=($!)
python3 tests/support/moto_stdin.py <"$mock/hold" >"$mock/sts.port" 2>"$mock/sts.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$mock/sso.port" ] && [ -s "$mock/sts.port" ] && break; sleep 0.1; done
sso_url=http://127.0.0.1:$(head -n 1 "$mock/sso.port")
sts_url=http://127.0.0.1:$(head -n 1 "$mock/sts.port")
calls() { grep -c '^bench-token ' "$mock/role-calls" 2>/dev/null || true; }

cat >"$work/ssh_config" <<CFG
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
cfg=$work/ssh_config
export HOME=$home AWS_ENDPOINT_URL_SSO=$sso_url AWS_ENDPOINT_URL_SSO_OIDC=http://127.0.0.1:9
# What every call on the host runs with (the sessions of this sshd get no SetEnv).
envs="AWS_ENDPOINT_URL_SSO=$sso_url AWS_ENDPOINT_URL_STS=$sts_url AWS_EC2_METADATA_DISABLED=true PATH=/opt/ssso-test/venv/bin:/usr/bin:/bin"
call="env $envs aws sts get-caller-identity --profile bench --output text --query Account"

on_host_time() { # on_host_time NAME COMMAND: hyperfine on the host, mean and stddev in ms
  ssh -F "$cfg" bench "hyperfine -N --warmup 2 --runs $runs --export-json /tmp/ssso-bench-$$.json '$2' >/tmp/ssso-bench-$$.out 2>&1 || tail -n 5 /tmp/ssso-bench-$$.out >&2; cat /tmp/ssso-bench-$$.json; rm -f /tmp/ssso-bench-$$.json /tmp/ssso-bench-$$.out" >"$work/$1.json"
  python3 - "$work/$1.json" "$1" <<'PY'
import json, sys
x = json.load(open(sys.argv[1]))["results"][0]
print(f"  {sys.argv[2]:24s} {x['mean']*1000:7.1f} ms ± {x['stddev']*1000:5.1f}")
open(sys.argv[1] + ".mean", "w").write(str(x["mean"]))
PY
}

burst() { # burst NAME: 100 concurrent calls on the host; successes, wall time, GetRoleCredentials
  local name=$1 before after out
  before=$(calls)
  out=$(ssh -F "$cfg" bench "d=\$(mktemp -d); s=\$(date +%s.%N); i=0; while [ \$i -lt 100 ]; do i=\$((i+1)); ($call >\$d/o\$i 2>&1; echo \$? >\$d/r\$i) & done; wait; e=\$(date +%s.%N); echo \$(cat \$d/r* | grep -c '^0\$') \$(echo \"\$e - \$s\" | bc); grep -L 123456789012 \$d/o* | head -n 1 | xargs -r tail -n 3 >&2; rm -rf \$d")
  after=$(calls)
  # shellcheck disable=SC2086 # two numbers
  set -- $out
  printf '  %-24s %s/100 ok in %5.1f s, %s GetRoleCredentials\n' "$name" "$1" "$2" "$((after - before))"
}

echo "== file-sync mode (the token on the host; its botocore calls GetRoleCredentials)"
"$ssso" --profile bench -F "$cfg" bench true
on_host_time file-sync "$call"
burst "100 concurrent"

echo "== forward mode (the token here; the host asks ssso over the session's connection)"
# The held session reads the FIFO: it ends (and its `cat` on the host) when the cleanup
# kills the FIFO's sleep.
"$ssso" --forward --profile bench -F "$cfg" bench 'cat >/dev/null' <"$mock/hold" >/dev/null 2>"$work/forward.err" &
pids+=($!)
for _ in $(seq 100); do
  ssh -F "$cfg" bench 'ls ~/.aws/ssso/forward/bench/ 2>/dev/null | grep -q .' && break
  sleep 0.2
done
before=$(calls)
on_host_time forward "$call"
on_host_time "helper (curl)" "/home/$user/.aws/ssso/credential-process bench"
on_host_time "helper (python3)" "env SSSO_FORWARD_CLIENT=python3 /home/$user/.aws/ssso/credential-process bench"
echo "  GetRoleCredentials for all of the above: $(($(calls) - before))"
burst "100 concurrent"

python3 - "$work/file-sync.json.mean" "$work/forward.json.mean" <<'PY'
import sys
f, w = (float(open(p).read()) for p in sys.argv[1:])
print(f"== a call in forward mode: {(w - f) * 1000:+.1f} ms over file-sync mode ({w / f:.2f}x)")
PY

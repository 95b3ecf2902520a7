# Shared set-up for the benchmarks (sourced, not run): a private sshd on 127.0.0.1 for one test
# user, and a local HOME holding an SSO profile `bench` with a token valid for 8 hours.
# Needs root and tests/support/setup.sh (the test users). Sets: ssso, work, port, home, key,
# and the helpers free_port and start_sshd; everything it starts ends with the script.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
user=${BENCH_USER:-ssso-bash}
# The test harness's per-user lock (tests/common/mod.rs): a test run elsewhere on this machine
# wipes the user's ~/.aws when it takes the user, which would break a sync under measurement.
# fd 9 holds it until the script ends; background processes started here must close it
# (`9>&-`), or they keep the user locked after the script.
mkdir -p /run/ssso-test-users
exec 9>"/run/ssso-test-users/$user"
flock 9
cargo build --release --quiet
ssso=$PWD/target/release/ssso
work=$(mktemp -d /tmp/ssso-bench.XXXXXX)
pids=()
# Killing sshd also ends any master still connected to it.
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/user_key"
mkdir -p "$work/keys" /run/sshd
cp "$work/user_key.pub" "$work/keys/$user"
chmod 755 "$work" "$work/keys"
port=$(free_port)
# A script may define before_sshd (run here, with $work and $port set) and SSHD_EXTRA (more
# sshd_config lines, e.g. SetEnv).
if declare -F before_sshd >/dev/null; then before_sshd; fi
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
MaxSessions 100
${SSHD_EXTRA:-}
CFG
/usr/sbin/sshd -D -e -f "$work/sshd_config" 9>&- 2>"$work/sshd.log" &
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

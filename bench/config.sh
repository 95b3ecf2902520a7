#!/usr/bin/env bash
# Benchmark: parsing a big ~/.aws/config (the remote-merge work reads files this size).
#
#   bench/config.sh            (SIZE_MB=13 by default; needs nothing but cargo and python3)
#
# Writes a SIZE_MB config of sso-session profiles (each with a session, account keys, a
# continuation value and comments; a [DEFAULT] section every profile inherits from), then
# times `ssso status --profile LAST` with the release build, RUNS times (best run kept):
# reading, parsing and resolving the last profile in the file. The token is missing, so the
# command ends with exit 1 after the parse; the time is the parse's. Asserts nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
size_mb=${SIZE_MB:-13}
runs=${RUNS:-5}
cargo build --release --quiet
ssso=$PWD/target/release/ssso
work=$(mktemp -d /tmp/ssso-bench-config.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home/.aws"
cfg=$work/home/.aws/config
last=$(python3 - "$cfg" "$size_mb" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("[DEFAULT]\noutput = json\ncli_pager =\n")
    i = 0
    while f.tell() < mb * 1024 * 1024:
        f.write(
            f"# profile {i}\n[profile p{i}]\nsso_session = s{i % 97}\nsso_account_id = {i:012d}\n"
            f"sso_role_name = Role{i}\nregion = eu-west-1\ns3 =\n  max_concurrent_requests = 20\n\n"
            f"[sso-session s{i % 97}x{i}]\nsso_start_url = https://d-{i}.awsapps.com/start\nsso_region = us-east-1\n"
        )
        i += 1
    for s in range(97):
        f.write(f"[sso-session s{s}]\nsso_start_url = https://s{s}.awsapps.com/start\nsso_region = eu-west-1\n")
print(f"p{i - 1}")
PY
)
bytes=$(wc -c <"$cfg")
echo "config: $bytes bytes, profile $last"
best=
for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    HOME=$work/home AWS_CONFIG_FILE=$cfg "$ssso" status --profile "$last" >/dev/null 2>&1 || true
    t=$((($(date +%s%N) - start) / 1000000))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
done
echo "ssso status --profile $last: best of $runs: $best ms"

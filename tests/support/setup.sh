#!/bin/bash
# One-time, idempotent machine setup for ssso's integration tests. Run as root, on Debian.
#
# - the Debian packages the tests need, when one is missing (openssh-server and client, the
#   seven login shells, python3-venv, rsync, git, sshpass, man-db); openssh-server is installed
#   without starting a system sshd;
# - moto[server] and awscli for the python3 that runs the tests' mock services, when missing;
# - one test user per login shell (ssso-bash, ssso-sh, ssso-zsh, ssso-ksh, ssso-tcsh, ssso-csh,
#   ssso-fish), plus ssso-pw (bash, password "ssso-test-pw"), ssso-ro (bash, home not writable by
#   the user, so creating ~/.aws fails), ssso-noaws (bash, no aws on PATH), ssso-noisy (tcsh,
#   a ~/.cshrc that prints), ssso-full (bash; the tests mount a tiny tmpfs on its ~/.aws) and
#   ssso-rec, whose login shell /opt/ssso-test/rec-shell (built from rec-shell.c) records how
#   it was started and then becomes bash (tests/differential.rs);
# - an AWS CLI v1 for the test users in /opt/ssso-test/venv (root's pyenv awscli lives in root's
#   0700 home), linked as /usr/local/bin/aws so login shells (whose /etc/profile resets PATH)
#   find it as they would on a real host;
# - /run/sshd (sshd's privilege-separation directory).
#
# It does NOT start any sshd: the tests start their own on 127.0.0.1.
set -euo pipefail

die() { echo "setup.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

VENV=/opt/ssso-test/venv
PW_USER_PASSWORD=ssso-test-pw

# Debian packages: install only what is missing (a quick dpkg query when all is there).
PACKAGES="openssh-server openssh-client tcsh csh zsh ksh fish rsync python3 python3-venv
    hyperfine sshpass git ca-certificates procps man-db groff-base bash-completion strace
    gcc libc6-dev"
missing=
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d 101 keeps the openssh-server package from starting the system sshd.
    policy=/usr/sbin/policy-rc.d made_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        made_policy=1
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    if [ -n "$made_policy" ]; then rm -f "$policy"; fi
fi

# The tests' STS (moto_server) and root's python tools.
if ! python3 -c 'import moto.moto_server.threaded_moto_server' >/dev/null 2>&1; then
    echo "setup.sh: installing moto[server] for $(command -v python3)"
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]' \
        || die "pip install moto[server] failed"
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi

need_shell() {  # first existing executable among the arguments
    for s in "$@"; do
        if [ -x "$s" ]; then echo "$s"; return 0; fi
    done
    die "none of these shells is installed: $* (apt-get install the shell's package)"
}

BASH_BIN=$(need_shell /bin/bash /usr/bin/bash)
DASH_BIN=$(need_shell /bin/dash /usr/bin/dash)
ZSH_BIN=$(need_shell /bin/zsh /usr/bin/zsh)
KSH_BIN=$(need_shell /bin/ksh /usr/bin/ksh /bin/ksh93 /usr/bin/ksh93 /bin/mksh)
TCSH_BIN=$(need_shell /bin/tcsh /usr/bin/tcsh)
CSH_BIN=$(need_shell /bin/bsd-csh /usr/bin/bsd-csh)
FISH_BIN=$(need_shell /usr/bin/fish /bin/fish)
[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd missing (apt-get install openssh-server)"

# user NAME SHELL: create if missing, force the shell, unlock for key login (UsePAM no).
ensure_user() {
    local name=$1 shell=$2
    if ! getent passwd "$name" >/dev/null; then
        useradd --create-home --shell "$shell" "$name"
    fi
    [ "$(getent passwd "$name" | cut -d: -f7)" = "$shell" ] || usermod --shell "$shell" "$name"
    if [ "$(getent passwd "$name" | cut -d: -f6)" != "/home/$name" ]; then
        die "$name: unexpected home directory"
    fi
    mkdir -p "/home/$name"
}

for pair in bash:"$BASH_BIN" sh:"$DASH_BIN" zsh:"$ZSH_BIN" ksh:"$KSH_BIN" tcsh:"$TCSH_BIN" \
    csh:"$CSH_BIN" fish:"$FISH_BIN" ro:"$BASH_BIN" noaws:"$BASH_BIN" noisy:"$TCSH_BIN" \
    full:"$BASH_BIN"; do
    name=ssso-${pair%%:*}
    ensure_user "$name" "${pair#*:}"
    usermod -p '*' "$name"   # '*' = no password, but not locked: key login works
    if [ "$name" != ssso-ro ]; then
        chown "$name:$name" "/home/$name"
        chmod 0755 "/home/$name"
    fi
done

# ssso-rec: a login shell that records its argv (tests/differential.rs), rebuilt when its
# source changes; root-owned, so the user's sessions can't change it.
REC_SHELL=/opt/ssso-test/rec-shell
REC_SRC=$(dirname "$0")/rec-shell.c
mkdir -p /opt/ssso-test
if [ ! -x "$REC_SHELL" ] || [ "$REC_SRC" -nt "$REC_SHELL" ]; then
    cc -O2 -Wall -o "$REC_SHELL.tmp" "$REC_SRC" || die "cannot build $REC_SHELL from $REC_SRC"
    mv -f "$REC_SHELL.tmp" "$REC_SHELL"
fi
chown root:root "$REC_SHELL"
chmod 0755 "$REC_SHELL"
ensure_user ssso-rec "$REC_SHELL"
usermod -p '*' ssso-rec
chown ssso-rec:ssso-rec /home/ssso-rec
chmod 0755 /home/ssso-rec

ensure_user ssso-pw "$BASH_BIN"
echo "ssso-pw:$PW_USER_PASSWORD" | chpasswd
chown ssso-pw:ssso-pw /home/ssso-pw
chmod 0755 /home/ssso-pw

# zsh without any startup file runs zsh-newuser-install in interactive shells: give it one.
if [ ! -e /home/ssso-zsh/.zshrc ]; then
    echo '# written by ssso tests/support/setup.sh' >/home/ssso-zsh/.zshrc
    chown ssso-zsh:ssso-zsh /home/ssso-zsh/.zshrc
fi

# ssso-ro: the home belongs to root and is read-only; the user can neither create ~/.aws nor
# chmod the home back. (The harness wipes ~/.aws as root before each test.)
chown root:root /home/ssso-ro
chmod 0555 /home/ssso-ro

# ssso-noaws: no aws on PATH. sshd hands it PATH=/usr/bin:/bin (Match block in the test sshd
# config); login shells read /etc/profile (which adds /usr/local/bin, where aws is linked) and then
# this ~/.profile, which takes it away again. Root-owned so the user's sessions can't change it.
rm -f /home/ssso-noaws/.bash_profile /home/ssso-noaws/.bash_login
cat >/home/ssso-noaws/.profile <<'PROFILE'
# written by ssso's tests/support/setup.sh: this test user must not find aws
PATH=/usr/bin:/bin
export PATH
PROFILE
chown root:root /home/ssso-noaws/.profile
chmod 0644 /home/ssso-noaws/.profile

# ssso-noisy (tcsh): a ~/.cshrc that prints on stdout and stderr for every `tcsh -c`, as real
# ones do; with ~/.aws/.test-nosh it hides sh (PATH), with ~/.aws/.test-slow it first sleeps that
# many seconds. Root-owned so the user's sessions can't change it.
cat >/home/ssso-noisy/.cshrc <<'CSHRC'
# written by ssso's tests/support/setup.sh: a startup file that talks
echo "Welcome to ssso-noisy (stdout noise)"
echo "token written"
echo "stderr noise" >/dev/stderr
/usr/bin/printf 'no newline after this noise'
if ( -e ~/.aws/.test-nosh ) setenv PATH /nonexistent
if ( -e ~/.aws/.test-slow ) sleep `cat ~/.aws/.test-slow`
CSHRC
chown root:root /home/ssso-noisy/.cshrc
chmod 0644 /home/ssso-noisy/.cshrc

# AWS CLI v1 for the test users, in a venv of Debian's python (world-readable).
if [ ! -x "$VENV/bin/aws" ]; then
    [ -x /usr/bin/python3 ] || die "/usr/bin/python3 missing"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    /usr/bin/python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check awscli \
        || { rm -rf "$VENV"; die "pip install awscli into $VENV failed"; }
fi
chmod -R a+rX /opt/ssso-test
"$VENV/bin/aws" --version >/dev/null 2>&1 || die "$VENV/bin/aws does not run"
ln -sfn "$VENV/bin/aws" /usr/local/bin/aws

mkdir -p /run/sshd
chmod 0755 /run/sshd

echo "setup.sh: test users, $VENV and /run/sshd are ready"

#!/bin/bash
# One-time, idempotent machine setup for ssso's integration tests. Run as root, on Debian 12
# (stock: no system-wide `pip install`, PEP 668).
#
# - the Debian packages the tests and CI need, when one is missing (openssh-server and client,
#   the seven login shells, python3-venv, rsync, git, sshpass, man-db, strace, shellcheck,
#   faketime: the refresher tests run the hosts' aws with its clock shifted);
#   openssh-server is installed without starting a system sshd;
# - two venvs of Debian's python3, each from a pinned requirements file beside this script
#   (installed again when the file changes; add a tool with one `name==version` line):
#   /opt/ssso-test/venv   the test users' AWS CLI v1 (awscli-requirements.txt);
#   /opt/ssso-test/tools  the harness's python tools, moto[server], and the third-party ssh
#                         clients of tests/clients.rs: paramiko, fabric, ansible-core
#                         (tools-requirements.txt);
#   the harness runs /opt/ssso-test/tools/bin/python unless SSSO_TEST_PYTHON names another;
# - one test user per login shell (ssso-bash, ssso-sh, ssso-zsh, ssso-ksh, ssso-tcsh, ssso-csh,
#   ssso-fish), plus ssso-pw (bash, password "ssso-test-pw"), ssso-ro (bash, home not writable by
#   the user, so creating ~/.aws fails), ssso-noaws (bash, no aws at all), ssso-noisy (tcsh,
#   a ~/.cshrc that prints), ssso-full (bash; the tests mount a tiny tmpfs on its ~/.aws) and
#   ssso-rec, whose login shell /opt/ssso-test/rec-shell (built from rec-shell.c) records how
#   it was started and then becomes bash (tests/differential.rs);
# - the test users' `aws`: /opt/ssso-test/bin holds only an `aws` link into the venv. The test
#   sshd's SetEnv PATH puts it first for `sh -c` commands; login shells, whose /etc/profile or
#   /etc/csh.login set PATH anew, get it from three drop-in files that act for the test users
#   only (ssso-noaws excluded): /etc/profile.d/ssso-test.sh (sh, dash, bash, ksh),
#   /etc/csh/login.d/ssso-test (tcsh, csh), /etc/fish/conf.d/ssso-test.fish (fish), and
#   ssso-zsh's ~/.zprofile (zsh reads no /etc/profile). The machine's own
#   /usr/local/bin/aws (where the AWS CLI v2 installer links it) is left alone; a link there
#   into /opt/ssso-test, made by an earlier version of this script, is removed;
# - /run/sshd (sshd's privilege-separation directory).
#
# It does NOT start any sshd: the tests start their own on 127.0.0.1.
set -euo pipefail

die() { echo "setup.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

HERE=$(cd "$(dirname "$0")" && pwd)
VENV=/opt/ssso-test/venv
TOOLS=/opt/ssso-test/tools
AWS_BIN=/opt/ssso-test/bin
PW_USER_PASSWORD=ssso-test-pw
# The test users that get the AWS CLI v1 (every one but ssso-noaws).
AWS_USERS="ssso-bash ssso-sh ssso-zsh ssso-ksh ssso-tcsh ssso-csh ssso-fish ssso-pw ssso-ro ssso-noisy ssso-full"

# Debian packages: install only what is missing (a quick dpkg query when all is there).
PACKAGES="openssh-server openssh-client tcsh csh zsh ksh fish rsync python3 python3-venv
    hyperfine sshpass git ca-certificates procps man-db groff-base bash-completion strace
    shellcheck gcc libc6-dev faketime"
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

# pinned_venv DIR REQUIREMENTS: a venv of Debian's python3 at DIR holding REQUIREMENTS. pip runs
# only when the file differs from the copy kept in DIR (so a change, such as one more line, is
# installed on the next run); an existing venv is updated in place, never removed, since other
# test runs on this machine may be using it.
pinned_venv() {
    local dir=$1 req=$2 stamp=$1/.ssso-requirements.txt
    if [ -x "$dir/bin/python" ] && cmp -s "$req" "$stamp"; then return 0; fi
    if [ ! -x "$dir/bin/python" ]; then
        [ -x /usr/bin/python3 ] || die "/usr/bin/python3 missing"
        rm -rf "$dir"
        mkdir -p "$(dirname "$dir")"
        /usr/bin/python3 -m venv "$dir" || die "python3 -m venv $dir failed (apt-get install python3-venv)"
    fi
    echo "setup.sh: installing $(grep -v '^#' "$req" | xargs) into $dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check --require-virtualenv -r "$req" \
        || die "pip install -r $req into $dir failed"
    cp "$req" "$stamp"
}

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
# config); login shells read /etc/profile (which adds /usr/local/bin, where the machine's own aws
# may be) and then this ~/.profile, which takes it away again. Root-owned so the user's sessions
# can't change it.
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

# The AWS CLI v1 for the test users and the harness's tools (moto_server for the tests' STS).
pinned_venv "$VENV" "$HERE/awscli-requirements.txt"
pinned_venv "$TOOLS" "$HERE/tools-requirements.txt"
mkdir -p "$AWS_BIN"
ln -sfn "$VENV/bin/aws" "$AWS_BIN/aws"
chmod -R a+rX /opt/ssso-test
"$AWS_BIN/aws" --version >/dev/null 2>&1 || die "$AWS_BIN/aws does not run"
"$TOOLS/bin/python" -c 'import moto.moto_server.threaded_moto_server' \
    || die "$TOOLS/bin/python cannot import moto's server"
"$TOOLS/bin/python" -c 'import paramiko, fabric' \
    || die "$TOOLS/bin/python cannot import paramiko and fabric"
"$TOOLS/bin/ansible-playbook" --version >/dev/null \
    || die "$TOOLS/bin/ansible-playbook does not run"

# An earlier version of this script linked /usr/local/bin/aws into /opt/ssso-test: remove that
# link (only that: anything else there is the machine's own aws).
if [ -L /usr/local/bin/aws ]; then
    case $(readlink /usr/local/bin/aws) in
        /opt/ssso-test/*)
            rm -f /usr/local/bin/aws
            echo "setup.sh: removed the old /usr/local/bin/aws link into /opt/ssso-test"
            ;;
    esac
fi

# The test users' login shells: /etc/profile and /etc/csh.login set PATH anew, so these add
# $AWS_BIN in front (before /usr/local/bin, where a machine's own CLI v2 may be), for the test
# users only. Rewritten on every run.
cat >/etc/profile.d/ssso-test.sh <<PROFILE
# written by ssso's tests/support/setup.sh: the AWS CLI v1 of ssso's test users (nobody else)
case " $AWS_USERS " in
    *" \$(id -un 2>/dev/null) "*)
        case ":\$PATH:" in
            *":$AWS_BIN:"*) ;;
            *) PATH="$AWS_BIN:\$PATH"; export PATH ;;
        esac
        ;;
esac
PROFILE
if [ -d /etc/csh/login.d ] || [ -e /etc/csh.login ]; then
    mkdir -p /etc/csh/login.d
    cat >/etc/csh/login.d/ssso-test <<CSHLOGIN
# written by ssso's tests/support/setup.sh: the AWS CLI v1 of ssso's test users (nobody else)
set ssso_test_user=\`id -un\`
if ( " $AWS_USERS " =~ *" \$ssso_test_user "* ) then
    if ( ":\${PATH}:" !~ *":$AWS_BIN:"* ) setenv PATH "$AWS_BIN:\${PATH}"
endif
unset ssso_test_user
CSHLOGIN
fi
mkdir -p /etc/fish/conf.d
cat >/etc/fish/conf.d/ssso-test.fish <<FISH
# written by ssso's tests/support/setup.sh: the AWS CLI v1 of ssso's test users (nobody else)
if contains -- (id -un) $AWS_USERS; and not contains -- $AWS_BIN \$PATH
    set -gx PATH $AWS_BIN \$PATH
end
FISH
# Debian's zsh reads no /etc/profile and keeps the PATH it is given (sshd's, which has
# $AWS_BIN); for a login that resets it, ssso-zsh's root-owned ~/.zprofile reads the sh file.
cat >/home/ssso-zsh/.zprofile <<'ZPROFILE'
# written by ssso's tests/support/setup.sh: the test users' AWS CLI v1 in zsh login shells
emulate sh -c '. /etc/profile.d/ssso-test.sh'
ZPROFILE
chown root:root /home/ssso-zsh/.zprofile
chmod 0644 /etc/profile.d/ssso-test.sh /etc/fish/conf.d/ssso-test.fish /home/ssso-zsh/.zprofile
if [ -e /etc/csh/login.d/ssso-test ]; then chmod 0644 /etc/csh/login.d/ssso-test; fi

mkdir -p /run/sshd
chmod 0755 /run/sshd

echo "setup.sh: test users, $VENV, $TOOLS, the login-shell PATH files and /run/sshd are ready"

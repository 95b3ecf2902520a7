# The checks of a path on the host before ssso writes there: shared by the sync's host program
# (host.sh, which refuses what they refuse) and `ssso doctor`'s (src/cmd/doctor.sh, which
# reports the same refusal, so that its fix is the one that works). Prepended to both
# programs (after src/ssh/reply.sh); POSIX sh, running only `id` and `ls`. Each sets `why` to
# the reason, with the path as the user knows it (~/...), when it refuses; the reasons are
# listed in src/cmd/doctor.rs (REFUSALS), each with its fix.
# shellcheck disable=SC2088,SC2046,SC2034
# kind: why the target p (shown as `shown`) cannot be used (empty: a regular file or missing).
kind() {
  why=''
  if [ -L "$p" ]; then
    why="$shown is a symlink; ssso does not write through it"
  elif [ -d "$p" ]; then
    why="$shown is a directory, not a file"
  elif [ -p "$p" ]; then
    why="$shown is a FIFO, not a file"
  elif [ -e "$p" ] && [ ! -f "$p" ]; then
    why="$shown is not a regular file"
  fi
}
# mine PATH WHAT: PATH is owned by this user ($uid) and not writable by others; else refused.
# Sets md_ to its mode (ls -l's).
mine() {
  w_=$2
  set -- $(ls -ldn "$1" 2>/dev/null)
  [ -n "$3" ] || { why="cannot look at $w_"; return 1; }
  md_=$1
  [ "$3" = "$uid" ] || { why="$w_ belongs to another user (uid $3); ssso does not write there"; return 1; }
  case $1 in
    d????w* | d???????w*) why="$w_ is writable by other users (mode $1); ssso does not write there (chmod go-w it)"; return 1 ;;
  esac
  return 0
}
# chain DIR [make]: every directory from $HOME's child down to DIR (a path under $HOME) is a
# directory (no symlink), this user's and not writable by group or others (sticky or not),
# checked from the top, so that nothing is created or written beneath one that is not. With
# `make`, a missing one is created (0700, by the umask) once those above it passed; without,
# the walk ends at the first missing one (nothing exists beneath it). Refused: res=refused and
# why; a directory that cannot be created: res=failed and why. Sets uid.
chain() {
  uid=$(id -u)
  why='' res=refused mk_=${2:-}
  c_=$HOME cs_='~' r_=${1#"$HOME"}
  while [ -n "$r_" ]; do
    r_=${r_#/}
    n_=${r_%%/*}
    case $r_ in */*) r_=${r_#*/} ;; *) r_='' ;; esac
    case $n_ in '' | .) continue ;; esac
    c_="$c_/$n_" cs_="$cs_/$n_"
    if [ -L "$c_" ]; then
      why="$cs_ is a symlink; ssso does not write through it"
      return 1
    elif [ -d "$c_" ]; then
      mine "$c_" "$cs_" || return 1
    elif [ -e "$c_" ]; then
      why="$cs_ is not a directory"
      return 1
    elif [ "$mk_" = make ]; then
      e_=$(mkdir "$c_" 2>&1) || { res=failed why="cannot create $cs_: ${e_##*: }"; return 1; }
    else
      return 0
    fi
  done
  return 0
}
# verdict P SHOWN DIR: what a write of P (shown as SHOWN, in directory DIR) would refuse,
# creating nothing: why is empty when the sync would write it.
verdict() {
  p=$1 shown=$2
  chain "$3" || return 0
  kind
  [ -n "$why" ] && return 0
  if [ -e "$p" ]; then mine "$p" "$shown" || return 0; fi
  why=''
}

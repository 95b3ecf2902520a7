# The checks of a path on the host before ssso writes there: shared by the sync's host program
# (host.sh, which refuses what they refuse) and `ssso doctor`'s (src/cmd/doctor.sh, which
# reports the same refusal, so that its fix is the one that works). Prepended to both
# programs (after src/ssh/reply.sh); POSIX sh, running only `id`, `ls` and `mkdir`. Each
# sets `why` to the reason, with the path as the user knows it (~/...), when it refuses; the
# reasons are listed in src/cmd/doctor.rs (REFUSALS), each with its fix.
# shellcheck disable=SC2088,SC2046,SC2034,SC2086
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
# mine PATH WHAT: PATH is owned by this user ($uid) and not writable by others (its group may
# write when it is the user's own private group, see own_group); else refused.
# Sets md_ to its mode (ls -l's).
mine() {
  judge "$(ls -ldn "$1" 2>/dev/null)" "$2"
}
# judge LINE WHAT: the same, from LINE, the path's line of `ls -ldn`.
judge() {
  w_=$2
  set -- $1
  [ -n "$3" ] || { why="cannot look at $w_"; return 1; }
  md_=$1
  [ "$3" = "$uid" ] || { why="$w_ belongs to another user (uid $3); ssso does not write there"; return 1; }
  case $1 in
    d???????w*) why="$w_ is writable by other users (mode $1); ssso does not write there (chmod go-w it)"; return 1 ;;
    d????w*)
      own_group "$4" && return 0
      why="$w_ is writable by other users (mode $1, group $4 is not this user's own); ssso does not write there (chmod g-w it)"
      return 1
      ;;
  esac
  return 0
}
# own_group GID: GID is this user's own group (a user private group, as Debian's sshd allows
# for group-writable paths): the user's primary group, named as the user, with no other
# member. Runs `id` and `getent` only for a group-writable directory.
own_group() {
  [ "$1" = "$(id -g)" ] || return 1
  og_=$(getent group "$1" 2>/dev/null) || return 1
  ou_=$(id -un) || return 1
  oi_=$IFS
  IFS=:
  set -- $og_
  IFS=$oi_
  [ "$1" = "$ou_" ] && { [ -z "${4:-}" ] || [ "$4" = "$ou_" ]; }
}
# chain DIR [make]: every directory from $HOME's child down to DIR (a path under $HOME) is a
# directory (no symlink), this user's and not writable by group or others (sticky or not),
# checked from the top, so that nothing is created or written beneath one that is not. With
# `make`, the missing ones are created (0700, by the umask) once those above them passed;
# without, the walk ends at the first missing one (nothing exists beneath it). Refused:
# res=refused and why; a directory that cannot be created: res=failed and why. Sets uid.
# Built-ins, `id` and one `ls` for all the directories that exist.
chain() {
  why='' res=refused mk_=${2:-} r_=${1#"$HOME"} c_=$HOME nl_='
'
  set --
  # The directories that exist, from the top; r_ keeps what is below them.
  while [ -n "$r_" ]; do
    r_=${r_#/}
    n_=${r_%%/*}
    case $n_ in '' | .) r_=${r_#"$n_"}; continue ;; esac
    [ -e "$c_/$n_" ] || [ -L "$c_/$n_" ] || break
    case $r_ in */*) r_=${r_#*/} ;; *) r_='' ;; esac
    c_="$c_/$n_"
    set -- "$@" "$c_"
  done
  uid=$(id -u)
  if [ "$#" -gt 0 ]; then
    # ls lists its operands sorted by name (LC_ALL=C): a prefix comes first, so in this order.
    o_=$(ls -ldn "$@" 2>/dev/null)
    for c_ do
      cs_="~${c_#"$HOME"}"
      if [ -L "$c_" ]; then
        why="$cs_ is a symlink; ssso does not write through it"
        return 1
      elif [ ! -d "$c_" ]; then
        why="$cs_ is not a directory"
        return 1
      fi
      l_=${o_%%"$nl_"*}
      case $o_ in *"$nl_"*) o_=${o_#*"$nl_"} ;; *) o_='' ;; esac
      case $l_ in *" $c_") ;; *) l_='' ;; esac
      judge "$l_" "$cs_" || return 1
    done
  fi
  # The missing ones, made from the top.
  [ "$mk_" = make ] || return 0
  while [ -n "$r_" ]; do
    r_=${r_#/}
    n_=${r_%%/*}
    case $r_ in */*) r_=${r_#*/} ;; *) r_='' ;; esac
    case $n_ in '' | .) continue ;; esac
    c_="$c_/$n_"
    if ! e_=$(mkdir "$c_" 2>&1); then
      # Another sync of this user may have made it meanwhile: then it is checked as one found.
      if [ -d "$c_" ] && [ ! -L "$c_" ]; then
        mine "$c_" "~${c_#"$HOME"}" || return 1
        continue
      fi
      res=failed why="cannot create ~${c_#"$HOME"}: ${e_##*: }"
      return 1
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

# ssso's host program for the sync and for `ssso setup --persist-profile`: it only reads and
# writes files, carefully; every decision (which token is newer, what the config becomes,
# which startup file gets which line) is made by ssso in Rust (src/sync/mod.rs,
# src/sync/home.rs, src/cmd/persist.rs). The reply helpers of src/ssh/reply.sh come first,
# then the path checks of src/sync/checks.sh (`kind`, `mine`, `chain`), shared with doctor.
# POSIX sh; besides sh's built-ins it runs cksum, wc, cat, ls, id, mkdir, mv, rm, sync and
# sleep (and chmod, getent for setup), and only when something is written or refused (an
# unchanged sync runs cksum, and id and ls to check the cache's directories first). Without
# cksum it answers an error at once and writes nothing.
#
# Parameters (never secrets):
#   K    the token cache file name (<sha1>.json) in ~/.aws/sso/cache; empty for setup (then
#        `t` is unknown and nothing under ~/.aws is looked at)
#   N    the nonce of the session waiting for this sync (empty: none waits). At the start the
#        program writes its pid to ~/.aws/sso/cache/.ssso-run-N (only when the cache's
#        directories pass the checks of `chain`, made if missing); when it ends, however it
#        ends short of SIGKILL, it creates .ssso-done-N beside it (see src/ssh/remote.rs).
#   TS TSS  test only: sleep TSS seconds at point TS (read: before the first answer; token and
#        config: with the new file complete in its temporary file); inert when empty
#
# Files: `t` is ~/.aws/sso/cache/$K, `c` is ~/.aws/config, `s` is the login shell's startup
# file named by `rc`. A digest is `CRC.SIZE` as POSIX cksum prints them; `none` stands for a
# missing file.
#
# Commands, one per line on stdin; each answer ends with a line `over`:
#   look F DIGEST   F is a regular file whose digest is DIGEST: `F same`; else `F none` (no
#                   such file), `F refused WHY` (not a regular file, or in a directory that a
#                   write would refuse: checked at the start for `t`), or `F differs DIGEST
#                   SIZE`, followed for `t` by the blob `:t` (its bytes)
#   lock F          takes the lock of F's directory (after checking it, see below) and keeps
#                   it until F's next `put` (or the end), so that other syncs wait while ssso
#                   decides: `F locked`, or `F refused WHY`, `F failed WHY`
#   get F           the blob `:F`, the file's bytes (`F none`, `F refused WHY`). For `s`, the
#                   file (when there is one) must be this user's and its directory checked as
#                   for a write, and the blob comes after a line `s mode MODE` (ls -l's mode)
#   put F SIZE DIGEST OLD [PERM]
#                   install SIZE bytes with DIGEST at F if F's digest is still OLD, with the
#                   octal permissions PERM (else 0600). For `t` the bytes follow on one line,
#                   written for printf %b (\0ooo escapes); for `c` and `s` they are the rest
#                   of stdin (so it is the last command). Answers `F written`, `F changed
#                   DIGEST` (F is not OLD any more: nothing written; for `t` with the blob
#                   `:t`), `F refused WHY` or `F failed WHY`.
#   add c SIZE DIGEST OLD
#                   as `put c`, but the new file is the current one (whose digest is OLD)
#                   followed by the rest of stdin: a change that only appends sends only
#                   what it adds.
#   shell           the facts setup needs: `shell $SHELL`, `passwd LINE` (getent's line for
#                   this user, only when $SHELL is empty) and `tcshrc yes|no` (~/.tcshrc exists)
#   rc NAME         `s` is ~/NAME from now on; NAME is one of .profile .bashrc .zshenv .cshrc
#                   .tcshrc .config/fish/config.fish (anything else ends the program with an
#                   error): answers `s ~/NAME`
#   end             the end: answers `done`.
#   end-if-same     the end (as `end`) when every `look` so far answered `same`; else answers
#                   `continue`. Sent right after the looks, so that an unchanged sync is one
#                   round trip and the waiting session is released at once.
# The install: a lock unless `lock F` holds it (the directory .ssso-lock in F's directory,
# holding the owner's pid; one whose owner is gone is taken over, one held by the same owner
# for more than about 10 s is broken), F's directories checked from the home's child down
# (each no symlink, owned by this user, not writable by group or others, sticky or not; a
# missing one made only once those above it passed) and F checked (no symlink, a regular file
# of this user's, or missing; `get` refuses what a write would refuse, creating nothing),
# this program's own temporaries left by killed runs removed, the bytes written to a
# temporary file beside F (.ssso-tok.PID, .ssso-cfg.PID or .ssso-set.PID), every step's
# status checked, flushed to disk (`sync FILE`, else `sync`), its size and
# digest checked, and renamed over F. On any failure F is left as it was, with no temporary.
#
# Paths in messages are written as the user knows them (~/...); `set -- $(...)` splits words
# on purpose. Redirections are only ever on regular commands or in `{ }` groups with their
# status checked: a failed redirection of a special built-in (`:`) would end the program.
# shellcheck disable=SC2088,SC2046,SC2086,SC2015,SC2154 # why, uid, md_: set by checks.sh
umask 077
a="$HOME/.aws"
d="$a/sso/cache"
tmp='' lock_dir='' held_t='' held_c='' held_s='' released='' marked='' S='' differ=''
release() {
  [ -z "$released" ] && [ -n "$marked" ] && { echo >"$d/.ssso-done-$N"; } 2>/dev/null
  released=1
  return 0
}
cleanup() {
  [ -n "$tmp" ] && rm -f "$tmp"
  [ -n "$lock_dir" ] && rm -rf "$lock_dir"
  [ -n "$held_t" ] && rm -rf "$held_t"
  [ -n "$held_c" ] && rm -rf "$held_c"
  [ -n "$held_s" ] && rm -rf "$held_s"
  release
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM PIPE
start
# The cache's directories checked (made if missing when a session waits): the run marker
# only goes into a cache that passes, and a refusal (dwhy) is the answer to `look t` (and to
# `look c` when it is ~/.aws's), even when the file is as expected.
dwhy=''
if [ -n "$K" ] && [ -n "$HOME" ] && [ -d "$HOME" ]; then
  if chain "$d" "${N:+make}" 2>/dev/null; then
    [ -z "$N" ] || { { echo "$$" >"$d/.ssso-run-$N"; } 2>/dev/null && marked=1; }
  elif [ "$res" = refused ]; then
    dwhy=$why
  fi
fi
[ -n "$HOME" ] && [ -d "$HOME" ] || {
  rp "error the remote home directory (${HOME:-unset}) does not exist"
  exit 0
}
# Every file ssso reads or writes is judged by its POSIX cksum digest: without cksum nothing
# can be compared, so nothing is written.
command -v cksum >/dev/null 2>&1 || {
  rp "error the host has no \`cksum\` on the PATH of non-interactive logins; ssso needs it (POSIX cksum) to compare the files it reads and writes there, and wrote nothing: install it (coreutils) or add its directory to that PATH"
  exit 0
}
[ -z "$K" ] || command -v aws >/dev/null 2>&1 || [ -x "$HOME/.local/bin/aws" ] || rp "aws missing"
hook() { [ "$TS" = "$1" ] && sleep "$TSS"; return 0; }

# where F: sets p (the path), dir, shown (the path for messages), tn (temporary's prefix).
where() {
  case $1 in
    t)
      [ -n "$K" ] || { rp "error no token file named"; exit 0; }
      p="$d/$K" dir=$d shown="~/.aws/sso/cache/$K" tn=.ssso-tok
      ;;
    c) p="$a/config" dir=$a shown="~/.aws/config" tn=.ssso-cfg ;;
    s)
      [ -n "$S" ] || { rp "error no startup file named (rc NAME)"; exit 0; }
      # The home itself is checked through `/.`: a home that is a symlink is still the user's.
      p="$HOME/$S" dir=${p%/*} shown="~/$S" tn=.ssso-set
      [ "$dir" = "$HOME" ] && dir="$HOME/."
      ;;
    *) rp "error unknown file $1"; exit 0 ;;
  esac
}
# digest: the digest of F in dg (`none` when missing).
digest() {
  dg=none
  [ -f "$p" ] || return 0
  set -- $(cksum <"$p") || return 1
  dg="$1.$2"
}
answer() { rp "$*"; rp over; }
# snap KEY: the token file as a blob, read once (a file replaced meanwhile by a writer like
# botocore's gives its old or its new bytes, whole; a token has no NUL bytes).
snap() {
  v_=$(cat "$p" && echo x) || return 1
  blob_var "$1" "${v_%x}"
}

# lock: the lock of F's directory (waits for a live owner, up to about 10 s of one owner;
# takes over from a dead one). Sets lock_dir.
lock() {
  L="$dir/.ssso-lock" i_=0 w_=''
  until e_=$(mkdir "$L" 2>&1); do
    case $e_ in *"File exists"*) ;; *) why="cannot write in ${shown%/*}: ${e_##*: }"; return 1 ;; esac
    o_=''
    [ -f "$L/pid" ] && { IFS= read -r o_ <"$L/pid"; } 2>/dev/null
    [ "$o_" = "$w_" ] || i_=0
    w_=$o_
    if { [ -n "$o_" ] && ! kill -0 "$o_" 2>/dev/null; } || [ "$i_" -ge 100 ]; then
      rm -rf "$L" 2>/dev/null || { why="cannot remove the stale lock ${shown%/*}/.ssso-lock"; return 1; }
      i_=0
      continue
    fi
    sleep 0.1 2>/dev/null || { sleep 1; i_=$((i_ + 9)); }
    i_=$((i_ + 1))
  done
  lock_dir=$L
  { echo "$$" >"$L/pid"; } 2>/dev/null
  return 0
}
# held: whether this program holds F's lock (taken by `lock F`, kept to the end).
held() {
  case $1 in t) [ -n "$held_t" ] ;; c) [ -n "$held_c" ] ;; *) [ -n "$held_s" ] ;; esac
}
# prepare F: F's directory and every one above it up to the home (see `chain`, checks.sh)
# checked from the top, a missing one made once those above it passed.
prepare() {
  checkdirs make || return 1
  res=failed
}
# checkdirs [make]: F's directories checked (and made, with `make`: see `chain`); for a file in
# the home itself, the home too (checked through `/.`, so that a home that is a symlink is
# still the user's): no symlink, this user's, not writable by others; else refused.
checkdirs() {
  chain "$dir" "${1:-}" || return 1
  [ "$dir" = "$HOME/." ] || return 0
  mine "$dir" "~" || { res=refused; return 1; }
  return 0
}
unlock() { [ -n "$lock_dir" ] && rm -rf "$lock_dir"; lock_dir=''; }
# sweep DIR: removes the temporaries and the lock of runs that were killed (their pid is gone).
# Shell built-ins only, unless there is something to remove.
sweep() {
  for f_ in "$1"/.ssso-tok.* "$1"/.ssso-cfg.* "$1"/.ssso-set.* "$1"/.ssso-config.*; do
    [ -f "$f_" ] || continue
    o_=${f_##*/.ssso-???.} o_=${o_##*/.ssso-config.} o_=${o_%%.*}
    case $o_ in '' | *[!0-9]*) continue ;; esac
    [ "$o_" != "$$" ] && kill -0 "$o_" 2>/dev/null && continue
    rm -f "$f_"
  done
  if [ -d "$1/.ssso-lock" ] && [ -f "$1/.ssso-lock/pid" ]; then
    o_=''
    { IFS= read -r o_ <"$1/.ssso-lock/pid"; } 2>/dev/null
    case $o_ in '' | *[!0-9]* | "$$") ;; *) kill -0 "$o_" 2>/dev/null || rm -rf "$1/.ssso-lock" ;; esac
  fi
  return 0
}
# install F SIZE DIGEST OLD: the checks, then the bytes (from `fill`) into place.
install() {
  prepare "$1" || return 1
  if ! held "$1"; then
    lock || return 1
    sweep "$dir"
  fi
  kind
  [ -n "$why" ] && { res=refused; return 1; }
  if [ -e "$p" ]; then mine "$p" "$shown" || { res=refused; return 1; }; fi
  digest || { why="cannot read $shown"; return 1; }
  [ "$dg" = "$4" ] || { res=changed; return 1; }
  tmp="$dir/$tn.$$"
  rm -f "$tmp"
  fill "$tmp" || { why="could not write $shown: $(werr)"; return 1; }
  set -- "$@" $(cksum <"$tmp")
  [ "$5.$6" = "$3" ] && [ "$6" = "$2" ] || { why="could not write $shown: $(werr)"; return 1; }
  if [ -n "$perm" ]; then
    e_=$(chmod "$perm" "$tmp" 2>&1) || { why="cannot set the mode of $shown: ${e_##*: }"; return 1; }
  fi
  { sync "$tmp" || sync; } 2>/dev/null
  case $1 in t) hook token ;; c) hook config ;; esac
  e_=$(mv -f "$tmp" "$p" 2>&1) || { why="cannot replace $shown: ${e_##*: }"; return 1; }
  tmp=''
  res=written
  return 0
}
# werr: the reason a write came out short, from the error it printed.
werr() {
  case $ferr in
    *"No space"*) echo "no space left on the device (disk full)" ;;
    *"Read-only"*) echo "Read-only file system" ;;
    *"ermission"*) echo "Permission denied" ;;
    *"quota"*) echo "disk quota exceeded" ;;
    ?*) echo "${ferr##*: }" ;;
    *) echo "the file came out short (disk full?)" ;;
  esac
}
if [ -n "$K" ]; then
  sweep "$d"
  sweep "$a"
fi
hook read
while IFS=' ' read -r cmd f x y z perm; do
  case $cmd in
    look)
      where "$f"
      kind
      case $f in
        t) [ -z "$dwhy" ] || why=$dwhy ;;
        c) case $dwhy in "~/.aws "*) why=$dwhy ;; esac ;;
      esac
      if [ -n "$why" ]; then differ=1; answer "$f refused $why"; continue; fi
      digest || { differ=1; answer "$f refused cannot read $shown"; continue; }
      if [ "$dg" = "$x" ]; then
        answer "$f same"
        continue
      fi
      differ=1
      if [ "$dg" = none ]; then
        answer "$f none"
      else
        rp "$f differs $dg ${dg#*.}"
        [ "$f" = t ] && { snap t || rp "t refused cannot read $shown"; }
        rp over
      fi
      ;;
    lock)
      where "$f"
      if held "$f"; then answer "$f locked"; continue; fi
      if prepare "$f" && lock; then
        case $f in t) held_t=$lock_dir ;; c) held_c=$lock_dir ;; *) held_s=$lock_dir ;; esac
        lock_dir=''
        sweep "$dir"
        answer "$f locked"
      else
        answer "$f $res $why"
      fi
      ;;
    get)
      where "$f"
      kind
      # What a write would refuse is not read either (a token in a directory others can
      # write may be theirs); for `s`, the file's mode too.
      if [ -z "$why" ]; then
        checkdirs && { [ ! -e "$p" ] || { mine "$p" "$shown" && { [ "$f" != s ] || rp "s mode $md_"; }; }; }
      fi
      if [ -n "$why" ]; then answer "$f refused $why"; continue; fi
      if [ -f "$p" ]; then
        if [ "$f" = t ]; then snap t; else blob_file "$f" "$p"; fi || rp "$f refused cannot read $shown"
        rp over
      else
        answer "$f none"
      fi
      ;;
    put | add)
      where "$f"
      case $perm in '' | [0-7][0-7][0-7]) ;; *) rp "error bad permissions $perm"; exit 0 ;; esac
      if [ "$cmd" = add ]; then
        [ "$f" = c ] || { rp "error add is for c only"; exit 0; }
        fill() { ferr=$({ { cat "$p" && cat; } >"$1"; } 2>&1); }
      elif [ "$f" = t ]; then
        IFS= read -r line || { rp "error incomplete input (connection cut?)"; exit 0; }
        fill() { ferr=$({ printf %b "$line" >"$1"; } 2>&1); }
      else
        fill() { ferr=$({ cat >"$1"; } 2>&1); }
      fi

      if install "$f" "$x" "$y" "$z"; then
        answer "$f written"
      elif [ "$res" = changed ]; then
        rp "$f changed $dg"
        [ "$f" = t ] && [ -f "$p" ] && { snap t || :; }
        rp over
      else
        [ -n "$tmp" ] && rm -f "$tmp"
        tmp=''
        answer "$f $res $why"
      fi
      unlock
      # A lock taken by `lock F` ends with F's put.
      case $f in
        t) [ -n "$held_t" ] && rm -rf "$held_t"; held_t='' ;;
        c) [ -n "$held_c" ] && rm -rf "$held_c"; held_c='' ;;
        *) [ -n "$held_s" ] && rm -rf "$held_s"; held_s='' ;;
      esac
      # What a `put c`, `add c` or `put s` did not read (it stopped early, or its write
      # failed) is not commands.
      [ "$f" = t ] || cat >/dev/null
      ;;
    shell)
      rp "shell ${SHELL:-}"
      [ -n "${SHELL:-}" ] || rp "passwd $(getent passwd "$(id -un)" 2>/dev/null)"
      if [ -e "$HOME/.tcshrc" ]; then rp "tcshrc yes"; else rp "tcshrc no"; fi
      rp over
      ;;
    rc)
      case $f in
        .profile | .bashrc | .zshenv | .cshrc | .tcshrc | .config/fish/config.fish) S=$f; answer "s ~/$f" ;;
        *) rp "error unknown startup file $f"; exit 0 ;;
      esac
      ;;
    end) break ;;
    end-if-same)
      [ -z "$differ" ] && break
      answer "continue"
      ;;
    '') ;;
    *) rp "error unknown command $cmd"; exit 0 ;;
  esac
done
release
rp "done"

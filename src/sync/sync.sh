# ssso's sync program: run once on the host (src/sync/mod.rs builds its parameters; the reply
# helpers of src/ssh/reply.sh come first). It reads on stdin the token file's bytes (one line,
# or TL raw bytes), then the N1 and N2 lines of the two config sections, then `ssso-end`;
# installs the token and the sections; and answers `token written|unchanged`, a blob
# `:token-newer` (the host's newer token), `config written|unchanged|skipped WHY`,
# `aws missing`, `error WHY`, `done`.
#
# Parameters (never secrets):
#   K      the token cache file name (<sha1>.json)
#   TM     `line` (the token is one line) or `bytes` (TL raw bytes)
#   TL     the token's length in bytes
#   N1 N2  how many lines the first and second config section have
#   H1 H2  their normalized headers (`profile dev`, `sso-session corp`; H2 may be empty)
#   LX     the local token's expiry as 14 digits YYYYMMDDHHMMSS (UTC)
#   LU     the local token's start URL (a host token for another URL is never kept)
#   N      the nonce of the marker a waiting session polls for (empty: none waits)
#   CFG    1: sync the config sections; 0: leave ~/.aws/config alone
#   TS TSS test only: sleep TSS seconds at point TS (read, token, config); inert when empty
# Paths in messages are written as the user knows them (~/...); `set -- $(ls -ld ...)` and
# `set -- $n_` split words on purpose (set -f is on); `A && B || C` is meant as written.
# shellcheck disable=SC2088,SC2046,SC2086,SC2015
set -f
umask 077
CR=$(printf '\r')
NL='
'
d="$HOME/.aws/sso/cache"
tn='' to='' locked=0
released=''
release() {
  [ -z "$released" ] && [ -n "$N" ] && [ -d "$d" ] && { : >"$d/.ssso-done-$N"; } 2>/dev/null
  released=1
}
fail() { rp "error $*"; release; exit 0; }
cleanup() {
  [ -n "$tn" ] && rm -f "$tn"
  [ -n "$to" ] && rm -f "$to"
  [ "$locked" = 1 ] && rm -rf "$L"
  release
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM PIPE
mk() { set -C; { : >"$1"; } 2>/dev/null; r_=$?; set +C; return $r_; }
incomplete() { fail "incomplete input (connection cut?)"; }
start
[ -n "$HOME" ] && [ -d "$HOME" ] || fail "the remote home directory (${HOME:-unset}) does not exist"
command -v aws >/dev/null 2>&1 || [ -x "$HOME/.local/bin/aws" ] || rp "aws missing"
[ -L "$d" ] && fail "~/.aws/sso/cache is a symlink; ssso does not write through it"
if [ ! -d "$d" ]; then e=$(mkdir -p "$d" 2>&1) || fail "cannot create ~/.aws/sso/cache: ${e##*: }"; fi
[ -O "$d" ] || fail "~/.aws/sso/cache is not owned by $(id -un)"
if [ "$TM" = line ]; then
  IFS= read -r tok || incomplete
  [ "${#tok}" -eq "$TL" ] || incomplete
else
  tn="$d/.ssso-tok.$$.$N"
  mk "$tn" || fail "cannot write in ~/.aws/sso/cache"
  head -c "$TL" >>"$tn" || fail "cannot write in ~/.aws/sso/cache"
  [ "$(($(wc -c <"$tn")))" -eq "$TL" ] || incomplete
fi
S1='' S2='' i=0
while [ "$i" -lt "$N1" ]; do IFS= read -r l || incomplete; S1="$S1$l$NL"; i=$((i + 1)); done
i=0
while [ "$i" -lt "$N2" ]; do IFS= read -r l || incomplete; S2="$S2$l$NL"; i=$((i + 1)); done
IFS= read -r l && [ "$l" = ssso-end ] || incomplete
field() {
  v_=${rt#*"\"$1\""}
  if [ "$v_" = "$rt" ]; then v_=; return; fi
  v_=${v_#*\"}
  v_=${v_%%\"*}
}
digits() {
  g_='' s_=$1
  while [ -n "$s_" ] && [ "${#g_}" -lt 14 ]; do
    c_=${s_%"${s_#?}"}
    s_=${s_#?}
    case $c_ in [0-9]) g_=$g_$c_ ;; esac
  done
}
t="$d/$K"
L="$d/.ssso-lock" locked=0
tokstate() {
  act=write rt='' rn=0
  if [ -L "$t" ]; then
    fail "~/.aws/sso/cache/$K is a symlink; ssso does not write through it"
  elif [ -f "$t" ]; then
    while :; do
      if IFS= read -r l; then rn=1; rt="$rt$l"; else rt="$rt$l"; break; fi
    done <"$t"
    if [ "$TM" = line ]; then
      [ "$rn" = 0 ] && [ "$rt" = "$tok" ] && act=same
    else
      cmp -s "$tn" "$t" && act=same
    fi
  fi
  if [ "$act" = write ] && [ -n "$rt" ] && [ -n "$LU" ]; then
    field startUrl
    ru=$v_
    field expiresAt
    digits "$v_"
    if [ "${#g_}" -eq 14 ] && [ "$ru" = "$LU" ] && [ "$g_" -gt "$LX" ]; then act=newer; fi
  fi
}
private() {
  p_=$2
  set -- $(ls -ld "$1" 2>/dev/null)
  case $1 in
    ?????w* | ????????w*) fail "$p_ is writable by other users (mode $1); ssso does not use it (chmod go-w it)" ;;
  esac
}
lock() {
  [ "$locked" = 1 ] && return 0
  private "$d" "~/.aws/sso/cache"
  i_=0
  until e=$(mkdir "$L" 2>&1); do
    case $e in *"File exists"*) ;; *) fail "cannot write in ~/.aws/sso/cache: ${e##*: }" ;; esac
    o_=''
    [ -f "$L/pid" ] && IFS= read -r o_ <"$L/pid"
    if { [ -n "$o_" ] && ! kill -0 "$o_" 2>/dev/null; } || [ "$i_" -ge 100 ]; then
      rm -rf "$L" 2>/dev/null || fail "cannot remove the stale lock ~/.aws/sso/cache/.ssso-lock"
      i_=0
      continue
    fi
    sleep 0.1 2>/dev/null || { sleep 1; i_=$((i_ + 9)); }
    i_=$((i_ + 1))
  done
  locked=1
  echo "$$" >"$L/pid"
}
hook() { [ "$TS" = "$1" ] && sleep "$TSS"; return 0; }
hook read
tokstate
if [ "$act" != same ]; then
  lock
  tokstate
fi
case $act in
  same) rp "token unchanged" ;;
  newer)
    if [ "$rn" = 0 ]; then
      blob_var token-newer "$rt"
    else
      blob_file token-newer "$t"
    fi
    ;;
  write)
    if [ "$TM" = line ]; then
      tn="$d/.ssso-tok.$$.$N"
      mk "$tn" || fail "cannot write in ~/.aws/sso/cache"
      printf '%s' "$tok" >>"$tn" || fail "cannot write in ~/.aws/sso/cache (disk full?)"
    fi
    sync "$tn" 2>/dev/null
    hook token
    e=$(mv -f "$tn" "$t" 2>&1) || fail "cannot replace ~/.aws/sso/cache/$K: ${e##*: }"
    tn=''
    rp "token written"
    ;;
esac
norm() {
  n_=${1%"$CR"}
  n_=${n_#"${n_%%[! 	]*}"}
  case $n_ in \[*) ;; *) return 1 ;; esac
  n_=${n_#\[}
  n_=${n_%%\]*}
  set -- $n_
  h="$*"
}
crlfy() {
  r_='' s_=$1
  while [ -n "$s_" ]; do l_=${s_%%"$NL"*}; s_=${s_#*"$NL"}; r_="$r_$l_$CR$NL"; done
}
out() {
  [ "$w" = 1 ] && printf '%s' "$1"
  case $1 in *"$NL") ends=1 ;; ?*) ends=0 ;; esac
}
close() {
  case $cur in
    1) [ "$old" = "$E1" ] || changed=1 ;;
    2) [ "$old" = "$E2" ] || changed=1 ;;
  esac
  cur=0 old=''
}
lint() {
  ln=$((ln + 1))
  v_=${line%"$CR"}
  s_=${v_#"${v_%%[! 	]*}"}
  case $s_ in '' | \#* | \;*) return ;; esac
  i_=$((${#v_} - ${#s_}))
  [ -n "$sec" ] && [ -n "$opt" ] && [ "$i_" -gt "$lvl" ] && return
  lvl=$i_
  s_=${s_%"${s_##*[! 	]}"}
  case $s_ in
    \[?*\]*)
      n_=${s_#\[}
      n_=${n_%\]*}
      case $seen in *"$NL$n_$NL"*) [ "$n_" = DEFAULT ] || bad="line $ln: [$n_] appears twice" ;; esac
      seen="$seen$n_$NL" sec=1 opt='' keys=$NL
      ;;
    *)
      k_=${s_%%[=:]*}
      k_=${k_%"${k_##*[! 	]}"}
      if [ -z "$sec" ]; then
        bad="line $ln: text before the first [section]"
      elif [ "$k_" = "$s_" ]; then
        bad="line $ln: neither a [section] nor key = value"
      elif [ -z "$k_" ]; then
        bad="line $ln: a value without a key"
      else
        case $keys in *"$NL$k_$NL"*) bad="line $ln: $k_ is set twice in one section" ;; esac
        keys="$keys$k_$NL" opt=1
      fi
      ;;
  esac
}
merge() {
  w=$1 changed=0 first=1 cur=0 pend='' old='' any=0 s1=0 s2=0 ends=1 EOL=$NL E1=$S1 E2=$S2
  bad='' ln=0 seen=$NL sec='' opt='' lvl=0 keys=''
  if [ -f "$c" ]; then
    while :; do
      if IFS= read -r line; then raw="$line$NL"; else [ -n "$line" ] || break; raw=$line; fi
      any=1
      [ "$w" = 0 ] && [ -z "$bad" ] && lint
      if [ "$first" = 1 ]; then
        first=0
        case $line in *"$CR") EOL="$CR$NL"; crlfy "$S1"; E1=$r_; crlfy "$S2"; E2=$r_ ;; esac
      fi
      if norm "$line"; then
        close
        [ -n "$pend" ] && out "$pend"
        pend=''
        if [ "$h" = "$H1" ]; then
          if [ "$s1" = 1 ]; then changed=1 cur=9; else s1=1 cur=1 old=$raw; out "$E1"; fi
        elif [ -n "$H2" ] && [ "$h" = "$H2" ]; then
          if [ "$s2" = 1 ]; then changed=1 cur=9; else s2=1 cur=2 old=$raw; out "$E2"; fi
        else
          out "$raw"
        fi
      elif [ "$cur" != 0 ]; then
        t_=${line%"$CR"}
        t_=${t_#"${t_%%[! 	]*}"}
        case $t_ in
          '' | \#* | \;*) pend="$pend$raw" ;;
          *) old="$old$pend$raw" pend= ;;
        esac
      else
        out "$raw"
      fi
    done <"$c"
    close
  fi
  [ -n "$pend" ] && out "$pend"
  for k_ in 1 2; do
    if [ "$k_" = 1 ]; then hh=$H1 ss=$s1 ee=$E1; else hh=$H2 ss=$s2 ee=$E2; fi
    [ -n "$hh" ] && [ "$ss" = 0 ] || continue
    changed=1
    if [ "$any" = 1 ]; then
      [ "$ends" = 0 ] && out "$EOL"
      out "$EOL"
    fi
    out "$ee"
    any=1
  done
  return 0
}
if [ "$CFG" = 1 ]; then
  c="$HOME/.aws/config"
  if [ -L "$c" ]; then
    rp "config skipped ~/.aws/config is a symlink; ssso leaves it alone"
  elif [ -e "$c" ] && [ ! -f "$c" ]; then
    rp "config skipped ~/.aws/config is not a regular file"
  else
    merge 0
    if [ "$changed" = 1 ] && [ -z "$bad" ]; then
      lock
      merge 0
    fi
    if [ -n "$bad" ]; then
      rp "config skipped ~/.aws/config cannot be parsed by the AWS CLI ($bad); ssso left it alone"
    elif [ "$changed" = 0 ]; then
      rp "config unchanged"
    else
      to="$HOME/.aws/.ssso-config.$$.$N"
      mk "$to" || fail "cannot write in ~/.aws"
      merge 1 >>"$to" || fail "could not write the new ~/.aws/config (disk full?)"
      sync "$to" 2>/dev/null
      hook config
      e=$(mv -f "$to" "$c" 2>&1) || fail "cannot replace ~/.aws/config: ${e##*: }"
      to=''
      rp "config written"
    fi
  fi
fi
release
rp "done"

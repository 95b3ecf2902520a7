# ssso setup --persist-profile's program: run once on the host (src/cmd/setup.rs). Finds the
# login shell's startup file and adds, replaces or (undo) removes ssso's marked block in it.
# Reply (after `start`): `result WHAT`, `show LINE` (the block, when not writing), `error WHY`,
# `done`.
#
# Parameters (never secrets):
#   P      the AWS profile to export
#   U      1: remove the block (--undo); 0: add or replace it
#   W      1: write (--write); 0: only say what would change
B='# >>> ssso: AWS_PROFILE (added by ssso setup --persist-profile; remove with --undo) >>>'
E='# <<< ssso <<<'
start
s=${SHELL:-}
[ -n "$s" ] || s=$(getent passwd "$(id -un)" 2>/dev/null | cut -d: -f7)
n=${s##*/}
case $n in
  bash) f=.bashrc; l="export AWS_PROFILE='$P'" ;;
  zsh) f=.zshenv; l="export AWS_PROFILE='$P'" ;;
  tcsh) f=.cshrc; [ -f "$HOME/.tcshrc" ] && f=.tcshrc; l="setenv AWS_PROFILE '$P'" ;;
  csh|bsd-csh) f=.cshrc; l="setenv AWS_PROFILE '$P'" ;;
  fish) f=.config/fish/config.fish; l="set -gx AWS_PROFILE '$P'" ;;
  *) f=.profile; l="export AWS_PROFILE='$P'" ;;
esac
t="$HOME/$f"
[ -L "$t" ] && { rp "error ~/$f is a symlink; add this by hand: $l"; exit 0; }
umask 077
new=$(mktemp "${TMPDIR:-/tmp}/ssso-setup.XXXXXX") || { rp "error cannot make a temporary file"; exit 0; }
trap 'rm -f "$new"' EXIT
if [ -f "$t" ]; then awk -v b="$B" -v e="$E" '$0==b{s=1;next} s&&$0==e{s=0;next} !s' "$t" >"$new"; fi
if [ "$U" = 0 ]; then printf '%s\n%s\n%s\n' "$B" "$l" "$E" >>"$new"; fi
if [ -f "$t" ] && cmp -s "$new" "$t"; then rp "result ~/$f ($n) already up to date"; rp "done"; exit 0; fi
if [ ! -f "$t" ] && [ "$U" = 1 ]; then rp "result ~/$f ($n) has no ssso block"; rp "done"; exit 0; fi
if [ "$W" = 0 ]; then
  if [ "$U" = 1 ]; then rp "result would remove ssso's block from ~/$f ($n); run again with --write"
  else rp "result would add to ~/$f ($n), run again with --write:"; rp "show $B"; rp "show $l"; rp "show $E"; fi
  rp "done"
  exit 0
fi
mkdir -p "$(dirname "$t")" || { rp "error cannot create the directory of ~/$f"; exit 0; }
tmp=$(mktemp "$t.ssso.XXXXXX") || { rp "error cannot write next to ~/$f"; exit 0; }
if [ -f "$t" ]; then cp -p "$t" "$tmp"; else chmod 644 "$tmp"; fi
if ! { cat "$new" >"$tmp" && mv -f "$tmp" "$t"; }; then
  rm -f "$tmp"
  rp "error cannot replace ~/$f"
  exit 0
fi
if [ "$U" = 1 ]; then rp "result removed ssso's block from ~/$f ($n)"; else rp "result AWS_PROFILE=$P in ~/$f ($n)"; fi
rp "done"

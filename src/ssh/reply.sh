# The reply half of every one-shot remote program of ssso (prepended by src/ssh/runner.rs,
# after the program's parameters and before its body). POSIX sh; only moves bytes.
#
# A reply on stdout is read by runner.rs's `Reply`:
#   ssso-NAME VERSION        the start line (anything the host's startup files print before it
#                            is ignored), written by `start`
#   KEY VALUE...             a line, written by `rp KEY VALUE...`
#   :KEY LENGTH              a blob: exactly LENGTH bytes follow, then a newline; written by
#                            `blob_var KEY "$value"` or `blob_file KEY PATH`
#   done                     the program finished (a reply without it was cut short)
#
# Parameters (set by runner.rs before this text):
#   SSSO_PROGRAM             NAME of the start line
#   SSSO_VERSION             VERSION of the start line
LC_ALL=C
export LC_ALL
rp() { printf '%s\n' "$*"; }
start() { rp "ssso-$SSSO_PROGRAM $SSSO_VERSION"; }
# blob_var KEY VALUE: VALUE as a blob (no NUL bytes; LC_ALL=C makes ${#} count bytes).
blob_var() { printf ':%s %s\n%s\n' "$1" "${#2}" "$2"; }
# blob_file KEY PATH: the file's bytes as a blob. The length is taken before the bytes are sent:
# a file that changes in between makes the reply unreadable, never wrong in silence.
blob_file() {
  b_n=$(wc -c <"$2") || return 1
  printf ':%s %s\n' "$1" "$((b_n))"
  cat "$2"
  echo
}

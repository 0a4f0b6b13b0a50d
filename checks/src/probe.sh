#!/bin/sh
# shipshape probe: gathers, in one run, every fact the shipshape controls read
# and prints them as ONE JSON document on stdout.
#
# Contract:
# - POSIX sh (dash, busybox ash). Besides the shell it needs awk; everything
#   else is optional and a missing tool or file becomes null plus an error.
# - Read-only: it never writes a file, starts a service or changes a setting.
#   The only side effects are the reads themselves (and the shell's own
#   here-document buffers).
# - Run as root on the target: auditctl, the Docker socket and some unit
#   files need it.
# - Raw text goes out as JSON strings; the Rust side (shipshape-checks) does
#   all interpretation, so this script stays small and dumb on purpose.
#   The crude option scanning below only decides WHICH files to stat/read.

# bash (sh on CentOS and RHEL) reads a script on a pipe a byte per read(2),
# ~30,000 of them for this one (dash and busybox read 8 KiB blocks); its `.`
# reads the pipe in blocks to its end, and the probe exits there. An old
# bash whose `.` reads st_size bytes, none of a pipe, returns and goes on
# reading stdin as before.
if [ -n "${BASH_VERSION:-}" ] && [ -p /proc/self/fd/0 ]; then
  case $- in *s*) . /proc/self/fd/0 ;; esac
fi

# The rest of the probe is one brace group, its stdin /dev/null: the shell
# parses all of it before running any (the harness sends it on stdin,
# `sh -s`), and no command inside can read, and so eat, the script.
{
LC_ALL=C
export LC_ALL
# cd -P below resolves paths; a CDPATH would make it print them.
unset CDPATH
cd /
# The sbin directories are appended, not prepended: a non-login ssh session
# may lack them, and the caller's PATH keeps its order (the tests rely on it).
PATH=${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

PROBE_VERSION=2
nl='
'

have() { command -v "$1" >/dev/null 2>&1; }

# JSON string escaping in awk. split()+concatenation rather than gsub():
# mawk and busybox awk disagree on backslashes in gsub replacements.
AWK_LIB='
function rep(s, re, w,   n, a, i, o) {
  n = split(s, a, re)
  if (n == 0) return ""
  o = a[1]
  for (i = 2; i <= n; i++) o = o w a[i]
  return o
}
function init(   i) { for (i = 1; i < 32; i++) CTL[sprintf("%c", i)] = sprintf("\\u%04x", i) }
function esc(s,   o, i, ch) {
  s = rep(s, "\\\\", "\\\\")
  s = rep(s, "\"", "\\\"")
  s = rep(s, "\n", "\\n")
  s = rep(s, "\t", "\\t")
  if (s ~ /[\001-\037]/) {
    o = ""
    for (i = 1; i <= length(s); i++) { ch = substr(s, i, 1); o = o ((ch in CTL) ? CTL[ch] : ch) }
    s = o
  }
  return s
}
'

# Strings are not escaped where they are printed: each is framed by control
# characters (\036 string, \035 array of lines, \034 file content, \033 the
# path of a file whose content goes there; \037 ends it) and ONE awk pass over the whole document escapes them at the end.
# Under emulation every fork+exec costs tens of milliseconds, and an awk per
# string made the probe take seconds.
js() { printf '\036%s\037' "$1"; }
jsn() { if [ -n "$1" ]; then js "$1"; else printf 'null'; fi; }
jsa() { if [ -n "$1" ]; then printf '\035%s\037' "$1"; else printf '[]'; fi; }
# One record per framed string (RS is the end mark): the record is the JSON
# before the string, a kind mark, and the raw string. Linear in the size of
# the document; slicing one big string per field was quadratic, and cost a
# third of a second under emulation.
J_FINAL="$AWK_LIB"'
BEGIN { RS = "\037"; init() }
{
  k = match($0, "[\033\034\035\036]")
  if (!k) { printf "%s", $0; next }
  printf "%s", substr($0, 1, k - 1)
  kind = substr($0, k, 1); raw = substr($0, k + 1)
  if (kind == "\033") {
    # A file to embed: awk reads it in blocks, where the shell would read
    # it a byte per read(2). Records end at RS, so one is the whole file.
    f = raw; raw = ""; m = 0
    while ((getline l < f) > 0) raw = raw (m++ ? RS : "") l
    close(f)
    kind = "\034"
  }
  if (kind == "\035") {
    n = split(raw, L, "\n"); a = "["
    for (m = 1; m <= n; m++) a = a (m > 1 ? "," : "") "\"" esc(L[m]) "\""
    printf "%s]", a
  } else {
    if (kind == "\034" && substr(raw, length(raw)) == "\n") raw = substr(raw, 1, length(raw) - 1)
    printf "\"%s\"", esc(raw)
  }
}'

jnum() { case $1 in '' | *[!0-9]*) printf 'null' ;; *) printf '%s' "$1" ;; esac; }
jbool() { if [ "$1" = 1 ]; then printf 'true'; else printf 'false'; fi; }

# add_line VAR VALUE: append VALUE to the newline-separated list VAR, once.
add_line() {
  [ -n "$2" ] || return 0
  eval "_cur=\${$1}"
  case "$nl$_cur$nl" in *"$nl$2$nl"*) return 0 ;; esac
  if [ -z "$_cur" ]; then eval "$1=\$2"; else eval "$1=\"\${$1}\${nl}\$2\""; fi
}

# A Docker API answer is embedded as-is only when it is one line that looks
# like a JSON object; anything else would risk breaking the whole document.
looks_json() {
  case $1 in *"$nl"*) return 1 ;; '{'*'}') return 0 ;; *) return 1 ;; esac
}

# real_path VAR PATH: the absolute PATH with its symlinks resolved, like
# readlink -f, by builtins (cd -P) unless the last part is itself a link.
# Parts that do not exist are kept as written. Leaves the shell in /.
real_path() {
  _p=$2 _rest=""
  if [ -h "$_p" ]; then
    _o=$(readlink -f -- "$_p" 2>/dev/null) || _o=""
    eval "$1=\$_o"
    return
  fi
  while [ -n "$_p" ] && ! cd -P -- "$_p" 2>/dev/null; do
    _rest="/${_p##*/}$_rest"
    _p=${_p%/*}
  done
  [ -n "$_p" ] || cd /
  _o=${PWD%/}$_rest
  cd /
  eval "$1=\${_o:-/}"
}

# slurp VAR FILE: the file's text into VAR, like $(cat FILE) but without an
# exec (trailing newlines dropped as $(...) drops them).
slurp() {
  _s="" _first=1
  while IFS= read -r _l || [ -n "$_l" ]; do
    if [ "$_first" = 1 ]; then _s=$_l _first=0; else _s="$_s$nl$_l"; fi
  done <"$2"
  while :; do case $_s in *"$nl") _s=${_s%"$nl"} ;; *) break ;; esac; done
  eval "$1=\$_s"
}

# The Docker API socket (a test points it elsewhere).
sock=${SHIPSHAPE_DOCKER_SOCK:-/var/run/docker.sock}
# One systemctl for both units (it prints them in turn, a blank line
# between); a property a unit type lacks is left out of its block.
UNIT_PROPS="-p FragmentPath -p DropInPaths -p EnvironmentFiles -p ExecStart -p Listen -p ActiveState
-p MainPID -p LimitNOFILE -p LimitNOFILESoft -p LimitNPROC -p LimitNPROCSoft"

# ---------------------------------------------------------------- the daemon
# Builtins over /proc rather than pidof: one exec costs more under emulation
# than reading every process's comm. Found first, so that reading its
# command line and executable can start with the other slow commands.
# comm is the name the program was started by, so a daemon is also found by
# its executable: RHEL's docker 1.13 runs /usr/bin/dockerd-current, and a
# dockerd may be started through a link of another name. test -ef against
# the dockerd* programs installed (two stats per process, no exec); the
# dockerd-rootless*.sh scripts run as their shell, never as dockerd.
dockerd_bins=""
for f in /usr/bin/dockerd* /usr/sbin/dockerd* /usr/local/bin/dockerd* /usr/local/sbin/dockerd*; do
  case $f in *'*' | *.sh) continue ;; esac
  [ -f "$f" ] && dockerd_bins="$dockerd_bins $f"
done
pids=""
for d in /proc/[0-9]*; do
  comm=""
  # stderr first: a process that ended since the glob leaves no file.
  read -r comm 2>/dev/null <"$d/comm" || continue
  if [ "$comm" = dockerd ]; then
    pids="$pids ${d#/proc/}"
    continue
  fi
  for f in $dockerd_bins; do
    if [ "$d/exe" -ef "$f" ]; then
      pids="$pids ${d#/proc/}"
      continue 2
    fi
  done
  # A dockerd-* outside those folders (comm holds 15 characters); the exec
  # runs only for such a name. dockerd-rootles is the rootless script's.
  case $comm in
    dockerd-rootles) ;;
    dockerd?*)
      _x=$(readlink "$d/exe" 2>/dev/null </dev/null)
      case ${_x##*/} in dockerd*) pids="$pids ${d#/proc/}" ;; esac ;;
  esac
done
# shellcheck disable=SC2086
set -- $pids
pids="$*"
pid=${1:-}
# A rootless dockerd (CIS 2.1) runs as its user, under rootlesskit, with
# its socket in that user's runtime folder. Where every dockerd found runs
# as a user (no rootful one, whose stale socket file may well be left), and
# no test names a socket, the daemon is asked there. Builtins only.
if [ -z "${SHIPSHAPE_DOCKER_SOCK:-}" ] && [ -n "$pid" ]; then
  _user_sock=""
  for _p in $pids; do
    _uid=""
    while read -r _k _v _rest; do
      [ "$_k" = Uid: ] && { _uid=$_v; break; }
    done 2>/dev/null <"/proc/$_p/status"
    if [ "$_uid" = 0 ]; then _user_sock=""; break; fi
    if [ -z "$_user_sock" ] && [ -n "$_uid" ] && [ -S "/run/user/$_uid/docker.sock" ]; then
      _user_sock=/run/user/$_uid/docker.sock
    fi
  done
  [ -n "$_user_sock" ] && sock=$_user_sock
fi

# apt-cache asks `dpkg --print-foreign-architectures` for the architectures,
# up to five times per run, unless told them. dpkg's own list of them is
# /var/lib/dpkg/arch (native first, then foreign; absent where no foreign
# one was ever added); else the architectures apt fetched lists for. apt adds
# the native architecture itself when it is not named, so the candidate of
# a native package cannot change through this.
APT_ARCHS=""
if [ -r /var/lib/dpkg/arch ]; then
  while IFS= read -r _a; do
    [ -n "$_a" ] && APT_ARCHS="$APT_ARCHS -o APT::Architectures::=$_a"
  done </var/lib/dpkg/arch
else
  for _f in /var/lib/apt/lists/*_binary-*_Packages*; do
    [ -e "$_f" ] || continue
    _a=${_f##*_binary-}
    _a=${_a%%_*}
    [ "$_a" = all ] && continue
    case $APT_ARCHS in *"::=$_a "* | *"::=$_a") ;; *) APT_ARCHS="$APT_ARCHS -o APT::Architectures::=$_a" ;; esac
  done
fi

# Every command the probe runs starts here, in the background, and the
# shell gathers the rest meanwhile; it waits for an answer only where it
# needs it. Under emulation a fork+exec costs 50-200 ms, so what matters is
# that the shell itself runs as few as possible in turn. The output goes to
# a private temporary folder, removed once read; without one (no mktemp)
# the commands run in turn where their answers are read.
bg_dir=$(mktemp -d 2>/dev/null) || bg_dir=""
[ -n "$bg_dir" ] && trap 'rm -rf "$bg_dir"' EXIT
# bg NAME MODE [<FILE] CMD...: output to NAME.out in bg_dir (MODE merge:
# with stderr; quiet: without), stdin from FILE (an asynchronous command's
# stdin is otherwise /dev/null). No subshell around the command: `wait PID`
# gives its status, and a fork less per job counts under emulation.
bg() {
  _n=$1 _m=$2 _in=/dev/null
  shift 2
  case $1 in '<'*) _in=${1#<}; shift ;; esac
  if [ "$_m" = merge ]; then
    "$@" >"$bg_dir/$_n.out" 2>&1 <"$_in" &
  else
    "$@" 2>/dev/null >"$bg_dir/$_n.out" <"$_in" &
  fi
  eval "bg_pid_$_n=\$!"
}
# fg_result NAME VAR MODE [<FILE] CMD...: VAR gets what the background run
# printed (or, without one, what running CMD now prints); returns its status.
fg_result() {
  _n=$1 _var=$2 _m=$3 _in=/dev/null
  shift 3
  case $1 in '<'*) _in=${1#<}; shift ;; esac
  eval "_p=\${bg_pid_$_n:-}"
  if [ -n "$_p" ]; then
    wait "$_p"
    _rc=$?
    slurp "$_var" "$bg_dir/$_n.out"
    return "$_rc"
  fi
  if [ "$_m" = merge ]; then _o=$("$@" 2>&1 <"$_in"); else _o=$("$@" 2>/dev/null <"$_in"); fi
  _rc=$?
  eval "$_var=\$_o"
  return "$_rc"
}
if [ -n "$bg_dir" ]; then
  # Longest first: the daemon's /info (it runs runc and docker-init to
  # answer), then what the shell needs soonest, then apt-cache.
  if have curl && [ -S "$sock" ]; then
    bg api merge curl -sS --max-time 30 --unix-socket "$sock" -w "$nl@@code=%{http_code}@@$nl" \
      "http://d/info"
  fi
  # shellcheck disable=SC2086
  have systemctl && bg units merge systemctl show docker.service docker.socket $UNIT_PROPS
  if [ -n "$pid" ]; then
    bg argv quiet "</proc/$pid/cmdline" tr '\000' '\n'
  fi
  # shellcheck disable=SC2086
  have apt-cache && bg apt quiet apt-cache $APT_ARCHS policy docker.io docker-ce
  # apt-cache policy names the installed version too; dpkg-query is for
  # dpkg hosts without apt.
  if ! have apt-cache && have dpkg-query; then
    bg dpkg quiet dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' \
      docker.io docker-ce docker-ce-cli moby-engine containerd containerd.io runc
  fi
  # The usual group by name now; others named by the configuration later.
  if have getent; then
    bg group_docker quiet getent group docker
    bg passwd quiet getent passwd
  fi
  have auditctl && bg audit merge auditctl -l
fi

argv=""
exe=""
start_ticks=""
btime=""
dockerd_err=""
if [ -n "$pid" ]; then
  # Builtins only: under emulation each fork+exec costs tens of ms.
  st=""
  read -r st <"/proc/$pid/stat" 2>/dev/null
  # Field 22 of /proc/PID/stat; fields are counted after "(comm) ", whose
  # name may hold blanks: field 3 is the first after it.
  # shellcheck disable=SC2086
  set -- ${st##*) }
  start_ticks=${20:-}
  while read -r k v; do
    if [ "$k" = btime ]; then btime=$v; break; fi
  done </proc/stat
  fg_result argv argv quiet "</proc/$pid/cmdline" tr '\000' '\n' || dockerd_err="cannot read /proc/$pid/cmdline"
else
  dockerd_err="no running dockerd process"
fi

# Crude option scan (the Rust side parses properly): only to learn which
# files to read and stat. Sets a_cfg a_ca a_cert a_key a_seccomp a_root
# a_group and the list a_hosts.
a_cfg="" a_ca="" a_cert="" a_key="" a_seccomp="" a_root="" a_group="" a_hosts=""
scan_args() {
  want=""
  while IFS= read -r a; do
    k="" v=""
    if [ -n "$want" ]; then
      k=$want v=$a want=""
    else
      case $a in
        --config-file | --tlscacert | --tlscert | --tlskey | --seccomp-profile | --data-root | --graph | -g | --host | -H | --group | -G)
          want=$a ;;
        --config-file=* | --tlscacert=* | --tlscert=* | --tlskey=* | --seccomp-profile=* | --data-root=* | --graph=* | --host=* | --group=*)
          k=${a%%=*} v=${a#*=} ;;
        -H?* | -G?* | -g?*)
          v=${a#??}
          k=${a%"$v"}
          v=${v#=} ;;
      esac
    fi
    case $k in
      --config-file) a_cfg=$v ;;
      --tlscacert) a_ca=$v ;;
      --tlscert) a_cert=$v ;;
      --tlskey) a_key=$v ;;
      --seccomp-profile) a_seccomp=$v ;;
      --data-root | --graph | -g) a_root=$v ;;
      --group | -G) a_group=$v ;;
      --host | -H) add_line a_hosts "$v" ;;
    esac
  done <<EOF
$1
EOF
}
scan_args "$argv"

# ---------------------------------------------------------------- systemd
systemctl_ok=0
svc_show="" svc_err="" sock_show="" sock_err=""
if have systemctl; then
  systemctl_ok=1
  # shellcheck disable=SC2086
  if fg_result units units_show merge systemctl show docker.service docker.socket $UNIT_PROPS; then
    _blk=svc
    while IFS= read -r l; do
      if [ -z "$l" ]; then
        _blk=sock
      elif [ "$_blk" = svc ]; then
        svc_show="$svc_show${svc_show:+$nl}$l"
      else
        sock_show="$sock_show${sock_show:+$nl}$l"
      fi
    done <<EOF
$units_show
EOF
  else
    svc_err=$units_show sock_err=$units_show
  fi
else
  svc_err="systemctl not found"
  sock_err="systemctl not found"
fi
svc_frag="" svc_dropins="" svc_envfiles="" svc_exec="" sock_frag="" sock_dropins=""
while IFS= read -r l; do
  case $l in
    FragmentPath=*) svc_frag=${l#FragmentPath=} ;;
    DropInPaths=*) svc_dropins=${l#DropInPaths=} ;;
    # systemd 219 (CentOS 7) prints EnvironmentFile=, later ones EnvironmentFiles=.
    EnvironmentFiles=* | EnvironmentFile=*) v=${l#*=}; add_line svc_envfiles "${v%% (*}" ;;
    ExecStart=*) svc_exec=$l ;;
  esac
done <<EOF
$svc_show
EOF
while IFS= read -r l; do
  case $l in
    FragmentPath=*) sock_frag=${l#FragmentPath=} ;;
    DropInPaths=*) sock_dropins=${l#DropInPaths=} ;;
  esac
done <<EOF
$sock_show
EOF
# Without systemctl (or an unknown unit) fall back to the usual locations.
if [ -z "$svc_frag" ]; then
  for f in /etc/systemd/system/docker.service /usr/lib/systemd/system/docker.service /lib/systemd/system/docker.service; do
    if [ -f "$f" ]; then svc_frag=$f; break; fi
  done
fi
if [ -z "$sock_frag" ]; then
  for f in /etc/systemd/system/docker.socket /usr/lib/systemd/system/docker.socket /lib/systemd/system/docker.socket; do
    if [ -f "$f" ]; then sock_frag=$f; break; fi
  done
fi
if [ "$systemctl_ok" = 0 ]; then
  for f in /etc/systemd/system/docker.service.d/*.conf /run/systemd/system/docker.service.d/*.conf \
    /usr/lib/systemd/system/docker.service.d/*.conf; do
    [ -f "$f" ] && svc_dropins="$svc_dropins $f"
  done
fi
svc_real="" sock_real=""
[ -n "$svc_frag" ] && real_path svc_real "$svc_frag"
[ -n "$sock_frag" ] && real_path sock_real "$sock_frag"

# When dockerd is not running, its next command line is the unit's ExecStart.
if [ -z "$argv" ] && [ -n "$svc_exec" ]; then
  x=${svc_exec#*"argv[]="}
  x=${x%% ;*}
  set -f
  # shellcheck disable=SC2086
  scan_args "$(printf '%s\n' $x)"
  set +f
fi

# ---------------------------------------------------------------- files to read
read_list=""
add_line read_list "$svc_frag"
# shellcheck disable=SC2086
for f in $svc_dropins; do add_line read_list "$f"; done
add_line read_list "$sock_frag"
# shellcheck disable=SC2086
for f in $sock_dropins; do add_line read_list "$f"; done
# EnvironmentFile= lines name files dockerd's ExecStart may expand.
# (A builtin loop, the equivalent of
# sed -n 's/^[[:space:]]*EnvironmentFile[[:space:]]*=[[:space:]]*-\{0,1\}//p'.)
envs=""
set -f
# shellcheck disable=SC2086
for f in $svc_frag $svc_dropins; do
  [ -r "$f" ] || continue
  while IFS= read -r l || [ -n "$l" ]; do
    l=${l#"${l%%[! 	]*}"}
    case $l in
      EnvironmentFile*=*)
        k=${l%%=*}
        k=${k%"${k##*[! 	]}"}
        [ "$k" = EnvironmentFile ] || continue
        v=${l#*=}
        v=${v#"${v%%[! 	]*}"}
        v=${v#-}
        envs="$envs${envs:+$nl}$v" ;;
    esac
  done <"$f"
done
set +f
while IFS= read -r f; do add_line svc_envfiles "${f%% *}"; done <<EOF
$envs
EOF
while IFS= read -r f; do add_line read_list "$f"; done <<EOF
$svc_envfiles
EOF
for f in /etc/default/docker /etc/sysconfig/docker /etc/sysconfig/docker-storage /etc/sysconfig/docker-network; do
  add_line read_list "$f"
done
daemon_json=${a_cfg:-/etc/docker/daemon.json}
add_line read_list "$daemon_json"
add_line read_list /etc/os-release

# Paths named inside daemon.json (crude: the Rust side parses the JSON).
if [ -r "$daemon_json" ]; then
  kv=$(awk '
    BEGIN { n = split("tlscacert tlscert tlskey seccomp-profile data-root graph group", K, " ") }
    { t = t $0 " " }
    END {
      for (i = 1; i <= n; i++) {
        re = "\"" K[i] "\"[ \t]*:[ \t]*\"[^\"]*\""
        if (match(t, re)) {
          m = substr(t, RSTART, RLENGTH); sub(/^"[^"]*"[ \t]*:[ \t]*"/, "", m); sub(/"$/, "", m)
          print K[i] "=" m
        }
      }
      if (match(t, /"hosts"[ \t]*:[ \t]*\[[^]]*\]/)) {
        m = substr(t, RSTART, RLENGTH); sub(/^[^[]*\[/, "", m); sub(/\]$/, "", m)
        c = split(m, H, ",")
        for (j = 1; j <= c; j++) { h = H[j]; sub(/^[ \t]*"/, "", h); sub(/"[ \t]*$/, "", h); if (h != "") print "hosts=" h }
      }
    }' "$daemon_json" 2>/dev/null)
  while IFS= read -r l; do
    v=${l#*=}
    case $l in
      tlscacert=*) a_ca=${a_ca:-$v} ;;
      tlscert=*) a_cert=${a_cert:-$v} ;;
      tlskey=*) a_key=${a_key:-$v} ;;
      seccomp-profile=*) a_seccomp=${a_seccomp:-$v} ;;
      data-root=* | graph=*) a_root=${a_root:-$v} ;;
      group=*) a_group=${a_group:-$v} ;;
      hosts=*) add_line a_hosts "$v" ;;
    esac
  done <<EOF
$kv
EOF
fi
case $a_seccomp in '' | unconfined | builtin | default) ;; *) add_line read_list "$a_seccomp" ;; esac
# shipshape-late.d: the watches under /run, loaded after containerd at boot.
for f in /etc/audit/audit.rules /etc/audit/rules.d/*.rules /etc/audit/shipshape-late.d/*.rules; do
  [ -f "$f" ] && add_line read_list "$f"
done

# ---------------------------------------------------------------- stat
# stat starts before the Docker API's answer is awaited: it does not need
# it, and the daemon takes its time (/info runs runc and docker-init). The
# root dir the daemon reports is stat'ed after, if it is still new.
# The executable: argv[0] with its links resolved when it is the very file
# running (test -ef compares device and inode, a builtin), else readlink
# (a program started by a relative name, or replaced since it started).
if [ -n "$pid" ]; then
  _a0=${argv%%"$nl"*}
  case $_a0 in /*) [ "$_a0" -ef "/proc/$pid/exe" ] && real_path exe "$_a0" ;; esac
  [ -n "$exe" ] || exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
fi
stat_list=""
add_line stat_list "$svc_frag"
add_line stat_list "$svc_real"
# shellcheck disable=SC2086
for f in $svc_dropins; do add_line stat_list "$f"; done
add_line stat_list "$sock_frag"
add_line stat_list "$sock_real"
# shellcheck disable=SC2086
for f in $sock_dropins; do add_line stat_list "$f"; done
for f in /etc/docker "$daemon_json" /etc/default/docker /etc/sysconfig/docker /var/run/docker.sock "$sock" \
  /run/containerd /run/containerd/containerd.sock /var/run/docker/containerd/containerd.sock \
  /etc/containerd/config.toml /var/lib/docker /var/lib "$a_root" "$exe" \
  "$a_ca" "$a_cert" "$a_key" "$a_seccomp" /root/.docker/ca.pem /root/.docker/cert.pem /root/.docker/key.pem; do
  add_line stat_list "$f"
done
for n in dockerd containerd containerd-shim containerd-shim-runc-v1 containerd-shim-runc-v2 runc; do
  for d in /usr/bin /usr/sbin /usr/local/bin /usr/local/sbin; do add_line stat_list "$d/$n"; done
done
# Under userns-remap the daemon works in <data root>/<uid>.<gid>.
for f in /etc/docker/tls/* /etc/docker/certs.d/*/* /var/lib/docker/[0-9]*.[0-9]* ${a_root:+"$a_root"/[0-9]*.[0-9]*}; do
  [ -e "$f" ] && add_line stat_list "$f"
done
while IFS= read -r h; do
  case $h in unix://*) add_line stat_list "${h#unix://}" ;; esac
done <<EOF
$a_hosts
EOF
# stat_paths LIST / getent_groups LIST: the command on the newline-separated
# LIST. They exec, so they run only in a background job or a $(...).
stat_paths() {
  IFS=$nl
  set -f
  # -L: owners and modes of what the path reaches; %d:%i tells which paths
  # are one file.
  # shellcheck disable=SC2086
  exec stat -L -c '%n|%U|%G|%a|%F|%u|%g|%Y|%d:%i' -- $1
}
getent_groups() {
  IFS=$nl
  set -f
  # shellcheck disable=SC2086
  exec getent group $1
}
stat_ok=0 stat_out="" lstat_out="" stat_err=""
if have stat; then
  stat_ok=1
  [ -n "$bg_dir" ] && bg stat quiet stat_paths "$stat_list"
else
  stat_err="stat not found"
fi

# ---------------------------------------------------------------- Docker API
# /info only: it carries the engine version (ServerVersion) and the
# experimental switch (ExperimentalBuild) too. /version would add component
# versions no control reads, and dockerd runs `runc --version` and
# `docker-init --version` to answer it, which under emulation costs more
# than the rest of the audit's Docker work.
API_ENDPOINTS=info
api_via="" info="" info_err="" version="" version_err=""
if have curl && [ -S "$sock" ]; then
  api_via=curl
  fg_result api out merge curl -sS --max-time 30 --unix-socket "$sock" -w "$nl@@code=%{http_code}@@$nl" \
    "http://d/info"
  rc=$?
  rest=$out
  for ep in $API_ENDPOINTS; do
    body=${rest%%"@@code="*}
    rest=${rest#*"@@code="}
    code=${rest%%"@@"*}
    rest=${rest#*"@@"}
    rest=${rest#"$nl"}
    # The API ends its JSON with a newline of its own.
    while :; do
      case $body in *"$nl") body=${body%"$nl"} ;; *) break ;; esac
    done
    err=""
    if [ "$rc" -ne 0 ]; then
      err="curl exit $rc: $out"
      body=""
    elif [ "$code" != 200 ]; then
      err="HTTP $code: $body"
      body=""
    elif ! looks_json "$body"; then
      err="not a JSON object: $body"
      body=""
    fi
    if [ "$ep" = info ]; then info=$body info_err=$err; else version=$body version_err=$err; fi
  done
fi
# The CLI when curl is missing or gave no JSON: curl before 7.40 (CentOS 7
# has 7.29) has no --unix-socket and exits 2. Only then: the CLI is one more
# exec of a large program. curl's error is kept beside the CLI's answer.
curl_err=""
if [ -z "$info" ] && have docker; then
  [ "$api_via" = curl ] && curl_err=$info_err
  api_via=docker-cli
  # The CLI prints its JSON on one stdout line even when the daemon is down
  # (then with empty server fields), and the error on stderr: keep the JSON
  # only when the command succeeded, and the other lines as the error.
  for ep in $API_ENDPOINTS; do
    out=$(docker -H "unix://$sock" "$ep" --format '{{json .}}' 2>&1 </dev/null)
    rc=$?
    body="" err="" _json=0
    # podman-docker's docker is `podman`, whose {{json .}} is indented over
    # lines from a lone "{" to a lone "}" (4.3.1): joined, as a newline in
    # JSON only ever stands between tokens.
    while IFS= read -r l; do
      if [ "$_json" = 1 ]; then
        body=$body$l
        [ "$l" = '}' ] && _json=0
        continue
      fi
      case $l in
        '{') body=$l _json=1 ;;
        '{'*) body=$l ;;
        *) err="$err${err:+$nl}$l" ;;
      esac
    done <<EOF
$out
EOF
    if [ "$rc" -ne 0 ]; then
      err="docker $ep exit $rc${err:+: $err}"
      body=""
    elif [ -z "$body" ]; then
      err="no JSON from docker $ep${err:+: $err}"
    elif ! looks_json "$body"; then
      err="not a JSON object: $body"
      body=""
    fi
    if [ "$ep" = info ]; then info=$body info_err=$err; else version=$body version_err=$err; fi
  done
elif [ -z "$api_via" ]; then
  info_err="neither curl with $sock nor the docker CLI is available"
fi
root_dir=""
if [ -n "$info" ]; then
  case $info in
    *'"DockerRootDir":"'*)
      root_dir=${info#*'"DockerRootDir":"'}
      root_dir=${root_dir%%'"'*} ;;
  esac
fi

# stat_more PATH...: stat the paths not asked for yet, appended to the lists.
stat_more() {
  _new=""
  for f in "$@"; do
    [ -n "$f" ] || continue
    case "$nl$stat_list$nl" in *"$nl$f$nl"*) continue ;; esac
    add_line stat_list "$f"
    add_line _new "$f"
  done
  [ -n "$_new" ] && [ "$stat_ok" = 1 ] || return 0
  _more=$(stat_paths "$_new" 2>/dev/null)
  [ -n "$_more" ] && stat_out="$stat_out${stat_out:+$nl}$_more"
}
[ "$stat_ok" = 1 ] && fg_result stat stat_out quiet stat_paths "$stat_list"
stat_more "$root_dir" "${root_dir%/*}"
# Which of the paths are symlinks: the builtin test -h, in the
# `stat -c '%n|%F'` layout the Rust side reads.
if [ "$stat_ok" = 1 ]; then
  while IFS= read -r f; do
    [ -n "$f" ] && [ -h "$f" ] && lstat_out="$lstat_out${lstat_out:+$nl}$f|symbolic link"
  done <<EOF
$stat_list
EOF
fi

# ---------------------------------------------------------------- accounts
group_names=""
add_line group_names docker
add_line group_names "$a_group"
sock_group=""
while IFS='|' read -r n o g rest; do
  if [ "$n" = "$sock" ]; then sock_group=$g; break; fi
done <<EOF
$stat_out
EOF
case $sock_group in '' | root) ;; *) add_line group_names "$sock_group" ;; esac
# docker was asked for at the start; other names in one more getent.
group_out="" group_how=""
if have getent; then
  fg_result group_docker group_out quiet getent group docker
  _more=""
  while IFS= read -r g; do
    [ "$g" = docker ] || add_line _more "$g"
  done <<EOF
$group_names
EOF
  if [ -n "$_more" ]; then
    _o=$(getent_groups "$_more" 2>/dev/null)
    [ -n "$_o" ] && group_out="$group_out${group_out:+$nl}$_o"
  fi
else
  group_how=" (getent not found; read /etc/group)"
  group_out=$(awk -F: -v names="$group_names" 'BEGIN { n = split(names, N, "\n"); for (i = 1; i <= n; i++) W[N[i]] = 1 } $1 in W' /etc/group 2>/dev/null)
fi
# group_entry NAME: sets entry to NAME's line of group_out, or empty.
group_entry() {
  entry=""
  while IFS= read -r _l; do
    case $_l in "$1":*) entry=$_l; break ;; esac
  done <<EOF
$group_out
EOF
}
gids=""
while IFS= read -r g; do
  [ -n "$g" ] || continue
  group_entry "$g"
  case $entry in
    *:*:*) gid=${entry#*:}; gid=${gid#*:}; gid=${gid%%:*}; gids="$gids $gid" ;;
  esac
done <<EOF
$group_names
EOF
passwd_primary=""
if [ -n "$gids" ]; then
  if have getent; then
    # Filtered here, not in a pipeline: every subshell is a fork.
    fg_result passwd _pw quiet getent passwd
    while IFS= read -r l; do
      x=${l#*:}; x=${x#*:}; x=${x#*:}; g=${x%%:*}
      case " $gids " in *" $g "*) passwd_primary="$passwd_primary${passwd_primary:+$nl}$l" ;; esac
    done <<EOF
$_pw
EOF
  else
    passwd_primary=$(awk -F: -v gids="$gids" 'BEGIN { n = split(gids, G, " "); for (i = 1; i <= n; i++) W[G[i]] = 1 } $4 in W' /etc/passwd 2>/dev/null)
  fi
fi


# ---------------------------------------------------------------- audit
auditctl_ok=0 audit_rules="" audit_err=""
if have auditctl; then
  auditctl_ok=1
  fg_result audit audit_rules merge auditctl -l || { audit_err=$audit_rules; audit_rules=""; }
else
  audit_err="auditctl not found"
fi

# ---------------------------------------------------------------- mounts
mount_paths=""
add_line mount_paths /var/lib/docker
add_line mount_paths "$a_root"
add_line mount_paths "$root_dir"
add_line mount_paths "${root_dir%/*}"
# The mount holding each path comes from mountinfo, on the Rust side: one
# file read here instead of a findmnt per path. A path's symlinks are
# resolved first (findmnt -T does that too), by builtins.
add_line read_list /proc/self/mountinfo
mount_reals=""
while IFS= read -r p; do
  [ -n "$p" ] || continue
  real_path real "$p"
  [ -n "$mount_reals" ] && mount_reals="$mount_reals$nl"
  mount_reals="$mount_reals$p$nl$real"
done <<EOF
$mount_paths
EOF

# ---------------------------------------------------------------- packages
dpkg_out="" apt_out="" rpm_out="" yum_out=""
if ! have apt-cache && have dpkg-query; then
  fg_result dpkg dpkg_out quiet dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' \
    docker.io docker-ce docker-ce-cli moby-engine containerd containerd.io runc
fi
if have apt-cache; then
  # shellcheck disable=SC2086
  fg_result apt apt_out quiet apt-cache $APT_ARCHS policy docker.io docker-ce
fi
if have rpm; then
  rpm_out=$(rpm -q --qf '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}\n' docker-ce docker moby-engine 2>/dev/null)
fi
# -C: cache only, so the probe never reaches the network or refreshes metadata.
# exit_on_lock: both take their lock even with -C (dnf 4 its metadata lock),
# and yum polls for a held one forever, past the probe's time limit: a
# running yum or dnf-makecache leaves the update unknown instead.
if have dnf; then
  yum_out=$(dnf -C -q --setopt=exit_on_lock=1 list --upgrades docker-ce docker moby-engine 2>/dev/null </dev/null)
elif have yum; then
  yum_out=$(yum -C -q --setopt=exit_on_lock=1 list updates docker-ce docker 2>/dev/null </dev/null)
fi

# Every background result has been read: their folder goes now, beside the
# writing of the document, rather than in an exit trap after it.
rm_pid=""
if [ -n "$bg_dir" ]; then
  rm -rf "$bg_dir" &
  rm_pid=$!
  trap - EXIT
fi

# ---------------------------------------------------------------- misc
# A number in /proc/sys reads as EOF past offset 0, so the shell's `read`
# (a byte per read(2)) got its first digit only ("7" of 7822 on debian-12
# under dash): the final awk embeds the file (see J_FINAL).
userns_max="" userns_file=""
if [ -r /proc/sys/user/max_user_namespaces ]; then
  userns_file=/proc/sys/user/max_user_namespaces
elif have sysctl; then
  userns_max=$(sysctl -n user.max_user_namespaces 2>/dev/null)
fi
hostname=""
[ -r /proc/sys/kernel/hostname ] && read -r hostname </proc/sys/kernel/hostname
kernel=""
[ -r /proc/sys/kernel/osrelease ] && read -r kernel </proc/sys/kernel/osrelease
# Which boot the audit judged (a report names it): 36 bytes, read(2) each.
boot_id=""
[ -r /proc/sys/kernel/random/boot_id ] && read -r boot_id </proc/sys/kernel/random/boot_id

# ---------------------------------------------------------------- output
# each_json LIST FN: runs FN LINE for each non-empty line of LIST, with a
# comma between their outputs (a JSON array's elements).
each_json() {
  _first=1
  while IFS= read -r _item; do
    [ -n "$_item" ] || continue
    [ "$_first" = 1 ] || printf ','
    _first=0
    "$2" "$_item"
  done <<EOF
$1
EOF
}

file_json() {
  printf '{"path":'
  js "$1"
  printf ','
  if [ ! -e "$1" ]; then
    printf '"exists":false,"content":null,"error":null}'
  elif [ -f "$1" ] && [ -r "$1" ]; then
    # The final awk reads the file itself (see J_FINAL).
    printf '"exists":true,"content":\033%s\037,"error":null}' "$1"
  else
    printf '"exists":true,"content":null,"error":"not a readable regular file"}'
  fi
}

# mount_reals holds path and resolved path, a line each.
emit_mounts() {
  first=1
  while IFS= read -r p && IFS= read -r r; do
    [ "$first" = 1 ] || printf ','
    first=0
    printf '{"path":'; js "$p"
    printf ',"real":'; js "$r"
    printf ',"findmnt":null,"error":null}'
  done <<EOF
$mount_reals
EOF
}

group_json() {
  group_entry "$1"
  printf '{"name":'; js "$1"
  printf ',"entry":'; jsn "$entry"
  printf ',"error":'
  if [ -n "$entry" ]; then printf 'null'; else js "no group $1$group_how"; fi
  printf '}'
}

# Values are printed directly, not through $(...): a command substitution of
# a function is a fork, and forks are what the probe's time goes to.
{
printf '{"probe_version":%s' "$PROBE_VERSION"
printf ',"hostname":'; jsn "$hostname"
printf ',"kernel":'; jsn "$kernel"
printf ',"boot_id":'; jsn "$boot_id"
printf ',"dockerd":{"pids":['
sep=""
for p in $pids; do printf '%s%s' "$sep" "$p"; sep=","; done
printf '],"pid":'; jnum "$pid"
printf ',"argv":'; jsa "$argv"
printf ',"exe":'; jsn "$exe"
printf ',"start_ticks":'; jnum "$start_ticks"
printf ',"btime":'; jnum "$btime"
printf ',"error":'; jsn "$dockerd_err"
printf '},"systemd":{"systemctl":'; jbool "$systemctl_ok"
printf ',"service":{"show":'; jsn "$svc_show"
printf ',"fragment_real":'; jsn "$svc_real"
printf ',"error":'; jsn "$svc_err"
printf '},"socket":{"show":'; jsn "$sock_show"
printf ',"fragment_path":'; jsn "$sock_frag"
printf ',"fragment_real":'; jsn "$sock_real"
printf ',"error":'; jsn "$sock_err"
printf '}},"service_fragment":'; jsn "$svc_frag"
printf ',"daemon_json_path":'; js "$daemon_json"
printf ',"files":['
each_json "$read_list" file_json
printf '],"api":{"via":'; jsn "$api_via"
printf ',"socket":'; js "$sock"
printf ',"curl_error":'; jsn "$curl_err"
printf ',"info":%s,"info_error":' "${info:-null}"; jsn "$info_err"
printf ',"version":%s,"version_error":' "${version:-null}"; jsn "$version_err"
printf '},"groups":['
each_json "$group_names" group_json
printf ']'
printf ',"passwd_primary":'; jsa "$passwd_primary"
printf ',"stat":{"available":'; jbool "$stat_ok"
printf ',"requested":'; jsa "$stat_list"
printf ',"lines":'; jsa "$stat_out"
printf ',"lstat_lines":'; jsa "$lstat_out"
printf ',"error":'; jsn "$stat_err"
printf '},"audit":{"auditctl":'; jbool "$auditctl_ok"
printf ',"rules":'; jsn "$audit_rules"
printf ',"error":'; jsn "$audit_err"
printf '},"mounts":['
emit_mounts
printf ']'
printf ',"packages":{"dpkg":'; jsn "$dpkg_out"
printf ',"apt_policy":'; jsn "$apt_out"
printf ',"rpm":'; jsn "$rpm_out"
printf ',"yum_updates":'; jsn "$yum_out"
printf '},"sysctl":{"user.max_user_namespaces":'
if [ -n "$userns_file" ]; then printf '\033%s\037' "$userns_file"; else jsn "$userns_max"; fi
printf '}}\n'
} | awk "$J_FINAL"
status=$?
[ -z "$rm_pid" ] || wait "$rm_pid"
exit "$status"
} </dev/null

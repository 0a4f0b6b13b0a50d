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

LC_ALL=C
export LC_ALL
# The sbin directories are appended, not prepended: a non-login ssh session
# may lack them, and the caller's PATH keeps its order (the tests rely on it).
PATH=${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

PROBE_VERSION=1
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
# characters (\036 string, \035 array of lines, \034 file content; \037
# ends it) and ONE awk pass over the whole document escapes them at the end.
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
  k = match($0, "[\034\035\036]")
  if (!k) { printf "%s", $0; next }
  printf "%s", substr($0, 1, k - 1)
  kind = substr($0, k, 1); raw = substr($0, k + 1)
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

# The slow commands that depend on nothing else here (the Docker API, which
# waits on dockerd; the package database) start first and run in the
# background while the rest is gathered. Their output goes to a private
# temporary folder that is removed on exit; without one they run in turn.
sock=${SHIPSHAPE_DOCKER_SOCK:-/var/run/docker.sock}
bg_dir=$(mktemp -d 2>/dev/null) || bg_dir=""
[ -n "$bg_dir" ] && trap 'rm -rf "$bg_dir"' EXIT
# bg NAME MODE CMD...: output to NAME.out (MODE merge: with stderr; quiet:
# without), status to NAME.rc, in bg_dir.
bg() {
  _n=$1 _m=$2
  shift 2
  if [ "$_m" = merge ]; then
    ("$@" >"$bg_dir/$_n.out" 2>&1; echo $? >"$bg_dir/$_n.rc") &
  else
    ("$@" >"$bg_dir/$_n.out" 2>/dev/null; echo $? >"$bg_dir/$_n.rc") &
  fi
  eval "bg_pid_$_n=\$!"
}
# fg_result NAME VAR MODE CMD...: VAR gets what the background run printed
# (or, without one, what running CMD now prints); returns its status.
fg_result() {
  _n=$1 _var=$2 _m=$3
  shift 3
  eval "_p=\${bg_pid_$_n:-}"
  [ -n "$_p" ] && wait "$_p"
  if [ -n "$bg_dir" ] && [ -f "$bg_dir/$_n.rc" ]; then
    slurp "$_var" "$bg_dir/$_n.out"
    read -r _rc <"$bg_dir/$_n.rc"
    return "$_rc"
  fi
  if [ "$_m" = merge ]; then _o=$("$@" 2>&1); else _o=$("$@" 2>/dev/null); fi
  _rc=$?
  eval "$_var=\$_o"
  return "$_rc"
}
if [ -n "$bg_dir" ]; then
  if have curl && [ -S "$sock" ]; then
    bg api merge curl -sS --max-time 30 --unix-socket "$sock" -w "$nl@@code=%{http_code}@@$nl" \
      "http://d/info" "http://d/version"
  fi
  have dpkg-query && bg dpkg quiet dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' \
    docker.io docker-ce docker-ce-cli moby-engine containerd containerd.io runc
  have apt-cache && bg apt quiet apt-cache policy docker.io docker-ce
  if have systemctl; then
    bg svc merge systemctl show docker.service -p FragmentPath -p DropInPaths -p EnvironmentFiles \
      -p ExecStart -p ActiveState -p MainPID -p LimitNOFILE -p LimitNOFILESoft -p LimitNPROC \
      -p LimitNPROCSoft
    bg sock merge systemctl show docker.socket -p FragmentPath -p DropInPaths -p Listen -p ActiveState
  fi
  have auditctl && bg audit merge auditctl -l
  have getconf && bg clk quiet getconf CLK_TCK
  # The usual mount lookups; others (a data-root elsewhere) run in turn.
  if have findmnt; then
    bg mnt_docker merge findmnt -rno TARGET,SOURCE,FSTYPE -T /var/lib/docker
    bg mnt_lib merge findmnt -rno TARGET,SOURCE,FSTYPE -T /var/lib
  fi
fi

# ---------------------------------------------------------------- the daemon
# Builtins over /proc rather than pidof: one exec costs more under emulation
# than reading every process's comm, and the background jobs are starting.
pids=""
for d in /proc/[0-9]*; do
  comm=""
  # stderr first: a process that ended since the glob leaves no file.
  read -r comm 2>/dev/null <"$d/comm" || continue
  [ "$comm" = dockerd ] && pids="$pids ${d#/proc/}"
done
# shellcheck disable=SC2086
set -- $pids
pids="$*"
pid=${1:-}
argv=""
exe=""
start_ticks=""
btime=""
clk_tck=""
dockerd_err=""
if [ -n "$pid" ]; then
  argv=$(tr '\000' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || dockerd_err="cannot read /proc/$pid/cmdline"
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
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
  fg_result clk clk_tck quiet getconf CLK_TCK
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
  fg_result svc svc_show merge systemctl show docker.service -p FragmentPath -p DropInPaths \
    -p EnvironmentFiles -p ExecStart -p ActiveState -p MainPID -p LimitNOFILE -p LimitNOFILESoft \
    -p LimitNPROC -p LimitNPROCSoft || { svc_err=$svc_show; svc_show=""; }
  fg_result sock sock_show merge systemctl show docker.socket -p FragmentPath -p DropInPaths \
    -p Listen -p ActiveState || { sock_err=$sock_show; sock_show=""; }
else
  svc_err="systemctl not found"
  sock_err="systemctl not found"
fi
svc_frag="" svc_dropins="" svc_envfiles="" svc_exec="" sock_frag="" sock_dropins=""
while IFS= read -r l; do
  case $l in
    FragmentPath=*) svc_frag=${l#FragmentPath=} ;;
    DropInPaths=*) svc_dropins=${l#DropInPaths=} ;;
    EnvironmentFiles=*) v=${l#EnvironmentFiles=}; add_line svc_envfiles "${v%% (*}" ;;
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
[ -n "$svc_frag" ] && svc_real=$(readlink -f "$svc_frag" 2>/dev/null)
[ -n "$sock_frag" ] && sock_real=$(readlink -f "$sock_frag" 2>/dev/null)

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
for f in /etc/audit/audit.rules /etc/audit/rules.d/*.rules; do
  [ -f "$f" ] && add_line read_list "$f"
done

# ---------------------------------------------------------------- Docker API
api_via="" info="" info_err="" version="" version_err=""
if have curl && [ -S "$sock" ]; then
  api_via=curl
  # Both endpoints in one curl: every exec counts under emulation.
  fg_result api out merge curl -sS --max-time 30 --unix-socket "$sock" -w "$nl@@code=%{http_code}@@$nl" \
    "http://d/info" "http://d/version"
  rc=$?
  rest=$out
  for ep in info version; do
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
elif have docker; then
  api_via=docker-cli
  # The CLI prints its JSON on one stdout line even when the daemon is down
  # (then with empty server fields), and the error on stderr: keep the JSON
  # only when the command succeeded, and the other lines as the error.
  for ep in info version; do
    out=$(docker "$ep" --format '{{json .}}' 2>&1)
    rc=$?
    body="" err=""
    while IFS= read -r l; do
      case $l in
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
else
  info_err="neither curl with $sock nor the docker CLI is available"
  version_err=$info_err
fi
root_dir=""
if [ -n "$info" ]; then
  case $info in
    *'"DockerRootDir":"'*)
      root_dir=${info#*'"DockerRootDir":"'}
      root_dir=${root_dir%%'"'*} ;;
  esac
fi

# ---------------------------------------------------------------- stat
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
  /etc/containerd/config.toml /var/lib/docker "$a_root" "$root_dir" "${root_dir%/*}" "$exe" \
  "$a_ca" "$a_cert" "$a_key" "$a_seccomp" /root/.docker/ca.pem /root/.docker/cert.pem /root/.docker/key.pem; do
  add_line stat_list "$f"
done
for n in dockerd containerd containerd-shim containerd-shim-runc-v1 containerd-shim-runc-v2 runc; do
  for d in /usr/bin /usr/sbin /usr/local/bin /usr/local/sbin; do add_line stat_list "$d/$n"; done
done
for f in /etc/docker/tls/* /etc/docker/certs.d/*/*; do
  [ -e "$f" ] && add_line stat_list "$f"
done
while IFS= read -r h; do
  case $h in unix://*) add_line stat_list "${h#unix://}" ;; esac
done <<EOF
$a_hosts
EOF
stat_ok=0 stat_out="" lstat_out="" stat_err=""
if have stat; then
  stat_ok=1
  # -L: owners and modes of what the path reaches; %d:%i tells which paths
  # are one file; the second call (no -L) tells which paths are symlinks.
  stat_out=$(
    IFS=$nl
    set -f
    # shellcheck disable=SC2086
    stat -L -c '%n|%U|%G|%a|%F|%u|%g|%Y|%d:%i' -- $stat_list 2>/dev/null
  )
  lstat_out=$(
    IFS=$nl
    set -f
    # shellcheck disable=SC2086
    stat -c '%n|%F' -- $stat_list 2>/dev/null
  )
else
  stat_err="stat not found"
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
groups_json="" gids=""
while IFS= read -r g; do
  [ -n "$g" ] || continue
  entry="" gerr=""
  if have getent; then
    entry=$(getent group "$g" 2>/dev/null) || gerr="no group $g"
  else
    entry=$(awk -F: -v g="$g" '$1 == g' /etc/group 2>/dev/null)
    [ -n "$entry" ] || gerr="no group $g (getent not found; read /etc/group)"
  fi
  gid=""
  case $entry in
    *:*:*) gid=${entry#*:}; gid=${gid#*:}; gid=${gid%%:*} ;;
  esac
  [ -n "$gid" ] && gids="$gids $gid"
  [ -n "$groups_json" ] && groups_json="$groups_json,"
  groups_json="$groups_json{\"name\":$(js "$g"),\"entry\":$(jsn "$entry"),\"error\":$(jsn "$gerr")}"
done <<EOF
$group_names
EOF
passwd_primary=""
if [ -n "$gids" ]; then
  if have getent; then
    passwd_primary=$(getent passwd 2>/dev/null | while IFS= read -r l; do
      x=${l#*:}; x=${x#*:}; x=${x#*:}; g=${x%%:*}
      case " $gids " in *" $g "*) printf '%s\n' "$l" ;; esac
    done)
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
mounts_json=""
if have findmnt; then
  while IFS= read -r p; do
    [ -n "$p" ] || continue
    case $p in
      /var/lib/docker) fg_result mnt_docker out merge findmnt -rno TARGET,SOURCE,FSTYPE -T "$p" ;;
      /var/lib) fg_result mnt_lib out merge findmnt -rno TARGET,SOURCE,FSTYPE -T "$p" ;;
      *) out=$(findmnt -rno TARGET,SOURCE,FSTYPE -T "$p" 2>&1) ;;
    esac
    rc=$?
    [ -n "$mounts_json" ] && mounts_json="$mounts_json,"
    if [ "$rc" -eq 0 ]; then
      mounts_json="$mounts_json{\"path\":$(js "$p"),\"findmnt\":$(js "$out"),\"error\":null}"
    else
      mounts_json="$mounts_json{\"path\":$(js "$p"),\"findmnt\":null,\"error\":$(jsn "findmnt exit $rc: $out")}"
    fi
  done <<EOF
$mount_paths
EOF
else
  # The Rust side finds the mount point from mountinfo instead.
  add_line read_list /proc/self/mountinfo
fi

# ---------------------------------------------------------------- packages
dpkg_out="" apt_out="" rpm_out="" yum_out=""
if have dpkg-query; then
  fg_result dpkg dpkg_out quiet dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' \
    docker.io docker-ce docker-ce-cli moby-engine containerd containerd.io runc
fi
if have apt-cache; then
  fg_result apt apt_out quiet apt-cache policy docker.io docker-ce
fi
if have rpm; then
  rpm_out=$(rpm -q --qf '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}\n' docker-ce docker moby-engine 2>/dev/null)
fi
# -C: cache only, so the probe never reaches the network or refreshes metadata.
if have dnf; then
  yum_out=$(dnf -C -q list --upgrades docker-ce docker moby-engine 2>/dev/null)
elif have yum; then
  yum_out=$(yum -C -q list updates docker-ce docker 2>/dev/null)
fi

# ---------------------------------------------------------------- misc
userns_max=""
if [ -r /proc/sys/user/max_user_namespaces ]; then
  read -r userns_max </proc/sys/user/max_user_namespaces
elif have sysctl; then
  userns_max=$(sysctl -n user.max_user_namespaces 2>/dev/null)
fi
hostname=""
[ -r /proc/sys/kernel/hostname ] && read -r hostname </proc/sys/kernel/hostname
kernel=""
[ -r /proc/sys/kernel/osrelease ] && read -r kernel </proc/sys/kernel/osrelease

# ---------------------------------------------------------------- output
emit_files() {
  first=1
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    [ "$first" = 1 ] || printf ','
    first=0
    printf '{"path":'
    js "$f"
    printf ','

    if [ ! -e "$f" ]; then
      printf '"exists":false,"content":null,"error":null}'
    elif [ -f "$f" ] && [ -r "$f" ]; then
      printf '"exists":true,"content":\034'
      # A builtin loop rather than cat: no exec per file.
      while IFS= read -r line || [ -n "$line" ]; do printf '%s\n' "$line"; done <"$f" 2>/dev/null
      printf '\037,"error":null}'
    else
      printf '"exists":true,"content":null,"error":"not a readable regular file"}'
    fi
  done <<EOF
$1
EOF
}

# Values are printed directly, not through $(...): a command substitution of
# a function is a fork, and forks are what the probe's time goes to.
{
printf '{"probe_version":%s' "$PROBE_VERSION"
printf ',"hostname":'; jsn "$hostname"
printf ',"kernel":'; jsn "$kernel"
printf ',"dockerd":{"pids":['
sep=""
for p in $pids; do printf '%s%s' "$sep" "$p"; sep=","; done
printf '],"pid":'; jnum "$pid"
printf ',"argv":'; jsa "$argv"
printf ',"exe":'; jsn "$exe"
printf ',"start_ticks":'; jnum "$start_ticks"
printf ',"btime":'; jnum "$btime"
printf ',"clk_tck":'; jnum "$clk_tck"
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
emit_files "$read_list"
printf '],"api":{"via":'; jsn "$api_via"
printf ',"info":%s,"info_error":' "${info:-null}"; jsn "$info_err"
printf ',"version":%s,"version_error":' "${version:-null}"; jsn "$version_err"
printf '},"groups":[%s]' "$groups_json"
printf ',"passwd_primary":'; jsa "$passwd_primary"
printf ',"stat":{"available":'; jbool "$stat_ok"
printf ',"requested":'; jsa "$stat_list"
printf ',"lines":'; jsa "$stat_out"
printf ',"lstat_lines":'; jsa "$lstat_out"
printf ',"error":'; jsn "$stat_err"
printf '},"audit":{"auditctl":'; jbool "$auditctl_ok"
printf ',"rules":'; jsn "$audit_rules"
printf ',"error":'; jsn "$audit_err"
printf '},"mounts":[%s]' "$mounts_json"
printf ',"packages":{"dpkg":'; jsn "$dpkg_out"
printf ',"apt_policy":'; jsn "$apt_out"
printf ',"rpm":'; jsn "$rpm_out"
printf ',"yum_updates":'; jsn "$yum_out"
printf '},"sysctl":{"user.max_user_namespaces":'; jsn "$userns_max"
printf '}}\n'
} | awk "$J_FINAL"

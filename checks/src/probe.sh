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
J_FINAL="$AWK_LIB"'
{ buf = (NR > 1) ? buf "\n" $0 : $0 }
END {
  init(); s = buf; out = ""
  while (1) {
    k = match(s, "[\034\035\036]")
    if (!k) { out = out s; break }
    out = out substr(s, 1, k - 1); kind = substr(s, k, 1); s = substr(s, k + 1)
    e = index(s, "\037"); raw = substr(s, 1, e - 1); s = substr(s, e + 1)
    if (kind == "\035") {
      n = split(raw, L, "\n"); a = "["
      for (m = 1; m <= n; m++) a = a (m > 1 ? "," : "") "\"" esc(L[m]) "\""
      out = out a "]"
    } else {
      if (kind == "\034" && substr(raw, length(raw)) == "\n") raw = substr(raw, 1, length(raw) - 1)
      out = out "\"" esc(raw) "\""
    }
  }
  printf "%s\n", out
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

# ---------------------------------------------------------------- the daemon
pids=""
if have pidof; then pids=$(pidof dockerd 2>/dev/null); fi
if [ -z "$pids" ]; then
  for d in /proc/[0-9]*; do
    [ -r "$d/comm" ] || continue
    comm=""
    read -r comm <"$d/comm" 2>/dev/null || continue
    [ "$comm" = dockerd ] && pids="$pids ${d#/proc/}"
  done
fi
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
  set -- $(awk 'FNR == NR { print $22; next } $1 == "btime" { print $2 }' "/proc/$pid/stat" /proc/stat 2>/dev/null)
  start_ticks=${1:-}
  btime=${2:-}
  clk_tck=$(getconf CLK_TCK 2>/dev/null)
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
  svc_show=$(systemctl show docker.service -p FragmentPath -p DropInPaths -p EnvironmentFiles \
    -p ExecStart -p ActiveState -p MainPID -p LimitNOFILE -p LimitNOFILESoft -p LimitNPROC \
    -p LimitNPROCSoft 2>&1) || { svc_err=$svc_show; svc_show=""; }
  sock_show=$(systemctl show docker.socket -p FragmentPath -p DropInPaths -p Listen -p ActiveState 2>&1) ||
    { sock_err=$sock_show; sock_show=""; }
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
envs=$(
  set -f
  # shellcheck disable=SC2086
  [ -n "$svc_frag$svc_dropins" ] && sed -n 's/^[[:space:]]*EnvironmentFile[[:space:]]*=[[:space:]]*-\{0,1\}//p' $svc_frag $svc_dropins 2>/dev/null
)
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
# Overridable so the tests can point the probe at a socket of their own.
sock=${SHIPSHAPE_DOCKER_SOCK:-/var/run/docker.sock}
api_via="" info="" info_err="" version="" version_err=""
if have curl && [ -S "$sock" ]; then
  api_via=curl
  # Both endpoints in one curl: every exec counts under emulation.
  out=$(curl -sS --max-time 30 --unix-socket "$sock" -w "$nl@@code=%{http_code}@@$nl" \
    "http://d/info" "http://d/version" 2>&1)
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
  root_dir=$(printf '%s' "$info" | awk '{ if (match($0, /"DockerRootDir":"[^"]*"/)) { m = substr($0, RSTART + 17, RLENGTH - 18); print m } }')
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
sock_group=$(printf '%s\n' "$stat_out" | awk -F'|' -v p="$sock" '$1 == p { print $3 }')
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
  gid=$(printf '%s' "$entry" | awk -F: '{ print $3 }')
  [ -n "$gid" ] && gids="$gids $gid"
  [ -n "$groups_json" ] && groups_json="$groups_json,"
  groups_json="$groups_json{\"name\":$(js "$g"),\"entry\":$(jsn "$entry"),\"error\":$(jsn "$gerr")}"
done <<EOF
$group_names
EOF
passwd_primary=""
if [ -n "$gids" ]; then
  if have getent; then
    passwd_primary=$(getent passwd 2>/dev/null | awk -F: -v gids="$gids" 'BEGIN { n = split(gids, G, " "); for (i = 1; i <= n; i++) W[G[i]] = 1 } $4 in W')
  else
    passwd_primary=$(awk -F: -v gids="$gids" 'BEGIN { n = split(gids, G, " "); for (i = 1; i <= n; i++) W[G[i]] = 1 } $4 in W' /etc/passwd 2>/dev/null)
  fi
fi

# ---------------------------------------------------------------- audit
auditctl_ok=0 audit_rules="" audit_err=""
if have auditctl; then
  auditctl_ok=1
  audit_rules=$(auditctl -l 2>&1) || { audit_err=$audit_rules; audit_rules=""; }
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
    out=$(findmnt -rno TARGET,SOURCE,FSTYPE -T "$p" 2>&1)
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
  dpkg_out=$(dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' \
    docker.io docker-ce docker-ce-cli moby-engine containerd containerd.io runc 2>/dev/null)
fi
if have apt-cache; then
  apt_out=$(apt-cache policy docker.io docker-ce 2>/dev/null)
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
    printf '{"path":%s,' "$(js "$f")"
    if [ ! -e "$f" ]; then
      printf '"exists":false,"content":null,"error":null}'
    elif [ -f "$f" ] && [ -r "$f" ]; then
      printf '"exists":true,"content":\034'
      cat "$f" 2>/dev/null
      printf '\037,"error":null}'
    else
      printf '"exists":true,"content":null,"error":"not a readable regular file"}'
    fi
  done <<EOF
$1
EOF
}

{
printf '{"probe_version":%s' "$PROBE_VERSION"
printf ',"hostname":%s' "$(jsn "$hostname")"
printf ',"kernel":%s' "$(jsn "$kernel")"
printf ',"dockerd":{"pids":['
sep=""
for p in $pids; do printf '%s%s' "$sep" "$p"; sep=","; done
printf ']'
printf ',"pid":%s,"argv":%s,"exe":%s' "$(jnum "$pid")" "$(jsa "$argv")" "$(jsn "$exe")"
printf ',"start_ticks":%s,"btime":%s,"clk_tck":%s' "$(jnum "$start_ticks")" "$(jnum "$btime")" "$(jnum "$clk_tck")"
printf ',"error":%s}' "$(jsn "$dockerd_err")"
printf ',"systemd":{"systemctl":%s' "$(jbool "$systemctl_ok")"
printf ',"service":{"show":%s,"fragment_real":%s,"error":%s}' "$(jsn "$svc_show")" "$(jsn "$svc_real")" "$(jsn "$svc_err")"
printf ',"socket":{"show":%s,"fragment_path":%s,"fragment_real":%s,"error":%s}}' \
  "$(jsn "$sock_show")" "$(jsn "$sock_frag")" "$(jsn "$sock_real")" "$(jsn "$sock_err")"
printf ',"service_fragment":%s' "$(jsn "$svc_frag")"
printf ',"daemon_json_path":%s' "$(js "$daemon_json")"
printf ',"files":['
emit_files "$read_list"
printf ']'
printf ',"api":{"via":%s' "$(jsn "$api_via")"
printf ',"info":%s,"info_error":%s' "${info:-null}" "$(jsn "$info_err")"
printf ',"version":%s,"version_error":%s}' "${version:-null}" "$(jsn "$version_err")"
printf ',"groups":[%s]' "$groups_json"
printf ',"passwd_primary":%s' "$(jsa "$passwd_primary")"
printf ',"stat":{"available":%s,"requested":%s,"lines":%s,"lstat_lines":%s,"error":%s}' \
  "$(jbool "$stat_ok")" "$(jsa "$stat_list")" "$(jsa "$stat_out")" "$(jsa "$lstat_out")" "$(jsn "$stat_err")"
printf ',"audit":{"auditctl":%s,"rules":%s,"error":%s}' "$(jbool "$auditctl_ok")" "$(jsn "$audit_rules")" "$(jsn "$audit_err")"
printf ',"mounts":[%s]' "$mounts_json"
printf ',"packages":{"dpkg":%s,"apt_policy":%s,"rpm":%s,"yum_updates":%s}' \
  "$(jsn "$dpkg_out")" "$(jsn "$apt_out")" "$(jsn "$rpm_out")" "$(jsn "$yum_out")"
printf ',"sysctl":{"user.max_user_namespaces":%s}' "$(jsn "$userns_max")"
printf '}\n'
} | awk "$J_FINAL"

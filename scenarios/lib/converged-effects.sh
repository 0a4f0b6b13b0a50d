# The effects every per-control scenario verifies, seen again in one VM
# after one whole-host fix: each check prints `ok NAME` or `FAIL NAME: why`.
# Shared by the converge scenarios.
set -u
failed=0
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
disk=$(readlink -f "$SHIPSHAPE_DATA_DISK")
src=$(findmnt -no SOURCE /var/lib/docker)
if [ "$src" = "$disk" ] && grep -Eq '^UUID=[0-9a-f-]{36} /var/lib/docker ext4 ' /etc/fstab; then ok data-disk-mounted; else fail data-disk-mounted "/var/lib/docker on '$src', the data disk is $disk"; fi
if [ "$(cat /var/lib/docker/volumes/keep/_data/file 2>&1)" = precious ]; then ok data-kept; else fail data-kept "$(cat /var/lib/docker/volumes/keep/_data/file 2>&1)"; fi
# The remapped root starts empty: import the local image there.
docker import --change 'CMD ["/bin/sh"]' /opt/shipshape/busybox.tar busybox:latest >/dev/null
docker run -d --name eff busybox sleep 600 >/dev/null
pid=$(docker inspect -f '{{.State.Pid}}' eff)
limits=$(cat /proc/$pid/limits)
if echo "$limits" | grep -Eq '^Max open files +20480 +40960 ' && echo "$limits" | grep -Eq '^Max processes +1024 +2048 '; then ok ulimits; else fail ulimits "$(echo "$limits" | grep -E 'open files|processes')"; fi
# Root in the container is the first subordinate uid of dockremap on the host.
uid=$(ps -o uid= -p "$pid" | tr -d ' ')
sub=$(awk -F: '$1 == "dockremap" {print $2}' /etc/subuid)
if [ -n "$sub" ] && [ "$uid" = "$sub" ]; then ok userns-host-uid; else fail userns-host-uid "the container's process runs as uid $uid on the host; dockremap's subordinate uids start at ${sub:-(none)}"; fi
nnp=$(docker run --rm busybox grep NoNewPrivs /proc/self/status)
case $nnp in *1) ok no-new-privileges ;; *) fail no-new-privileges "$nnp" ;; esac
docker run -d --name web -p 8080:8080 busybox httpd -f -p 8080 -h /etc >/dev/null
ip=$(ip -4 -o addr show eth0 | awk '{split($4,a,"/"); print a[1]}')
answered=
for i in 1 2 3 4 5 6 7 8 9 10; do { curl -sf "http://$ip:8080/hostname" 2>/dev/null || busybox wget -qO- "http://$ip:8080/hostname" 2>/dev/null; } >/dev/null && answered=1 && break; sleep 0.5; done
if [ -n "$answered" ] && ! pgrep docker-proxy >/dev/null; then ok no-userland-proxy; else fail no-userland-proxy "answered=${answered:-no}, $(pgrep -a docker-proxy)"; fi
if runuser -u mallory -- docker ps 2>&1 | grep -q 'permission denied'; then ok mallory-denied; else fail mallory-denied "mallory can still use dockerd"; fi
if { curl -s --max-time 3 http://127.0.0.1:2375/_ping 2>/dev/null || busybox wget -q -T 3 -O- http://127.0.0.1:2375/_ping 2>/dev/null; } >/dev/null; then fail plain-tcp-gone "port 2375 still answers"; else ok plain-tcp-gone; fi
# Where auditd is absent (a scenario that expects its controls skipped
# checks that on its own), there are no rules to see.
if command -v auditctl >/dev/null; then
  rules=$(auditctl -l 2>&1 | grep -c -- '-k docker')
  if [ "$rules" -ge 10 ]; then ok audit-rules-loaded; else fail audit-rules-loaded "$rules docker rules loaded"; fi
else
  echo "skip audit-rules-loaded: no auditd"
fi
# Last, as it stops dockerd: live-restore keeps the container through it.
systemctl stop docker.socket docker.service
if kill -0 "$pid" 2>/dev/null; then alive=yes; else alive=no; fi
systemctl start docker.service
running=$(docker inspect -f '{{.State.Running}}' eff)
if [ "$alive $running" = "yes true" ]; then ok live-restore; else fail live-restore "alive while stopped: $alive, running after: $running"; fi
exit $failed

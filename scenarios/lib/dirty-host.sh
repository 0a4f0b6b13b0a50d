# A Debian host that shipshape did not build, hardened by nobody: the
# daemon's settings wrong in four places, no auditd, a user in the docker
# group, loose modes. Shared by the converge-dirty scenarios.
set -eu
dockerd=$(command -v dockerd)
unit=$(systemctl show -p FragmentPath docker.service | sed 's/^[^=]*=//')
# No auditd (dpkg alone: works without the network).
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q auditd >/dev/null 2>&1 || true
if command -v auditctl >/dev/null; then echo "auditctl is still there" >&2; exit 1; fi
useradd -m -s /bin/sh mallory
usermod -aG docker mallory
mkdir -p /etc/systemd/system/docker.service.d
# 1. Flags in a drop-in, which also names the file dockerd really reads.
printf '[Service]\nExecStart=\nExecStart=%s -H fd:// -H tcp://0.0.0.0:2375 --containerd=/run/containerd/containerd.sock --config-file /etc/docker/site.json --icc=true $DOCKER_OPTS\n' "$dockerd" \
  > /etc/systemd/system/docker.service.d/50-site.conf
# 2. DOCKER_OPTS.
echo 'DOCKER_OPTS="--userland-proxy=true --default-ulimit nofile=100000:200000"' > /etc/default/docker
# 3. The --config-file file.
cat > /etc/docker/site.json <<'JSON'
{"live-restore": false, "no-new-privileges": false, "log-driver": "json-file", "log-opts": {"max-size": "500m", "max-file": "9"}}
JSON
# 4. A daemon.json that dockerd does not read (--config-file wins): the fix
#    must leave it alone.
echo '{"icc": true, "live-restore": false}' > /etc/docker/daemon.json
sha256sum /etc/docker/daemon.json > /root/decoy.sha256
# Loose modes.
chmod 0777 /etc/docker
chmod 0666 /etc/docker/site.json /etc/default/docker
chmod 0664 "$unit"
systemctl daemon-reload
systemctl restart docker
docker info -f 'live-restore={{.LiveRestoreEnabled}}'
{ curl -s http://127.0.0.1:2375/_ping 2>/dev/null || busybox wget -qO- http://127.0.0.1:2375/_ping; }; echo

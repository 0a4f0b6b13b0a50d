# debian-12-ce: Docker in docker-ce's layout, made from Debian's binaries
# (Docker's own repository cannot be reached from here). What it models:
# the packages docker-ce, docker-ce-cli and containerd.io from a package
# source of their own, dockerd and its helpers in /usr/bin, runc in
# /usr/bin, Docker CE's unit files (no /etc/default/docker), containerd's
# config.toml as containerd.io ships it. What it cannot: the version numbers
# are Debian's, and so are the binaries and their build options.
set -eu
src=/srv/shipshape-ce
mkdir -p "$src"
ver() { dpkg-query -W -f '${Version}' "$1"; }
arch=$(dpkg --print-architecture)
mk() { # name version depends replaces description dir
  mkdir -p "$6/DEBIAN"
  printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: shipshape <shipshape@localhost>\nDepends: %s\nConflicts: %s\nReplaces: %s\nSection: admin\nPriority: optional\nDescription: %s\n' \
    "$1" "$2" "$arch" "$3" "$4" "$4" "$5" > "$6/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -z1 --build "$6" "$src/$1_$2_$arch.deb" >/dev/null
  rm -rf "$6"
}
t=$(mktemp -d)
# containerd.io: containerd, its shims and runc, all in /usr/bin.
d=$t/containerd.io
mkdir -p "$d/usr/bin" "$d/lib/systemd/system" "$d/etc/containerd"
for b in containerd containerd-shim containerd-shim-runc-v1 containerd-shim-runc-v2 ctr; do
  if [ -e /usr/bin/$b ]; then cp -L /usr/bin/$b "$d/usr/bin/"; fi
done
cp -L "$(command -v runc)" "$d/usr/bin/runc"
printf '%s\n' '#   Copyright 2018-2022 Docker Inc.' 'disabled_plugins = ["cri"]' > "$d/etc/containerd/config.toml"
cat > "$d/lib/systemd/system/containerd.service" <<'UNIT'
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target dbus.service

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$d/DEBIAN"
printf '/etc/containerd/config.toml\n' > "$d/DEBIAN/conffiles"
mk containerd.io "$(ver containerd)" "libc6, libseccomp2" "containerd, runc" "containerd and runc, in containerd.io's layout (Debian's binaries)" "$d"
# docker-ce-cli: the docker CLI.
d=$t/docker-ce-cli
mkdir -p "$d/usr/bin"
cp -a /usr/bin/docker "$d/usr/bin/docker"
mk docker-ce-cli "$(ver docker.io)" "libc6" "docker.io" "the docker CLI, in docker-ce-cli's layout (Debian's binary)" "$d"
# docker-ce: dockerd, docker-proxy and docker-init in /usr/bin, Docker CE's units.
d=$t/docker-ce
mkdir -p "$d/usr/bin" "$d/lib/systemd/system" "$d/etc/docker"
for b in dockerd docker-proxy docker-init; do
  p=$(command -v "$b" || true)
  # Dereferenced: Debian's docker-init is a link to tini, docker-ce's a binary.
  [ -n "$p" ] && cp -L "$p" "$d/usr/bin/$b"
done
cat > "$d/lib/systemd/system/docker.service" <<'UNIT'
[Unit]
Description=Docker Application Container Engine
Documentation=https://docs.docker.com
After=network-online.target docker.socket firewalld.service containerd.service time-set.target
Wants=network-online.target containerd.service
Requires=docker.socket

[Service]
Type=notify
ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutStartSec=0
RestartSec=2
Restart=always
StartLimitBurst=3
StartLimitInterval=60s
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
KillMode=process
OOMScoreAdjust=-500

[Install]
WantedBy=multi-user.target
UNIT
cat > "$d/lib/systemd/system/docker.socket" <<'UNIT'
[Unit]
Description=Docker Socket for the API

[Socket]
ListenStream=/run/docker.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
UNIT
mkdir -p "$d/DEBIAN"
printf '#!/bin/sh\nset -e\ngetent group docker >/dev/null || groupadd --system docker\n' > "$d/DEBIAN/postinst"
chmod 0755 "$d/DEBIAN/postinst"
mk docker-ce "$(ver docker.io)" "containerd.io, docker-ce-cli, iptables, libc6, libseccomp2, libsystemd0" "docker.io" "the Docker engine, in docker-ce's layout (Debian's binaries)" "$d"
rm -rf "$t"
(cd "$src" && dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null) || {
  # No dpkg-dev: write the index from the packages' own control fields.
  : > "$src/Packages"
  for f in "$src"/*.deb; do
    { dpkg-deb -f "$f"; echo "Filename: ./$(basename "$f")"; echo "Size: $(stat -c %s "$f")"; echo "SHA256: $(sha256sum "$f" | cut -d' ' -f1)"; echo; } >> "$src/Packages"
  done
}
echo "deb [trusted=yes] file:$src ./" > /etc/apt/sources.list.d/docker-ce.list
apt-get update -qq -o Dir::Etc::sourcelist=sources.list.d/docker-ce.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0
# --purge: Debian's /etc/default/docker goes too; docker-ce has none.
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --purge docker-ce docker-ce-cli containerd.io >/dev/null
for p in docker.io containerd runc; do
  if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then echo "$p is still installed" >&2; exit 1; fi
done
test -x /usr/bin/dockerd && test ! -e /usr/sbin/dockerd && test ! -e /etc/default/docker
systemctl enable docker.service docker.socket containerd.service >/dev/null 2>&1

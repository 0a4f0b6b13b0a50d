# The local image the scenarios run (no registry is reachable from a test
# machine), and its tarball for re-imports (userns-remap gives dockerd a new,
# empty root): shipshape's images carry both; on any other host they are made
# here from a busybox image already there, or from a busybox binary.
set -eu
tar=/opt/shipshape/busybox.tar
mkdir -p /opt/shipshape
if [ ! -s "$tar" ]; then
  if docker image inspect busybox:latest >/dev/null 2>&1; then
    c=$(docker create busybox:latest true)
    docker export "$c" > "$tar"
    docker rm "$c" >/dev/null
  elif bb=$(command -v busybox); then
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/root"
    cp "$bb" "$root/bin/busybox"
    for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
    tar -C "$root" --numeric-owner -cf "$tar" .
    rm -rf "$root"
  else
    echo "no local busybox image and no busybox binary to make one (install busybox-static)" >&2
    exit 1
  fi
fi
docker image inspect busybox:latest >/dev/null 2>&1 ||
  docker import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' "$tar" busybox:latest >/dev/null
echo "local image: $tar"

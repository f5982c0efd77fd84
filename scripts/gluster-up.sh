#!/usr/bin/env bash
# Brings up (idempotently) the shared file system of cli/tests/shared_fs.rs:
# a GlusterFS replica-2 volume on two bricks of this machine, mounted twice
# with FUSE, as two hosts would mount it, with the settings the README's
# "Several hosts on one shared file system" asks for (entry, attribute and
# negative caches off; stat-prefetch, quick-read and open-behind off).
# Needs root and Debian's glusterfs-server and glusterfs-client. Prints the
# two mount points. Gluster refuses 127.0.0.1 as a brick host, so the
# bricks are named by a host name that /etc/hosts points at it.
set -euo pipefail
HOST=pared-gluster
VOL=paredvol
BRICKS=/var/lib/pared-gluster
MOUNTS=(/mnt/pared-a /mnt/pared-b)

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n "$0" "$@"
  fi
  echo "gluster-up: needs root (glusterd and FUSE mounts)" >&2
  exit 2
fi
command -v glusterd >/dev/null || { echo "gluster-up: glusterfs-server is not installed" >&2; exit 2; }
grep -qE "^127\.0\.0\.1[[:space:]].*\b$HOST\b" /etc/hosts || echo "127.0.0.1 $HOST" >>/etc/hosts

g() { timeout 60 gluster --mode=script "$@"; }

if ! timeout 10 gluster --mode=script pool list >/dev/null 2>&1; then
  glusterd
  for _ in $(seq 100); do
    timeout 5 gluster --mode=script pool list >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
if ! g volume info "$VOL" >/dev/null 2>&1; then
  mkdir -p "$BRICKS/b1" "$BRICKS/b2"
  g volume create "$VOL" replica 2 "$HOST:$BRICKS/b1" "$HOST:$BRICKS/b2" force >/dev/null
fi
for opt in performance.stat-prefetch performance.quick-read performance.open-behind; do
  g volume set "$VOL" "$opt" off >/dev/null
done
if ! g volume info "$VOL" | grep -q '^Status: Started'; then
  g volume start "$VOL" >/dev/null
fi
for m in "${MOUNTS[@]}"; do
  # A mount whose client died answers "Transport endpoint is not
  # connected": take it down, then mount again.
  if ! stat "$m" >/dev/null 2>&1; then
    umount -l "$m" 2>/dev/null || true
  fi
  mkdir -p "$m"
  if ! mountpoint -q "$m"; then
    timeout 60 mount -t glusterfs \
      -o attribute-timeout=0,entry-timeout=0,negative-timeout=0 \
      "$HOST:/$VOL" "$m"
  fi
done
printf '%s\n' "${MOUNTS[@]}"

#!/usr/bin/env bash
# The book's hosts as real systemd machines on this one machine:
# systemd-nspawn boots a debootstrap'd Debian root (shared read-only through
# overlayfs) for each host, each in a network namespace of its own joined to
# a bridge, with the hosts' names in /etc/hosts on every machine and on the
# control side, and sshd accepting a generated key for the user `deploy`
# (passwordless sudo), as the book's EC2 hosts accept ec2-user.
#
#   machines.sh rootfs         build the cached root once (debootstrap)
#   machines.sh up [full|compact]
#                              boot the hosts (each in cgroups of its own),
#                              wait for their sshd, print `env`
#   machines.sh env            the environment for ansible-playbook and ssh
#                              (ANSIBLE_*, the key) as KEY=VALUE lines
#   machines.sh down           kill the hosts and undo everything
#   machines.sh ssh HOST CMD   run CMD on HOST as root (sudo)
#
# full: six machines, peter-zk01..03 and peter-kafka01..03.foo.bar.
# compact: three machines; peter-zkNN.foo.bar and peter-kafkaNN.foo.bar are
# two names of machine NN (the inventory keeps its shape).
#
# Environment: DEPLOY_CACHE (default /var/cache/zk-kafka-rs-deploy) holds
# the root; DEPLOY_STATE (default /run/zk-kafka-rs-deploy) the running
# machines; DEPLOY_NET (default 10.213.7) the /24 of the bridge.
set -euo pipefail

CACHE=${DEPLOY_CACHE:-/var/cache/zk-kafka-rs-deploy}
STATE=${DEPLOY_STATE:-/run/zk-kafka-rs-deploy}
NET=${DEPLOY_NET:-10.213.7}
SUITE=bookworm
# Bump when the root's contents change, so a cached root is rebuilt.
ROOTFS_STAMP=zk-kafka-rs-rootfs-v1
PACKAGES=systemd,systemd-sysv,dbus,openssh-server,python3,sudo,iproute2,procps,iputils-ping,netcat-openbsd
BRIDGE=zkkbr0
MARK_BEGIN="# BEGIN zk-kafka-rs deploy test hosts"
MARK_END="# END zk-kafka-rs deploy test hosts"

log() { echo "machines: $*" >&2; }
die() { log "$*"; exit 1; }

# The mirror apt uses on this machine (debootstrap's default otherwise).
apt_mirror() {
  local m=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $3 ~ /^[a-z]+$/ { print $2; exit }' /etc/apt/sources.list)
  fi
  echo "$m"
}

cmd_rootfs() {
  local root=$CACHE/rootfs tmp=$CACHE/rootfs.tmp
  if [ -f "$root/.$ROOTFS_STAMP" ]; then
    return 0
  fi
  command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/install-test-deps.sh installs it)"
  mkdir -p "$CACHE"
  if [ ! -f "$tmp/.debootstrap-complete" ] || [ "$(cat "$tmp/.debootstrap-complete")" != "$SUITE $PACKAGES" ]; then
    rm -rf "$tmp"
    log "debootstrap $SUITE into $tmp (once; later runs reuse it)"
    # shellcheck disable=SC2046
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" $(apt_mirror) >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    echo "$SUITE $PACKAGES" >"$tmp/.debootstrap-complete"
  fi
  # The ansible user, as ec2-user on the book's hosts.
  chroot "$tmp" /bin/sh -c 'id deploy >/dev/null 2>&1 || useradd -m -s /bin/bash deploy'
  echo 'deploy ALL=(ALL) NOPASSWD:ALL' >"$tmp/etc/sudoers.d/deploy"
  chmod 0440 "$tmp/etc/sudoers.d/deploy"
  # Quiet, quick boots: no timers or gettys that the hosts don't need.
  for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
           e2scrub_reap.service console-getty.service getty@.service systemd-networkd.service \
           systemd-networkd-wait-online.service systemd-resolved.service; do
    ln -sf /dev/null "$tmp/etc/systemd/system/$u"
  done
  # Each machine gets a fresh machine-id at boot.
  : >"$tmp/etc/machine-id"
  rm -f "$tmp/var/lib/dbus/machine-id"
  printf 'PasswordAuthentication no\nUseDNS no\n' >"$tmp/etc/ssh/sshd_config.d/deploy.conf"
  touch "$tmp/.$ROOTFS_STAMP"
  rm -rf "$root"
  mv "$tmp" "$root"
  log "root ready: $root"
}

# name:ip:aliases for each machine of a layout.
layout() {
  case "$1" in
  full)
    echo "peter-zk01:$NET.11:"
    echo "peter-zk02:$NET.12:"
    echo "peter-zk03:$NET.13:"
    echo "peter-kafka01:$NET.21:"
    echo "peter-kafka02:$NET.22:"
    echo "peter-kafka03:$NET.23:"
    ;;
  compact)
    echo "peter-zk01:$NET.11:peter-kafka01"
    echo "peter-zk02:$NET.12:peter-kafka02"
    echo "peter-zk03:$NET.13:peter-kafka03"
    ;;
  *) die "unknown layout $1 (full or compact)" ;;
  esac
}

hosts_lines() {
  local name ip aliases a
  while IFS=: read -r name ip aliases; do
    printf '%s\t%s.foo.bar %s' "$ip" "$name" "$name"
    for a in ${aliases//,/ }; do printf ' %s.foo.bar %s' "$a" "$a"; done
    printf '\n'
  done <"$STATE/layout"
}

control_hosts_remove() {
  if grep -qF "$MARK_BEGIN" /etc/hosts; then
    # /etc/hosts may be a bind mount: rewrite it in place.
    local kept
    kept=$(sed "/^$MARK_BEGIN\$/,/^$MARK_END\$/d" /etc/hosts)
    printf '%s\n' "$kept" >/etc/hosts
  fi
}

control_hosts_add() {
  control_hosts_remove
  { echo "$MARK_BEGIN"; hosts_lines; echo "$MARK_END"; } >>/etc/hosts
}

# The cgroup directories of machine $1, one per hierarchy that nspawn and
# the machine's systemd use. Each machine gets its own: nspawn started from
# a cgroup shared with another machine would put both machines' units in
# the same cgroups (their systemds would manage, and kill, each other's).
machine_cgroups() {
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    echo "/sys/fs/cgroup/zkk-$1"
  else
    [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] && echo "/sys/fs/cgroup/unified/zkk-$1"
    [ -d /sys/fs/cgroup/systemd ] && echo "/sys/fs/cgroup/systemd/zkk-$1"
  fi
  return 0
}

# Remove a machine's cgroups once nothing runs in them (deepest first).
remove_cgroups() {
  local c
  for c in $(machine_cgroups "$1"); do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

ssh_opts() {
  echo "-i $STATE/id_ed25519 -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=3"
}

cmd_up() {
  local mode=${1:-full} name ip aliases ns merged passwd uid gid pid deadline cgroups
  [ -f "$STATE/layout" ] && cmd_down
  leftovers
  for t in systemd-nspawn ip ssh ssh-keygen; do command -v $t >/dev/null || die "$t is missing (scripts/install-test-deps.sh)"; done
  cmd_rootfs
  mkdir -p "$STATE"
  layout "$mode" >"$STATE/layout"
  ssh-keygen -q -t ed25519 -N '' -C zk-kafka-rs-deploy -f "$STATE/id_ed25519" <<<y >/dev/null
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  control_hosts_add
  while IFS=: read -r name ip aliases; do
    ns=zkk-$name
    ip netns add "$ns"
    ip link add "zkk${ip##*.}h" type veth peer name host0 netns "$ns"
    ip link set "zkk${ip##*.}h" master "$BRIDGE" up
    ip -n "$ns" addr add "$ip/24" dev host0
    ip -n "$ns" link set host0 up
    ip -n "$ns" link set lo up
    mkdir -p "$STATE/$name"/{upper,work,merged}
    mount -t overlay overlay -o "lowerdir=$CACHE/rootfs,upperdir=$STATE/$name/upper,workdir=$STATE/$name/work" "$STATE/$name/merged"
    merged=$STATE/$name/merged
    { printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'; hosts_lines; } >"$merged/etc/hosts"
    echo "$name.foo.bar" >"$merged/etc/hostname"
    passwd=$(grep '^deploy:' "$merged/etc/passwd")
    uid=$(echo "$passwd" | cut -d: -f3)
    gid=$(echo "$passwd" | cut -d: -f4)
    install -d -m 0700 -o "$uid" -g "$gid" "$merged/home/deploy/.ssh"
    install -m 0600 -o "$uid" -g "$gid" "$STATE/id_ed25519.pub" "$merged/home/deploy/.ssh/authorized_keys"
    cgroups=$(machine_cgroups "$name")
    # shellcheck disable=SC2086
    mkdir -p $cgroups
    # setsid: the machine outlives this shell; its pid is recorded to stop
    # it. It starts in cgroups of its own; its systemd gets the unified
    # hierarchy (cgroup v2) whatever this machine's layout.
    # shellcheck disable=SC2016
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 setsid sh -c \
      'for c in $1; do echo $$ >"$c/cgroup.procs" || exit 1; done; shift; exec "$@"' sh "$cgroups" \
      systemd-nspawn -q -D "$merged" --machine="$name" --hostname="$name.foo.bar" \
      --register=no --keep-unit -b --network-namespace-path="/run/netns/$ns" \
      --resolv-conf=off --timezone=off --link-journal=no --console=read-only \
      </dev/null >"$STATE/$name/console.log" 2>&1 &
    echo $! >"$STATE/$name/pid"
  done <"$STATE/layout"
  deadline=$((SECONDS + 120))
  while IFS=: read -r name ip aliases; do
    # shellcheck disable=SC2046
    until ssh $(ssh_opts) "deploy@$ip" 'sudo -n systemctl is-system-running --wait >/dev/null 2>&1; true' </dev/null 2>/dev/null; do
      pid=$(cat "$STATE/$name/pid")
      kill -0 "$pid" 2>/dev/null || { tail -30 "$STATE/$name/console.log" >&2; die "$name did not boot"; }
      [ $SECONDS -lt $deadline ] || { tail -30 "$STATE/$name/console.log" >&2; die "$name: no ssh within 120 s"; }
      sleep 0.5
    done
  done <"$STATE/layout"
  cmd_env
}

# KEY=VALUE lines, shell-quoted: `eval "$(machines.sh env | sed 's/^/export /')"`.
cmd_env() {
  printf '%s=%q\n' \
    DEPLOY_SSH_KEY "$STATE/id_ed25519" \
    ANSIBLE_PRIVATE_KEY_FILE "$STATE/id_ed25519" \
    ANSIBLE_REMOTE_USER deploy \
    ANSIBLE_HOST_KEY_CHECKING False \
    ANSIBLE_SSH_COMMON_ARGS "-o UserKnownHostsFile=/dev/null"
}

cmd_down() {
  local name ip aliases pid ns deadline p
  [ -f "$STATE/layout" ] || { control_hosts_remove; return 0; }
  # The machines are thrown away with their overlays: no orderly poweroff.
  # Every process in a machine's network namespace is that machine's (its
  # init first: the kernel then ends the rest of its PID namespace).
  while IFS=: read -r name ip aliases; do
    ns=zkk-$name
    if ip netns list | grep -qw "$ns"; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    fi
  done <"$STATE/layout"
  deadline=$((SECONDS + 20))
  while IFS=: read -r name ip aliases; do
    pid=$(cat "$STATE/$name/pid" 2>/dev/null || true)
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done <"$STATE/layout"
  while IFS=: read -r name ip aliases; do
    ns=zkk-$name
    mountpoint -q "$STATE/$name/merged" && { umount "$STATE/$name/merged" || umount -l "$STATE/$name/merged"; }
    ip netns del "$ns" 2>/dev/null || true
    ip link del "zkk${ip##*.}h" 2>/dev/null || true
    remove_cgroups "$name"
    rm -rf "${STATE:?}/$name"
  done <"$STATE/layout"
  ip link del "$BRIDGE" 2>/dev/null || true
  control_hosts_remove
  rm -f "$STATE/layout" "$STATE/id_ed25519" "$STATE/id_ed25519.pub"
}

# What a run that was killed before `down` may have left.
leftovers() {
  local ns p f m l deadline
  for f in "$STATE"/*/pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd-nspawn ]; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  for ns in $(ip netns list | awk '$1 ~ /^zkk-/ { print $1 }'); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    deadline=$((SECONDS + 10))
    while [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    ip netns del "$ns" 2>/dev/null || true
  done
  for l in $(ip -o link show | awk -F': ' '$2 ~ /^zkk[0-9]+h@/ { sub(/@.*/, "", $2); print $2 }'); do
    ip link del "$l" 2>/dev/null || true
  done
  for m in "$STATE"/*/merged; do
    [ -d "$m" ] || continue
    mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
    remove_cgroups "$(basename "$(dirname "$m")")"
    rm -rf "$(dirname "$m")"
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  control_hosts_remove
}

cmd_ssh() {
  local host=$1 ip
  shift
  ip=$(getent hosts "$host" | awk '{ print $1; exit }')
  [ -n "$ip" ] || die "unknown host $host"
  # shellcheck disable=SC2046
  exec ssh $(ssh_opts) "deploy@$ip" sudo -n "$(printf '%q ' "$@")"
}

case "${1:-}" in
rootfs) cmd_rootfs ;;
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
env) cmd_env ;;
ssh) shift; cmd_ssh "$@" ;;
*) echo "usage: $0 rootfs | up [full|compact] | down | env | ssh HOST CMD..." >&2; exit 2 ;;
esac

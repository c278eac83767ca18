#!/usr/bin/env bash
# Build the OCI image localhost/zk-kafka-rs:latest with podman, from no
# registry: a root filesystem made here (zookeeperd, kafkad, kafka-tools
# under the tools' names, Kafka's bin/*.sh and config/, bash and the
# shared libraries all of them load), then container/Containerfile
# FROM scratch.
#   scripts/image.sh            (PROFILE=debug for a debug build,
#                                SKIP_BUILD=1 to package what is built,
#                                IMAGE=name:tag for another tag)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
profile=${PROFILE:-release}
target=${CARGO_TARGET_DIR:-$repo/target}
image=${IMAGE:-localhost/zk-kafka-rs:latest}
if [ -z "${SKIP_BUILD:-}" ]; then
  if [ "$profile" = release ]; then cargo build -q --release --bins; else cargo build -q --bins; fi
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/rootfs
mkdir -p "$root"/{usr/local/bin,usr/local/kafka/libexec,bin,usr/bin,etc,tmp,var/lib/zookeeper/data,var/lib/zookeeper/log,var/lib/kafka/data}
chmod 1777 "$root/tmp"

# The daemons and tools, stripped of debug info.
for b in kafkad zookeeperd kafka-tools; do
  strip --strip-debug -o "$root/usr/local/kafka/libexec/$b" "$target/$profile/$b"
  ln -s ../kafka/libexec/$b "$root/usr/local/bin/$b"
done
# Confluent's unsuffixed tool names, and Kafka's bin/*.sh and config/.
for t in $("$target/$profile/kafka-tools" --help 2>&1 | sed -n 's/^  \([a-z-]*\)$/\1/p'); do
  ln -s ../kafka/libexec/kafka-tools "$root/usr/local/bin/$t"
done
cp -r bin config "$root/usr/local/kafka/"
install -m 0755 container/zk-kafka-run "$root/usr/local/bin/zk-kafka-run"

# A shell for `exec broker /bin/bash`, a few tools, and every shared
# library (and the loader) that anything here needs.
for b in bash sh cat ls env sleep; do
  p=$(command -v "$b")
  cp -L "$p" "$root/bin/$b"
done
ln -s ../../bin/env "$root/usr/bin/env"
for f in "$root"/bin/* "$root"/usr/local/kafka/libexec/*; do
  ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
  done
done
echo 'root:x:0:0:root:/root:/bin/bash' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"

cp container/Containerfile "$ctx/Containerfile"
podman build -q -t "$image" -f "$ctx/Containerfile" "$ctx" >/dev/null
echo "$image"

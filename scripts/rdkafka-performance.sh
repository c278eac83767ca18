# Sourced by the Kafka benchmark scripts: rdkafka_performance built from
# the librdkafka that rdkafka-sys bundles, once, under $1 (target/bench).
# Sets $rp to the binary.
build_rdkafka_performance() {
  local work=$1
  rp=$work/librdkafka/examples/rdkafka_performance
  [ -x "$rp" ] && return 0
  mkdir -p "$work/fetch/src"
  printf '[package]\nname = "rdk-fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nrdkafka-sys = "4"\n[workspace]\n' > "$work/fetch/Cargo.toml"
  echo 'fn main() {}' > "$work/fetch/src/main.rs"
  (cd "$work/fetch" && cargo fetch -q)
  local src
  src=$(cd "$work/fetch" && cargo metadata --format-version 1 | python3 -c 'import json,sys; m=json.load(sys.stdin); print([p["manifest_path"] for p in m["packages"] if p["name"]=="rdkafka-sys"][0])')
  rm -rf "$work/librdkafka" && cp -r "$(dirname "$src")/librdkafka" "$work/librdkafka"
  # No TLS/SASL needed on loopback; compression codecs stay built in.
  (cd "$work/librdkafka" && ./configure --disable-ssl --disable-sasl --disable-gssapi --disable-lz4-ext --disable-zstd >/dev/null \
     && make -j2 -C src librdkafka.a >/dev/null && make -C examples rdkafka_performance >/dev/null)
}

#!/usr/bin/env bash
# Builds the load generator and the ceiling of `npm run bench` from Debian's librdkafka-dev:
#   bench/.build/rdkafka_performance   librdkafka's examples/rdkafka_performance.c, unmodified
#   bench/.build/mock-cluster          bench/rdkafka/mock-cluster.c (librdkafka's in-memory mock cluster)
#   bench/.build/txn-perf              bench/rdkafka/txn-perf.c (idempotent vs transactional produce load)
#
# The example includes librdkafka's internal headers (`../src/rd.h`, `rd.h`, `rdtime.h`), which the package does
# not ship: the stand-ins in bench/rdkafka/ take their place. `../src/rd.h` resolves relative to the .c file, so
# the example is copied to bench/.build/rdkafka/examples/ with bench/rdkafka/rd.h as bench/.build/rdkafka/src/rd.h.
#
# Needs gcc and librdkafka-dev (apt-get install gcc librdkafka-dev). Set RDKAFKA_PERF_SOURCE to build another
# copy of rdkafka_performance.c. Rebuilds only what is older than its inputs unless --force is given.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

force=0
[[ "${1:-}" == "--force" ]] && force=1

source_c="${RDKAFKA_PERF_SOURCE:-/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c}"
if [[ ! -f "$source_c" && -f "$source_c.gz" ]]; then
  source_c="$source_c.gz"
fi
include_dir="${RDKAFKA_INCLUDE_DIR:-/usr/include/librdkafka}"
out="bench/.build"
cc="${CC:-gcc}"

fail () {
  echo "build-rdkafka-perf: $*" >&2
  exit 1
}

command -v "$cc" > /dev/null || fail "no C compiler ($cc): apt-get install gcc"
[[ -f "$include_dir/rdkafka.h" ]] || fail "no $include_dir/rdkafka.h: apt-get install librdkafka-dev"
[[ -f "$source_c" ]] || fail "no $source_c: apt-get install librdkafka-dev (it ships the example)"

mkdir -p "$out/rdkafka/examples" "$out/rdkafka/src"

stale () { # stale TARGET INPUT...: true when TARGET is missing or older than an input
  local target="$1"
  shift
  [[ $force == 1 || ! -e "$target" ]] && return 0
  local input
  for input in "$@"; do
    [[ "$input" -nt "$target" ]] && return 0
  done
  return 1
}

perf="$out/rdkafka_performance"
if stale "$perf" "$source_c" bench/rdkafka/rd.h bench/rdkafka/rdtime.h "$0"; then
  if [[ "$source_c" == *.gz ]]; then
    gzip -dc "$source_c" > "$out/rdkafka/examples/rdkafka_performance.c"
  else
    cp "$source_c" "$out/rdkafka/examples/rdkafka_performance.c"
  fi
  cp bench/rdkafka/rd.h "$out/rdkafka/src/rd.h"
  # -w: the example is librdkafka's code, compiled as it is; its warnings are not ours to fix.
  "$cc" -O2 -w -I bench/rdkafka -I "$include_dir" -o "$perf" \
    "$out/rdkafka/examples/rdkafka_performance.c" -lrdkafka -lm -lpthread
  echo "built $perf"
else
  echo "up to date: $perf"
fi

mock="$out/mock-cluster"
if stale "$mock" bench/rdkafka/mock-cluster.c "$0"; then
  "$cc" -O2 -Wall -Wextra -o "$mock" bench/rdkafka/mock-cluster.c -lrdkafka -lpthread
  echo "built $mock"
else
  echo "up to date: $mock"
fi

txn="$out/txn-perf"
if stale "$txn" bench/rdkafka/txn-perf.c "$0"; then
  "$cc" -O2 -Wall -Wextra -o "$txn" bench/rdkafka/txn-perf.c -lrdkafka -lpthread
  echo "built $txn"
else
  echo "up to date: $txn"
fi

#!/bin/sh
# bench/profile.sh: where mmnet's time goes on workloads 1 (one-way small tables) and 2
# (ping-pong): each side's lua5.4 process under `valgrind --tool=callgrind` (instructions,
# repeatable, both threads), while the other side runs normally. Writes OUTDIR/*.out and
# OUTDIR/*.txt (top functions by inclusive cost, Swift names demangled when swift-demangle is on
# PATH). Expects LUA_PATH/LUA_CPATH to load mmnet (as `make bench` sets them).
#
# Usage: sh bench/profile.sh [OUTDIR [MESSAGES [ROUND_TRIPS]]]   (defaults out/bench/profile 50000 3000)
set -e
here=$(dirname "$0")
out=${1:-out/bench/profile}
n=${2:-50000}
trips=${3:-3000}
lua=${LUA:-lua5.4}
mkdir -p "$out"
demangle() { if command -v swift-demangle >/dev/null 2>&1; then swift-demangle --simplified; else cat; fi; }
# Waits (at most 60 s) for a receiver's "PORT n" line in $1 and prints n.
port_of() {
  i=0
  while ! grep -q '^PORT' "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -le 600 ] || { echo "bench/profile: no PORT in $1" >&2; exit 1; }
    sleep 0.1
  done
  sed -n 's/^PORT //p' "$1"
}
# profile NAME WHICH(recv|send) RECV_ARGS SEND_KIND COUNT: one side under callgrind.
profile() {
  name=$1; which=$2; rkind=$3; skind=$4; count=$5
  vg="valgrind --tool=callgrind --callgrind-out-file=$out/$name.out"
  if [ "$which" = recv ]; then rpre=$vg; spre=; else rpre=; spre=$vg; fi
  rm -f "$out/$name.port"
  timeout 600 $rpre $lua "$here/mmnet_recv.lua" "$rkind" "$count" 0 > "$out/$name.port" 2>"$out/$name.recv.log" &
  rpid=$!
  port=$(port_of "$out/$name.port")
  timeout 600 $spre $lua "$here/mmnet_send.lua" "$skind" "$port" "$count" 0 > /dev/null 2>"$out/$name.send.log"
  wait $rpid
  callgrind_annotate --inclusive=yes "$out/$name.out" 2>/dev/null | demangle | grep -v '^ *$' | head -80 > "$out/$name.txt"
  echo "bench/profile: $out/$name.txt"
}
profile w1_recv recv small small "$n"
profile w1_send send small small "$n"
profile w2_echo recv echo ping "$trips"
profile w2_ping send echo ping "$trips"

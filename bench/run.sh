#!/bin/sh
# bench/run.sh: `make bench`: raises the fd limit (workload 5 holds 10,000 connections), builds
# the raw C contender, runs the driver (bench/run.lua) and plots throughput against message size
# with gnuplot (bench/plot.gp). Expects LUA_PATH/LUA_CPATH to load mmnet (the Makefile sets them).
#
# Usage: sh bench/run.sh [OUTDIR]      (default out/bench; BENCH_QUICK=1 for a brief run)
set -e
here=$(dirname "$0")
out=${1:-out/bench}
mkdir -p "$out"
: > "$out/stderr.log"
# As many descriptors as the hard limit allows (root may raise the hard limit too).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 10100 ] || echo "bench: fd limit $(ulimit -n) is below 10,100: workload 5 will fail" >&2
${HOST_CC:-gcc} -O2 -Wall -Wextra -o "$out/raw_tcp" "$here/raw_tcp.c"
${LUA:-lua5.4} "$here/run.lua" "$out" "$out/raw_tcp"
if command -v gnuplot >/dev/null 2>&1; then
  # The encrypted curve only once encryption is there (a column of NaN makes gnuplot warn).
  enc=$(awk '!/^#/ && $6 != "NaN" { print 1; exit }' "$out/sweep.dat")
  gnuplot -e "datafile='$out/sweep.dat'; outfile='$out/throughput.png'; encrypted=${enc:-0}" "$here/plot.gp"
  echo "plot: $out/throughput.png"
else
  echo "bench: gnuplot not installed: no plot" >&2
fi

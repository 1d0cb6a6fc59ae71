# bench/plot.gp: throughput against message size for each contender of `make bench`, from
# out/bench/sweep.dat (written by bench/run.lua). Call with
#   gnuplot -e "datafile='...'; outfile='...'; encrypted=0|1" bench/plot.gp
if (!exists("datafile")) datafile = 'out/bench/sweep.dat'
if (!exists("outfile")) outfile = 'out/bench/throughput.png'
set terminal pngcairo size 1000,640 font "sans,11"
set output outfile
set title "One-way throughput on loopback against payload size (higher is better)"
set xlabel "payload bytes per message"
set ylabel "MB/s of payload"
set logscale xy
set format x "%.0s%cB"
set grid
set key top left
set datafile missing "NaN"
if (!exists("encrypted")) encrypted = 1
if (encrypted) {
plot datafile using 1:2 with linespoints lw 2 title "raw TCP in C (writes of that size)", \
     ''       using 1:3 with linespoints lw 2 title "mmnet", \
     ''       using 1:6 with linespoints lw 2 title "mmnet, encrypted (128-bit)", \
     ''       using 1:4 with linespoints lw 2 title "LuaSocket + cjson", \
     ''       using 1:5 with linespoints lw 2 title "luv + cjson"
} else {
plot datafile using 1:2 with linespoints lw 2 title "raw TCP in C (writes of that size)", \
     ''       using 1:3 with linespoints lw 2 title "mmnet", \
     ''       using 1:4 with linespoints lw 2 title "LuaSocket + cjson", \
     ''       using 1:5 with linespoints lw 2 title "luv + cjson"
}

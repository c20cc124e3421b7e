#!/bin/sh
# Render an ACE trace (HAKMEM_ACE_TRACE=file.csv) as a PNG: reward and
# throughput, the TLS capacities (candidate per band and the busiest class's
# effective cap after the diet), drain threshold / bundle width, diet factor
# and partial-release pages, and RSS with the pages each scavenge returned.
#   usage: scripts/ace_trace_plot.sh trace.csv [out.png]
set -e
in=${1:?usage: $0 trace.csv [out.png]}
out=${2:-${in%.csv}.png}
command -v gnuplot >/dev/null || { echo "$0: gnuplot not found" >&2; exit 1; }
[ -s "$in" ] || { echo "$0: $in is empty" >&2; exit 1; }
gnuplot <<GP
set datafile separator ","
set datafile missing "n/a"
set terminal pngcairo size 1200,1400 font "sans,10"
set output "$out"
set multiplot layout 5,1 title "ACE trace: $(basename "$in")" noenhanced
set grid
set key outside right top
set xlabel "time (s)"
set lmargin 12
set rmargin 26

set title "reward = throughput - (misses + locks + frag), each term in [0,1]" noenhanced
set ylabel "reward"
set y2label "Mops/s"
set ytics nomirror
set y2tics
plot "$in" using "t_s":"reward" with lines lw 2 title "reward", \
     "" using "t_s":(column("ops_per_s")/1e6) axes x1y2 with lines lc rgb "gray" title "throughput (Mops/s)"
unset y2label
unset y2tics
set ytics mirror

set title "TLS capacity"
set ylabel "blocks"
set logscale y 2
plot "$in" using "t_s":"tls_cap_b0" with steps lw 2 title "cap 16-128 B", \
     "" using "t_s":"tls_cap_b1" with steps lw 2 title "cap 144 B-1 KiB", \
     "" using "t_s":"tls_cap_b2" with steps title "cap 1-16 KiB", \
     "" using "t_s":"tls_cap_b3" with steps title "cap 16-256 KiB", \
     "" using "t_s":"eff_cap_top" with steps dt 2 lw 2 title "effective cap, busiest class"
unset logscale y

set title "drain threshold and bundle width"
set ylabel "blocks"
set logscale y 2
plot "$in" using "t_s":"drain_b0" with steps lw 2 title "drain 16-128 B", \
     "" using "t_s":"drain_b1" with steps title "drain 144 B-1 KiB", \
     "" using "t_s":"drain_min" with steps dt 2 title "drain (lowest class)", \
     "" using "t_s":"bundle" with steps lw 2 title "bundle width"
unset logscale y

set title "diet factor and partial release pages"
set ylabel "diet"
set y2label "pages/span"
set yrange [0:1.1]
set y2range [0:9]
set ytics nomirror
set y2tics
plot "$in" using "t_s":"diet" with steps lw 2 title "diet factor", \
     "" using "t_s":"llc_proxy" with lines lc rgb "gray" title "llc proxy (WS/LLC)", \
     "" using "t_s":"partial_pages" axes x1y2 with steps lw 2 title "partial release pages"
unset y2label
unset y2tics
set ytics mirror
set autoscale y

set title "RSS and scavenge"
set autoscale y2
set ylabel "MiB"
set y2label "pages released"
set ytics nomirror
set y2tics
plot "$in" using "t_s":"rss_mb" with lines lw 2 title "RSS (MiB)", \
     "" using "t_s":"scav_pages" axes x1y2 with impulses lw 2 title "pages released"
unset multiplot
GP
echo "$out"

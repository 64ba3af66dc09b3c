#!/usr/bin/env bash
# Performance benchmark: the same 2-host, 1-VM-per-host namespace lab measured twice per round,
# once joined by the Linux kernel's VXLAN + bridge (deploy/lab/kernel-baseline.sh) and once by the
# Fabric host agents (Release build, one silo for the whole run); both measured by
# deploy/lab/measure.sh h1-vm1 -> h2-vm1 (ping RTT, iperf3 TCP, iperf3 UDP 64-byte pkt/s).
# Prints one table: kernel, agent, agent/kernel and which direction is better. Root only.
#
#   deploy/bench/benchmark.sh [--duration 5] [--repeat 1] [--ping-count 50] [--json out.json]
#                             [--prefix P] [--timeout 120] [--skip-prereqs] [--no-build] [--keep-logs]
#
#   --duration S    seconds per iperf3 test (TCP and UDP each), default 5
#   --repeat N      N rounds, kernel and agent alternating (k a k a ...); the table shows medians
#   --ping-count C  pings per RTT measurement (at 10 ms intervals), default 50
#   --json FILE     also write every run, the medians and the ratios as JSON
#   --prefix P      lab prefix stem (default fb<pid>); labs are P-k<i> and P-a<i>
#   --timeout S     bound for silo start and agent convergence, default 120
#   --skip-prereqs  do not run deploy/prerequisites.sh;  --no-build  do not rebuild if sources changed
#   --keep-logs     keep the work directory (logs, raw measure output) even on success
# Exit status: 0 if every run measured, 1 if some run failed (the table shows what was measured).
set -euo pipefail

ME=benchmark.sh
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LABDIR="$REPO/deploy/lab"
LAB="$LABDIR/lab.sh"
# shellcheck source=deploy/demo/fabric-lib.sh
source "$REPO/deploy/demo/fabric-lib.sh"

duration=5 repeat=1 count=50 json='' prefix='' timeout=120 prereqs=1 build=1 keep_logs=0
VNI=5001
while (($#)); do
  case $1 in
    --duration) duration=${2:?}; shift 2 ;;
    --repeat) repeat=${2:?}; shift 2 ;;
    --ping-count) count=${2:?}; shift 2 ;;
    --json) json=${2:?}; shift 2 ;;
    --prefix) prefix=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --skip-prereqs) prereqs=0; shift ;;
    --no-build) build=0; shift ;;
    --keep-logs) keep_logs=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$ME: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "$ME: must run as root (network namespaces)" >&2; exit 2; }
for n in duration repeat count timeout; do
  [[ ${!n} =~ ^[0-9]+$ ]] && ((${!n} >= 1)) || { echo "$ME: --${n/count/ping-count} must be a positive integer" >&2; exit 2; }
done
[[ -n $prefix ]] || prefix="fb$(printf '%04d%02d' $(($$ % 10000)) $((RANDOM % 100)))"
[[ $prefix =~ ^[A-Za-z0-9][A-Za-z0-9_]{0,15}$ ]] || { echo "$ME: --prefix: letters, digits, _ (at most 16)" >&2; exit 2; }
if [[ -n $json ]]; then
  json=$(realpath -m "$json")
  touch "$json" 2>/dev/null || { echo "$ME: cannot write --json $json" >&2; exit 2; }
fi

WORK=$(mktemp -d /tmp/fabric-bench.XXXXXX)
mkdir -p "$WORK/logs" "$WORK/runs" "$WORK/status"
LABS=()       # every lab prefix this run may have created
FAILED=0
CLEANED=0

cleanup() {
  local rc=$? p
  ((CLEANED)) && return 0
  CLEANED=1
  trap '' INT TERM
  fl_stop_all 10
  for p in "${LABS[@]}"; do "$LAB" down --prefix "$p" --quiet || fl_say "warning: lab.sh down --prefix $p failed"; done
  rm -rf "$WORK/bin" "$WORK/status"
  if ((rc == 0 && !keep_logs)); then rm -rf "$WORK"; else fl_say "logs and raw results kept in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- prerequisites, build, binaries
if ((prereqs)); then
  fl_say "checking prerequisites (deploy/prerequisites.sh)"
  MSBUILDDISABLENODEREUSE=1 bash "$REPO/deploy/prerequisites.sh" >"$WORK/logs/prerequisites.log" 2>&1 \
    || { tail -20 "$WORK/logs/prerequisites.log" >&2; fl_die "deploy/prerequisites.sh failed"; }
fi
for t in dotnet curl ip ping ss iperf3 ethtool; do command -v "$t" >/dev/null || fl_die "'$t' not found (deploy/prerequisites.sh)"; done
command -v jq >/dev/null || command -v python3 >/dev/null || fl_die "measure.sh needs jq or python3"
if fl_build_needed; then
  ((build)) && fl_build || fl_say "warning: --no-build: using the existing (older) Release build"
fi
[[ -f $REPO/HostAgent/bin/Release/net10.0/Fabric.HostAgent.dll ]] || fl_die "no Release build (run without --no-build)"
fl_snapshot_binaries

# ---- one silo for the whole run (also running during the kernel runs, so both see the same load)
http_port=$(fl_free_port); silo_port=$(fl_free_port "$http_port"); gw_port=$(fl_free_port "$http_port" "$silo_port")
cluster="bench-$prefix"
fl_start_silo "$http_port" "$silo_port" "$gw_port" "$cluster" "$timeout"
fl_put api/switches/dvs '{"mtu":1450}' || fl_die "could not create the switch"
fl_put api/switches/dvs/portgroups/web "{\"vni\":$VNI}" || fl_die "could not create the port group"

env_line="kernel $(uname -r), $(nproc) CPUs, iperf3 $(iperf3 --version 2>/dev/null | head -1 | awk '{print $2}'), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
fl_say "$env_line"

# ---- runs
run_kernel() {
  local i=$1 p="$prefix-k$i"
  LABS+=("$p")
  fl_say "round $i/$repeat: kernel VXLAN (lab $p)"
  "$LABDIR/kernel-baseline.sh" --prefix "$p" --vni "$VNI" --duration "$duration" --ping-count "$count" \
    >"$WORK/runs/kernel-$i.txt" 2>"$WORK/logs/kernel-$i.log"
}

run_agent() {
  local i=$1 p="$prefix-a$i" h ip
  LABS+=("$p")
  fl_say "round $i/$repeat: Fabric agents (lab $p)"
  "$LAB" up --prefix "$p" --hosts 2 --vms 1 --groups 1 --vni-map "0=$VNI" --quiet >"$WORK/logs/agent-$i.log" 2>&1 || return 1
  # shellcheck disable=SC1090
  source "${FABRIC_LAB_STATE_DIR:-/run/fabric-lab}/$p.env"
  for h in 1 2; do
    ip="H${h}_IP"
    fl_start_agent "agent-r$i-h$h" "r$i-h$h" "${!ip}" "$p-h$h" "$gw_port" "$cluster" "$WORK/status/r$i-h$h.json" vm1=web
  done
  agents_converged() { fl_check_alive; fl_flood_has "$VNI" "r$i-h1" "r$i-h2"; }
  fl_wait "$timeout" "agents r$i-h1 and r$i-h2 in the flood list of VNI $VNI" agents_converged || return 1
  # The data plane may lag the flood list by a moment: wait for a first reply before measuring.
  fl_wait 30 "a first ping h1-vm1 -> h2-vm1 through the agents" \
    ip netns exec "$p-h1-vm1" ping -n -c 1 -W 1 -q "$H2_VM1_IP" >/dev/null 2>&1 || return 1
  "$LABDIR/measure.sh" --prefix "$p" --from h1-vm1 --to h2-vm1 --duration "$duration" --ping-count "$count" \
    --label agent >"$WORK/runs/agent-$i.txt" 2>>"$WORK/logs/agent-$i.log"
}

finish_agent() {
  local i=$1
  fl_stop "agent-r$i-*" 10
  "$LAB" down --prefix "$prefix-a$i" --quiet || true
}

# measure.sh prints "metric value unit"; normalise to exactly three fields (its max RTT can carry
# ping's ", pipe N" suffix when replies overlap: "ping_rtt_max 40.7, pipe 3 ms").
normalise() {
  local f=$1
  [[ -f $f ]] || return 0
  awk 'NF >= 3 && $1 ~ /^[a-z0-9_]+$/ { v = $2; sub(/,$/, "", v); if (v ~ /^[0-9.eE+-]+$/) print $1, v, $NF }' "$f" >"$f.n" && mv "$f.n" "$f"
}

for ((i = 1; i <= repeat; i++)); do
  if ! run_kernel "$i"; then
    FAILED=1; fl_say "kernel run $i failed: $(tail -3 "$WORK/logs/kernel-$i.log" | tr '\n' ' ')"
    rm -f "$WORK/runs/kernel-$i.txt"
  fi
  if ! run_agent "$i"; then
    FAILED=1; fl_say "agent run $i failed: $(tail -3 "$WORK/logs/agent-$i.log" | tr '\n' ' ')"
    rm -f "$WORK/runs/agent-$i.txt"
  fi
  finish_agent "$i"
  normalise "$WORK/runs/kernel-$i.txt"; normalise "$WORK/runs/agent-$i.txt"
done
fl_stop 'silo' 10

# ---- aggregation: median per metric and side (runs/<side>-<i>.txt hold "metric value unit" lines)
metrics=(ping_rtt_avg ping_rtt_min ping_rtt_max ping_loss tcp_throughput tcp_retransmits udp64_rx_pps udp64_tx_pps udp64_loss)
declare -A better=([ping_rtt_avg]=lower [ping_rtt_min]=lower [ping_rtt_max]=lower [ping_loss]=lower
  [tcp_throughput]=higher [tcp_retransmits]=lower [udp64_rx_pps]=higher [udp64_tx_pps]=info [udp64_loss]=lower)
# udp64_tx_pps is the sender's offered rate (iperf3 -b 0), not what the path delivered: shown for
# context (a sender that is not slowed by in-line encapsulation offers more), not judged.

values() {  # values side metric -> one value per successful run, in run order
  local f
  for f in "$WORK/runs/$1"-*.txt; do
    [[ -f $f ]] && awk -v m="$2" '$1 == m {print $2}' "$f"
  done || true
}
runs_in_order() {  # runs_in_order side metric -> "v1, v2, ..." in run order
  local i f out=()
  for ((i = 1; i <= repeat; i++)); do
    f="$WORK/runs/$1-$i.txt"
    if [[ -f $f ]]; then out+=("$(awk -v m="$2" '$1 == m {print $2}' "$f")"); else out+=("failed"); fi
  done
  local IFS=,; echo "${out[*]}" | sed 's/,/, /g'
}
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) {print ""; exit} if (NR % 2) print v[(NR+1)/2]; else printf "%.6g\n", (v[NR/2] + v[NR/2+1]) / 2}'; }
unit_of() { cat "$WORK"/runs/*.txt 2>/dev/null | awk -v m="$1" '$1 == m {print $3; exit}'; }
fmt() { [[ -z $1 ]] && { echo n/a; return; }; awk -v x="$1" 'BEGIN { if (x >= 1000 || x == int(x)) printf "%.0f", x; else if (x >= 100) printf "%.1f", x; else printf "%.3g", x }'; }

declare -A med_k med_a ratio reading unit
for m in "${metrics[@]}"; do
  med_k[$m]=$(values kernel "$m" | median)
  med_a[$m]=$(values agent "$m" | median)
  unit[$m]=$(unit_of "$m"); [[ -n ${unit[$m]} ]] || unit[$m]='-'
  ratio[$m]='' reading[$m]=''
  if [[ -n ${med_k[$m]} && -n ${med_a[$m]} ]]; then
    read -r ratio[$m] reading[$m] < <(awk -v k="${med_k[$m]}" -v a="${med_a[$m]}" -v b="${better[$m]}" 'BEGIN {
      if (k == 0 && a == 0) { print "- equal_(both_0)"; exit }
      if (b == "info") { printf "%.3g offered_load,_not_judged\n", (k == 0 ? 0 : a / k); exit }
      if (k == 0) { print "inf " (b == "higher" ? "agent_better" : "kernel_better"); exit }
      r = a / k
      if (r == 0) { print "0 " (b == "higher" ? "kernel_better" : "agent_better"); exit }
      f = (r > 1 ? r : 1 / r); fs = (f >= 10 ? sprintf("%.0f", f) : sprintf("%.1f", f))
      if (r >= 0.95 && r <= 1.05) w = "about_equal"
      else if ((b == "higher") == (r > 1)) w = "agent_" fs "x_better"
      else w = "kernel_" fs "x_better"
      printf "%.3g %s\n", r, w }')
  fi
done

n_k=$(ls "$WORK"/runs/kernel-*.txt 2>/dev/null | wc -l)
n_a=$(ls "$WORK"/runs/agent-*.txt 2>/dev/null | wc -l)
echo
echo "Fabric benchmark: 2 hosts x 1 VM, VNI $VNI, h1-vm1 -> h2-vm1; iperf3 ${duration}s per test, ${count} pings;"
echo "$env_line"
echo "medians of $n_k kernel and $n_a agent run(s) (of $repeat each; order per round: kernel, then agent)"
echo
printf '%-16s %-7s %12s %12s %13s  %-7s %s\n' metric unit kernel agent agent/kernel better reading
printf '%-16s %-7s %12s %12s %13s  %-7s %s\n' ---------------- ------- ------------ ------------ ------------- ------- -------
for m in "${metrics[@]}"; do
  printf '%-16s %-7s %12s %12s %13s  %-7s %s\n' "$m" "${unit[$m]}" "$(fmt "${med_k[$m]}")" "$(fmt "${med_a[$m]}")" \
    "${ratio[$m]:-n/a}" "${better[$m]}" "${reading[$m]//_/ }"
done
echo
echo "agent/kernel > 1 is better for tcp_throughput and udp64_rx_pps (the agent delivers more); for RTT, loss"
echo "and retransmits lower is better, so a ratio > 1 there means the agent is slower/worse by that factor."
echo "udp64_tx_pps is what the iperf3 sender offered (-b 0); udp64_rx_pps is what arrived (the figure that counts)."
if ((repeat > 1)); then
  echo
  echo "per run (round 1..$repeat):"
  for m in ping_rtt_avg tcp_throughput udp64_rx_pps; do
    printf '  %-16s kernel: %s | agent: %s\n' "$m" "$(runs_in_order kernel "$m")" "$(runs_in_order agent "$m")"
  done
fi

# ---- JSON
if [[ -n $json ]]; then
  {
    printf '{\n  "benchmark": "fabric kernel-vs-agent",\n  "date": "%s",\n  "environment": "%s",\n' "$(date -u +%FT%TZ)" "$env_line"
    printf '  "config": {"hosts": 2, "vms_per_host": 1, "vni": %s, "path": "h1-vm1 -> h2-vm1", "duration_s": %s, "ping_count": %s, "repeat": %s},\n' \
      "$VNI" "$duration" "$count" "$repeat"
    printf '  "runs": ['
    sep=''
    for ((i = 1; i <= repeat; i++)); do
      for side in kernel agent; do
        f="$WORK/runs/$side-$i.txt"
        printf '%s\n    {"side": "%s", "round": %d, "ok": %s, "metrics": {' "$sep" "$side" "$i" "$([[ -f $f ]] && echo true || echo false)"
        [[ -f $f ]] && awk 'NF >= 3 {printf "%s\"%s\": {\"value\": %s, \"unit\": \"%s\"}", (n++ ? ", " : ""), $1, $2, $3}' "$f"
        printf '}}'
        sep=','
      done
    done
    printf '\n  ],\n  "median": {\n'
    for side in kernel agent; do
      printf '    "%s": {' "$side"
      sep=''
      for m in "${metrics[@]}"; do
        if [[ $side == kernel ]]; then v=${med_k[$m]}; else v=${med_a[$m]}; fi
        [[ -n $v ]] && { printf '%s"%s": {"value": %s, "unit": "%s"}' "$sep" "$m" "$v" "${unit[$m]}"; sep=', '; }
      done
      printf '}%s\n' "$([[ $side == kernel ]] && echo ,)"
    done
    printf '  },\n  "agent_over_kernel": {'
    sep=''
    for m in "${metrics[@]}"; do
      [[ ${ratio[$m]} =~ ^-?[0-9][0-9.eE+-]*$ ]] || continue   # not "-" (both 0) or "inf"
      printf '%s"%s": {"ratio": %s, "better": "%s"}' "$sep" "$m" "${ratio[$m]}" "${better[$m]}"; sep=', '
    done
    printf '}\n}\n'
  } >"$json"
  fl_say "wrote $json"
fi

((FAILED == 0)) || { fl_say "some runs failed (logs in $WORK/logs)"; exit 1; }
exit 0

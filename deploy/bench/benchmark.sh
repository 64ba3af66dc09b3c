#!/usr/bin/env bash
# Performance benchmark: the same 2-host, 1-VM-per-host namespace lab measured once per fabric and
# round: the Linux kernel's VXLAN + bridge (deploy/lab/kernel-baseline.sh), Open vSwitch's userspace
# datapath (deploy/bench/ovs-fabric.sh), and the Fabric host agents (Release build, one silo for the
# whole run); all measured by deploy/lab/measure.sh h1-vm1 -> h2-vm1 (ping RTT percentiles, iperf3
# TCP, iperf3 UDP 64-byte datagrams/s, trafgen 64-byte frames/s). Prints one table per VM offload
# mode: kernel, ovs, agent medians and the agent/kernel, agent/ovs, ovs/kernel ratios. Root only.
#
#   deploy/bench/benchmark.sh [--duration 5] [--repeat 1] [--vm-offloads on|off|both] [--json out.json]
#                             [--fabrics kernel,ovs,agent] [--ovs-userspace-tso off|on]
#                             [--ping-count 1000] [--ping-interval 0.002] [--pps-cpus 1] [--skip ping,tcp,udp,pps]
#                             [--prefix P] [--timeout 120] [--skip-prereqs] [--no-build] [--keep-logs]
#
#   --duration S      seconds per throughput test (iperf3 TCP, iperf3 UDP, trafgen), default 5
#   --repeat N        N rounds, fabrics in order kernel, ovs, agent in each; the table shows medians
#   --vm-offloads M   the VMs' veth offloads (lab.sh up --vm-offloads): on (default: what containers
#                     and virtio NICs have), off, or both (every round in both modes, two tables)
#   --fabrics LIST    which fabrics to run, default kernel,ovs,agent (no agent: no build, no silo);
#                     routed: the agents again, but h1-vm1 -> h2-vm2 between two routed port groups
#                     (192.168.100.0/24 and 192.168.101.0/24, VNIs 5002/5003) through the anycast
#                     gateway of h1, against agent's switched path in the same segment (routed/agent);
#                     bridged: the agents with a bridged port group (VNI 5004) on the hosts' uplinks,
#                     h1-vm1 -> h2-vm1 across the lab's LAN untunnelled (bridged/agent)
#   --ovs-userspace-tso on   sets Open vSwitch's other_config:userspace-tso-enable=true (default off)
#   --ping-count C, --ping-interval S   pings per RTT measurement and their interval (1000 at 2 ms)
#   --pps-cpus N      CPUs trafgen sends on (-P), default 1 (on 2 cores the other one is the fabric's)
#   --skip LIST       tests measure.sh leaves out (ping,tcp,udp,pps)
#   --json FILE       also write every run, the medians and the ratios as JSON
#   --prefix P        lab prefix stem (default fb<pid>); labs are P-<k|o|a><on|off><round>
#   --timeout S       bound for silo start and agent convergence, default 120
#   --skip-prereqs    do not run deploy/prerequisites.sh;  --no-build  do not rebuild if sources changed
#   --keep-logs       keep the work directory (logs, raw measure output) even on success
# Every step is bounded in time; a test that fails shows as "failed" with its reason under the table
# and the run goes on. Exit status: 0 if every test of every run measured, 1 if some failed.
set -euo pipefail

ME=benchmark.sh
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LABDIR="$REPO/deploy/lab"
LAB="$LABDIR/lab.sh"
OVS="$HERE/ovs-fabric.sh"
STATE_DIR=${FABRIC_LAB_STATE_DIR:-/run/fabric-lab}
# shellcheck source=deploy/demo/fabric-lib.sh
source "$REPO/deploy/demo/fabric-lib.sh"

duration=5 repeat=1 count=1000 interval=0.002 pps_cpus=1 skip='' offloads=on fabrics_arg=kernel,ovs,agent ovs_tso=off
json='' prefix='' timeout=120 prereqs=1 build=1 keep_logs=0
VNI=5001
while (($#)); do
  case $1 in
    --duration) duration=${2:?}; shift 2 ;;
    --repeat) repeat=${2:?}; shift 2 ;;
    --ping-count) count=${2:?}; shift 2 ;;
    --ping-interval) interval=${2:?}; shift 2 ;;
    --pps-cpus) pps_cpus=${2:?}; shift 2 ;;
    --skip) skip=${2:?}; shift 2 ;;
    --vm-offloads) offloads=${2:?}; shift 2 ;;
    --fabrics) fabrics_arg=${2:?}; shift 2 ;;
    --ovs-userspace-tso) ovs_tso=${2:?}; shift 2 ;;
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
usage_die() { echo "$ME: $*" >&2; exit 2; }
[[ $(id -u) == 0 ]] || usage_die "must run as root (network namespaces)"
for n in duration repeat count timeout pps_cpus; do
  [[ ${!n} =~ ^[0-9]+$ ]] && ((${!n} >= 1)) || usage_die "--${n//_/-} must be a positive integer"
done
[[ $interval =~ ^[0-9]*\.?[0-9]+$ ]] || usage_die "--ping-interval is seconds, e.g. 0.002"
case $offloads in on|off) modes=("$offloads") ;; both) modes=(off on) ;; *) usage_die "--vm-offloads on|off|both" ;; esac
[[ $ovs_tso == on || $ovs_tso == off ]] || usage_die "--ovs-userspace-tso on|off"
FABRICS=()
for f in kernel ovs agent routed bridged; do [[ ",$fabrics_arg," == *",$f,"* ]] && FABRICS+=("$f"); done
for f in ${fabrics_arg//,/ }; do [[ $f == kernel || $f == ovs || $f == agent || $f == routed || $f == bridged ]] || usage_die "--fabrics: unknown fabric '$f' (kernel, ovs, agent, routed, bridged)"; done
((${#FABRICS[@]})) || usage_die "--fabrics: at least one of kernel, ovs, agent, routed, bridged"
for t in ${skip//,/ }; do [[ $t == ping || $t == tcp || $t == udp || $t == pps ]] || usage_die "--skip: unknown test '$t' (ping, tcp, udp, pps)"; done
has() { [[ " ${FABRICS[*]} " == *" $1 "* ]]; }
[[ -n $prefix ]] || prefix="fb$(printf '%04d%02d' $(($$ % 10000)) $((RANDOM % 100)))"
[[ $prefix =~ ^[A-Za-z0-9][A-Za-z0-9_]{0,15}$ ]] || usage_die "--prefix: letters, digits, _ (at most 16)"
if [[ -n $json ]]; then
  json=$(realpath -m "$json")
  touch "$json" 2>/dev/null || usage_die "cannot write --json $json"
fi

WORK=$(mktemp -d /tmp/fabric-bench.XXXXXX)
mkdir -p "$WORK/logs" "$WORK/runs" "$WORK/status"
LABS=()       # every lab prefix this run may have created
STEP_PID=''   # the bounded step running now (a timeout process; its process group is the step)
FAILED=0
CLEANED=0

cleanup() {
  local rc=$? p t
  ((CLEANED)) && return 0
  CLEANED=1
  trap '' INT TERM
  if [[ -n $STEP_PID ]] && kill -0 "$STEP_PID" 2>/dev/null; then
    kill -TERM "$STEP_PID" 2>/dev/null || true   # timeout passes it on to the step's process group
    for ((t = 0; t < 100; t++)); do kill -0 "$STEP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$STEP_PID" 2>/dev/null || true
  fi
  fl_stop_all 10
  for p in "${LABS[@]}"; do
    "$OVS" down --prefix "$p" --quiet 2>/dev/null || fl_say "warning: ovs-fabric.sh down --prefix $p failed"
    "$LAB" down --prefix "$p" --quiet || fl_say "warning: lab.sh down --prefix $p failed"
  done
  rm -rf "$WORK/bin" "$WORK/status"
  if ((rc == 0 && !keep_logs)); then rm -rf "$WORK"; else fl_say "logs and raw results kept in $WORK"; fi
}
trap cleanup EXIT
trap 'fl_say "error: line $LINENO: \"$BASH_COMMAND\" failed"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# bounded SECONDS OUT ERR cmd args...: runs the step under timeout in the background, so Ctrl-C
# reaches our trap at once (cleanup then ends the step by PID); returns the step's exit status
# (124 when it ran out of time).
bounded() {
  local secs=$1 out=$2 err=$3 rc=0; shift 3
  timeout -k 10 "$secs" "$@" </dev/null >"$out" 2>>"$err" &
  STEP_PID=$!
  wait "$STEP_PID" || rc=$?
  STEP_PID=''
  return "$rc"
}

# ---- prerequisites, build, binaries
if ((prereqs)); then
  fl_say "checking prerequisites (deploy/prerequisites.sh)"
  MSBUILDDISABLENODEREUSE=1 bash "$REPO/deploy/prerequisites.sh" >"$WORK/logs/prerequisites.log" 2>&1 \
    || { tail -20 "$WORK/logs/prerequisites.log" >&2; fl_die "deploy/prerequisites.sh failed"; }
fi
for t in curl ip ping ss iperf3 ethtool jq timeout; do command -v "$t" >/dev/null || fl_die "'$t' not found (deploy/prerequisites.sh)"; done
[[ ",$skip," == *,pps,* ]] || command -v trafgen >/dev/null || fl_die "'trafgen' not found (netsniff-ng; deploy/prerequisites.sh)"
if has ovs; then
  [[ -x /usr/lib/openvswitch-switch/ovs-vswitchd ]] && command -v ovsdb-server >/dev/null \
    || fl_die "Open vSwitch not found (openvswitch-switch; deploy/prerequisites.sh)"
fi
if has agent || has routed || has bridged; then
  command -v dotnet >/dev/null || fl_die "'dotnet' not found"
  if fl_build_needed; then
    ((build)) && fl_build || fl_say "warning: --no-build: using the existing (older) Release build"
  fi
  [[ -f $REPO/HostAgent/bin/Release/net10.0/Fabric.HostAgent.dll ]] || fl_die "no Release build (run without --no-build)"
  fl_snapshot_binaries

  # One silo for the whole run (also running during the other fabrics' runs: all see the same load).
  http_port=$(fl_free_port); silo_port=$(fl_free_port "$http_port"); gw_port=$(fl_free_port "$http_port" "$silo_port")
  cluster="bench-$prefix"
  fl_start_silo "$http_port" "$silo_port" "$gw_port" "$cluster" "$timeout"
  fl_put api/switches/dvs '{"mtu":1450}' || fl_die "could not create the switch"
  fl_put api/switches/dvs/portgroups/web "{\"vni\":$VNI}" || fl_die "could not create the port group"
  fl_put api/switches/dvs/portgroups/ra "{\"vni\":$((VNI + 1)),\"routed\":true,\"ipv4\":{\"subnet\":\"192.168.100.0/24\",\"gateway\":\"192.168.100.1\"}}" \
    || fl_die "could not create the routed port group ra"
  fl_put api/switches/dvs/portgroups/rb "{\"vni\":$((VNI + 2)),\"routed\":true,\"ipv4\":{\"subnet\":\"192.168.101.0/24\",\"gateway\":\"192.168.101.1\"}}" \
    || fl_die "could not create the routed port group rb"
  fl_put api/switches/dvs/portgroups/lan "{\"vni\":$((VNI + 3)),\"network\":\"bridged\"}" || fl_die "could not create the bridged port group lan"
fi

env_line="kernel $(uname -r), $(nproc) CPUs, iperf3 $(iperf3 --version 2>/dev/null | head -1 | awk '{print $2}')"
has ovs && env_line+=", Open vSwitch $( (ovs-vsctl --version 2>/dev/null || true) | head -1 | awk '{print $NF}')"
[[ ",$skip," == *,pps,* ]] || env_line+=", trafgen $( (trafgen -v 2>/dev/null || true) | head -1 | awk '{print $2}')"
env_line+=", load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
fl_say "$env_line"

# ---- runs: runs/<mode>-<fabric>-<round>.txt hold measure.sh's lines ("metric value unit" or
# "metric failed reason"), or "ALL failed reason" when the run did not get to measure.
measure_args=(--duration "$duration" --ping-count "$count" --ping-interval "$interval"
  --pps-cpus "$pps_cpus" ${skip:+--skip "$skip"})
# measure.sh's own bound: pings, two iperf3 tests (each duration + 30 s plus the server's start),
# trafgen (duration + drain), warm-up; plus slack.
measure_bound=$(awk -v c="$count" -v i="$interval" -v d="$duration" 'BEGIN{printf "%d", c * i + 15 + 2 * (d + 45) + d + 15 + 30}')

run_failed() {  # run_failed FILE "reason"
  local why
  why=$(tr -s '\n\t\r' '   ' <<<"$2" | tr -cd '[:print:]' | cut -c1-200 | sed 's/ *$//')
  echo "ALL failed ${why:-unknown}" >"$1"
}
last_error() {  # the last line of a log that says what went wrong
  grep -vE '^#|^\s*$' "$1" 2>/dev/null | grep -iE 'error|fail|timed out|no connectivity|unable|not|died|exited' | tail -1 \
    || tail -1 "$1" 2>/dev/null || true
}
# After measure.sh (or kernel-baseline.sh): keep its lines; a run that measured nothing is failed.
measured() {  # measured RC OUT LOG WHAT
  local rc=$1 out=$2 log=$3 what=$4
  if ((rc == 0 || rc == 3)) && grep -qE '^[a-z0-9_]+ ' "$out"; then
    ((rc == 0)) || FAILED=1
    return 0
  fi
  FAILED=1
  if ((rc == 124 || rc == 137)); then run_failed "$out" "$what did not finish within its bound"
  else run_failed "$out" "$(last_error "$log")"; fi
}

run_kernel() {
  local m=$1 i=$2 p="$prefix-k$1$2" out="$WORK/runs/$1-kernel-$2.txt" log="$WORK/logs/$1-kernel-$2.log" rc=0
  LABS+=("$p")
  fl_say "offloads $m, round $i/$repeat: kernel VXLAN (lab $p)"
  bounded $((measure_bound + 120)) "$out" "$log" "$LABDIR/kernel-baseline.sh" --prefix "$p" --vni "$VNI" \
    --vm-offloads "$m" "${measure_args[@]}" || rc=$?
  measured "$rc" "$out" "$log" "kernel-baseline.sh"
}

lab_up() {  # lab_up PREFIX MODE LOG: builds the lab and sources its state; on failure sets WHY
  local rc=0
  bounded 120 /dev/null "$3" "$LAB" up --prefix "$1" --hosts 2 --vms 1 --groups 1 --vni-map "0=$VNI" --vm-offloads "$2" --quiet || rc=$?
  ((rc == 0)) || { WHY="lab.sh up failed (exit $rc): $(last_error "$3")"; return 1; }
  # shellcheck disable=SC1090
  source "$STATE_DIR/$1.env"
}

first_ping() {  # first_ping PREFIX: the path must carry a ping before measuring (30 s)
  fl_wait 30 "a first ping h1-vm1 -> h2-vm1" ip netns exec "$1-h1-vm1" ping -n -c 1 -W 1 -q "$H2_VM1_IP" >/dev/null 2>&1
}

run_ovs() {
  local m=$1 i=$2 p="$prefix-o$1$2" out="$WORK/runs/$1-ovs-$2.txt" log="$WORK/logs/$1-ovs-$2.log" rc=0
  LABS+=("$p")
  fl_say "offloads $m, round $i/$repeat: Open vSwitch userspace datapath (lab $p)"
  lab_up "$p" "$m" "$log" || { FAILED=1; run_failed "$out" "$WHY"; return 0; }
  bounded 60 /dev/null "$log" "$OVS" up --prefix "$p" --vni "$VNI" --userspace-tso "$ovs_tso" --timeout 20 || rc=$?
  if ((rc != 0)); then FAILED=1; run_failed "$out" "ovs-fabric.sh up failed (exit $rc): $(last_error "$log")"; return 0; fi
  if ! first_ping "$p" 2>>"$log"; then FAILED=1; run_failed "$out" "no ping h1-vm1 -> h2-vm1 through Open vSwitch within 30 s"; return 0; fi
  bounded "$measure_bound" "$out" "$log" "$LABDIR/measure.sh" --prefix "$p" --from h1-vm1 --to h2-vm1 "${measure_args[@]}" --label ovs || rc=$?
  measured "$rc" "$out" "$log" "measure.sh"
}

run_agent() {
  local m=$1 i=$2 p="$prefix-a$1$2" out="$WORK/runs/$1-agent-$2.txt" log="$WORK/logs/$1-agent-$2.log" rc=0 h ip
  LABS+=("$p")
  fl_say "offloads $m, round $i/$repeat: Fabric agents (lab $p)"
  lab_up "$p" "$m" "$log" || { FAILED=1; run_failed "$out" "$WHY"; return 0; }
  for h in 1 2; do
    ip="H${h}_IP"
    fl_start_agent "agent-$m$i-h$h" "$m$i-h$h" "${!ip}" "$p-h$h" "$gw_port" "$cluster" "$WORK/status/$m$i-h$h.json" vm1=web
  done
  agents_converged() { [[ -z $(fl_first_dead) ]] && fl_flood_has "$VNI" "$m$i-h1" "$m$i-h2"; }
  if ! fl_wait "$timeout" "agents $m$i-h1 and $m$i-h2 in the flood list of VNI $VNI" agents_converged 2>>"$log"; then
    FAILED=1
    if [[ -n $(fl_first_dead) ]]; then run_failed "$out" "agent exited: $(fl_first_dead)"
    else run_failed "$out" "agents not in the flood list of VNI $VNI within ${timeout}s"; fi
    return 0
  fi
  # The data plane may lag the flood list by a moment: wait for a first reply before measuring.
  if ! first_ping "$p" 2>>"$log"; then FAILED=1; run_failed "$out" "no ping h1-vm1 -> h2-vm1 through the agents within 30 s"; return 0; fi
  bounded "$measure_bound" "$out" "$log" "$LABDIR/measure.sh" --prefix "$p" --from h1-vm1 --to h2-vm1 "${measure_args[@]}" --label agent || rc=$?
  measured "$rc" "$out" "$log" "measure.sh"
}

# The agents routing: 2 hosts x 2 VMs, vm1 in ra (192.168.100.0/24), vm2 in rb (192.168.101.0/24),
# every VM's default route via its anycast gateway; measured h1-vm1 -> h2-vm2: routed by h1's agent
# into rb's VNI and tunnelled once to h2 (the replies routed by h2's agent into ra's).
run_routed() {
  local m=$1 i=$2 p="$prefix-r$1$2" out="$WORK/runs/$1-routed-$2.txt" log="$WORK/logs/$1-routed-$2.log" rc=0 h ip k
  LABS+=("$p")
  fl_say "offloads $m, round $i/$repeat: Fabric agents, routed between two port groups (lab $p)"
  bounded 120 /dev/null "$log" "$LAB" up --prefix "$p" --hosts 2 --vms 2 --groups 2 --vni-map "0=$((VNI + 1)),1=$((VNI + 2))" --vm-offloads "$m" --quiet || rc=$?
  ((rc == 0)) || { FAILED=1; run_failed "$out" "lab.sh up failed (exit $rc): $(last_error "$log")"; return 0; }
  # shellcheck disable=SC1090
  source "$STATE_DIR/$p.env"
  for h in 1 2; do
    ip="H${h}_IP"
    fl_start_agent "ragent-$m$i-h$h" "r$m$i-h$h" "${!ip}" "$p-h$h" "$gw_port" "$cluster" "$WORK/status/r$m$i-h$h.json" vm1=ra vm2=rb
    for k in 1 2; do ip -n "$p-h$h-vm$k" route replace default via "192.168.$((99 + k)).1" dev eth0; done
  done
  routed_converged() { [[ -z $(fl_first_dead) ]] && fl_flood_has "$((VNI + 1))" "r$m$i-h1" "r$m$i-h2" && fl_flood_has "$((VNI + 2))" "r$m$i-h1" "r$m$i-h2"; }
  if ! fl_wait "$timeout" "agents r$m$i-h1 and r$m$i-h2 in the flood lists of VNIs $((VNI + 1)) and $((VNI + 2))" routed_converged 2>>"$log"; then
    FAILED=1; run_failed "$out" "agents not converged within ${timeout}s $(fl_first_dead)"; return 0
  fi
  # The first packets resolve the destination (an ARP request from the gateway, the VM's answer published).
  if ! fl_wait 30 "a first routed ping h1-vm1 -> h2-vm2" ip netns exec "$p-h1-vm1" ping -n -c 1 -W 1 -q "$H2_VM2_IP" >/dev/null 2>>"$log"; then
    FAILED=1; run_failed "$out" "no routed ping h1-vm1 -> h2-vm2 within 30 s"; return 0
  fi
  bounded "$measure_bound" "$out" "$log" "$LABDIR/measure.sh" --prefix "$p" --from h1-vm1 --to h2-vm2 "${measure_args[@]}" --label routed || rc=$?
  measured "$rc" "$out" "$log" "measure.sh"
}

# The agents bridging: 2 hosts x 1 VM on the bridged port group lan, each agent with the lab's
# uplink as Fabric:Agent:Uplink; h1-vm1 -> h2-vm1 leaves h1 untunnelled and crosses the LAN (br0).
run_bridged() {
  local m=$1 i=$2 p="$prefix-b$1$2" out="$WORK/runs/$1-bridged-$2.txt" log="$WORK/logs/$1-bridged-$2.log" rc=0 h ip
  LABS+=("$p")
  fl_say "offloads $m, round $i/$repeat: Fabric agents, bridged onto the uplinks (lab $p)"
  bounded 120 /dev/null "$log" "$LAB" up --prefix "$p" --hosts 2 --vms 1 --groups 1 --vni-map "0=$((VNI + 3))" --vm-offloads "$m" --quiet || rc=$?
  ((rc == 0)) || { FAILED=1; run_failed "$out" "lab.sh up failed (exit $rc): $(last_error "$log")"; return 0; }
  # shellcheck disable=SC1090
  source "$STATE_DIR/$p.env"
  FL_AGENT_EXTRA=(--Fabric:Agent:Uplink uplink)
  for h in 1 2; do
    ip="H${h}_IP"
    fl_start_agent "bagent-$m$i-h$h" "b$m$i-h$h" "${!ip}" "$p-h$h" "$gw_port" "$cluster" "$WORK/status/b$m$i-h$h.json" vm1=lan
  done
  FL_AGENT_EXTRA=()
  if ! first_ping "$p" 2>>"$log"; then FAILED=1; run_failed "$out" "no bridged ping h1-vm1 -> h2-vm1 within 30 s $(fl_first_dead)"; return 0; fi
  bounded "$measure_bound" "$out" "$log" "$LABDIR/measure.sh" --prefix "$p" --from h1-vm1 --to h2-vm1 "${measure_args[@]}" --label bridged || rc=$?
  measured "$rc" "$out" "$log" "measure.sh"
}

finish() {  # finish FABRIC MODE ROUND: stop what the run started, remove its lab
  local f=$1 m=$2 i=$3 p
  case $f in
    kernel) p="$prefix-k$m$i" ;;
    ovs) p="$prefix-o$m$i"; bounded 30 /dev/null "$WORK/logs/$m-ovs-$i.log" "$OVS" down --prefix "$p" --quiet || true ;;
    agent) p="$prefix-a$m$i"; fl_stop "agent-$m$i-*" 10 ;;
    routed) p="$prefix-r$m$i"; fl_stop "ragent-$m$i-*" 10 ;;
    bridged) p="$prefix-b$m$i"; fl_stop "bagent-$m$i-*" 10 ;;
  esac
  bounded 60 /dev/null "$WORK/logs/$m-$f-$i.log" "$LAB" down --prefix "$p" --quiet || true
}

for m in "${modes[@]}"; do
  for ((i = 1; i <= repeat; i++)); do
    for f in "${FABRICS[@]}"; do
      "run_$f" "$m" "$i"
      finish "$f" "$m" "$i"
      if grep -q '^ALL failed' "$WORK/runs/$m-$f-$i.txt"; then
        fl_say "  $f: run failed: $(sed -n 's/^ALL failed //p' "$WORK/runs/$m-$f-$i.txt")"
      elif grep -q ' failed ' "$WORK/runs/$m-$f-$i.txt"; then
        fl_say "  $f: failed: $(awk '$2 == "failed" {print $1}' "$WORK/runs/$m-$f-$i.txt" | tr '\n' ' ')"
      fi
    done
  done
done
(has agent || has routed || has bridged) && fl_stop 'silo' 10

# ---- aggregation (jq): rows "mode fabric round metric value unit reason" -> medians, ratios, failures
metrics=(ping_rtt_p50 ping_rtt_p99 ping_rtt_avg ping_rtt_min ping_rtt_max ping_loss tcp_throughput tcp_retransmits
  udp64_rx_pps udp64_tx_pps udp64_loss frame64_rx_pps frame64_tx_pps frame64_loss)
declare -A units=([ping_rtt_p50]=ms [ping_rtt_p99]=ms [ping_rtt_avg]=ms [ping_rtt_min]=ms [ping_rtt_max]=ms [ping_loss]=%
  [tcp_throughput]=Gbit/s [tcp_retransmits]=count [udp64_rx_pps]=pkt/s [udp64_tx_pps]=pkt/s [udp64_loss]=%
  [frame64_rx_pps]=pkt/s [frame64_tx_pps]=pkt/s [frame64_loss]=%)
# Offered rates are what the generator sent, not what the fabric delivered: shown, not judged.
declare -A better=([ping_rtt_p50]=lower [ping_rtt_p99]=lower [ping_rtt_avg]=lower [ping_rtt_min]=lower [ping_rtt_max]=lower
  [ping_loss]=lower [tcp_throughput]=higher [tcp_retransmits]=lower [udp64_rx_pps]=higher [udp64_tx_pps]=info
  [udp64_loss]=lower [frame64_rx_pps]=higher [frame64_tx_pps]=info [frame64_loss]=lower)
declare -A test_of=([ping]="ping_rtt_p50 ping_rtt_p99 ping_rtt_avg ping_rtt_min ping_rtt_max ping_loss"
  [tcp]="tcp_throughput tcp_retransmits" [udp]="udp64_rx_pps udp64_tx_pps udp64_loss" [pps]="frame64_rx_pps frame64_tx_pps frame64_loss")
wanted=()
for t in ping tcp udp pps; do [[ ",$skip," == *",$t,"* ]] || wanted+=(${test_of[$t]}); done

rows="$WORK/rows.tsv"
: >"$rows"
for m in "${modes[@]}"; do
  for f in "${FABRICS[@]}"; do
    for ((i = 1; i <= repeat; i++)); do
      file="$WORK/runs/$m-$f-$i.txt"
      [[ -f $file ]] || run_failed "$file" "not run"
      all=$(sed -n 's/^ALL failed //p' "$file")
      for metric in "${wanted[@]}"; do
        if [[ -n $all ]]; then line="$metric failed $all"
        else line=$(grep -m1 "^$metric " "$file" || echo "$metric failed not measured"); fi
        read -r _ v rest <<<"$line"
        if [[ $v == failed ]]; then printf '%s\t%s\t%s\t%s\t\t%s\t%s\n' "$m" "$f" "$i" "$metric" "${units[$metric]}" "$rest"
        else v=${v%,}; printf '%s\t%s\t%s\t%s\t%s\t%s\t\n' "$m" "$f" "$i" "$metric" "$v" "${units[$metric]}"; fi
      done
    done
  done
done >>"$rows"

better_json=$(for metric in "${wanted[@]}"; do printf '%s\t%s\n' "$metric" "${better[$metric]}"; done \
  | jq -R -s 'split("\n") | map(select(length > 0) | split("\t") | {(.[0]): .[1]}) | add')
fabrics_json=$(printf '%s\n' "${FABRICS[@]}" | jq -R -s 'split("\n") | map(select(length > 0))')
modes_json=$(printf '%s\n' "${modes[@]}" | jq -R -s 'split("\n") | map(select(length > 0))')
metrics_json=$(printf '%s\n' "${wanted[@]}" | jq -R -s 'split("\n") | map(select(length > 0))')

result="$WORK/result.json"
jq -R -s --argjson better "$better_json" --argjson fabrics "$fabrics_json" --argjson modes "$modes_json" \
  --argjson metrics "$metrics_json" --arg env "$env_line" --arg date "$(date -u +%FT%TZ)" \
  --argjson duration "$duration" --argjson repeat "$repeat" --argjson count "$count" --arg interval "$interval" \
  --argjson pps_cpus "$pps_cpus" --arg tso "$ovs_tso" --arg vni "$VNI" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[(length - 1) / 2]
                     else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def ratio($a; $b; $better):
    if $a == null or $b == null then null
    elif $b == 0 and $a == 0 then {ratio: null, note: "both 0", better: $better}
    elif $b == 0 then {ratio: null, note: "baseline 0", better: $better}
    else {ratio: ($a / $b), better: $better} end;
  (split("\n") | map(select(length > 0) | split("\t")
    | {mode: .[0], fabric: .[1], round: (.[2] | tonumber), metric: .[3],
       value: (if .[4] == "" then null else (.[4] | tonumber) end), unit: .[5],
       failed: (if .[6] == "" then null else .[6] end)})) as $rows
  | {benchmark: "fabric: kernel VXLAN, Open vSwitch userspace, Fabric agents", date: $date, environment: $env,
     config: {hosts: 2, vms_per_host: 1, vni: ($vni | tonumber), path: "h1-vm1 -> h2-vm1", duration_s: $duration,
              repeat: $repeat, ping_count: $count, ping_interval_s: ($interval | tonumber), pps_cpus: $pps_cpus,
              fabrics: $fabrics, vm_offloads: $modes, ovs_userspace_tso: ($tso == "on"),
              order: "per round: kernel, ovs, agent"},
     better: $better,
     modes: ($modes | map(. as $m | {key: $m, value: (
       ($rows | map(select(.mode == $m))) as $mr
       | {runs: ([$mr[] | {fabric, round}] | unique | sort_by(.round) | map(. as $r
            | ($mr | map(select(.fabric == $r.fabric and .round == $r.round))) as $x
            | {fabric: $r.fabric, round: $r.round, ok: ($x | all(.failed == null)),
               metrics: ($x | map({key: .metric, value: ({value, unit} + (if .failed then {failed} else {} end))}) | from_entries)})),
          median: ($fabrics | map(. as $f | {key: $f, value: ($metrics | map(. as $k
            | ($mr | map(select(.fabric == $f and .metric == $k))) as $x
            | {key: $k, value: {value: ([$x[] | select(.value != null) | .value] | median), unit: ($x[0].unit),
                                measured: ([$x[] | select(.value != null)] | length), failed: ([$x[] | select(.failed != null)] | length)}})
            | from_entries)}) | from_entries)}
       | . as $o
       | .ratios = ([["agent", "kernel"], ["agent", "ovs"], ["ovs", "kernel"], ["routed", "agent"], ["routed", "kernel"], ["bridged", "agent"], ["routed", "bridged"]]
           | map(select(.[0] as $a | .[1] as $b | ($fabrics | index($a)) != null and ($fabrics | index($b)) != null))
           | map(. as [$a, $b] | {key: "\($a)/\($b)", value: ($metrics | map(. as $k
               | {key: $k, value: ratio($o.median[$a][$k].value; $o.median[$b][$k].value; $better[$k])}) | from_entries)})
           | from_entries)
       | .failures = ([$mr[] | select(.failed != null)] | group_by([.fabric, .failed])
           | map({fabric: .[0].fabric, reason: .[0].failed, rounds: (map(.round) | unique),
                  metrics: (map(.metric) | unique | sort_by(. as $x | $metrics | index($x)))}))
     )}) | from_entries)}' "$rows" >"$result"

# ---- table(s)
fmt() {  # a number for the table; "" -> failed/n/a
  [[ -z $1 || $1 == null ]] && { echo "${2:-n/a}"; return; }
  awk -v x="$1" 'BEGIN { a = (x < 0 ? -x : x); if (a >= 1000 || x == int(x)) printf "%.0f", x; else if (a >= 100) printf "%.1f", x; else printf "%.3g", x }'
}
pairs=()
for pr in agent/kernel agent/ovs ovs/kernel routed/agent routed/kernel bridged/agent routed/bridged; do has "${pr%/*}" && has "${pr#*/}" && pairs+=("$pr"); done

for m in "${modes[@]}"; do
  echo
  echo "Fabric benchmark, VM offloads $m: 2 hosts x 1 VM, VNI $VNI, h1-vm1 -> h2-vm1; ${duration}s per throughput test,"
  echo "$count pings at ${interval}s, trafgen on $pps_cpus CPU(s)$(has ovs && echo ", Open vSwitch userspace-tso $ovs_tso")"
  echo "$env_line"
  echo "medians of $repeat round(s) (order per round: ${FABRICS[*]}); 'failed': see below the table"
  echo
  hdr=$(printf '%-15s %-7s %-6s' metric unit better)
  for f in "${FABRICS[@]}"; do hdr+=$(printf ' %10s' "$f"); done
  for pr in "${pairs[@]}"; do hdr+=$(printf ' %12s' "$pr"); done
  echo "$hdr"
  sed 's/[^ ]/-/g' <<<"$hdr"
  for metric in "${wanted[@]}"; do
    line=$(printf '%-15s %-7s %-6s' "$metric" "${units[$metric]}" "${better[$metric]}")
    for f in "${FABRICS[@]}"; do
      read -r v nf nm < <(jq -r --arg m "$m" --arg f "$f" --arg k "$metric" '.modes[$m].median[$f][$k] | "\(.value) \(.failed) \(.measured)"' "$result")
      if [[ $v == null ]]; then cell=failed
      else cell=$(fmt "$v"); ((nf == 0)) || cell+="*"; fi
      line+=$(printf ' %10s' "$cell")
    done
    for pr in "${pairs[@]}"; do
      r=$(jq -r --arg m "$m" --arg p "$pr" --arg k "$metric" '.modes[$m].ratios[$p][$k] | if . == null then "n/a" elif .ratio == null then .note else .ratio end' "$result")
      [[ $r == n/a || $r == both\ 0 || $r == baseline\ 0 ]] || r=$(fmt "$r")
      line+=$(printf ' %12s' "${r// /_}")
    done
    echo "$line"
  done
  echo
  nfail=$(jq --arg m "$m" '.modes[$m].failures | length' "$result")
  if ((nfail)); then
    echo "failed (a median marked * is of the rounds that measured):"
    jq -r --arg m "$m" --argjson repeat "$repeat" --argjson metrics "$metrics_json" '.modes[$m].failures[]
      | "  \(.fabric): \(if .metrics == $metrics then "every metric" else (.metrics | join(", ")) end) in round(s) \(.rounds | map(tostring) | join(",")) of \($repeat): \(.reason)"' "$result"
    echo
  fi
  if ((repeat > 1)); then
    echo "per round (1..$repeat):"
    for metric in ping_rtt_p50 ping_rtt_p99 tcp_throughput udp64_rx_pps frame64_rx_pps; do
      [[ " ${wanted[*]} " == *" $metric "* ]] || continue
      line=$(printf '  %-15s' "$metric")
      sep=''
      for f in "${FABRICS[@]}"; do
        vals=$(jq -r --arg m "$m" --arg f "$f" --arg k "$metric" \
          '[.modes[$m].runs[] | select(.fabric == $f) | .metrics[$k] | if .value == null then "failed" else (.value | tostring) end] | join(", ")' "$result")
        line+="$sep$f: $vals"; sep=' | '
      done
      echo "$line"
    done
    echo
  fi
done
cat <<'EOF'
Ratios: A/B is A's median divided by B's. For throughput and delivered packets/s (better: higher) a
ratio > 1 means A moves more; for RTT, loss and retransmits (better: lower) a ratio > 1 means A is
slower/worse by that factor. *_tx_pps is what the generator offered (info), *_rx_pps what arrived.
udp64: iperf3 -u -l 64 -b 0 (64-byte payloads; the single iperf3 sender is often the limit).
frame64: trafgen, 64-byte frames (60 + FCS), offered vs delivered at the receiver VM's eth0.
EOF

if [[ -n $json ]]; then
  cp "$result" "$json"
  fl_say "wrote $json"
fi

((FAILED == 0)) || { fl_say "some tests failed (logs in $WORK/logs)"; exit 1; }
exit 0

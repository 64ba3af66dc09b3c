#!/usr/bin/env bash
# Measures one VM-to-VM path of a Fabric lab (kernel VXLAN, Open vSwitch or Fabric agents alike):
# ping RTT percentiles, iperf3 TCP throughput, iperf3 UDP 64-byte datagrams/s, and trafgen
# 64-byte frames/s (a generator that does not limit the rate). Every step is bounded in time.
#
#   measure.sh --prefix P --from h1-vm1 --to h2-vm1 [--to-ip IP] [--duration 5] [--ping-count 1000]
#              [--ping-interval 0.002] [--pps-cpus 1] [--port 5201] [--label kernel] [--json out.json]
#              [--skip ping,tcp,udp,pps]
#
# --from/--to take a namespace name (P-h1-vm1) or its suffix (h1-vm1). --to-ip defaults to eth0's
# IPv4 address in the --to namespace; the iperf3 server always runs in --to.
# stdout: one line per metric, "metric value unit"; a test that failed gives, for each of its
# metrics, "metric failed reason..." and the other tests still run. With --json also a JSON object.
# Exit status: 0 all measured; 1 no connectivity (warm-up ping fails) or bad usage; 3 some test failed.
set -euo pipefail

ME=measure.sh
die() { echo "$ME: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

prefix='' from='' to='' to_ip='' duration=5 count=1000 interval=0.002 pps_cpus=1 port=5201 label='' json='' skip=''
while (($#)); do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --to) to=$2; shift 2 ;;
    --to-ip) to_ip=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --ping-count) count=$2; shift 2 ;;
    --ping-interval) interval=$2; shift 2 ;;
    --pps-cpus) pps_cpus=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1'" ;;
  esac
done
[[ -n $from && -n $to ]] || die "--from and --to are required (namespace or suffix like h1-vm1)"
[[ $duration =~ ^[0-9]+$ && $count =~ ^[0-9]+$ && $port =~ ^[0-9]+$ && $pps_cpus =~ ^[0-9]+$ ]] \
  || die "--duration, --ping-count, --pps-cpus, --port are integers"
((duration >= 1 && count >= 1 && pps_cpus >= 1)) || die "--duration, --ping-count, --pps-cpus must be at least 1"
[[ $interval =~ ^[0-9]*\.?[0-9]+$ ]] || die "--ping-interval is seconds, e.g. 0.002"
skipped() { [[ ",$skip," == *",$1,"* ]]; }
for t in iperf3 ping timeout; do command -v "$t" >/dev/null || die "$t missing (deploy/prerequisites.sh installs it)"; done
skipped pps || command -v trafgen >/dev/null || die "trafgen missing (netsniff-ng; deploy/prerequisites.sh installs it)"
((pps_cpus <= $(nproc))) || pps_cpus=$(nproc)

resolve_ns() {
  local n=$1
  if ip netns list | awk '{print $1}' | grep -qx -- "$n"; then echo "$n"; return; fi
  if [[ -n $prefix ]] && ip netns list | awk '{print $1}' | grep -qx -- "$prefix-$n"; then echo "$prefix-$n"; return; fi
  die "no namespace '$n'${prefix:+ or '$prefix-$n'}"
}
from=$(resolve_ns "$from")
to=$(resolve_ns "$to")
if [[ -z $to_ip ]]; then
  to_ip=$(ip -n "$to" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -1)
  [[ -n $to_ip ]] || die "no IPv4 address on eth0 in $to (give --to-ip)"
fi

# JSON field reader: jq if present, else python3.
jget() {  # jget file '.a.b.c'
  if command -v jq >/dev/null; then jq -r "$2 // empty" "$1" 2>/dev/null
  elif command -v python3 >/dev/null; then
    python3 - "$1" "$2" <<'EOF' 2>/dev/null
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].lstrip('.').split('.'):
    v = v.get(k) if isinstance(v, dict) else None
print('' if v is None else v)
EOF
  else die "need jq or python3 to read iperf3 JSON"; fi
}

tmp=$(mktemp -d /tmp/fabric-measure.XXXXXX)
server_pid=''
stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    { wait "$server_pid"; } 2>/dev/null || true
    server_pid=''
  fi
}
cleanup() { stop_server; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -a names=() values=() units=() reasons=()
FAILED=0
emit() { names+=("$1"); values+=("$2"); units+=("$3"); reasons+=(''); printf '%s %s %s\n' "$1" "$2" "$3"; }
# fail "reason" metric unit [metric unit]...: the test did not measure; the others still run.
fail() {
  local why=$1; shift
  why=$(tr -s '\n\t\r' '   ' <<<"$why" | tr -cd '[:print:]' | tr '"\\' "'/" | cut -c1-200 | sed 's/ *$//')
  FAILED=1
  note "failed: $why"
  while (($#)); do names+=("$1"); values+=(null); units+=("$2"); reasons+=("$why"); printf '%s failed %s\n' "$1" "$why"; shift 2; done
}
fnum() { awk -v x="$1" 'BEGIN{printf "%.3f", x}'; }
ns_counter() { ip netns exec "$1" cat "/sys/class/net/eth0/statistics/$2"; }
now() { date +%s.%N; }

note "path: $from -> $to ($to_ip)${label:+, label $label}"
# Warm-up: ARP, bridge and VTEP learning, so the first-packet cost does not enter the RTT.
timeout -k 2 15 ip netns exec "$from" ping -q -c 3 -i 0.2 -W 2 "$to_ip" >/dev/null 2>&1 || die "no connectivity $from -> $to_ip"

if ! skipped ping; then
  # One line per reply ("time=0.123 ms"): percentiles from every reply. ICMP echo is answered in the
  # receiver's kernel, so no application wake-up on the far side enters the tail.
  deadline=$(awk -v c="$count" -v i="$interval" 'BEGIN{printf "%d", c * i + 5}')
  note "ip netns exec $from ping -n -c $count -i $interval -W 2 -w $deadline $to_ip"
  timeout -k 2 $((deadline + 5)) ip netns exec "$from" ping -n -c "$count" -i "$interval" -W 2 -w "$deadline" "$to_ip" >"$tmp/ping.txt" 2>&1 || true
  sed -nE 's/.* time=([0-9.]+) ms.*/\1/p' "$tmp/ping.txt" | sort -g >"$tmp/rtt.txt"
  sent=$(sed -nE 's/^([0-9]+) packets transmitted.*/\1/p' "$tmp/ping.txt")
  n=$(wc -l <"$tmp/rtt.txt")
  if ((n == 0)); then
    fail "ping: no reply ($(tail -2 "$tmp/ping.txt"))" ping_rtt_p50 ms ping_rtt_p99 ms ping_rtt_avg ms ping_rtt_min ms ping_rtt_max ms ping_loss %
  else
    # nearest-rank percentiles of the sorted replies
    read -r p50 p99 avg mn mx < <(awk '{v[NR] = $1; s += $1} END {
      r50 = int(0.50 * NR); if (r50 < 0.50 * NR) r50++; r99 = int(0.99 * NR); if (r99 < 0.99 * NR) r99++
      printf "%.3f %.3f %.3f %.3f %.3f\n", v[r50], v[r99], s / NR, v[1], v[NR] }' "$tmp/rtt.txt")
    emit ping_rtt_p50 "$p50" ms
    emit ping_rtt_p99 "$p99" ms
    emit ping_rtt_avg "$avg" ms
    emit ping_rtt_min "$mn" ms
    emit ping_rtt_max "$mx" ms
    emit ping_loss "$(awk -v s="${sent:-$count}" -v n="$n" 'BEGIN{printf "%.2f", (s > n ? (s - n) * 100 / s : 0)}')" %
  fi
fi

# A fresh one-off iperf3 server per test (a test that failed half-way cannot block the next).
# Called directly, not in $(...), so that server_pid stays set; on failure WHY says why.
start_server() {
  local i
  stop_server
  if ip netns exec "$to" ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    WHY="TCP port $port already in use in $to (--port)"; return 1
  fi
  ip netns exec "$to" timeout -k 2 $((duration + 60)) iperf3 -s -1 -p "$port" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 50; i++)); do
    ip netns exec "$to" ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
    kill -0 "$server_pid" 2>/dev/null || { WHY="iperf3 server exited: $(head -c 300 "$tmp/server.log")"; return 1; }
    sleep 0.1
  done
  WHY="iperf3 server not listening on $port after 5 s"
  return 1
}
# iperf3 client, bounded: the control connection must be up within 5 s, the whole test within duration + 30 s.
client() {  # client out.json args...
  local out=$1; shift
  timeout -k 2 $((duration + 30)) ip netns exec "$from" iperf3 -c "$to_ip" -p "$port" -t "$duration" \
    --connect-timeout 5000 -J "$@" >"$out" 2>&1
}
iperf_error() {  # iperf_error out.json WHAT: the reason a client run failed
  local e
  e=$(jget "$1" .error)
  [[ -n $e ]] || e=$(head -c 200 "$1")
  [[ -n $e ]] || e="no output"
  echo "iperf3 $2: $e"
}

if ! skipped tcp; then
  note "ip netns exec $from iperf3 -c $to_ip -p $port -t $duration --connect-timeout 5000 -J"
  if ! start_server; then fail "$WHY" tcp_throughput Gbit/s tcp_retransmits count
  else
    rc=0; client "$tmp/tcp.json" || rc=$?
    bps=$(jget "$tmp/tcp.json" .end.sum_received.bits_per_second || true)
    retr=$(jget "$tmp/tcp.json" .end.sum_sent.retransmits || true)
    if ((rc == 124 || rc == 137)); then fail "iperf3 TCP: no result within $((duration + 30)) s" tcp_throughput Gbit/s tcp_retransmits count
    elif ((rc != 0)) || [[ -z $bps ]]; then fail "$(iperf_error "$tmp/tcp.json" TCP)" tcp_throughput Gbit/s tcp_retransmits count
    elif awk -v b="$bps" 'BEGIN{exit !(b == 0)}'; then fail "iperf3 TCP: connected but 0 bytes received" tcp_throughput Gbit/s tcp_retransmits count
    else
      emit tcp_throughput "$(awk -v b="$bps" 'BEGIN{printf "%.3f", b/1e9}')" Gbit/s
      emit tcp_retransmits "${retr:-0}" count
    fi
  fi
  stop_server
fi

if ! skipped udp; then
  # 64-byte UDP payloads from iperf3 -b 0: the sender is a single user-space process and usually
  # the limit of this test; the pps test below is not limited by its generator.
  note "ip netns exec $from iperf3 -c $to_ip -p $port -u -l 64 -b 0 -t $duration --connect-timeout 5000 -J"
  if ! start_server; then fail "$WHY" udp64_rx_pps pkt/s udp64_tx_pps pkt/s udp64_loss %
  else
    rc=0; client "$tmp/udp.json" -u -l 64 -b 0 || rc=$?
    secs=$(jget "$tmp/udp.json" .end.sum_received.seconds || true)
    pk=$(jget "$tmp/udp.json" .end.sum_received.packets || true)
    lost=$(jget "$tmp/udp.json" .end.sum_received.lost_packets || true)
    lossp=$(jget "$tmp/udp.json" .end.sum_received.lost_percent || true)
    if [[ -z $pk ]]; then   # older iperf3: only end.sum
      secs=$(jget "$tmp/udp.json" .end.sum.seconds || true); pk=$(jget "$tmp/udp.json" .end.sum.packets || true)
      lost=$(jget "$tmp/udp.json" .end.sum.lost_packets || true); lossp=$(jget "$tmp/udp.json" .end.sum.lost_percent || true)
    fi
    if ((rc == 124 || rc == 137)); then fail "iperf3 UDP: no result within $((duration + 30)) s" udp64_rx_pps pkt/s udp64_tx_pps pkt/s udp64_loss %
    elif ((rc != 0)) || [[ -z $pk || -z $secs ]]; then fail "$(iperf_error "$tmp/udp.json" "UDP (its control connection is TCP)")" udp64_rx_pps pkt/s udp64_tx_pps pkt/s udp64_loss %
    else
      sent_secs=$(jget "$tmp/udp.json" .end.sum_sent.seconds || true); sent_secs=${sent_secs:-$secs}
      emit udp64_rx_pps "$(awk -v p="$pk" -v l="${lost:-0}" -v s="$secs" 'BEGIN{printf "%.0f", (p-l)/s}')" pkt/s
      emit udp64_tx_pps "$(awk -v p="$pk" -v s="$sent_secs" 'BEGIN{printf "%.0f", p/s}')" pkt/s
      emit udp64_loss "$(awk -v x="${lossp:-0}" 'BEGIN{printf "%.2f", x}')" %
    fi
  fi
  stop_server
fi

if ! skipped pps; then
  # trafgen (netsniff-ng) sends one prebuilt 64-byte frame (60 bytes + FCS: Ethernet, IPv4, UDP,
  # 18 bytes of payload, checksums complete) from the sender VM's eth0 as fast as the kernel takes it
  # (packet TX_RING, qdisc bypassed), on --pps-cpus CPUs, for --duration seconds. Offered = eth0
  # tx_packets of the sender, delivered = eth0 rx_packets of the receiver (what reached the VM's NIC),
  # both per second of the trafgen run; a short drain time lets queued frames arrive.
  src_mac=$(ip -n "$from" -o link show dev eth0 | sed -nE 's#.*link/ether ([0-9a-f:]+).*#\1#p')
  dst_mac=$(ip -n "$to" -o link show dev eth0 | sed -nE 's#.*link/ether ([0-9a-f:]+).*#\1#p')
  # A destination behind a gateway (a routed path): the frame goes to the next hop's MAC, as the
  # sender's own stack would address it (its neighbour entry, resolved by the warm-up ping).
  via=$(ip -n "$from" -o route get "$to_ip" 2>/dev/null | sed -nE 's/.* via ([0-9.]+) .*/\1/p')
  if [[ -n $via ]]; then
    ip netns exec "$from" ping -n -c 1 -W 1 -q "$via" >/dev/null 2>&1 || true
    dst_mac=$(ip -n "$from" neigh show "$via" dev eth0 | sed -nE 's/.* lladdr ([0-9a-f:]+).*/\1/p')
  fi
  src_ip=$(ip -n "$from" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -1)
  printf '{ eth(da=%s, sa=%s), ipv4(sa=%s, da=%s, ttl=64, df), udp(sp=40000, dp=%s), fill(0x00, 18) }\n' \
    "$dst_mac" "$src_mac" "$src_ip" "$to_ip" "$((port + 1))" >"$tmp/frame64.cfg"
  note "ip netns exec $from trafgen -o eth0 -i frame64.cfg -P $pps_cpus --no-sock-mem -Q (${duration}s; $(cat "$tmp/frame64.cfg"))"
  if [[ -z $src_mac || -z $dst_mac || -z $src_ip ]]; then
    fail "trafgen: cannot read the MACs/IP of eth0 in $from and $to" frame64_rx_pps pkt/s frame64_tx_pps pkt/s frame64_loss %
  else
    tx0=$(ns_counter "$from" tx_packets); rx0=$(ns_counter "$to" rx_packets); t0=$(now)
    rc=0
    timeout -s INT -k 5 "$duration" ip netns exec "$from" trafgen -o eth0 -i "$tmp/frame64.cfg" -P "$pps_cpus" \
      --no-sock-mem -Q -C >"$tmp/trafgen.log" 2>&1 || rc=$?
    t1=$(now)
    sleep 0.5   # drain: frames still queued in a switch
    tx1=$(ns_counter "$from" tx_packets); rx1=$(ns_counter "$to" rx_packets)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
    # timeout's SIGINT is trafgen's normal end (status 124 or trafgen's own 0/130)
    if ((rc != 0 && rc != 124 && rc != 130)) || ((tx1 - tx0 == 0)); then
      fail "trafgen: exit $rc, $((tx1 - tx0)) sent: $(grep -v '^\s*$' "$tmp/trafgen.log" | tail -2)" frame64_rx_pps pkt/s frame64_tx_pps pkt/s frame64_loss %
    else
      emit frame64_rx_pps "$(awk -v n=$((rx1 - rx0)) -v s="$secs" 'BEGIN{printf "%.0f", n/s}')" pkt/s
      emit frame64_tx_pps "$(awk -v n=$((tx1 - tx0)) -v s="$secs" 'BEGIN{printf "%.0f", n/s}')" pkt/s
      emit frame64_loss "$(awk -v r=$((rx1 - rx0)) -v t=$((tx1 - tx0)) 'BEGIN{l = (t - r) * 100 / t; printf "%.2f", (l < 0 ? 0 : l)}')" %
    fi
  fi
fi

if [[ -n $json ]]; then
  {
    printf '{"label": "%s", "from": "%s", "to": "%s", "to_ip": "%s", "duration_s": %s, "ping_count": %s, "ping_interval_s": %s, "pps_cpus": %s, "metrics": {' \
      "$label" "$from" "$to" "$to_ip" "$duration" "$count" "$interval" "$pps_cpus"
    for ((i = 0; i < ${#names[@]}; i++)); do
      printf '%s"%s": {"value": %s, "unit": "%s"' "$( ((i > 0)) && echo ', ')" "${names[i]}" "${values[i]}" "${units[i]}"
      [[ -z ${reasons[i]} ]] || printf ', "failed": "%s"' "${reasons[i]}"
      printf '}'
    done
    printf '}}\n'
  } >"$json"
  note "wrote $json"
fi
((FAILED == 0)) || exit 3

#!/usr/bin/env bash
# Measures one VM-to-VM path of a Fabric lab (kernel VXLAN or Fabric agents alike):
# ping RTT, iperf3 TCP throughput, iperf3 UDP 64-byte packets/s delivered.
#
#   measure.sh --prefix P --from h1-vm1 --to h2-vm1 [--to-ip IP] [--duration 5] [--ping-count 50]
#              [--port 5201] [--label kernel] [--json out.json] [--skip ping,tcp,udp]
#
# --from/--to take a namespace name (P-h1-vm1) or its suffix (h1-vm1). --to-ip defaults to eth0's
# IPv4 address in the --to namespace; the iperf3 server always runs in --to.
# stdout: one line per metric, "metric value unit"; with --json also a JSON object in a file.
# Exit status 1 if the path has no connectivity (warm-up ping fails) or a tool fails.
set -euo pipefail

ME=measure.sh
die() { echo "$ME: $*" >&2; exit 1; }
note() { echo "# $*" >&2; }

prefix='' from='' to='' to_ip='' duration=5 count=50 port=5201 label='' json='' skip=''
while (($#)); do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --to) to=$2; shift 2 ;;
    --to-ip) to_ip=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --ping-count) count=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1'" ;;
  esac
done
[[ -n $from && -n $to ]] || die "--from and --to are required (namespace or suffix like h1-vm1)"
[[ $duration =~ ^[0-9]+$ && $count =~ ^[0-9]+$ && $port =~ ^[0-9]+$ ]] || die "--duration, --ping-count, --port are integers"
for t in iperf3 ping; do command -v "$t" >/dev/null || die "$t missing (deploy/prerequisites.sh installs it)"; done

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
skipped() { [[ ",$skip," == *",$1,"* ]]; }

# JSON field reader: jq if present, else python3.
jget() {  # jget file '.a.b.c'
  if command -v jq >/dev/null; then jq -r "$2 // empty" "$1"
  elif command -v python3 >/dev/null; then
    python3 - "$1" "$2" <<'EOF'
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
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

declare -a names=() values=() units=()
emit() { names+=("$1"); values+=("$2"); units+=("$3"); printf '%s %s %s\n' "$1" "$2" "$3"; }

note "path: $from -> $to ($to_ip)${label:+, label $label}"
# Warm-up: ARP, bridge and VTEP learning, so the first-packet cost does not enter the RTT.
ip netns exec "$from" ping -q -c 3 -i 0.2 -W 2 "$to_ip" >/dev/null 2>&1 || die "no connectivity $from -> $to_ip"

if ! skipped ping; then
  note "ip netns exec $from ping -c $count -i 0.01 -q $to_ip"
  out=$(ip netns exec "$from" ping -c "$count" -i 0.01 -q -W 2 "$to_ip" 2>&1 || true)
  rtt=$(sed -nE 's#^(rtt|round-trip) [^=]*= ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms.*#\3 \2 \4#p' <<<"$out")
  loss=$(sed -nE 's/.* ([0-9.]+)% packet loss.*/\1/p' <<<"$out")
  [[ -n $rtt ]] || die "ping gave no RTT: $out"
  read -r avg min max <<<"$rtt"
  emit ping_rtt_avg "$avg" ms
  emit ping_rtt_min "$min" ms
  emit ping_rtt_max "$max" ms
  emit ping_loss "${loss:-100}" %
fi

if ! skipped tcp || ! skipped udp; then
  ip netns exec "$to" iperf3 -s -p "$port" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 50; i++)); do
    ip netns exec "$to" ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
    kill -0 "$server_pid" 2>/dev/null || die "iperf3 server failed: $(cat "$tmp/server.log")"
    sleep 0.1
  done
fi

if ! skipped tcp; then
  note "ip netns exec $from iperf3 -c $to_ip -p $port -t $duration -J"
  ip netns exec "$from" iperf3 -c "$to_ip" -p "$port" -t "$duration" -J >"$tmp/tcp.json" 2>&1 || die "iperf3 TCP failed: $(head -c 600 "$tmp/tcp.json")"
  bps=$(jget "$tmp/tcp.json" .end.sum_received.bits_per_second)
  retr=$(jget "$tmp/tcp.json" .end.sum_sent.retransmits)
  [[ -n $bps ]] || die "iperf3 TCP: no result"
  emit tcp_throughput "$(awk -v b="$bps" 'BEGIN{printf "%.3f", b/1e9}')" Gbit/s
  emit tcp_retransmits "${retr:-0}" count
fi

if ! skipped udp; then
  note "ip netns exec $from iperf3 -c $to_ip -p $port -u -l 64 -b 0 -t $duration -J"
  sleep 0.2
  ip netns exec "$from" iperf3 -c "$to_ip" -p "$port" -u -l 64 -b 0 -t "$duration" -J >"$tmp/udp.json" 2>&1 || die "iperf3 UDP failed: $(head -c 600 "$tmp/udp.json")"
  # Received side (the server's report, carried in the client's end summary).
  secs=$(jget "$tmp/udp.json" .end.sum_received.seconds)
  pk=$(jget "$tmp/udp.json" .end.sum_received.packets)
  lost=$(jget "$tmp/udp.json" .end.sum_received.lost_packets)
  lossp=$(jget "$tmp/udp.json" .end.sum_received.lost_percent)
  if [[ -z $pk ]]; then   # older iperf3: only end.sum
    secs=$(jget "$tmp/udp.json" .end.sum.seconds); pk=$(jget "$tmp/udp.json" .end.sum.packets)
    lost=$(jget "$tmp/udp.json" .end.sum.lost_packets); lossp=$(jget "$tmp/udp.json" .end.sum.lost_percent)
  fi
  [[ -n $pk && -n $secs ]] || die "iperf3 UDP: no result"
  sent_secs=$(jget "$tmp/udp.json" .end.sum_sent.seconds); sent_secs=${sent_secs:-$secs}
  emit udp64_rx_pps "$(awk -v p="$pk" -v l="$lost" -v s="$secs" 'BEGIN{printf "%.0f", (p-l)/s}')" pkt/s
  emit udp64_tx_pps "$(awk -v p="$pk" -v s="$sent_secs" 'BEGIN{printf "%.0f", p/s}')" pkt/s
  emit udp64_loss "$(awk -v x="$lossp" 'BEGIN{printf "%.2f", x}')" %
fi

if [[ -n $json ]]; then
  {
    printf '{"label": "%s", "from": "%s", "to": "%s", "to_ip": "%s", "duration_s": %s, "ping_count": %s, "metrics": {' \
      "$label" "$from" "$to" "$to_ip" "$duration" "$count"
    for ((i = 0; i < ${#names[@]}; i++)); do
      printf '%s"%s": {"value": %s, "unit": "%s"}' "$([[ $i -gt 0 ]] && echo ', ')" "${names[i]}" "${values[i]}" "${units[i]}"
    done
    printf '}}\n'
  } >"$json"
  note "wrote $json"
fi

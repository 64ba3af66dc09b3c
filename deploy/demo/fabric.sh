#!/usr/bin/env bash
# Starts a whole Fabric on this machine and shows it working: a silo (embedded mode, dashboard and
# API on http://127.0.0.1:8080/), a namespace lab of 3 hosts x 4 VMs and a machine outside on the
# LAN, the switch and port groups created through the API (web and db routed to each other, iso
# isolated, nat behind each host), one agent per host; then a table of who reaches whom: every pair
# of VMs and each VM to the outside machine, each cell against what the network modes promise.
# Runs until Ctrl-C and then removes everything it started. Root only (network namespaces).
#
#   deploy/demo/fabric.sh [--check] [--http-port 8080] [--prefix P] [--hosts 3] [--timeout 120]
#                         [--skip-prereqs] [--no-build] [--keep-logs]
#
#   --check         exit 0 only if every cell of the table is as it must be (reached or blocked),
#                   then clean up (exit 1 otherwise, or 2 if the fabric did not come up)
#   --http-port N   silo HTTP port; default 8080, or a free port if 8080 is busy
#   --prefix P      lab prefix (default: fd<pid>, unique)
#   --hosts N       number of hosts (2..9, default 3); every host has vm1 (web), vm2 (db), vm3 (iso), vm4 (nat)
#   --timeout S     bound for each wait: silo healthy, convergence (default 120)
#   --skip-prereqs  do not run deploy/prerequisites.sh
#   --no-build      use the existing Release build even if sources are newer
#   --keep-logs     keep the log directory after a successful --check
set -euo pipefail

ME=fabric.sh
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LAB="$REPO/deploy/lab/lab.sh"
# shellcheck source=deploy/demo/fabric-lib.sh
source "$HERE/fabric-lib.sh"

check=0 http_port='' prefix='' hosts=3 timeout=120 prereqs=1 build=1 keep_logs=0
while (($#)); do
  case $1 in
    --check) check=1; shift ;;
    --http-port) http_port=${2:?}; shift 2 ;;
    --prefix) prefix=${2:?}; shift 2 ;;
    --hosts) hosts=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --skip-prereqs) prereqs=0; shift ;;
    --no-build) build=0; shift ;;
    --keep-logs) keep_logs=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$ME: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "$ME: must run as root (network namespaces); try: sudo $0 $*" >&2; exit 2; }
[[ $hosts =~ ^[0-9]+$ ]] && ((hosts >= 2 && hosts <= 9)) || { echo "$ME: --hosts must be 2..9" >&2; exit 2; }
[[ $timeout =~ ^[0-9]+$ ]] && ((timeout >= 10)) || { echo "$ME: --timeout must be a number of seconds >= 10" >&2; exit 2; }
[[ -z $http_port || $http_port =~ ^[0-9]+$ ]] || { echo "$ME: --http-port must be a number" >&2; exit 2; }
[[ -n $prefix ]] || prefix="fd$(printf '%04d%02d' $(($$ % 10000)) $((RANDOM % 100)))"

WORK=$(mktemp -d /tmp/fabric-demo.XXXXXX)
mkdir -p "$WORK/logs" "$WORK/status"
LAB_BUILT=0
CLEANED=0
FL_DIE_RC=2   # exit status: 0 all pings as expected, 1 a ping not as expected, 2 did not come up

cleanup() {
  local rc=$?
  ((CLEANED)) && return 0
  CLEANED=1
  trap '' INT TERM   # a second Ctrl-C must not interrupt the cleanup
  echo
  fl_say "stopping: agents, silo, lab '$prefix'"
  fl_stop_all 10
  if ((LAB_BUILT)) || ip netns list 2>/dev/null | awk '{print $1}' | grep -qE "^$prefix-(ul|out|h[0-9]+)"; then
    "$LAB" down --prefix "$prefix" --quiet || fl_say "warning: lab.sh down --prefix $prefix failed; run it again"
  fi
  rm -rf "$WORK/bin" "$WORK/status"
  if ((check && rc == 0 && !keep_logs)); then
    rm -rf "$WORK"
  else
    fl_say "logs kept in $WORK/logs"
  fi
  fl_say "stopped (exit $rc)"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fl_say "logs: $WORK/logs"

# ---- prerequisites and build
if ((prereqs)); then
  fl_say "checking prerequisites (deploy/prerequisites.sh)"
  # No lingering MSBuild nodes after the restore.
  MSBUILDDISABLENODEREUSE=1 bash "$REPO/deploy/prerequisites.sh" >"$WORK/logs/prerequisites.log" 2>&1 \
    || { tail -20 "$WORK/logs/prerequisites.log" >&2; fl_die "deploy/prerequisites.sh failed (log: $WORK/logs/prerequisites.log)"; }
fi
for t in dotnet curl ip ping ss; do command -v "$t" >/dev/null || fl_die "'$t' not found (run deploy/prerequisites.sh; install the .NET 10 SDK)"; done
if fl_build_needed; then
  ((build)) && fl_build || fl_say "warning: --no-build: using the existing (older) Release build"
fi
[[ -f $REPO/Silo/bin/Release/net10.0/Fabric.Silo.dll ]] || fl_die "no Release build (run without --no-build)"
fl_snapshot_binaries

# ---- ports: HTTP 8080 unless busy; the Orleans ports 11111/30000 unless busy
if [[ -n $http_port ]]; then
  ! fl_port_busy "$http_port" || fl_die "--http-port $http_port is in use"
elif fl_port_busy 8080; then
  http_port=$(fl_free_port)
  fl_say "port 8080 is in use; the API and dashboard will be on $http_port instead"
else
  http_port=8080
fi
silo_port=11111; fl_port_busy $silo_port && silo_port=$(fl_free_port "$http_port")
gw_port=30000; fl_port_busy $gw_port && gw_port=$(fl_free_port "$http_port" "$silo_port")
cluster="demo-$prefix"

# ---- lab
fl_say "building the lab '$prefix': $hosts hosts x 4 VMs and a machine outside on the LAN"
LAB_BUILT=1
"$LAB" up --prefix "$prefix" --hosts "$hosts" --vms 4 --groups 4 --vni-map 0=5001,1=5002,2=5003,3=5004 --quiet \
  || fl_die "lab.sh up failed"
"$LAB" outside --prefix "$prefix" --quiet || fl_die "lab.sh outside failed"
# shellcheck disable=SC1090
source "${FABRIC_LAB_STATE_DIR:-/run/fabric-lab}/$prefix.env"
outside_ns="$prefix-out" outside_ip="$LAB_UNDERLAY_NET.200"

# ---- silo, switch, port groups
fl_start_silo "$http_port" "$silo_port" "$gw_port" "$cluster" "$timeout"
fl_say "silo healthy; creating switch 'dvs' (MTU 1450) and its port groups:"
fl_say "  web (VNI 5001, 192.168.100.0/24) and db (VNI 5002, 192.168.101.0/24): overlay, routed between them by the anycast gateway .1"
fl_say "  iso (VNI 5003): overlay, not routed;  nat (VNI 5004, 192.168.103.0/24): NAT behind each host, private to it"
fl_put api/switches/dvs '{"mtu":1450}' || fl_die "could not create the switch"
fl_put api/switches/dvs/portgroups/web '{"vni":5001,"routed":true,"ipv4":{"subnet":"192.168.100.0/24","gateway":"192.168.100.1"}}' || fl_die "could not create port group web"
fl_put api/switches/dvs/portgroups/db '{"vni":5002,"routed":true,"ipv4":{"subnet":"192.168.101.0/24","gateway":"192.168.101.1"}}' || fl_die "could not create port group db"
fl_put api/switches/dvs/portgroups/iso '{"vni":5003}' || fl_die "could not create port group iso"
fl_put api/switches/dvs/portgroups/nat '{"vni":5004,"network":"nat","ipv4":{"subnet":"192.168.103.0/24","gateway":"192.168.103.1"}}' || fl_die "could not create port group nat"

# ---- agents
host_ids=()
for ((h = 1; h <= hosts; h++)); do
  v="H${h}_IP"; ns="H${h}_NS"
  fl_start_agent "agent-h$h" "h$h" "${!v}" "${!ns}" "$gw_port" "$cluster" "$WORK/status/h$h.json" vm1=web vm2=db vm3=iso vm4=nat
  host_ids+=("h$h")
  fl_say "agent h$h started (pid ${FL_PIDS[-1]}, VTEP ${!v}, namespace ${!ns})"
done

converged() {
  local h ns
  fl_check_alive
  fl_flood_has 5001 "${host_ids[@]}" && fl_flood_has 5002 "${host_ids[@]}" && fl_flood_has 5003 "${host_ids[@]}" || return 1
  for ((h = 1; h <= hosts; h++)); do
    ns="H${h}_NS"
    ip -n "${!ns}" -4 addr show dev fgw5004 2>/dev/null | grep -q 192.168.103.1 || return 1
  done
}
fl_say "waiting for convergence (every host in the flood lists of 5001-5003, every host's NAT gateway up, up to ${timeout}s)"
t0=$SECONDS
fl_wait "$timeout" "every agent in the flood lists of VNI 5001-5003 ($FL_API/api/segments/5001) and its NAT gateway fgw5004 up" converged \
  || fl_die "the fabric did not converge (logs: $WORK/logs)"
fl_say "converged in $((SECONDS - t0))s"

# ---- pings: every VM to every other VM and to the outside machine
vms=()
for ((h = 1; h <= hosts; h++)); do for k in 1 2 3 4; do vms+=("h$h-vm$k"); done; done
vm_var() { local v="H${1#h}"; v="${v%%-*}_VM${1##*-vm}_$2"; echo "${!v}"; }
declare -A ip_of vni_of ns_of
for vm in "${vms[@]}"; do
  ip_of[$vm]=$(vm_var "$vm" IP); vni_of[$vm]=$(vm_var "$vm" VNI); ns_of[$vm]=$(vm_var "$vm" NS)
  case ${vni_of[$vm]} in
    5001) ip -n "${ns_of[$vm]}" route replace default via 192.168.100.1 dev eth0 ;;
    5002) ip -n "${ns_of[$vm]}" route replace default via 192.168.101.1 dev eth0 ;;
    5004) ip -n "${ns_of[$vm]}" route replace default via 192.168.103.1 dev eth0 ;;
  esac
done

# What each pair should do: ok (same overlay segment), routed (web <-> db through the anycast
# gateway), ok (NAT VMs of one host), blocked (anything else).
expect() {
  local a=$1 b=$2 va=${vni_of[$1]} vb=${vni_of[$2]}
  if [[ $va == 5004 || $vb == 5004 ]]; then
    [[ $va == "$vb" && ${a%%-*} == "${b%%-*}" ]] && echo ok || echo blocked
  elif [[ $va == "$vb" ]]; then echo ok
  elif [[ $va != 5003 && $vb != 5003 ]]; then echo routed
  else echo blocked
  fi
}

# Pairs that must stay apart get an on-link /32 route in the VM (both directions), so it ARPs for
# the other VM on its own segment: a reply would prove an L2 leak, not a routing accident.
routes=()
for a in "${vms[@]}"; do
  for b in "${vms[@]}"; do
    [[ $a != "$b" && ${vni_of[$a]} != "${vni_of[$b]}" && $(expect "$a" "$b") == blocked ]] || continue
    ip -n "${ns_of[$a]}" route replace "${ip_of[$b]}/32" dev eth0 && routes+=("$a ${ip_of[$b]}")
  done
done
remove_routes() {
  local r
  for r in "${routes[@]}"; do
    set -- $r
    ip -n "${ns_of[$1]}" route del "$2/32" dev eth0 2>/dev/null || true
    ip -n "${ns_of[$1]}" neigh del "$2" dev eth0 2>/dev/null || true
  done
  routes=()
}

# The outside machine answers TCP on port 7000 with the address it saw: a NAT VM is seen as its host.
fl_start "outside-server" "$WORK/logs/outside-server.log" "$WORK" ip netns exec "$outside_ns" python3 -u -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 7000)); s.listen(64)
print('listening', flush=True)
while True:
    c, a = s.accept(); c.sendall(('seen-as ' + a[0] + '\n').encode()); c.close()"
fl_wait 10 "the outside machine's TCP server" grep -q listening "$WORK/logs/outside-server.log" || fl_die "the outside server did not start"

# Reachable pairs: up to 3 attempts (first ARP and learning); blocked ones: 2 probes, 1 s each.
mkdir -p "$WORK/pings"
ping_pair() {
  local a=$1 b=$2 f="$WORK/pings/$1_$2" tries=1 i
  [[ $(expect "$a" "$b") != blocked ]] && tries=3
  for ((i = 0; i < tries; i++)); do
    if ip netns exec "${ns_of[$a]}" ping -n -c 2 -i 0.3 -W 1 -q "${ip_of[$b]}" >"$f.out" 2>&1; then echo ok >"$f"; return; fi
  done
  echo no >"$f"
}
reach_outside() {
  local a=$1 f="$WORK/pings/$1_outside" seen
  seen=$(ip netns exec "${ns_of[$a]}" timeout 3 bash -c "exec 3<>/dev/tcp/$outside_ip/7000 && cat <&3" 2>/dev/null) || { echo no >"$f"; return; }
  echo "${seen#seen-as }" >"$f"
}
fl_say "pinging every VM from every other VM ($(( ${#vms[@]} * (${#vms[@]} - 1) )) pairs) and connecting to the outside machine $outside_ip"
pids=()
for a in "${vms[@]}"; do
  reach_outside "$a" & pids+=($!)
  for b in "${vms[@]}"; do
    [[ $a != "$b" ]] || continue
    ping_pair "$a" "$b" & pids+=($!)
  done
done
wait "${pids[@]}" 2>/dev/null || true
remove_routes

declare -A passed wanted
for kind in ok routed blocked outside; do passed[$kind]=0; wanted[$kind]=0; done
echo
echo "Reachability (row = from, column = to; ping, and TCP to the outside machine $outside_ip:7000)."
echo "ok = reached on its own segment; routed = reached through the anycast gateway (web <-> db);"
echo "blocked = no reply, as it must be (isolated, or private to another host); nat@X = reached the outside, seen as X;"
echo "FAIL:... = not as it must be."
printf '%-14s' "from \\ to"
for b in "${vms[@]}"; do printf ' %-9s' "$b"; done
printf ' %-12s\n' "outside"
printf '%-14s' ""
for b in "${vms[@]}"; do printf ' %-9s' "${vni_of[$b]}"; done
printf ' %-12s\n' "LAN"
for a in "${vms[@]}"; do
  printf '%-14s' "$a (${vni_of[$a]})"
  for b in "${vms[@]}"; do
    if [[ $a == "$b" ]]; then printf ' %-9s' "-"; continue; fi
    got=$(cat "$WORK/pings/${a}_$b" 2>/dev/null || echo no)
    want=$(expect "$a" "$b")
    wanted[$want]=$((wanted[$want] + 1))
    if [[ $want == blocked ]]; then
      if [[ $got == no ]]; then passed[blocked]=$((passed[blocked] + 1)); cell=blocked; else cell=FAIL:LEAK; fi
    elif [[ $got == ok ]]; then passed[$want]=$((passed[$want] + 1)); cell=$want
    else cell=FAIL:no
    fi
    printf ' %-9s' "$cell"
  done
  got=$(cat "$WORK/pings/${a}_outside" 2>/dev/null || echo no)
  h=${a%%-*}; v="H${h#h}_IP"
  if [[ ${vni_of[$a]} == 5004 ]]; then
    wanted[outside]=$((wanted[outside] + 1))
    if [[ $got == "${!v}" ]]; then passed[outside]=$((passed[outside] + 1)); cell="nat@$got"; else cell="FAIL:$got"; fi
  else
    wanted[blocked]=$((wanted[blocked] + 1))
    if [[ $got == no ]]; then passed[blocked]=$((passed[blocked] + 1)); cell=blocked; else cell="FAIL:LEAK"; fi
  fi
  printf ' %-12s\n' "$cell"
done
echo
echo "same segment reachable: ${passed[ok]}/${wanted[ok]}    routed reachable: ${passed[routed]}/${wanted[routed]}    NAT to outside as its host: ${passed[outside]}/${wanted[outside]}    isolated blocked: ${passed[blocked]}/${wanted[blocked]}"
RESULT=0
for kind in ok routed blocked outside; do ((passed[$kind] == wanted[$kind])) || RESULT=1; done
if ((RESULT == 0)); then verdict="PASS"; else verdict="FAIL"; fi
echo "result: $verdict"

if ((check)); then
  ((RESULT == 0)) || fl_say "ping outputs: $WORK/pings (logs kept)"
  ((RESULT == 0)) || keep_logs=1
  exit "$RESULT"
fi

cat <<EOF

Fabric is running (lab '$prefix', cluster '$cluster').
  dashboard   http://127.0.0.1:$http_port/
  API         curl $FL_API/api/switches/dvs
              curl $FL_API/api/hosts
              curl $FL_API/api/segments/5001          (flood list)
              curl $FL_API/api/segments/5001/macs     (MAC table)
  a VM        ip netns exec $prefix-h1-vm1 ping ${ip_of[h2-vm1]}
              $LAB exec --prefix $prefix h2-vm2 -- ping ${ip_of[h1-vm2]}
  agent state $WORK/status/h1.json ... (rewritten every second)
  logs        $WORK/logs
Press Ctrl-C to stop and remove everything.
EOF

warned=''
while :; do
  sleep 2 &
  wait $! || true
  dead=$(fl_first_dead)
  if [[ -n $dead && $dead != "$warned" ]]; then
    fl_say "warning: process exited: $dead"
    warned=$dead
  fi
done

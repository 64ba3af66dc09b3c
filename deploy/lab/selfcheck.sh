#!/usr/bin/env bash
# Self-check of the lab scripts (root; ~30 s): builds 3 hosts x 2 VMs, makes a kernel VXLAN fabric
# with group 0 -> VNI 5001 and group 1 -> VNI 5002, checks reachability inside a VNI across hosts,
# isolation between VNIs (also at L2), MTU, the VNI on the wire, interop-subset mode, the failure
# trap of "up", teardown of partial leftovers, and that the root namespace is untouched.
#
#   selfcheck.sh [--prefix lchk]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lab="$here/lab.sh"
P=lchk
[[ ${1:-} == --prefix ]] && P=$2

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
pings() { ip netns exec "$P-$1" ping -c 2 -i 0.2 -W 1 -q "$2" >/dev/null 2>&1; }
expect_ok() { if pings "$1" "$2"; then ok "$1 -> $2 reachable"; else bad "$1 -> $2 should be reachable"; fi; }
expect_no() { if pings "$1" "$2"; then bad "$1 -> $2 should NOT be reachable"; else ok "$1 -> $2 unreachable"; fi; }

root_before=$(ip -o link show | awk -F': ' '{print $2}' | sort; ip route show; ip -o addr show | awk '{print $2, $4}')
trap '"$lab" down --prefix "$P" --quiet || true; "$lab" down --prefix "$P-f" --quiet || true' EXIT

"$lab" down --prefix "$P" --quiet
"$lab" up --prefix "$P" --hosts 3 --vms 2 --underlay-net 10.250.0
"$lab" kernel --prefix "$P" --vni 5001,5002
# shellcheck disable=SC1090
source "/run/fabric-lab/$P.env"

echo "== same VNI, different hosts"
expect_ok h1-vm1 "$H2_VM1_IP"; expect_ok h1-vm1 "$H3_VM1_IP"; expect_ok h3-vm1 "$H2_VM1_IP"
expect_ok h1-vm2 "$H2_VM2_IP"; expect_ok h2-vm2 "$H3_VM2_IP"; expect_ok h3-vm2 "$H1_VM2_IP"
echo "== different VNIs"
expect_no h1-vm1 "$H2_VM2_IP"; expect_no h2-vm2 "$H1_VM1_IP"; expect_no h1-vm1 "$H1_VM2_IP"
# L2 isolation, not just routing: an on-link /32 makes h1-vm1 ARP for a VM of the other VNI.
ip -n "$P-h1-vm1" route add "$H2_VM2_IP/32" dev eth0
ip -n "$P-h1-vm2" route add "$H1_VM1_IP/32" dev eth0
expect_no h1-vm1 "$H2_VM2_IP"; expect_no h1-vm2 "$H1_VM1_IP"
ip -n "$P-h1-vm1" route del "$H2_VM2_IP/32" dev eth0
ip -n "$P-h1-vm2" route del "$H1_VM1_IP/32" dev eth0

echo "== MTU ($LAB_VM_MTU in the VM, $LAB_UNDERLAY_MTU underlay)"
if ip netns exec "$P-h1-vm1" ping -c 1 -W 1 -M do -s $((LAB_VM_MTU - 28)) "$H2_VM1_IP" >/dev/null 2>&1; then ok "full-size DF ping ($((LAB_VM_MTU - 28)) B payload)"; else bad "full-size DF ping"; fi
if ip netns exec "$P-h1-vm1" ping -c 1 -W 1 -M do -s $((LAB_VM_MTU - 27)) "$H2_VM1_IP" >/dev/null 2>&1; then bad "oversized DF ping passed"; else ok "oversized DF ping refused"; fi

echo "== offloads"
if ip netns exec "$P-h2-vm1" ethtool -k eth0 | grep -q '^tx-checksumming: off'; then ok "VM eth0 tx checksumming off"; else bad "VM eth0 tx checksumming on"; fi

if command -v tshark >/dev/null; then
  echo "== on the wire (tshark on h1 uplink)"
  cap=$(mktemp /tmp/lchk.XXXXXX.pcap)
  ip netns exec "$P-h1" tshark -q -i uplink -a duration:20 -c 6 -w "$cap" -f "udp port 4789" >/dev/null 2>"$cap.log" &
  tp=$!
  # tshark takes seconds to start here; send only once the capture runs.
  for ((i = 0; i < 150; i++)); do grep -q "Capturing on" "$cap.log" 2>/dev/null && break; sleep 0.1; done
  ip netns exec "$P-h1-vm2" ping -c 3 -i 0.2 -q "$H3_VM2_IP" >/dev/null 2>&1 || true
  wait "$tp" || true
  vnis=$(tshark -r "$cap" -Y vxlan -T fields -e vxlan.vni 2>/dev/null | sort -u | tr '\n' ' ')
  malformed=$(tshark -r "$cap" -Y _ws.malformed 2>/dev/null | wc -l)
  rm -f "$cap" "$cap.log"
  if [[ $vnis == "5002 " ]]; then ok "VXLAN frames carry VNI 5002 only"; else bad "VNIs on the wire: '$vnis'"; fi
  if ((malformed == 0)); then ok "no malformed frames"; else bad "$malformed malformed frames"; fi
fi

echo "== interop subset and static FDB"
"$lab" kernel --prefix "$P" --remove --quiet
if ip -n "$P-h1" link show vxlan5001 >/dev/null 2>&1; then bad "kernel --remove left vxlan5001"; else ok "kernel --remove"; fi
expect_no h1-vm1 "$H2_VM1_IP"
"$lab" kernel --prefix "$P" --hosts-subset h1,h3 --vni 5001,5002 --nolearning --static-fdb "$H3_VM1_MAC=$H3_IP@5001" --quiet
expect_ok h1-vm1 "$H3_VM1_IP"; expect_no h1-vm1 "$H2_VM1_IP"
if ip -n "$P-h2" link show vxlan5001 >/dev/null 2>&1; then bad "h2 got a kernel VTEP"; else ok "h2 left for an agent"; fi
if bridge -n "$P-h1" fdb show dev vxlan5001 | grep -q "^$H3_VM1_MAC dst $H3_IP"; then ok "static fdb entry"; else bad "static fdb entry missing"; fi
if bridge -n "$P-h1" fdb show dev vxlan5001 | grep -q "^00:00:00:00:00:00 dst $H2_IP"; then ok "h1 floods to agent host h2"; else bad "h1 does not flood to h2"; fi

echo "== down"
ip netns exec "$P-h2-vm1" sleep 600 &
"$lab" down --prefix "$P" --quiet
if [[ -z $(ip netns list | grep -E "^$P-") ]]; then ok "no namespace left"; else bad "left: $(ip netns list | grep -E "^$P-" | tr '\n' ' ')"; fi
if kill -0 $! 2>/dev/null; then bad "process in lab namespace survived down"; else ok "processes in the lab stopped"; fi
wait $! 2>/dev/null || true
if "$lab" down --prefix "$P" --quiet; then ok "down is idempotent"; else bad "second down failed"; fi

echo "== failure trap of up, partial leftovers"
if FABRIC_LAB_INJECT_FAILURE=after-hosts "$lab" up --prefix "$P-f" --hosts 2 --vms 1 --quiet 2>/dev/null; then bad "injected failure not reported"; else ok "up failed as injected"; fi
if [[ -z $(ip netns list | grep -E "^$P-f-") ]]; then ok "failed up removed its namespaces"; else bad "failed up left namespaces"; fi
ip netns add "$P-h7"; ip netns add "$P-h7-vm3"; ip netns add "$P-ul"
ip netns add "$P-x-h1"   # another lab's name shape (prefix "$P-x"): must survive
"$lab" down --prefix "$P" --quiet
if [[ -z $(ip netns list | awk '{print $1}' | grep -E "^$P-(ul|h)") ]]; then ok "partial leftovers removed"; else bad "partial leftovers remain"; fi
if ip netns list | awk '{print $1}' | grep -qx "$P-x-h1"; then ok "other prefix untouched"; else bad "down removed another prefix"; fi
ip netns del "$P-x-h1"

root_after=$(ip -o link show | awk -F': ' '{print $2}' | sort; ip route show; ip -o addr show | awk '{print $2, $4}')
if [[ $root_before == "$root_after" ]]; then ok "root namespace links/routes/addresses unchanged"; else bad "root namespace changed"; diff <(echo "$root_before") <(echo "$root_after") || true; fi

echo
if ((fails)); then echo "selfcheck: $fails failure(s)"; exit 1; fi
echo "selfcheck: all passed"

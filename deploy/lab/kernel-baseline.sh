#!/usr/bin/env bash
# Kernel half of the Fabric benchmark: a 2-host, 1-VM-per-host lab joined by the Linux kernel's
# own VXLAN (one VNI, head-end replication), measured with measure.sh, then torn down.
#
#   kernel-baseline.sh --prefix P [--vni 5001] [--duration 5] [--ping-count 1000] [--ping-interval 0.002]
#                      [--pps-cpus 1] [--skip ping,tcp,udp,pps] [--json out.json]
#                      [--underlay-mtu 1500] [--vm-offloads off|on] [--keep]
#
# stdout: "metric value unit" lines (see measure.sh; "metric failed reason" for a test that failed).
# --vm-offloads is passed to lab.sh up (default off; deploy/bench/benchmark.sh passes its own mode).
# Exit status: that of measure.sh (0, 1 no connectivity, 3 some test failed), or 1 if the lab failed.
# --keep leaves the lab up for inspection (remove it with: lab.sh down --prefix P). The other
# fabrics of the benchmark (Open vSwitch, Fabric agents) run the same lab instead of "lab.sh kernel"
# and call measure.sh with the same arguments.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ME=kernel-baseline.sh
die() { echo "$ME: $*" >&2; exit 1; }

prefix='' vni=5001 duration=5 count=1000 interval=0.002 pps_cpus=1 skip='' json='' ul_mtu=1500 offloads=off keep=0
while (($#)); do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --vni) vni=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --ping-count) count=$2; shift 2 ;;
    --ping-interval) interval=$2; shift 2 ;;
    --pps-cpus) pps_cpus=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --underlay-mtu) ul_mtu=$2; shift 2 ;;
    --vm-offloads) offloads=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1'" ;;
  esac
done
[[ -n $prefix ]] || die "--prefix is required"
[[ $offloads == on || $offloads == off ]] || die "--vm-offloads on|off"

teardown() {
  local rc=$?
  if ((keep == 0 || rc != 0)); then "$here/lab.sh" down --prefix "$prefix" --quiet || true; fi
  exit "$rc"
}

# Refuse to reuse (and then delete) a lab someone else built with this prefix.
if [[ -f /run/fabric-lab/$prefix.env ]] || ip netns list | awk '{print $1}' | grep -qE "^$prefix-(ul|h[0-9]+)$"; then
  die "lab '$prefix' already exists; choose another prefix or run: lab.sh down --prefix $prefix"
fi
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/lab.sh" up --prefix "$prefix" --hosts 2 --vms 1 --groups 1 --vni-map "0=$vni" \
  --underlay-mtu "$ul_mtu" --vm-offloads "$offloads" --quiet
"$here/lab.sh" kernel --prefix "$prefix" --vni "$vni" --quiet
echo "# kernel VXLAN baseline: VNI $vni, $(uname -r), iperf3 $(iperf3 --version | head -1 | awk '{print $2}'), VM offloads $offloads, underlay MTU $ul_mtu" >&2
"$here/measure.sh" --prefix "$prefix" --from h1-vm1 --to h2-vm1 --duration "$duration" --ping-count "$count" \
  --ping-interval "$interval" --pps-cpus "$pps_cpus" ${skip:+--skip "$skip"} --label kernel ${json:+--json "$json"}

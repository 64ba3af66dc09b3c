#!/usr/bin/env bash
# Fabric local lab: hosts, VMs and an underlay made of network namespaces and veth pairs.
# Nothing is created in the root namespace; every namespace name starts with "<prefix>-".
# See deploy/lab/README.md for the naming/address/MAC scheme and the state file format.
#
#   lab.sh up     --prefix P --hosts N --vms M [--groups G] [--underlay-mtu 1500] [--vm-mtu MTU]
#                 [--underlay-net 10.X.0] [--vni-map 0=5001,1=5002] [--vm-offloads on|off]
#                 [--vm-ipv6] [--quiet]
#   lab.sh kernel --prefix P [--vni V[,V2...]] [--hosts-subset h1[,h2]] [--nolearning]
#                 [--static-fdb MAC=IP[@VNI]]... [--remove]
#   lab.sh port   --prefix P --host hH --name NAME
#   lab.sh outside --prefix P                       a machine on the underlay LAN that is not part of
#                                                     the fabric: namespace P-out, eth0 at <underlay>.200
#   lab.sh move   --prefix P --vm hH-vmK --to hJ --port NAME [--mac MAC]
#   lab.sh down   --prefix P [--no-kill] | down --all-stale
#   lab.sh show   --prefix P [--json]
#   lab.sh list
#   lab.sh exec   --prefix P <ns-suffix> -- cmd [args...]      e.g. exec --prefix t h1-vm1 -- ping 192.168.100.21
set -euo pipefail
set -E

STATE_DIR=${FABRIC_LAB_STATE_DIR:-/run/fabric-lab}
ME=lab.sh
QUIET=
trap 'echo "$ME: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

die() { echo "$ME: $*" >&2; exit 1; }
log() { [[ -n $QUIET ]] || echo "lab: $*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
hex2() { printf '%02x' "$1"; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

valid_prefix() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$ ]] || die "invalid prefix '$1' (letters, digits, _ and -, at most 24 characters)"
}

# Namespaces that belong to prefix $1 (exact naming pattern only, so prefix "a" never matches lab "a-x").
lab_namespaces() {
  local p=$1
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${p}-(ul|out|h[0-9]+(-vm[0-9]+)?)$" || true
}

# Default underlay /24 derived from the prefix: 10.X.0 with X in 100..249. It exists only inside the lab.
derive_underlay() {
  local c
  c=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
  echo "10.$(( c % 150 + 100 )).0"
}

# ---------------------------------------------------------------------------------------------- down
kill_ns_pids() {
  local ns pids=() p i
  for ns in "$@"; do
    while read -r p; do [[ -n $p ]] && pids+=("$p"); done < <(ip netns pids "$ns" 2>/dev/null || true)
  done
  ((${#pids[@]})) || return 0
  log "stopping ${#pids[@]} process(es) still running in the lab namespaces: ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    local alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    ((${#alive[@]})) || return 0
    sleep 0.1
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true   # e.g. a .NET host that ignores SIGTERM
}

down_prefix() {
  local p=$1 kill=${2:-yes} ns all vms=() hosts=() ul=()
  mapfile -t all < <(lab_namespaces "$p")
  for ns in "${all[@]}"; do
    [[ -z $ns ]] && continue
    case $ns in
      *-vm[0-9]*) vms+=("$ns") ;;
      *-ul) ul+=("$ns") ;;
      *) hosts+=("$ns") ;;
    esac
  done
  if ((${#all[@]})) && [[ -n ${all[0]} ]]; then
    [[ $kill == yes ]] && kill_ns_pids "${all[@]}"
    # VMs first, then hosts, then the underlay: a veth pair disappears with either end's namespace.
    for ns in "${vms[@]}" "${hosts[@]}" "${ul[@]}"; do
      ip netns del "$ns" 2>/dev/null || true
    done
    log "removed ${#all[@]} namespace(s) of prefix '$p'"
  fi
  rm -f "$STATE_DIR/$p.env" "$STATE_DIR/$p.json" "$STATE_DIR/$p.kernel.env" "$STATE_DIR/$p.building"
  local left
  left=$(lab_namespaces "$p")
  [[ -z $left ]] || die "could not remove: $left"
}

down_all_stale() {
  local prefixes p pid
  # Candidate prefixes: from lab-shaped namespace names and from state files.
  prefixes=$( { ip netns list 2>/dev/null | awk '{print $1}' | grep -E -- '-(ul|h[0-9]+(-vm[0-9]+)?)$' \
                  | sed -E 's/-(ul|h[0-9]+(-vm[0-9]+)?)$//'
                ls "$STATE_DIR" 2>/dev/null | sed -nE 's/\.(env|json|kernel\.env|building)$//p'; } | sort -u)
  for p in $prefixes; do
    [[ $p =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,23}$ ]] || continue
    if [[ -f $STATE_DIR/$p.building ]]; then
      pid=$(cat "$STATE_DIR/$p.building" 2>/dev/null || true)
      if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then log "skip '$p': 'up' in progress (pid $pid)"; continue; fi
    elif [[ -f $STATE_DIR/$p.env ]] && [[ -n $(lab_namespaces "$p") ]]; then
      continue   # a complete lab: not stale
    fi
    [[ -f $STATE_DIR/$p.env ]] || [[ -n $(lab_namespaces "$p") ]] || [[ -f $STATE_DIR/$p.building ]] \
      || [[ -f $STATE_DIR/$p.json ]] || [[ -f $STATE_DIR/$p.kernel.env ]] || continue
    log "stale lab '$p': removing"
    down_prefix "$p" yes
  done
}

# ------------------------------------------------------------------------------------------------ up
UP_PREFIX=''
up_cleanup() {
  local rc=$?
  if [[ -n $UP_PREFIX ]]; then
    echo "$ME: up failed (exit $rc), tearing down lab '$UP_PREFIX'" >&2
    down_prefix "$UP_PREFIX" yes || true
  fi
  exit "$rc"
}

sysctl_ns() { nsx "$1" sysctl -qw "${@:2}" >/dev/null; }

cmd_up() {
  local prefix='' hosts='' vms='' groups=2 ul_mtu=1500 vm_mtu='' ul_net='' vni_map='' offloads=on vm_ipv6=0
  while (($#)); do
    case $1 in
      --prefix) prefix=$2; shift 2 ;;
      --hosts) hosts=$2; shift 2 ;;
      --vms) vms=$2; shift 2 ;;
      --groups) groups=$2; shift 2 ;;
      --underlay-mtu) ul_mtu=$2; shift 2 ;;
      --vm-mtu) vm_mtu=$2; shift 2 ;;
      --underlay-net) ul_net=$2; shift 2 ;;
      --vni-map) vni_map=$2; shift 2 ;;
      --vm-offloads) offloads=$2; shift 2 ;;
      --vm-ipv6) vm_ipv6=1; shift ;;
      --quiet) QUIET=1; shift ;;
      *) die "up: unknown option '$1'" ;;
    esac
  done
  [[ -n $prefix ]] || die "up: --prefix is required"
  valid_prefix "$prefix"
  [[ $hosts =~ ^[0-9]+$ ]] && ((hosts >= 1 && hosts <= 24)) || die "up: --hosts must be 1..24"
  [[ $vms =~ ^[0-9]+$ ]] && ((vms >= 0 && vms <= 9)) || die "up: --vms must be 0..9"
  [[ $groups =~ ^[0-9]+$ ]] && ((groups >= 1 && groups <= 9)) || die "up: --groups must be 1..9"
  [[ $ul_mtu =~ ^[0-9]+$ ]] && ((ul_mtu >= 1280 && ul_mtu <= 9000)) || die "up: --underlay-mtu must be 1280..9000"
  [[ -n $vm_mtu ]] || vm_mtu=$((ul_mtu - 50))
  [[ $vm_mtu =~ ^[0-9]+$ ]] && ((vm_mtu >= 576 && vm_mtu <= 9000)) || die "up: --vm-mtu must be 576..9000"
  ((vm_mtu + 50 <= ul_mtu)) || echo "$ME: warning: VM MTU $vm_mtu + 50 > underlay MTU $ul_mtu (outer packets would not fit)" >&2
  [[ $offloads == on || $offloads == off ]] || die "up: --vm-offloads on|off"
  [[ -n $ul_net ]] || ul_net=$(derive_underlay "$prefix")
  [[ $ul_net =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || die "up: --underlay-net takes three octets, e.g. 10.250.0"

  # VNI map: group -> VNI. Accepts "0=5001,1=5002" or "5001,5002" (index = group). Default 5001+group.
  local -a vni_of=()
  local g item
  for ((g = 0; g < groups; g++)); do vni_of[g]=$((5001 + g)); done
  if [[ -n $vni_map ]]; then
    g=0
    IFS=, read -ra items <<<"$vni_map"
    for item in "${items[@]}"; do
      if [[ $item =~ ^([0-9]+)=([0-9]+)$ ]]; then vni_of[BASH_REMATCH[1]]=${BASH_REMATCH[2]}
      elif [[ $item =~ ^[0-9]+$ ]]; then vni_of[g]=$item
      else die "up: bad --vni-map entry '$item'"; fi
      g=$((g + 1))
    done
  fi
  for ((g = 0; g < groups; g++)); do
    [[ ${vni_of[g]:-} =~ ^[0-9]+$ ]] && ((vni_of[g] >= 1 && vni_of[g] <= 16777215)) || die "up: VNI of group $g must be 1..16777215"
  done

  command -v ethtool >/dev/null || die "ethtool missing (deploy/prerequisites.sh installs it)"
  [[ -z $(lab_namespaces "$prefix") ]] || die "lab '$prefix' already exists (run: $0 down --prefix $prefix)"
  mkdir -p "$STATE_DIR"
  [[ ! -f $STATE_DIR/$prefix.building ]] || ! kill -0 "$(cat "$STATE_DIR/$prefix.building")" 2>/dev/null \
    || die "another 'up' of '$prefix' is running"
  echo $$ >"$STATE_DIR/$prefix.building"
  # From here on, any failure removes everything of this prefix (the lab did not exist before).
  UP_PREFIX=$prefix
  trap up_cleanup EXIT
  trap "exit 130" INT
  trap "exit 143" TERM

  local ul="$prefix-ul" h k hn vn ns vmns
  log "building lab '$prefix': $hosts host(s) x $vms VM(s), underlay $ul_net.0/24 (MTU $ul_mtu), VM MTU $vm_mtu"

  # Underlay switch: a bridge in its own namespace; .254 is its address (control plane can live here).
  ip netns add "$ul"
  sysctl_ns "$ul" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  # A physical switch runs no iptables: where br_netfilter is loaded (Docker and others load it),
  # its per-namespace hooks would run every underlay frame through the host's iptables
  # (measured: 14 % of an encapsulating agent's CPU under iperf3). The sysctls exist only then.
  if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
    sysctl_ns "$ul" net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0
  fi
  ip -n "$ul" link set lo up
  ip -n "$ul" link add br0 address 02:fb:00:00:00:fe mtu "$ul_mtu" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$ul" addr add "$ul_net.254/24" dev br0
  ip -n "$ul" link set br0 up

  for ((h = 1; h <= hosts; h++)); do
    hn=$(hex2 "$h"); ns="$prefix-h$h"
    ip netns add "$ns"
    sysctl_ns "$ns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
    ip -n "$ul" link add "h$h" address "02:fb:$hn:00:00:02" mtu "$ul_mtu" type veth \
      peer name uplink address "02:fb:$hn:00:00:01" mtu "$ul_mtu" netns "$ns"
    ip -n "$ul" link set "h$h" master br0
    ip -n "$ul" link set "h$h" up
    ip -n "$ns" addr add "$ul_net.$h/24" dev uplink
    ip -n "$ns" link set uplink up

    for ((k = 1; k <= vms; k++)); do
      vn=$(hex2 "$k"); vmns="$ns-vm$k"; g=$(((k - 1) % groups))
      ip netns add "$vmns"
      ip -n "$ns" link add "vm$k" address "02:fa:$hn:$vn:00:02" mtu "$vm_mtu" type veth \
        peer name eth0 address "02:fa:$hn:$vn:00:01" mtu "$vm_mtu" netns "$vmns"
      if ((!vm_ipv6)); then
        sysctl_ns "$vmns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
      fi
      ip -n "$vmns" link set lo up
      ip -n "$vmns" addr add "192.168.$((100 + g)).$((h * 10 + k))/24" dev eth0
      if [[ $offloads == off ]]; then
        # Captured frames must carry complete checksums (docs/architecture.md, "Known pitfalls on Linux").
        nsx "$vmns" ethtool -K eth0 tx off tso off gso off >/dev/null
        nsx "$ns" ethtool -K "vm$k" rx off tx off tso off gso off gro off >/dev/null 2>&1 \
          || nsx "$ns" ethtool -K "vm$k" rx off tx off tso off gso off >/dev/null
      fi
      ip -n "$ns" link set "vm$k" up
      ip -n "$vmns" link set eth0 up
    done
  done

  if [[ ${FABRIC_LAB_INJECT_FAILURE:-} == after-hosts ]]; then die "injected failure (FABRIC_LAB_INJECT_FAILURE)"; fi
  write_state "$prefix" "$hosts" "$vms" "$groups" "$ul_net" "$ul_mtu" "$vm_mtu" "$offloads" "${vni_of[@]}"
  rm -f "$STATE_DIR/$prefix.building"
  UP_PREFIX=''
  trap - EXIT
  [[ -n $QUIET ]] || show_table "$prefix"
}

write_state() {
  local p=$1 hosts=$2 vms=$3 groups=$4 ul_net=$5 ul_mtu=$6 vm_mtu=$7 offloads=$8; shift 8
  local -a vni_of=("$@")
  local env="$STATE_DIR/$p.env" json="$STATE_DIR/$p.json" h k g H V ports map='' sep
  for ((g = 0; g < groups; g++)); do map+="${map:+ }$g=${vni_of[g]}"; done
  {
    echo "# Fabric lab '$p' written by deploy/lab/lab.sh at $(date -u +%FT%TZ); shell-sourceable."
    echo "LAB_PREFIX=$p"
    echo "LAB_HOSTS=$hosts"
    echo "LAB_VMS=$vms"
    echo "LAB_GROUPS=$groups"
    echo "LAB_UL_NS=$p-ul"
    echo "LAB_UNDERLAY_NET=$ul_net"
    echo "LAB_UNDERLAY_CIDR=$ul_net.0/24"
    echo "LAB_CONTROL_IP=$ul_net.254"
    echo "LAB_UNDERLAY_MTU=$ul_mtu"
    echo "LAB_VM_MTU=$vm_mtu"
    echo "LAB_VM_OFFLOADS=$offloads"
    echo "LAB_VNI_MAP=\"$map\""
    for ((g = 0; g < groups; g++)); do echo "LAB_GROUP${g}_VNI=${vni_of[g]}"; echo "LAB_GROUP${g}_SUBNET=192.168.$((100 + g)).0/24"; done
    for ((h = 1; h <= hosts; h++)); do
      H="H$h"; ports=''
      for ((k = 1; k <= vms; k++)); do ports+="${ports:+ }vm$k"; done
      echo "${H}_NS=$p-h$h"
      echo "${H}_IP=$ul_net.$h"
      echo "${H}_UPLINK=uplink"
      echo "${H}_UPLINK_MAC=02:fb:$(hex2 "$h"):00:00:01"
      echo "${H}_PORTS=\"$ports\""
      for ((k = 1; k <= vms; k++)); do
        V="${H}_VM$k"; g=$(((k - 1) % groups))
        echo "${V}_NS=$p-h$h-vm$k"
        echo "${V}_IP=192.168.$((100 + g)).$((h * 10 + k))"
        echo "${V}_PREFIXLEN=24"
        echo "${V}_MAC=02:fa:$(hex2 "$h"):$(hex2 "$k"):00:01"
        echo "${V}_PORT=vm$k"
        echo "${V}_PORT_MAC=02:fa:$(hex2 "$h"):$(hex2 "$k"):00:02"
        echo "${V}_HOST=h$h"
        echo "${V}_GROUP=$g"
        echo "${V}_VNI=${vni_of[g]}"
      done
    done
  } >"$env.tmp"
  mv "$env.tmp" "$env"

  {
    printf '{\n  "prefix": "%s",\n  "underlay": {"ns": "%s-ul", "cidr": "%s.0/24", "control_ip": "%s.254", "mtu": %s, "bridge": "br0"},\n' \
      "$p" "$p" "$ul_net" "$ul_net" "$ul_mtu"
    printf '  "vm_mtu": %s,\n  "vm_offloads": "%s",\n  "groups": [' "$vm_mtu" "$offloads"
    sep=''
    for ((g = 0; g < groups; g++)); do
      printf '%s{"group": %d, "vni": %s, "subnet": "192.168.%d.0/24"}' "$sep" "$g" "${vni_of[g]}" $((100 + g)); sep=', '
    done
    printf '],\n  "hosts": [\n'
    for ((h = 1; h <= hosts; h++)); do
      printf '    {"name": "h%d", "ns": "%s-h%d", "underlay_ip": "%s.%d", "uplink": "uplink", "uplink_mac": "02:fb:%s:00:00:01", "ports": [' \
        "$h" "$p" "$h" "$ul_net" "$h" "$(hex2 "$h")"
      sep=''
      for ((k = 1; k <= vms; k++)); do printf '%s"vm%d"' "$sep" "$k"; sep=', '; done
      printf ']}%s\n' "$([[ $h -lt $hosts ]] && echo ,)"
    done
    printf '  ],\n  "vms": [\n'
    local n=0 total=$((hosts * vms))
    for ((h = 1; h <= hosts; h++)); do
      for ((k = 1; k <= vms; k++)); do
        g=$(((k - 1) % groups)); n=$((n + 1))
        printf '    {"name": "h%d-vm%d", "ns": "%s-h%d-vm%d", "ip": "192.168.%d.%d", "prefixlen": 24, "mac": "02:fa:%s:%s:00:01", "host": "h%d", "host_ns": "%s-h%d", "port": "vm%d", "port_mac": "02:fa:%s:%s:00:02", "group": %d, "vni": %s}%s\n' \
          "$h" "$k" "$p" "$h" "$k" $((100 + g)) $((h * 10 + k)) "$(hex2 "$h")" "$(hex2 "$k")" "$h" "$p" "$h" "$k" \
          "$(hex2 "$h")" "$(hex2 "$k")" "$g" "${vni_of[g]}" "$([[ $n -lt $total ]] && echo ,)"
      done
    done
    printf '  ]\n}\n'
  } >"$json.tmp"
  mv "$json.tmp" "$json"
}

load_state() {
  local p=$1
  [[ -f $STATE_DIR/$p.env ]] || die "no lab '$p' (missing $STATE_DIR/$p.env; run: $0 up --prefix $p ...)"
  # shellcheck disable=SC1090
  source "$STATE_DIR/$p.env"
}

show_table() {
  local p=$1 h k v
  load_state "$p"
  echo "lab $p: underlay $LAB_UNDERLAY_CIDR in ns $LAB_UL_NS (bridge br0, control ip $LAB_CONTROL_IP), MTU $LAB_UNDERLAY_MTU, VM MTU $LAB_VM_MTU, groups: $LAB_VNI_MAP (group=vni)"
  printf '%-6s %-22s %-15s %-8s %s\n' host namespace underlay_ip uplink ports
  for ((h = 1; h <= LAB_HOSTS; h++)); do
    v="H${h}_NS"; local ns=${!v}; v="H${h}_IP"; local ip=${!v}; v="H${h}_PORTS"
    printf '%-6s %-22s %-15s %-8s %s\n' "h$h" "$ns" "$ip" uplink "${!v}"
  done
  printf '%-8s %-24s %-18s %-18s %-5s %-5s %-6s %s\n' vm namespace ip mac host port group vni
  for ((h = 1; h <= LAB_HOSTS; h++)); do
    for ((k = 1; k <= LAB_VMS; k++)); do
      local b="H${h}_VM${k}" a=() f
      for f in NS IP MAC HOST PORT GROUP VNI; do v="${b}_$f"; a+=("${!v}"); done
      printf '%-8s %-24s %-18s %-18s %-5s %-5s %-6s %s\n' "h$h-vm$k" "${a[0]}" "${a[1]}/24" "${a[2]}" "${a[3]}" "${a[4]}" "${a[5]}" "${a[6]}"
    done
  done
  echo "state: $STATE_DIR/$p.env $STATE_DIR/$p.json"
}

# -------------------------------------------------------------------------------------------- kernel
kernel_remove_host() {
  local ns=$1 dev
  for dev in $(ip -n "$ns" -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(vxlan|br)[0-9]+$' || true); do
    ip -n "$ns" link del "$dev" 2>/dev/null || true
  done
  nsx "$ns" ethtool -K uplink tx on >/dev/null 2>&1 || true
}

cmd_kernel() {
  local prefix='' vnis='' subset='' learning=learning remove=0 fdbs=()
  while (($#)); do
    case $1 in
      --prefix) prefix=$2; shift 2 ;;
      --vni) vnis=$2; shift 2 ;;
      --hosts-subset) subset=$2; shift 2 ;;
      --nolearning) learning=nolearning; shift ;;
      --learning) learning=learning; shift ;;
      --static-fdb) fdbs+=("$2"); shift 2 ;;
      --remove) remove=1; shift ;;
      --quiet) QUIET=1; shift ;;
      *) die "kernel: unknown option '$1'" ;;
    esac
  done
  [[ -n $prefix ]] || die "kernel: --prefix is required"
  valid_prefix "$prefix"
  load_state "$prefix"

  local -a hostlist=() vni_of=()
  local h g k v
  if [[ -n $subset ]]; then
    IFS=, read -ra hostlist <<<"$subset"
    for h in "${hostlist[@]}"; do
      [[ $h =~ ^h([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= LAB_HOSTS)) || die "kernel: no host '$h' in lab '$prefix'"
    done
  else
    for ((h = 1; h <= LAB_HOSTS; h++)); do hostlist+=("h$h"); done
  fi

  if ((remove)); then
    for h in "${hostlist[@]}"; do kernel_remove_host "$prefix-$h"; done
    rm -f "$STATE_DIR/$prefix.kernel.env"
    log "kernel VXLAN removed from ${hostlist[*]}"
    return 0
  fi

  if [[ -n $vnis ]]; then
    IFS=, read -ra vni_of <<<"$vnis"
  else
    for ((g = 0; g < LAB_GROUPS; g++)); do v="LAB_GROUP${g}_VNI"; vni_of[g]=${!v}; done
  fi
  for v in "${vni_of[@]}"; do [[ $v =~ ^[0-9]+$ ]] && ((v >= 1 && v <= 16777215)) || die "kernel: bad VNI '$v'"; done
  ((${#vni_of[@]} <= LAB_GROUPS)) || echo "$ME: warning: ${#vni_of[@]} VNIs for $LAB_GROUPS group(s); extra VNIs get no VM ports" >&2
  ((${#vni_of[@]} >= LAB_GROUPS)) || echo "$ME: warning: groups ${#vni_of[@]}..$((LAB_GROUPS - 1)) get no VNI; their ports stay unattached" >&2

  local entry mac ip fv
  for entry in "${fdbs[@]}"; do
    [[ $entry =~ ^([0-9A-Fa-f:]{17})=([0-9.]+)(@([0-9]+))?$ ]] || die "kernel: --static-fdb takes MAC=IP[@VNI], got '$entry'"
  done

  local ns hi hip o oip dev hn
  for h in "${hostlist[@]}"; do
    hi=${h#h}; ns="$prefix-$h"; v="H${hi}_IP"; hip=${!v}; hn=$(hex2 "$hi")
    kernel_remove_host "$ns"
    if [[ -n $subset ]]; then
      # A mixed lab: agents (user-space VTEPs) receive this host's datagrams. Over a veth the kernel
      # would leave the inner TCP/UDP checksums of an offloading VM partial (veth claims to finish
      # them), and a UDP socket cannot tell; a physical NIC finishes them on the wire. tx off on the
      # uplink makes the kernel finish them in software before the datagram leaves, as that NIC would.
      nsx "$ns" ethtool -K uplink tx off >/dev/null
    fi
    for ((g = 0; g < ${#vni_of[@]}; g++)); do
      v=${vni_of[g]}
      ip -n "$ns" link add "vxlan$v" address "02:fc:$hn:00:01:$(hex2 "$g")" mtu "$LAB_VM_MTU" type vxlan \
        id "$v" local "$hip" dev uplink dstport 4789 "$learning"
      ip -n "$ns" link add "br$v" address "02:fc:$hn:00:02:$(hex2 "$g")" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
      ip -n "$ns" link set "vxlan$v" master "br$v"
      if ((g < LAB_GROUPS)); then
        for ((k = 1; k <= LAB_VMS; k++)); do
          if (((k - 1) % LAB_GROUPS == g)); then ip -n "$ns" link set "vm$k" master "br$v"; fi
        done
      fi
      # Head-end replication: BUM frames go to every other host of the lab (kernel VTEP or agent).
      for ((o = 1; o <= LAB_HOSTS; o++)); do
        if ((o == hi)); then continue; fi
        oip="H${o}_IP"
        bridge -n "$ns" fdb append 00:00:00:00:00:00 dev "vxlan$v" dst "${!oip}"
      done
      for entry in "${fdbs[@]}"; do
        [[ $entry =~ ^([0-9A-Fa-f:]{17})=([0-9.]+)(@([0-9]+))?$ ]]
        mac=${BASH_REMATCH[1]}; ip=${BASH_REMATCH[2]}; fv=${BASH_REMATCH[4]}
        [[ -z $fv || $fv == "$v" ]] || continue
        bridge -n "$ns" fdb replace "$mac" dev "vxlan$v" dst "$ip" self permanent
      done
      ip -n "$ns" link set "vxlan$v" up
      ip -n "$ns" link set "br$v" up
    done
  done
  {
    echo "KERNEL_HOSTS=\"${hostlist[*]}\""
    echo "KERNEL_VNIS=\"${vni_of[*]}\""
    echo "KERNEL_LEARNING=$learning"
  } >"$STATE_DIR/$prefix.kernel.env"
  log "kernel VXLAN on ${hostlist[*]}: VNIs ${vni_of[*]} (group i -> VNI i), $learning, flood to every other host"
}

# ------------------------------------------------------------------------------------- port / move
# A spare switch port on a host: veth NAME (the host side, like vmK: no IP, offloads off, up) whose
# peer NAME-vm waits, down, in the same host namespace until `move` hands it to a VM.
cmd_port() {
  local prefix='' host='' name=''
  while (($#)); do
    case $1 in
      --prefix) prefix=$2; shift 2 ;;
      --host) host=$2; shift 2 ;;
      --name) name=$2; shift 2 ;;
      --quiet) QUIET=1; shift ;;
      *) die "port: unknown option '$1'" ;;
    esac
  done
  [[ -n $prefix && -n $host && -n $name ]] || die "port: --prefix P --host hH --name NAME"
  valid_prefix "$prefix"
  load_state "$prefix"
  [[ $host =~ ^h([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= LAB_HOSTS)) || die "port: no host '$host' in lab '$prefix'"
  [[ $name =~ ^[A-Za-z][A-Za-z0-9_]{0,11}$ ]] || die "port: --name must be a letter then up to 11 letters, digits or _"
  local ns="$prefix-$host"
  ! ip -n "$ns" link show "$name" >/dev/null 2>&1 || die "port: $ns already has an interface '$name'"
  ip -n "$ns" link add "$name" mtu "$LAB_VM_MTU" type veth peer name "$name-vm" mtu "$LAB_VM_MTU"
  if [[ $LAB_VM_OFFLOADS == off ]]; then
    nsx "$ns" ethtool -K "$name" rx off tx off tso off gso off gro off >/dev/null 2>&1 \
      || nsx "$ns" ethtool -K "$name" rx off tx off tso off gso off >/dev/null
  fi
  ip -n "$ns" link set "$name" up
  log "spare port $name on $host (peer $name-vm parked in $ns)"
}

# An "outside" machine on the underlay LAN (br0), which stands for the physical network behind the
# hosts' uplinks: namespace P-out with eth0 at <underlay>.200/24, MAC 02:fb:ff:00:00:01. Tests run a
# DHCP server and a TCP server in it to judge the bridged and NAT modes from outside the fabric.
cmd_outside() {
  local prefix=''
  while (($#)); do
    case $1 in
      --prefix) prefix=$2; shift 2 ;;
      --quiet) QUIET=1; shift ;;
      *) die "outside: unknown option '$1'" ;;
    esac
  done
  [[ -n $prefix ]] || die "outside: --prefix P"
  valid_prefix "$prefix"
  load_state "$prefix"
  local ns="$prefix-out"
  ! ip netns list | awk '{print $1}' | grep -qx -- "$ns" || die "outside: $ns exists already"
  ip netns add "$ns"
  ip -n "$LAB_UL_NS" link add out address 02:fb:ff:00:00:02 mtu "$LAB_UNDERLAY_MTU" type veth \
    peer name eth0 address 02:fb:ff:00:00:01 mtu "$LAB_UNDERLAY_MTU" netns "$ns"
  ip -n "$LAB_UL_NS" link set out master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$LAB_UNDERLAY_NET.200/24" dev eth0
  ip -n "$ns" link set eth0 up
  log "outside machine $ns at $LAB_UNDERLAY_NET.200 on the underlay LAN"
}

# Moves VM hH-vmK to host hJ: its eth0 (the veth to its old host, whose vmK goes with it) is
# deleted and the parked peer of port NAME on hJ becomes its eth0, with the VM's MAC, IP and MTU;
# coming up, it announces itself with a gratuitous ARP (arp_notify), as a migrated VM does.
# With --mac it comes up with that MAC instead: a VM destroyed and re-created on a new port with
# the same address and a new vNIC.
# The VM keeps its namespace name; the state file still describes the lab as built.
cmd_move() {
  local prefix='' vm='' to='' port='' newmac=''
  while (($#)); do
    case $1 in
      --prefix) prefix=$2; shift 2 ;;
      --vm) vm=$2; shift 2 ;;
      --to) to=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      --mac) newmac=$2; shift 2 ;;
      --quiet) QUIET=1; shift ;;
      *) die "move: unknown option '$1'" ;;
    esac
  done
  [[ -n $prefix && -n $vm && -n $to && -n $port ]] || die "move: --prefix P --vm hH-vmK --to hJ --port NAME [--mac MAC]"
  [[ -z $newmac || $newmac =~ ^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$ ]] || die "move: --mac takes xx:xx:xx:xx:xx:xx, got '$newmac'"
  valid_prefix "$prefix"
  load_state "$prefix"
  [[ $vm =~ ^h([0-9]+)-vm([0-9]+)$ ]] || die "move: --vm takes hH-vmK, got '$vm'"
  local b="H${BASH_REMATCH[1]}_VM${BASH_REMATCH[2]}" v
  v="${b}_NS"; local vmns=${!v:-}
  [[ -n $vmns ]] || die "move: no VM '$vm' in lab '$prefix'"
  v="${b}_IP"; local ip=${!v}; v="${b}_PREFIXLEN"; local plen=${!v}; v="${b}_MAC"; local mac=${!v}
  [[ -z $newmac ]] || mac=$newmac
  [[ $to =~ ^h([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= LAB_HOSTS)) || die "move: no host '$to' in lab '$prefix'"
  local hns="$prefix-$to"
  ip -n "$hns" link show "$port-vm" >/dev/null 2>&1 || die "move: no parked port '$port-vm' in $hns (run: $0 port --prefix $prefix --host $to --name $port)"
  ip -n "$vmns" link del eth0 2>/dev/null || true
  ip -n "$hns" link set "$port-vm" netns "$vmns"
  ip -n "$vmns" link set "$port-vm" name eth0
  ip -n "$vmns" link set eth0 address "$mac" mtu "$LAB_VM_MTU"
  ip -n "$vmns" addr add "$ip/$plen" dev eth0
  if [[ $LAB_VM_OFFLOADS == off ]]; then
    nsx "$vmns" ethtool -K eth0 tx off tso off gso off >/dev/null
  fi
  # Like a migrated VM (a hypervisor sends RARP/GARP), announce the MAC at its new port: arp_notify
  # makes the kernel send a gratuitous ARP when eth0 comes up.
  sysctl_ns "$vmns" net.ipv4.conf.eth0.arp_notify=1
  ip -n "$vmns" link set eth0 up
  log "moved $vm ($mac, $ip) to $to, port $port"
}

# ---------------------------------------------------------------------------------------------- main
main() {
  (($#)) || { usage; exit 2; }
  local cmd=$1; shift
  case $cmd in
    up) cmd_up "$@" ;;
    kernel) cmd_kernel "$@" ;;
    port) cmd_port "$@" ;;
    outside) cmd_outside "$@" ;;
    move) cmd_move "$@" ;;
    down)
      local prefix='' kill=yes stale=0
      while (($#)); do
        case $1 in
          --prefix) prefix=$2; shift 2 ;;
          --no-kill) kill=no; shift ;;
          --all-stale) stale=1; shift ;;
          --quiet) QUIET=1; shift ;;
          *) die "down: unknown option '$1'" ;;
        esac
      done
      if ((stale)); then down_all_stale; exit 0; fi
      [[ -n $prefix ]] || die "down: --prefix P or --all-stale"
      valid_prefix "$prefix"
      down_prefix "$prefix" "$kill"
      ;;
    show)
      local prefix='' json=0
      while (($#)); do
        case $1 in
          --prefix) prefix=$2; shift 2 ;;
          --json) json=1; shift ;;
          *) die "show: unknown option '$1'" ;;
        esac
      done
      [[ -n $prefix ]] || die "show: --prefix is required"
      valid_prefix "$prefix"
      if ((json)); then load_state "$prefix"; cat "$STATE_DIR/$prefix.json"; else show_table "$prefix"; fi
      ;;
    list)
      local f
      for f in "$STATE_DIR"/*.env; do
        [[ -e $f && $f != *.kernel.env ]] || continue
        basename "$f" .env
      done
      ;;
    exec)
      local prefix=''
      [[ ${1:-} == --prefix ]] || die "exec: --prefix P <ns-suffix> -- cmd..."
      prefix=$2; shift 2
      valid_prefix "$prefix"
      local sfx=${1:-}; shift || true
      [[ ${1:-} == -- ]] && shift
      [[ -n $sfx && $# -gt 0 ]] || die "exec: --prefix P <ns-suffix> -- cmd..."
      ip netns list | awk '{print $1}' | grep -qx -- "$prefix-$sfx" || die "exec: no namespace $prefix-$sfx"
      exec ip netns exec "$prefix-$sfx" "$@"
      ;;
    -h|--help|help) usage ;;
    *) die "unknown command '$cmd' (up, kernel, port, outside, move, down, show, list, exec)" ;;
  esac
}

[[ $(id -u) == 0 ]] || die "must run as root (network namespaces)"
main "$@"

#!/usr/bin/env bash
# Open vSwitch (userspace "netdev" datapath) as the fabric of a namespace lab built by
# deploy/lab/lab.sh: the third fabric of deploy/bench/benchmark.sh, next to the kernel's VXLAN and
# the Fabric agents. Root only. Needs openvswitch-switch (deploy/prerequisites.sh).
#
#   ovs-fabric.sh up     --prefix P [--vni V] [--userspace-tso on|off] [--timeout 30]
#   ovs-fabric.sh down   --prefix P
#   ovs-fabric.sh status --prefix P
#
# up: in every host namespace P-hH of the lab, its own ovsdb-server and ovs-vswitchd
# (/usr/lib/openvswitch-switch/ovs-vswitchd), each with database, run directory, log, pidfile and
# control sockets of its own under $FABRIC_LAB_STATE_DIR/P.ovs/hH (OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR
# point there too), so several instances coexist and no system-wide Open vSwitch is used or touched.
#   br-phy (datapath_type=netdev): the host's uplink; the VTEP address moves from uplink to br-phy
#   br-int (datapath_type=netdev): the VM ports vmK of the host and one type=vxlan port per other
#           host (options:local_ip, remote_ip, key=V), protected (no flooding tunnel to tunnel);
#   both bridges forward with the NORMAL action (MAC learning, flooding): the kernel lab's
#   bridge + vxlan device, in user space. V defaults to the lab's VNI of group 0.
# --userspace-tso on sets other_config:userspace-tso-enable=true (OVS default: off).
# If up fails (or is interrupted) it stops what it started and restores the lab.
# down: stops both daemons of every host by the PIDs in their pidfiles (SIGTERM, SIGKILL after 5 s),
# deletes the tap devices, moves the VTEP address back to uplink, removes the state directory.
# Idempotent. (lab.sh down alone also ends the daemons, as processes of the lab's namespaces; the
# state directory it leaves is removed by the next up of that prefix.)
set -euo pipefail

ME=ovs-fabric.sh
STATE_DIR=${FABRIC_LAB_STATE_DIR:-/run/fabric-lab}
VSWITCHD=/usr/lib/openvswitch-switch/ovs-vswitchd
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
die() { echo "$ME: $*" >&2; exit 1; }
log() { [[ -n ${QUIET:-} ]] || echo "$ME: $*" >&2; }

cmd=${1:-}; shift || true
prefix='' vni='' tso=off timeout=30 QUIET=''
while (($#)); do
  case $1 in
    --prefix) prefix=${2:?}; shift 2 ;;
    --vni) vni=${2:?}; shift 2 ;;
    --userspace-tso) tso=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --quiet) QUIET=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
case $cmd in up|down|status) ;; -h|--help|help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; *) die "usage: $ME up|down|status --prefix P (see --help)" ;; esac
[[ $(id -u) == 0 ]] || die "must run as root (network namespaces)"
[[ $prefix =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] || die "--prefix is required (letters, digits, _ -)"
[[ $tso == on || $tso == off ]] || die "--userspace-tso on|off"
[[ $timeout =~ ^[0-9]+$ ]] && ((timeout >= 1)) || die "--timeout must be a positive integer"
ODIR="$STATE_DIR/$prefix.ovs"

# vsctl HOSTDIR args...: ovs-vsctl against that host's own database, bounded.
vsctl() { local d=$1; shift; timeout -k 2 $((timeout + 5)) ovs-vsctl --db="unix:$d/db.sock" --timeout="$timeout" "$@"; }

# The PID in a pidfile if that process is alive and is the daemon of this directory.
live_pid() {  # live_pid PIDFILE DIR
  local pid
  [[ -f $1 ]] || return 1
  pid=$(tr -dc 0-9 <"$1")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2/" || return 1
  echo "$pid"
}

stop_host() {  # stop_host HOSTDIR NS IP: daemons by PID, then the address back onto uplink
  local d=$1 ns=$2 ip=$3 pids=() p t
  for p in ovs-vswitchd ovsdb-server; do
    p=$(live_pid "$d/$p.pid" "$d") && pids+=("$p")
  done
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((t = 0; t < 50; t++)); do
      local alive=()
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
      pids=("${alive[@]}")
      ((${#pids[@]})) || break
      sleep 0.1
    done
    ((${#pids[@]} == 0)) || { log "killing ${pids[*]} (did not stop within 5 s)"; kill -KILL "${pids[@]}" 2>/dev/null || true; }
  fi
  # ovs-vswitchd's tap devices (br-phy, br-int, and ovs-netdev, which outlives it): remove, then restore the VTEP address.
  if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
    for p in br-int br-phy ovs-netdev; do ip -n "$ns" link del "$p" 2>/dev/null || true; done
    if [[ -n $ip ]] && ! ip -n "$ns" -4 -o addr show dev uplink | grep -q " $ip/"; then
      ip -n "$ns" addr add "$ip/24" dev uplink 2>/dev/null || true
    fi
  fi
}

cmd_down() {
  local d h ns ip
  [[ -d $ODIR ]] || return 0
  for d in "$ODIR"/h*; do
    [[ -d $d ]] || continue
    h=${d##*/}; ns="$prefix-$h"; ip=$(cat "$d/vtep" 2>/dev/null || true)
    stop_host "$d" "$ns" "$ip"
  done
  rm -rf "$ODIR"
  log "Open vSwitch of lab '$prefix' stopped"
}

cmd_status() {
  local d h p
  [[ -d $ODIR ]] || { echo "no Open vSwitch in lab '$prefix'"; return 1; }
  for d in "$ODIR"/h*; do
    h=${d##*/}
    for p in ovsdb-server ovs-vswitchd; do
      if pid=$(live_pid "$d/$p.pid" "$d"); then echo "$h $p pid $pid"; else echo "$h $p not running"; fi
    done
    vsctl "$d" show 2>/dev/null | sed "s/^/$h   /" || true
  done
}

# ---- up
start_host() {  # start_host H  (lab state sourced)
  local h=$1 ns="$prefix-h$1" d="$ODIR/h$1" ipv="H$1_IP" macv="H$1_UPLINK_MAC" portsv="H$1_PORTS" ip mac o oip port n=0
  ip=${!ipv}; mac=${!macv}
  mkdir -p "$d"
  echo "$ip" >"$d/vtep"
  ovsdb-tool create "$d/conf.db" "$SCHEMA"
  local envs=(env OVS_RUNDIR="$d" OVS_DBDIR="$d" OVS_LOGDIR="$d" OVS_SYSCONFDIR="$d")
  # --detach returns once the daemon is ready; its PID is in the pidfile (down stops it by that PID).
  timeout -k 2 "$timeout" ip netns exec "$ns" "${envs[@]}" ovsdb-server "$d/conf.db" \
    --remote="punix:$d/db.sock" --pidfile="$d/ovsdb-server.pid" --unixctl="$d/ovsdb-server.ctl" \
    --log-file="$d/ovsdb-server.log" --no-chdir --detach 2>>"$d/start.log" \
    || die "h$h: ovsdb-server did not start: $(tail -3 "$d/start.log" | tr '\n' ' ')"
  vsctl "$d" --no-wait init
  [[ $tso == off ]] || vsctl "$d" --no-wait set Open_vSwitch . other_config:userspace-tso-enable=true
  timeout -k 2 "$timeout" ip netns exec "$ns" "${envs[@]}" "$VSWITCHD" "unix:$d/db.sock" \
    --pidfile="$d/ovs-vswitchd.pid" --unixctl="$d/ovs-vswitchd.ctl" \
    --log-file="$d/ovs-vswitchd.log" --no-chdir --detach 2>>"$d/start.log" \
    || die "h$h: ovs-vswitchd did not start: $(tail -3 "$d/start.log" | tr '\n' ' ')"

  # br-phy holds the uplink; its own interface (a tap) takes the VTEP address and the uplink's MAC,
  # so the underlay's ARP entries stay valid and OVS's tunnel code finds route and neighbour there.
  vsctl "$d" -- add-br br-phy -- set bridge br-phy datapath_type=netdev other_config:hwaddr="$mac" \
    -- add-port br-phy uplink
  ip -n "$ns" addr del "$ip/24" dev uplink
  ip -n "$ns" addr add "$ip/24" dev br-phy
  ip -n "$ns" link set br-phy up

  vsctl "$d" -- add-br br-int -- set bridge br-int datapath_type=netdev
  for port in ${!portsv}; do vsctl "$d" add-port br-int "$port"; done
  for ((o = 1; o <= LAB_HOSTS; o++)); do
    ((o == h)) && continue
    oip="H${o}_IP"; oip=${!oip}
    vsctl "$d" add-port br-int "vxlan$o" -- set port "vxlan$o" protected=true \
      -- set interface "vxlan$o" type=vxlan options:local_ip="$ip" options:remote_ip="$oip" options:key="$vni"
    n=$((n + 1))
  done
  ip -n "$ns" link set br-int up
  # Every interface must be open in the datapath (ofport assigned, no error).
  local errs
  errs=$(vsctl "$d" --bare --columns=name,error find interface 'error!=[]' 2>/dev/null | tr '\n' ' ')
  [[ -z ${errs// /} ]] || die "h$h: interface errors: $errs"
  log "h$h: ovsdb-server pid $(cat "$d/ovsdb-server.pid"), ovs-vswitchd pid $(cat "$d/ovs-vswitchd.pid"); br-phy (uplink, $ip), br-int (${!portsv}, $n vxlan port(s), VNI $vni)"
}

UP_DONE=0
up_cleanup() {
  local rc=$?
  ((UP_DONE)) && return 0
  trap '' INT TERM
  log "up failed or interrupted: stopping what it started"
  QUIET='' cmd_down || true
  exit $((rc == 0 ? 1 : rc))
}

cmd_up() {
  local env="$STATE_DIR/$prefix.env" h
  [[ -f $env ]] || die "no lab '$prefix' ($env missing; build it with lab.sh up)"
  [[ -x $VSWITCHD ]] && command -v ovsdb-server >/dev/null && command -v ovs-vsctl >/dev/null \
    || die "Open vSwitch missing (apt-get install openvswitch-switch; deploy/prerequisites.sh)"
  [[ -f $SCHEMA ]] || die "$SCHEMA missing (openvswitch-common)"
  if [[ -e $ODIR ]]; then
    # Left behind by a lab.sh down that ended the daemons itself: stale unless a daemon still runs.
    local d
    for d in "$ODIR"/h*; do
      live_pid "$d/ovsdb-server.pid" "$d" >/dev/null || live_pid "$d/ovs-vswitchd.pid" "$d" >/dev/null \
        && die "Open vSwitch already running in lab '$prefix' (run: $ME down --prefix $prefix)"
    done
    log "removing stale $ODIR (no daemon running)"
    rm -rf "$ODIR"
  fi
  # shellcheck disable=SC1090
  source "$env"
  [[ -f $STATE_DIR/$prefix.kernel.env ]] && die "lab '$prefix' runs the kernel's VXLAN (lab.sh kernel --remove first)"
  [[ -n $vni ]] || vni=$LAB_GROUP0_VNI
  [[ $vni =~ ^[0-9]+$ ]] && ((vni >= 1 && vni <= 16777215)) || die "--vni must be 1..16777215"
  ((LAB_GROUPS == 1)) || log "warning: the lab has $LAB_GROUPS groups; every VM port joins VNI $vni"
  mkdir -p "$ODIR"
  trap up_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  for ((h = 1; h <= LAB_HOSTS; h++)); do start_host "$h"; done
  UP_DONE=1
  trap - EXIT INT TERM
}

case $cmd in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
esac

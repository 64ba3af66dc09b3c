#!/usr/bin/env bash
# A Fabric cluster on one machine for a try-out: Azurite (in memory) and three silos in AzureTable
# mode on loopback. Runs in the foreground; Ctrl-C (or SIGTERM) stops the silos gracefully (bounded,
# then SIGKILL) and then Azurite. Every process is stopped by the PID this script started.
#
#   deploy/cluster/local-cluster.sh [--silos N] [--cluster-id ID] [--no-build]
#
# Environment: AZURITE_PORT (default 10002), HTTP_BASE (8081: silo i serves http://127.0.0.1:HTTP_BASE+i-1),
# SILO_BASE (11111), GATEWAY_BASE (30000), FABRIC_AZURITE_BIN (an azurite-table executable).
# Logs: $LOG_DIR (default a new directory under /tmp), one file per process.
set -euo pipefail

ME=local-cluster.sh
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
silos=3
cluster_id="local-$(date +%s)"
build=1
azurite_port=${AZURITE_PORT:-10002}
http_base=${HTTP_BASE:-8081}
silo_base=${SILO_BASE:-11111}
gateway_base=${GATEWAY_BASE:-30000}
log_dir=${LOG_DIR:-$(mktemp -d /tmp/fabric-local-cluster.XXXXXX)}
stop_grace=15

die() { echo "$ME: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
  case $1 in
    --silos) silos=$2; shift 2 ;;
    --cluster-id) cluster_id=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $silos =~ ^[1-9]$ ]] || die "--silos must be 1..9"

azurite=${FABRIC_AZURITE_BIN:-$repo/tests/azurite/node_modules/.bin/azurite-table}
[[ -x $azurite ]] || die "Azurite is not installed: run 'npm ci --prefix tests/azurite' in $repo (or set FABRIC_AZURITE_BIN)"
# The development account every Azurite accepts; not a secret.
connection="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:${azurite_port}/devstoreaccount1;"

azurite_pid=
silo_pids=()

stop_all() {
  trap - INT TERM EXIT
  if ((${#silo_pids[@]})); then
    echo "stopping silos (SIGTERM, up to ${stop_grace} s): ${silo_pids[*]}"
    kill -TERM "${silo_pids[@]}" 2>/dev/null || true
    for ((i = 0; i < stop_grace * 10; i++)); do
      alive=0
      for pid in "${silo_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      ((alive)) || break
      sleep 0.1
    done
    for pid in "${silo_pids[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then echo "silo $pid did not stop; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    done
  fi
  if [[ -n $azurite_pid ]] && kill -0 "$azurite_pid" 2>/dev/null; then
    echo "stopping Azurite ($azurite_pid)"
    kill -TERM "$azurite_pid" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do kill -0 "$azurite_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$azurite_pid" 2>/dev/null || true
  fi
  echo "logs kept in $log_dir"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

if ((build)); then
  echo "building the silo (Release)"
  dotnet build "$repo/Silo/Fabric.Silo.csproj" -c Release --verbosity quiet -nologo >/dev/null
fi
silo_dll="$repo/Silo/bin/Release/net10.0/Fabric.Silo.dll"
[[ -f $silo_dll ]] || die "$silo_dll is missing (build it, or drop --no-build)"

if (exec 3<>"/dev/tcp/127.0.0.1/$azurite_port") 2>/dev/null; then
  die "port $azurite_port is in use; set AZURITE_PORT"
fi
echo "starting Azurite on 127.0.0.1:$azurite_port (in memory)"
# setsid: a terminal's Ctrl-C reaches only this script, which stops the silos before Azurite
# (a silo that loses its table while shutting down cannot mark itself dead in it).
(cd "$log_dir" && exec setsid "$azurite" --inMemoryPersistence --tableHost 127.0.0.1 --tablePort "$azurite_port" \
  --skipApiVersionCheck --loose --disableProductStyleUrl --disableTelemetry) >"$log_dir/azurite.log" 2>&1 &
azurite_pid=$!
for ((i = 0; i < 100; i++)); do
  (exec 3<>"/dev/tcp/127.0.0.1/$azurite_port") 2>/dev/null && break
  kill -0 "$azurite_pid" 2>/dev/null || die "Azurite exited; see $log_dir/azurite.log"
  sleep 0.1
done

for ((n = 1; n <= silos; n++)); do
  http=$((http_base + n - 1))
  (cd "$(dirname "$silo_dll")" && exec setsid dotnet "$silo_dll" \
    --urls "http://127.0.0.1:$http" \
    --Fabric:Cluster:Mode AzureTable \
    --Fabric:Cluster:ClusterId "$cluster_id" \
    --Fabric:Cluster:SiloPort $((silo_base + n - 1)) \
    --Fabric:Cluster:GatewayPort $((gateway_base + n - 1)) \
    --Fabric:Storage:ConnectionString "$connection") >"$log_dir/silo$n.log" 2>&1 &
  silo_pids+=($!)
  echo "silo$n: pid $! http://127.0.0.1:$http silo port $((silo_base + n - 1)) gateway $((gateway_base + n - 1))"
done

echo "waiting for every silo's /healthz"
for ((n = 1; n <= silos; n++)); do
  http=$((http_base + n - 1))
  for ((i = 0; ; i++)); do
    kill -0 "${silo_pids[n - 1]}" 2>/dev/null || { tail -20 "$log_dir/silo$n.log" >&2; die "silo$n exited; see $log_dir/silo$n.log"; }
    curl -fsS -o /dev/null "http://127.0.0.1:$http/healthz" 2>/dev/null && break
    ((i < 900)) || die "silo$n not healthy after 90 s; see $log_dir/silo$n.log"
    sleep 0.1
  done
done

cat <<INFO

cluster '$cluster_id' is up: $silos silos, state in Azurite at 127.0.0.1:$azurite_port (in memory: gone when this stops).
  dashboard and API:  http://127.0.0.1:$http_base/   (any silo: ports $http_base..$((http_base + silos - 1)))
  try:                curl -X PUT -H 'content-type: application/json' -d '{"mtu":1450}' http://127.0.0.1:$http_base/api/switches/dvs
                      curl http://127.0.0.1:$((http_base + silos - 1))/api/switches/dvs
  crash a silo:       kill -9 ${silo_pids[0]}     (the others take its grains over within seconds)
  agents:             Fabric__Cluster__Mode=AzureTable Fabric__Cluster__ClusterId=$cluster_id
                      Fabric__Storage__ConnectionString='$connection'
  logs:               $log_dir
Ctrl-C stops everything.
INFO

# Wait until interrupted, or until every silo has gone.
while :; do
  alive=0
  for pid in "${silo_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  ((alive)) || { echo "every silo has exited"; exit 1; }
  sleep 1
done

# shellcheck shell=bash
# Shared helpers of deploy/demo/fabric.sh and deploy/bench/benchmark.sh (sourced, not run):
# build the Release binaries if needed, snapshot them, start/stop the silo and agents by PID,
# bounded waits, and small HTTP calls against the management API.
#
# The caller sets: REPO (repository root), WORK (its temp dir), ME (its name for messages).
# Processes started with fl_start are recorded in FL_PIDS/FL_NAMES; fl_stop_all stops them.

FL_PIDS=()
FL_NAMES=()
FL_LOGS=()

fl_die() { echo "$ME: error: $*" >&2; exit "${FL_DIE_RC:-1}"; }
fl_say() { echo "$ME: $*" >&2; }

# Bounded wait: fl_wait SECONDS "what" cmd args...   (polls every 0.5 s; returns 1 on timeout)
fl_wait() {
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    "$@" && return 0
    sleep 0.5
  done
  fl_say "timed out after ${secs}s waiting for: $what"
  return 1
}

fl_port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
fl_udp_busy() { ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }

# A TCP port that is free now (random, 20000..59999) and not one of the arguments (ports already
# chosen but not yet bound).
fl_free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [[ " $* " == *" $p "* ]] && continue
    fl_port_busy "$p" || { echo "$p"; return 0; }
  done
  fl_die "no free TCP port found"
}

# Sources newer than the built dlls (or dlls missing) -> build needed.
fl_build_needed() {
  local silo="$REPO/Silo/bin/Release/net10.0/Fabric.Silo.dll" agent="$REPO/HostAgent/bin/Release/net10.0/Fabric.HostAgent.dll" ref newer
  [[ -f $silo && -f $agent ]] || return 0
  ref=$silo; [[ $agent -ot $silo ]] && ref=$agent   # the older of the two
  newer=$(cd "$REPO" && find Silo Grains Grains.Interfaces HostAgent Directory.Build.props Directory.Packages.props global.json \
            \( -path '*/bin' -o -path '*/obj' \) -prune -o \
            -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name 'appsettings*.json' -o -name global.json \) \
            -newer "$ref" -print 2>/dev/null | head -3)
  [[ -n $newer ]] && { fl_say "sources changed since the last Release build: ${newer//$'\n'/, } ..."; return 0; }
  return 1
}

# Runs one build command in the background (so Ctrl-C/TERM reach our trap at once; the cleanup's
# fl_stop ends it by PID), appending to $WORK/build.log; returns its exit status.
fl_build_step() {
  local rc=0
  fl_start build "$WORK/build.step.log" "$REPO" timeout 900 "$@"
  wait "${FL_PIDS[-1]}" || rc=$?
  FL_PIDS[-1]=''
  cat "$WORK/build.step.log" >>"$WORK/build.log"
  return "$rc"
}

# True if the last step failed only for transient reasons (file locks of a concurrent build, timeout).
fl_build_transient() {
  grep -qE 'error (CS|NU|NETSDK)[0-9]+' "$WORK/build.step.log" && return 1
  return 0
}

# Builds Fabric.sln in Release. Retries only transient failures (another build holding file locks);
# a compile error elsewhere in the solution (e.g. a test project being edited) falls back to the two
# projects we run; if those do not compile either but an older Release build exists, uses that with
# a warning. No MSBuild node reuse and no shared compiler server, so no build process outlives us.
fl_build() {
  local attempt args=(-c Release -nologo -v quiet -nodeReuse:false -p:UseSharedCompilation=false)
  : >"$WORK/build.log"
  for attempt in 1 2 3; do
    fl_say "building Fabric.sln (Release)$( ((attempt == 1)) || echo ", attempt $attempt"); log $WORK/build.log"
    fl_build_step dotnet build Fabric.sln "${args[@]}" && return 0
    fl_build_transient || break
    sleep $((attempt * 5))
  done
  grep -E 'error [A-Z]+[0-9]+' "$WORK/build.step.log" | sort -u | tail -3 >&2 || true
  fl_say "Fabric.sln did not build; trying Silo and HostAgent alone"
  for attempt in 1 2; do
    if fl_build_step dotnet build Silo/Fabric.Silo.csproj "${args[@]}" \
       && fl_build_step dotnet build HostAgent/Fabric.HostAgent.csproj "${args[@]}"; then
      fl_say "warning: built Silo and HostAgent only (the solution has errors elsewhere; see $WORK/build.log)"
      return 0
    fi
    fl_build_transient || break
    sleep 10
  done
  grep -E 'error [A-Z]+[0-9]+' "$WORK/build.step.log" | sort -u | tail -3 >&2 || true
  if [[ -f $REPO/Silo/bin/Release/net10.0/Fabric.Silo.dll && -f $REPO/HostAgent/bin/Release/net10.0/Fabric.HostAgent.dll ]]; then
    fl_say "warning: the current sources do not build; using the existing Release build of $(date -r "$REPO/HostAgent/bin/Release/net10.0/Fabric.HostAgent.dll" '+%F %T')"
    return 0
  fi
  fl_die "build failed and there is no earlier Release build (full log: $WORK/build.log)"
}

# Stops every recorded process: agents, then the silo, then anything else (a build). Idempotent.
fl_stop_all() {
  fl_stop 'agent*' "${1:-10}"
  fl_stop 'silo' "${1:-10}"
  fl_stop '*' "${1:-10}"
}

# Copies the Release outputs into $WORK/bin, so a concurrent rebuild of the tree cannot change the
# binaries under running processes. Sets FL_SILO_DIR / FL_AGENT_DIR.
fl_snapshot_binaries() {
  local attempt
  FL_SILO_DIR="$WORK/bin/silo"; FL_AGENT_DIR="$WORK/bin/agent"
  for attempt in 1 2 3; do
    rm -rf "$WORK/bin"; mkdir -p "$WORK/bin"
    if cp -a "$REPO/Silo/bin/Release/net10.0" "$FL_SILO_DIR" 2>/dev/null \
       && cp -a "$REPO/HostAgent/bin/Release/net10.0" "$FL_AGENT_DIR" 2>/dev/null \
       && [[ -f $FL_SILO_DIR/Fabric.Silo.dll && -f $FL_AGENT_DIR/Fabric.HostAgent.dll ]]; then
      return 0
    fi
    sleep 2
  done
  fl_die "could not copy the Release binaries (is a build running? retry)"
}

# fl_start NAME LOGFILE WORKDIR cmd args...  -> starts in the background, records the PID.
fl_start() {
  local name=$1 log=$2 dir=$3; shift 3
  (cd "$dir" && exec "$@") </dev/null >"$log" 2>&1 &
  FL_PIDS+=("$!"); FL_NAMES+=("$name"); FL_LOGS+=("$log")
}

fl_alive() { kill -0 "$1" 2>/dev/null; }

# The first recorded process that has exited, as "name (pid N, log FILE)", or nothing; sets
# FL_DEAD_LOG to its log file.
fl_first_dead() {
  local i
  FL_DEAD_LOG=''
  for i in "${!FL_PIDS[@]}"; do
    [[ -n ${FL_PIDS[i]} ]] || continue
    fl_alive "${FL_PIDS[i]}" || { FL_DEAD_LOG=${FL_LOGS[i]}; echo "${FL_NAMES[i]} (pid ${FL_PIDS[i]}, log ${FL_LOGS[i]})"; return 0; }
  done
}

# Dies with the tail of the log if a recorded process has exited.
fl_check_alive() {
  local dead
  dead=$(fl_first_dead)
  [[ -z $dead ]] && return 0
  fl_first_dead >/dev/null   # sets FL_DEAD_LOG in this shell
  tail -15 "$FL_DEAD_LOG" >&2 2>/dev/null || true
  fl_die "process exited unexpectedly: $dead"
}

# Stops recorded processes whose name matches the pattern (glob), newest first: SIGTERM, then
# SIGKILL after a bounded wait. Idempotent.
fl_stop() {
  local pattern=${1:-*} grace=${2:-10} i pids=() t
  for ((i = ${#FL_PIDS[@]} - 1; i >= 0; i--)); do
    [[ -n ${FL_PIDS[i]} && ${FL_NAMES[i]} == $pattern ]] || continue
    fl_alive "${FL_PIDS[i]}" && { kill -TERM "${FL_PIDS[i]}" 2>/dev/null || true; pids+=("${FL_PIDS[i]}"); }
  done
  for ((t = 0; t < grace * 10 && ${#pids[@]}; t++)); do
    local alive=() p
    for p in "${pids[@]}"; do fl_alive "$p" && alive+=("$p"); done
    pids=("${alive[@]}")
    ((${#pids[@]})) && sleep 0.1
  done
  if ((${#pids[@]})); then
    fl_say "killing ${pids[*]} (did not stop within ${grace}s)"
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  for ((i = 0; i < ${#FL_PIDS[@]}; i++)); do
    [[ -n ${FL_PIDS[i]} && ${FL_NAMES[i]} == $pattern ]] || continue
    { wait "${FL_PIDS[i]}"; } 2>/dev/null || true   # no "Aborted"/"Killed" job notices
    FL_PIDS[i]=''
  done
}

# HTTP helpers against $FL_API (e.g. http://127.0.0.1:8080).
fl_get() { curl -fsS --max-time 10 "$FL_API/$1"; }
fl_put() {  # fl_put path json  -> retried for up to 30 s (the silo may still be activating grains)
  local path=$1 body=$2 out code deadline=$((SECONDS + 30))
  while :; do
    out=$(curl -sS --max-time 15 -o - -w '\n%{http_code}' -X PUT "$FL_API/$path" -H 'content-type: application/json' -d "$body" 2>&1) || true
    code=${out##*$'\n'}
    [[ $code == 2?? ]] && return 0
    if ((SECONDS >= deadline)) || [[ $code == 4?? ]]; then
      fl_say "PUT /$path $body failed: HTTP $code ${out%$'\n'*}"
      return 1
    fi
    sleep 1
  done
}

fl_healthy() { curl -fsS --max-time 5 "$FL_API/healthz" >/dev/null 2>&1; }

# Starts the silo (name "silo") from the snapshot on the given ports; waits until /healthz is 200.
# fl_start_silo HTTP_PORT SILO_PORT GATEWAY_PORT CLUSTER_ID [timeout]
fl_start_silo() {
  local http=$1 silo=$2 gw=$3 cluster=$4 timeout=${5:-120} deadline
  FL_API="http://127.0.0.1:$http"
  fl_start silo "$WORK/logs/silo.log" "$FL_SILO_DIR" dotnet "$FL_SILO_DIR/Fabric.Silo.dll" \
    --urls "$FL_API" --Fabric:Cluster:SiloPort "$silo" --Fabric:Cluster:GatewayPort "$gw" --Fabric:Cluster:ClusterId "$cluster"
  local pid=${FL_PIDS[-1]}
  fl_say "silo starting (pid $pid, HTTP $http, silo port $silo, gateway $gw, cluster $cluster)"
  deadline=$((SECONDS + timeout))
  until fl_healthy; do
    if ! fl_alive "$pid"; then
      tail -20 "$WORK/logs/silo.log" >&2
      fl_die "the silo exited during startup (log: $WORK/logs/silo.log)"
    fi
    ((SECONDS < deadline)) || { tail -20 "$WORK/logs/silo.log" >&2; fl_die "the silo did not become healthy within ${timeout}s ($FL_API/healthz; log: $WORK/logs/silo.log)"; }
    sleep 0.5
  done
}

# fl_start_agent NAME HOST_ID VTEP NETNS GATEWAY_PORT CLUSTER_ID STATUS_FILE  IFACE=PORTGROUP...
# (with the settings in the array FL_AGENT_EXTRA appended, if any)
FL_AGENT_EXTRA=()
fl_start_agent() {
  local name=$1 host=$2 vtep=$3 ns=$4 gw=$5 cluster=$6 status=$7; shift 7
  local args=(--Fabric:Cluster:Gateways:0 "127.0.0.1:$gw" --Fabric:Cluster:ClusterId "$cluster"
    --Fabric:Agent:HostId "$host" --Fabric:Agent:VtepAddress "$vtep" --Fabric:Agent:Switch dvs
    --Fabric:Agent:NetworkNamespace "$ns" --Fabric:Agent:StatusFile "$status"
    --Fabric:Agent:ForwardingCacheFile "${status%.json}-forwarding.json"
    --Fabric:Agent:ManagementUrl "http://127.0.0.1:$(fl_free_port)") i=0 b
  for b in "$@"; do
    args+=("--Fabric:Agent:Ports:$i:Interface" "${b%%=*}" "--Fabric:Agent:Ports:$i:PortGroup" "${b#*=}")
    i=$((i + 1))
  done
  # Further settings for this agent, e.g. FL_AGENT_EXTRA=(--Fabric:Agent:Uplink uplink).
  args+=("${FL_AGENT_EXTRA[@]}")
  fl_start "$name" "$WORK/logs/$name.log" "$FL_AGENT_DIR" dotnet "$FL_AGENT_DIR/Fabric.HostAgent.dll" "${args[@]}"
}

# True when the segment's flood list holds every given host id.
fl_flood_has() {  # fl_flood_has VNI host...
  local vni=$1 body h; shift
  body=$(fl_get "api/segments/$vni" 2>/dev/null) || return 1
  for h in "$@"; do
    grep -q "\"hostId\":\"$h\"" <<<"$body" || return 1
  done
}

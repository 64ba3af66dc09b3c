#!/usr/bin/env bash
# Installs what Fabric's processes and tests need on a fresh Debian 12 machine (as root).
# Idempotent: a second run installs nothing new. Used by test.sh, run.sh and .ci/run.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# openvswitch-switch (userspace datapath) and netsniff-ng (trafgen), jq: deploy/bench/benchmark.sh.
# The benchmark runs its own Open vSwitch daemons inside lab namespaces; it never uses the system's.
# The CNI tests (Category=Cni): podman with runc (crun refuses a hybrid cgroup mount) and its CNI
# backend, Debian's reference plugins (chained after fabric), Go with Debian's libcni sources to
# build tests/cnitool offline, busybox-static for the containers' root filesystem, iptables for portmap;
# gcc and zlib for publishing the plugin with Native AOT.
# The network modes (the agent's NAT and host-only networks): nftables (the agent's table), conntrack;
# the Routing tests: dnsmasq-base as the physical LAN's DHCP server, busybox's udhcpc as DHCP client.
apt_packages=(libpcap0.8 iproute2 iputils-ping tshark iperf3 ethtool procps psmisc jq openvswitch-switch netsniff-ng
  util-linux iptables podman runc containernetworking-plugins golang-go golang-github-appc-cni-dev busybox-static
  gcc zlib1g-dev nftables conntrack dnsmasq-base python3)
# promtool and a real Prometheus server for the metrics tests (Category=Ops).
apt_packages+=(prometheus)
# The packaging tests (Category=Ops, deploy/packaging): systemd for systemd-analyze verify and
# systemctl --root; libicu72, which the packaged silo depends on and is run with.
apt_packages+=(systemd libicu72)
# Debian's Chromium for the fabric page's browser tests (Category=Ops; PuppeteerSharp never downloads one).
apt_packages+=(chromium)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "prerequisites: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Azurite (Azure Table storage emulator) for the Storage and Cluster tests.
if [[ -f "$repo/tests/azurite/package.json" && ! -x "$repo/tests/azurite/node_modules/.bin/azurite-table" ]]; then
  echo "prerequisites: installing azurite (npm)"
  if [[ -f "$repo/tests/azurite/package-lock.json" ]]; then
    npm ci --prefix "$repo/tests/azurite" --no-audit --no-fund --loglevel=error
  else
    npm install --prefix "$repo/tests/azurite" --no-audit --no-fund --loglevel=error
  fi
fi

# kubernetes-models (the Kubernetes OpenAPI schemas) for the manifest check of deploy/kubernetes.
if [[ -f "$repo/deploy/kubernetes/check/package-lock.json" && ! -d "$repo/deploy/kubernetes/check/node_modules/kubernetes-models" ]]; then
  echo "prerequisites: installing the Kubernetes manifest check (npm)"
  npm ci --prefix "$repo/deploy/kubernetes/check" --no-audit --no-fund --loglevel=error
fi

dotnet restore "$repo/Fabric.sln" --verbosity quiet

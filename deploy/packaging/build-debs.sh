#!/usr/bin/env bash
# Builds Fabric's Debian packages with dpkg-deb (no debhelper):
#
#   deploy/packaging/build-debs.sh [--publish-dir DIR] VERSION OUTDIR
#
#   fabric-silo_VERSION_ARCH.deb    the silo in /opt/fabric/silo, fabric-silo.service, /etc/fabric/silo.env
#   fabric-agent_VERSION_ARCH.deb   the agent in /opt/fabric/agent, fabric-agent.service,
#                                   /etc/fabric/agent.env, the CNI plugin /usr/lib/cni/fabric
#                                   (and /opt/cni/bin/fabric, a link to it)
#   fabricctl_VERSION_ARCH.deb      /usr/bin/fabricctl
#
# VERSION is a Debian version (1.2.0, 1.2.0-1, 1.2.0~rc1); its leading digits and dots (1.2.0) are
# the assemblies' version, the whole of it their informational version. ARCH is this machine's
# (dpkg --print-architecture: amd64 or arm64).
# The silo and the agent are published self-contained (the .NET runtime inside /opt/fabric/...): a
# host needs no .NET, and Debian has no .NET 10 package to depend on. The CNI plugin and fabricctl
# are Native AOT executables. Publishing needs the .NET SDK and, for Native AOT, gcc and zlib1g-dev.
#
# --publish-dir DIR: publish into DIR and keep it; a component already published there is packaged
# as it is, not published again (with the version it was published with). Without it the published
# files go to a temporary directory.
# FABRIC_DEB_COMPRESSION: dpkg-deb's compressor, zstd (default: Debian 12's dpkg and apt read it, and
# it packs the 140 MB silo in seconds where xz takes minutes), xz (for dpkg before 1.21.18), gzip or none.
set -euo pipefail

ME=build-debs.sh
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/deploy/packaging"
die() { echo "$ME: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

publish_dir=
while (($#)); do
  case $1 in
    --publish-dir) (($# >= 2)) || die "--publish-dir needs a directory"; publish_dir=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
(($# == 2)) || { usage >&2; exit 2; }
version=$1
outdir=$2
dpkg --validate-version "$version" 2>/dev/null || die "VERSION '$version' is not a Debian version (e.g. 1.2.0 or 1.2.0-1)"
assembly_version=$(sed -E 's/^[0-9]+://; s/^([0-9]+(\.[0-9]+){0,3}).*/\1/' <<<"$version")
[[ $assembly_version =~ ^[0-9]+(\.[0-9]+){0,3}$ ]] || die "VERSION '$version' must start with a number (the assemblies' version)"
compression=${FABRIC_DEB_COMPRESSION:-zstd}
case $compression in zstd|xz|gzip|none) ;; *) die "FABRIC_DEB_COMPRESSION '$compression': zstd, xz, gzip or none" ;; esac

arch=$(dpkg --print-architecture)
case $arch in
  amd64) rid=linux-x64 ;;
  arm64) rid=linux-arm64 ;;
  *) die "no .NET runtime identifier for architecture $arch" ;;
esac

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fabric-debs.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [[ -z $publish_dir ]]; then
  publish_dir=$work/publish
fi
mkdir -p "$publish_dir"
publish_dir=$(cd "$publish_dir" && pwd)

# dotnet publish PROJECT into $publish_dir/NAME unless FILE is there already.
publish() {
  local name=$1 project=$2 file=$3; shift 3
  if [[ -x $publish_dir/$name/$file ]]; then
    echo "$ME: $name: using $publish_dir/$name"
    return
  fi
  echo "$ME: $name: dotnet publish $project"
  rm -rf "$publish_dir/$name"
  dotnet publish "$repo/$project" -c Release -r "$rid" -o "$publish_dir/$name" \
    -p:Version="$assembly_version" -p:InformationalVersion="$version" \
    -nologo -v q -m:1 "$@" >&2 || die "$name: dotnet publish $project failed"
  [[ -x $publish_dir/$name/$file ]] || die "$name: $project published no $file"
}

# A package tree: DEBIAN/control, maintainer scripts from the templates, conffiles.
# control NAME DEPENDS DESCRIPTION [RECOMMENDS]
control() {
  local root=$1 name=$2 depends=$3 description=$4 recommends=${5:-}
  mkdir -p "$root/DEBIAN"
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: Fabric <fabric@localhost>"
    echo "Section: net"
    echo "Priority: optional"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
    echo "Depends: $depends"
    [[ -n $recommends ]] && echo "Recommends: $recommends"
    echo "Description: $description"
  } > "$root/DEBIAN/control"
}

# maintainer_scripts ROOT PACKAGE UNIT ENVFILE STATEDIRS
maintainer_scripts() {
  local root=$1 package=$2 unit=$3 envfile=$4 statedirs=$5 script
  mkdir -p "$root/DEBIAN"
  for script in postinst prerm postrm; do
    sed -e "s|@PACKAGE@|$package|g" -e "s|@UNIT@|$unit|g" -e "s|@ENVFILE@|$envfile|g" -e "s|@STATEDIRS@|$statedirs|g" \
      "$here/maintainer/$script" > "$root/DEBIAN/$script"
    chmod 0755 "$root/DEBIAN/$script"
  done
  echo "$envfile" > "$root/DEBIAN/conffiles"
}

# The parts a service package shares: its files in /opt/fabric/NAME, the unit, the env file
# (mode 0640 from the start: it may hold the storage key; postinst gives it to group fabric).
service_files() {
  local root=$1 name=$2 package=$3
  install -d -m 0755 "$root/opt/fabric"
  cp -a "$publish_dir/$name" "$root/opt/fabric/$name"
  # Symbol files of the Native AOT parts and XML docs are no use on a host.
  find "$root/opt/fabric/$name" \( -name '*.dbg' -o -name '*.xml' \) -delete
  chmod -R u=rwX,go=rX "$root/opt/fabric/$name"
  install -D -m 0644 "$repo/deploy/systemd/$package.service" "$root/lib/systemd/system/$package.service"
  install -D -m 0640 "$repo/deploy/systemd/$name.env" "$root/etc/fabric/$name.env"
  install -D -m 0644 "$repo/deploy/systemd/README.md" "$root/usr/share/doc/$package/README.md"
}

build() {
  local root=$1
  dpkg-deb --root-owner-group "-Z$compression" --build "$root" "$outdir" >/dev/null
}

# What the self-contained .NET runtime loads from the host (its zlib is built in): libc, libgcc,
# libstdc++, OpenSSL (TLS to Table storage); ICU for the silo's globalization (the agent runs
# without). Alternatives name the package in Debian 12 first, then in later releases.
dotnet_depends="libc6 (>= 2.27), libgcc-s1, libstdc++6, libssl3 | libssl3t64"
packages=()

# --- fabric-silo --------------------------------------------------------------------------------
publish silo Silo/Fabric.Silo.csproj Fabric.Silo --self-contained
root=$work/fabric-silo
service_files "$root" silo fabric-silo
maintainer_scripts "$root" fabric-silo fabric-silo.service /etc/fabric/silo.env ""
control "$root" fabric-silo "$dotnet_depends, libicu72 | libicu76 | libicu74, passwd" \
  "Fabric distributed virtual switch: control-plane silo
 The Orleans silo of Fabric: switches, port groups, segments and MAC tables as grains, the
 management API, the dashboard and /healthz. Self-contained (no .NET needed). Set
 /etc/fabric/silo.env, then: systemctl enable --now fabric-silo"
build "$root"
packages+=("fabric-silo_${version}_$arch.deb")

# --- fabric-agent (with the CNI plugin) ----------------------------------------------------------
publish agent HostAgent/Fabric.HostAgent.csproj Fabric.HostAgent --self-contained
publish cni Cni/Fabric.Cni.csproj fabric
root=$work/fabric-agent
service_files "$root" agent fabric-agent
# Debian's CNI plugins (containernetworking-plugins) live in /usr/lib/cni, where Debian's podman
# looks; containerd, CRI-O, nerdctl and the kubelet look in /opt/cni/bin: one file, a link there.
install -D -m 0755 "$publish_dir/cni/fabric" "$root/usr/lib/cni/fabric"
install -d -m 0755 "$root/opt/cni/bin"
ln -s /usr/lib/cni/fabric "$root/opt/cni/bin/fabric"
maintainer_scripts "$root" fabric-agent fabric-agent.service /etc/fabric/agent.env "/var/lib/fabric-agent /run/fabric-agent"
# iproute2: the agent's host networks and the CNI plugin (ip); util-linux: nsenter; libpcap: the
# Pcap port backend. nftables and procps (sysctl) only for NAT port groups.
control "$root" fabric-agent "$dotnet_depends, libpcap0.8, iproute2, util-linux, passwd" \
  "Fabric distributed virtual switch: host agent and CNI plugin
 The data plane of one host: local VM and container ports, VXLAN (RFC 7348) to the other hosts,
 an Orleans client of the silos. Self-contained (no .NET needed). With the CNI plugin 'fabric'
 (/usr/lib/cni/fabric, linked from /opt/cni/bin). Set the four values in /etc/fabric/agent.env,
 then: systemctl enable --now fabric-agent" \
  "nftables, procps"
build "$root"
packages+=("fabric-agent_${version}_$arch.deb")

# --- fabricctl ----------------------------------------------------------------------------------
publish cli Cli/Fabric.Cli.csproj fabricctl
root=$work/fabricctl
install -D -m 0755 "$publish_dir/cli/fabricctl" "$root/usr/bin/fabricctl"
control "$root" fabricctl "libc6 (>= 2.27)" \
  "Fabric distributed virtual switch: command-line client
 fabricctl shows and changes switches, port groups, segments, hosts, FDBs and ports through the
 silo's management API, traces a frame and mirrors a port. One native executable." \
  "libssl3 | libssl3t64"
build "$root"
packages+=("fabricctl_${version}_$arch.deb")

for p in "${packages[@]}"; do
  echo "$outdir/$p"
done

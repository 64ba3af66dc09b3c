# The agent image, with the CNI plugin the DaemonSet's init container installs on the node:
# docker build -f deploy/kubernetes/images/agent.Dockerfile -t fabric/agent:latest .
# The plugin is published with Native AOT for linux-x64 (one native executable; the node needs no .NET).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish HostAgent -c Release -o /out/agent \
 && apt-get update && apt-get install -y --no-install-recommends clang zlib1g-dev \
 && dotnet publish Cni -c Release -r linux-x64 -o /out/cni

FROM mcr.microsoft.com/dotnet/aspnet:10.0
RUN apt-get update && apt-get install -y --no-install-recommends libpcap0.8 iproute2 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/fabric/agent
COPY --from=build /out/agent .
COPY --from=build /out/cni/fabric /opt/fabric/cni/fabric
ENTRYPOINT ["dotnet", "Fabric.HostAgent.dll"]

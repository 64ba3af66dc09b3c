# The silo image: docker build -f deploy/kubernetes/images/silo.Dockerfile -t fabric/silo:latest .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish Silo -c Release -o /out

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /opt/fabric/silo
COPY --from=build /out .
USER 10001
EXPOSE 8080 11111 30000
ENTRYPOINT ["dotnet", "Fabric.Silo.dll"]

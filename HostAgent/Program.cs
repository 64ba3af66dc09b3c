using Fabric.HostAgent.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.AddFabricAgentOptions();
builder.Services.AddFabricDataPlane();
builder.AddFabricClusterClient();
builder.Build().Run();

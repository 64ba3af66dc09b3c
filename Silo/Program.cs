using Fabric.Grains.Hosting;
using Fabric.Silo.Api;
using Fabric.Silo.Hosting;
using Orleans.Dashboard;

var builder = WebApplication.CreateBuilder(args);
var fabric = builder.AddFabricSiloOptions();
builder.UseOrleans(silo => silo
    .UseFabricCluster(fabric)
    .AddFabricGrains()
    .AddDashboard());
builder.Services.AddFabricApi();

var app = builder.Build();
app.UseFabricProblemMapping();
app.MapFabricHealth();
app.MapFabricApi();
app.MapOrleansDashboard();
app.Run();

using Fabric.Silo.Hosting;
using Orleans.Dashboard;

var builder = WebApplication.CreateBuilder(args);
var fabric = builder.AddFabricSiloOptions();
builder.UseOrleans(silo => silo
    .UseFabricCluster(fabric)
    .AddDashboard());

var app = builder.Build();
app.MapFabricHealth();
app.MapOrleansDashboard();
app.Run();

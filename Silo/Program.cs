using Orleans.Dashboard;
var builder = WebApplication.CreateBuilder(args);
builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering();
    silo.AddMemoryGrainStorage("fabric");
    silo.AddDashboard();
});
var app = builder.Build();
app.MapOrleansDashboard();
app.MapGet("/healthz", () => "ok");
app.Run();

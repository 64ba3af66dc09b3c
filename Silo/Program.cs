using Fabric.Grains.Hosting;
using Fabric.Silo.Api;
using Fabric.Silo.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

try
{
    // appsettings.json is read next to the binary, wherever the silo is started from.
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
    var fabric = builder.AddFabricSiloOptions();
    builder.UseOrleans(silo => silo
        .UseFabricCluster(fabric)
        .AddFabricGrains()
        .AddDashboard());
    builder.Services.AddFabricApi();
    builder.Services.AddFabricAgentRelay();
    builder.AddFabricMetrics();
    builder.Services.AddFabricOpenApi();

    var app = builder.Build();
    app.UseFabricProblemMapping();
    app.MapFabricHealth();
    app.MapFabricApi();
    app.MapFabricAgentRelay();
    app.MapFabricMirrors();
    app.MapFabricPage();
    app.MapFabricOpenApi();
    app.MapOrleansDashboard();
    await app.CheckFabricStorageAsync();
    app.Run();
    return 0;
}
catch (Exception ex) when (ex is OptionsValidationException or OrleansConfigurationException or FabricStorageUnavailableException)
{
    // A setting is wrong or storage is unreachable: say which, once, and exit non-zero without a
    // stack trace or an abort (which would leave a core dump under systemd).
    Console.Error.WriteLine($"fabric-silo: cannot start: {ex.Message}");
    return 1;
}

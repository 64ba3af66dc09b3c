using Fabric.Grains.Hosting;
using Fabric.Silo.Api;
using Fabric.Silo.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

try
{
    var builder = WebApplication.CreateBuilder(args);
    var fabric = builder.AddFabricSiloOptions();
    builder.UseOrleans(silo => silo
        .UseFabricCluster(fabric)
        .AddFabricGrains()
        .AddDashboard());
    builder.Services.AddFabricApi();
    builder.Services.AddFabricAgentRelay();
    builder.AddFabricMetrics();

    var app = builder.Build();
    app.UseFabricProblemMapping();
    app.MapFabricHealth();
    app.MapFabricApi();
    app.MapFabricAgentRelay();
    app.MapFabricMirrors();
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

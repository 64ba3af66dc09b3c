using Fabric.HostAgent.Forwarding;
using Fabric.HostAgent.Hosting;
using Microsoft.Extensions.Options;

try
{
    // appsettings.json is read next to the binary, wherever the agent is started from.
    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
    builder.AddFabricAgentOptions();
    builder.Services.AddFabricDataPlane();
    builder.AddFabricClusterClient();
    using var host = builder.Build();
    host.Services.GetRequiredService<DataPlaneMetrics>();
    host.Run();
    return 0;
}
catch (Exception ex) when (ex is OptionsValidationException or InvalidOperationException or IOException)
{
    // A bad setting, a missing interface or namespace, a VTEP address that is not ours: say which
    // and exit non-zero, without a stack trace.
    Console.Error.WriteLine($"fabric-agent: cannot start: {ex.Message}");
    return 1;
}

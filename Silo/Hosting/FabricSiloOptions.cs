using System.Net;
using Microsoft.Extensions.Options;

namespace Fabric.Silo.Hosting;

/// <summary>Where membership and grain state live.</summary>
public enum ClusterMode
{
    /// <summary>One silo on loopback, grain state in memory: the default, for a laptop or a lab.</summary>
    Embedded,

    /// <summary>Membership and grain state in Azure Table storage (or Azurite): several silos, state survives restarts.</summary>
    AzureTable,
}

/// <summary>The silo's settings, bound from the configuration section <c>Fabric:Cluster</c>.</summary>
public sealed class FabricSiloOptions
{
    public const string SectionName = "Fabric:Cluster";

    public ClusterMode Mode { get; set; } = ClusterMode.Embedded;

    public string ClusterId { get; set; } = "fabric";

    public string ServiceId { get; set; } = "fabric";

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port that host agents and the CLI connect to.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Address other silos and clients reach this silo on. Loopback in embedded mode.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Azure Table storage connection string; required in <see cref="ClusterMode.AzureTable"/> mode.</summary>
    public string? StorageConnectionString { get; set; }
}

internal sealed class FabricSiloOptionsValidator : IValidateOptions<FabricSiloOptions>
{
    public ValidateOptionsResult Validate(string? name, FabricSiloOptions options)
    {
        var failures = new List<string>();
        if (!Enum.IsDefined(options.Mode))
        {
            failures.Add($"{FabricSiloOptions.SectionName}:Mode must be Embedded or AzureTable.");
        }

        CheckPort(failures, nameof(options.SiloPort), options.SiloPort);
        CheckPort(failures, nameof(options.GatewayPort), options.GatewayPort);
        if (options.SiloPort == options.GatewayPort)
        {
            failures.Add($"{FabricSiloOptions.SectionName}:SiloPort and GatewayPort must differ (both are {options.SiloPort}).");
        }

        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add($"{FabricSiloOptions.SectionName}:ClusterId must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            failures.Add($"{FabricSiloOptions.SectionName}:ServiceId must not be empty.");
        }

        if (options.AdvertisedAddress is { } address && !IPAddress.TryParse(address, out _))
        {
            failures.Add($"{FabricSiloOptions.SectionName}:AdvertisedAddress '{address}' is not an IP address.");
        }

        if (options.Mode == ClusterMode.AzureTable && string.IsNullOrWhiteSpace(options.StorageConnectionString))
        {
            failures.Add($"{FabricSiloOptions.SectionName}:StorageConnectionString is required when Mode is AzureTable.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckPort(List<string> failures, string name, int port)
    {
        if (port is < 1 or > 65535)
        {
            failures.Add($"{FabricSiloOptions.SectionName}:{name} must be 1..65535 (was {port}).");
        }
    }
}

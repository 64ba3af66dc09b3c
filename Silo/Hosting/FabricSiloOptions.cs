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

    /// <summary>
    /// Address other silos and clients reach this silo on. Loopback when unset (embedded mode, or
    /// several cluster-mode silos on one machine); set it to the host's underlay address for a real cluster.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>
    /// Cluster mode: listen for silo and gateway traffic on every local address rather than only on
    /// <see cref="AdvertisedAddress"/> (behind NAT or in a container). Default: true when the advertised
    /// address is not loopback, false otherwise.
    /// </summary>
    public bool? ListenOnAnyHostAddress { get; set; }

    /// <summary>
    /// No longer read: the connection string lives in <c>Fabric:Storage:ConnectionString</c>, shared
    /// with the host agents' gateway lookup. Bound only so that an old setting is reported, not ignored.
    /// </summary>
    public string? StorageConnectionString { get; set; }

    /// <summary>The advertised address as an <see cref="IPAddress"/>: <see cref="AdvertisedAddress"/> or loopback.</summary>
    public IPAddress AdvertisedIPAddress => AdvertisedAddress is { } text ? IPAddress.Parse(text) : IPAddress.Loopback;

    /// <summary><see cref="ListenOnAnyHostAddress"/> with its default applied.</summary>
    public bool ListensOnAnyHostAddress => ListenOnAnyHostAddress ?? !IPAddress.IsLoopback(AdvertisedIPAddress);
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

        if (options.Mode == ClusterMode.AzureTable)
        {
            // Orleans' Azure Table providers use the cluster id as the membership partition key as it
            // stands, and the service id in every grain row's key: characters table keys forbid would
            // fail each call at run time instead of the start.
            CheckTableKeyPart(failures, nameof(options.ClusterId), options.ClusterId);
            CheckTableKeyPart(failures, nameof(options.ServiceId), options.ServiceId);
        }

        if (options.AdvertisedAddress is { } address && !IPAddress.TryParse(address, out _))
        {
            failures.Add($"{FabricSiloOptions.SectionName}:AdvertisedAddress '{address}' is not an IP address.");
        }

        if (!string.IsNullOrWhiteSpace(options.StorageConnectionString))
        {
            failures.Add($"{FabricSiloOptions.SectionName}:StorageConnectionString has moved: set {FabricStorageSettings.ConnectionStringKey} instead.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckTableKeyPart(List<string> failures, string name, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (value.Length > 256 || value.Any(c => c is '/' or '\\' or '#' or '?' || char.IsControl(c)))
        {
            failures.Add($"{FabricSiloOptions.SectionName}:{name} '{value}' cannot be used with Mode AzureTable: it goes into table keys, which forbid '/', '\\', '#', '?' and control characters (at most 256 characters here).");
        }
    }

    private static void CheckPort(List<string> failures, string name, int port)
    {
        if (port is < 1 or > 65535)
        {
            failures.Add($"{FabricSiloOptions.SectionName}:{name} must be 1..65535 (was {port}).");
        }
    }
}

using Microsoft.Extensions.Options;

namespace Fabric.Grains.Hosting;

/// <summary>When a host that stopped heartbeating is declared dead (configuration section <c>Fabric:HostLiveness</c>).</summary>
public sealed class HostLivenessOptions
{
    /// <summary>The configuration section, <c>Fabric:HostLiveness</c>.</summary>
    public const string SectionName = "Fabric:HostLiveness";

    /// <summary>
    /// A host with no heartbeat for this long is dead: its learned MACs are withdrawn and it leaves
    /// every flood list. It also sets how often every silo's sweep re-activates the host grains.
    /// Must be positive, and well above the agents' heartbeat interval and call timeout (1 s and 5 s
    /// by default). Defaults to 15 seconds.
    /// </summary>
    public TimeSpan DeadAfter { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How often a live host's grain checks for silence; positive and at most <see cref="DeadAfter"/>.
    /// Defaults to null, which means a quarter of <see cref="DeadAfter"/>.
    /// </summary>
    public TimeSpan? CheckInterval { get; set; }

    internal TimeSpan EffectiveCheckInterval => CheckInterval ?? DeadAfter / 4;
}

internal sealed class HostLivenessOptionsValidator : IValidateOptions<HostLivenessOptions>
{
    public ValidateOptionsResult Validate(string? name, HostLivenessOptions options)
    {
        if (options.DeadAfter <= TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail($"{nameof(HostLivenessOptions.DeadAfter)} must be positive.");
        }

        if (options.CheckInterval is { } interval && (interval <= TimeSpan.Zero || interval > options.DeadAfter))
        {
            return ValidateOptionsResult.Fail($"{nameof(HostLivenessOptions.CheckInterval)} must be positive and at most {nameof(HostLivenessOptions.DeadAfter)}.");
        }

        return ValidateOptionsResult.Success;
    }
}

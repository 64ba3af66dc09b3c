using Microsoft.Extensions.Options;

namespace Fabric.Grains.Hosting;

/// <summary>
/// Duplicate MAC detection (RFC 7432 §15.1: "N MAC moves within M seconds", defaults N = 5, M = 180).
/// Configuration section <c>Fabric:MacMobility</c>.
/// </summary>
/// <remarks>
/// Move history is kept in the MAC table grain's memory only: a new activation starts counting
/// afresh, which errs towards following a MAC rather than freezing it.
/// </remarks>
public sealed class MacMobilityOptions
{
    /// <summary>The configuration section, <c>Fabric:MacMobility</c>.</summary>
    public const string SectionName = "Fabric:MacMobility";

    /// <summary>
    /// A move that makes more than this many moves of one MAC within <see cref="Window"/> freezes
    /// the MAC where it is instead (so the 6th move within the window, by default). At least 1.
    /// Defaults to 5.
    /// </summary>
    public int MaxMoves { get; set; } = 5;

    /// <summary>The sliding window over which moves are counted; positive. Defaults to 180 seconds.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(180);

    /// <summary>
    /// How long a MAC learned behind an external VTEP (no agent, so no host liveness to withdraw it)
    /// stays in the MAC table after an agent last learned it; agents learn it again from its traffic
    /// every third of their <c>MacAgingTime</c>. Positive. Defaults to 300 seconds, the agents'
    /// default ageing time (IEEE 802.1Q's default ageing time).
    /// </summary>
    public TimeSpan ExternalAgingTime { get; set; } = TimeSpan.FromSeconds(300);
}

internal sealed class MacMobilityOptionsValidator : IValidateOptions<MacMobilityOptions>
{
    public ValidateOptionsResult Validate(string? name, MacMobilityOptions options)
        => options.MaxMoves < 1 || options.Window <= TimeSpan.Zero || options.ExternalAgingTime <= TimeSpan.Zero
            ? ValidateOptionsResult.Fail($"{nameof(MacMobilityOptions.MaxMoves)} must be at least 1, {nameof(MacMobilityOptions.Window)} and {nameof(MacMobilityOptions.ExternalAgingTime)} positive.")
            : ValidateOptionsResult.Success;
}

using Microsoft.Extensions.Options;

namespace Fabric.Grains.Hosting;

/// <summary>
/// Duplicate MAC detection (RFC 7432 §15.1: "N MAC moves within M seconds", defaults N = 5, M = 180).
/// Configuration section <c>Fabric:MacMobility</c>.
/// </summary>
public sealed class MacMobilityOptions
{
    public const string SectionName = "Fabric:MacMobility";

    /// <summary>More moves than this within <see cref="Window"/> freeze the MAC.</summary>
    public int MaxMoves { get; set; } = 5;

    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(180);
}

internal sealed class MacMobilityOptionsValidator : IValidateOptions<MacMobilityOptions>
{
    public ValidateOptionsResult Validate(string? name, MacMobilityOptions options)
        => options.MaxMoves < 1 || options.Window <= TimeSpan.Zero
            ? ValidateOptionsResult.Fail($"{nameof(MacMobilityOptions.MaxMoves)} must be at least 1 and {nameof(MacMobilityOptions.Window)} positive.")
            : ValidateOptionsResult.Success;
}

using Microsoft.Extensions.Options;

namespace Fabric.Grains.Hosting;

/// <summary>Observer subscriptions are hints that expire unless refreshed (configuration section <c>Fabric:Observers</c>).</summary>
public sealed class ObserverOptions
{
    /// <summary>The configuration section, <c>Fabric:Observers</c>.</summary>
    public const string SectionName = "Fabric:Observers";

    /// <summary>
    /// A segment or MAC table subscription not renewed (by calling Subscribe again) for this long is
    /// dropped. Positive, and well above the agents' renewal interval (20 s by default). Defaults to
    /// 2 minutes.
    /// </summary>
    public TimeSpan SubscriptionExpiry { get; set; } = TimeSpan.FromMinutes(2);
}

internal sealed class ObserverOptionsValidator : IValidateOptions<ObserverOptions>
{
    public ValidateOptionsResult Validate(string? name, ObserverOptions options)
        => options.SubscriptionExpiry <= TimeSpan.Zero
            ? ValidateOptionsResult.Fail($"{nameof(ObserverOptions.SubscriptionExpiry)} must be positive.")
            : ValidateOptionsResult.Success;
}

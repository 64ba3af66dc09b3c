using Microsoft.Extensions.Options;

namespace Fabric.Grains.Hosting;

/// <summary>Observer subscriptions are hints that expire unless refreshed (configuration section <c>Fabric:Observers</c>).</summary>
public sealed class ObserverOptions
{
    public const string SectionName = "Fabric:Observers";

    /// <summary>A subscription not refreshed (by calling Subscribe again) for this long is dropped.</summary>
    public TimeSpan SubscriptionExpiry { get; set; } = TimeSpan.FromMinutes(2);
}

internal sealed class ObserverOptionsValidator : IValidateOptions<ObserverOptions>
{
    public ValidateOptionsResult Validate(string? name, ObserverOptions options)
        => options.SubscriptionExpiry <= TimeSpan.Zero
            ? ValidateOptionsResult.Fail($"{nameof(ObserverOptions.SubscriptionExpiry)} must be positive.")
            : ValidateOptionsResult.Success;
}

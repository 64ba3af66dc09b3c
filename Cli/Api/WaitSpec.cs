using System.Globalization;
using System.Text.RegularExpressions;

namespace Fabric.Cli.Api;

/// <summary>
/// <c>--wait [--timeout 10s]</c> on a write: the call adds <c>?wait=applied&amp;timeout=10s</c>, and the
/// server answers when every live host reports it applied the change (OVN's <c>--wait=hv</c>), or
/// 504 naming the hosts that have not.
/// </summary>
/// <param name="Timeout">How long the server waits. Defaults to 10 s.</param>
internal sealed partial record WaitSpec(TimeSpan Timeout)
{
    /// <summary>The default bound, 10 s.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The query string to add: <c>wait=applied&amp;timeout=10s</c> (whole seconds as <c>Ns</c>, else <c>Nms</c>).</summary>
    public string Query => $"wait=applied&timeout={Format(Timeout)}";

    /// <summary>A duration as the API takes it: <c>10s</c>, or <c>1500ms</c> when not whole seconds.</summary>
    public static string Format(TimeSpan value)
        => value.Ticks % TimeSpan.TicksPerSecond == 0
            ? $"{(long)value.TotalSeconds}s"
            : $"{(long)Math.Ceiling(value.TotalMilliseconds)}ms";

    /// <summary>
    /// Reads a duration: <c>10s</c>, <c>500ms</c>, <c>2m</c>, or a plain number of seconds; more than
    /// zero and at most an hour.
    /// </summary>
    /// <returns>False (and an error to show) when <paramref name="text"/> is not one.</returns>
    public static bool TryParseDuration(string text, out TimeSpan value, out string error)
    {
        value = default;
        var match = DurationPattern().Match(text.Trim());
        if (!match.Success)
        {
            error = $"'{text}' is not a duration; use e.g. 10s, 500ms or 2m.";
            return false;
        }

        double number = double.Parse(match.Groups["n"].Value, CultureInfo.InvariantCulture);
        value = match.Groups["u"].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(number),
            "m" => TimeSpan.FromMinutes(number),
            "h" => TimeSpan.FromHours(number),
            _ => TimeSpan.FromSeconds(number),
        };
        if (value <= TimeSpan.Zero || value > TimeSpan.FromHours(1))
        {
            error = $"'{text}' is out of range; a timeout is more than 0 and at most 1h.";
            return false;
        }

        error = string.Empty;
        return true;
    }

    [GeneratedRegex(@"^(?<n>[0-9]+(\.[0-9]+)?)(?<u>ms|s|m|h)?$")]
    private static partial Regex DurationPattern();
}

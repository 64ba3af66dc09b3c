namespace Fabric.Grains;

/// <summary>Bounds of the host grain's waiting calls (<see cref="IHostGrain.WaitForGenerationAsync"/>, <see cref="IHostGrain.WaitForPortReportAsync"/>).</summary>
public static class HostWaits
{
    /// <summary>
    /// The longest one waiting call waits: 10 s, well within Orleans' response timeout (30 s by
    /// default), so a longer wait is a few calls rather than one that times out.
    /// </summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(10);
}

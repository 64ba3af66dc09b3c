namespace Fabric.Testing;

/// <summary>Percentiles of measured values, for the figures tests print.</summary>
public static class Percentiles
{
    /// <summary>The <paramref name="p"/>-th percentile (nearest rank) of <paramref name="values"/>, which must not be empty.</summary>
    public static double Of(IEnumerable<double> values, int p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, Math.Max(0, (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1))];
    }
}

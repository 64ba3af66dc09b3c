using Fabric.Addressing;

namespace Fabric.Grains.Tests.Infrastructure;

/// <summary>Fresh names and VNIs per test, so tests sharing one cluster (and one store) never collide.</summary>
public static class Names
{
    private static int s_vni = Random.Shared.Next(1_000, 8_000_000);
    private static int s_mac = Random.Shared.Next(1, 0xFFFF);

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 64)];

    public static Vni NextVni() => new((uint)Interlocked.Increment(ref s_vni));

    /// <summary>A locally administered unicast MAC (02:...), unique in this process.</summary>
    public static MacAddress NextMac() => new(0x0200_0000_0000UL | (uint)Interlocked.Increment(ref s_mac));
}

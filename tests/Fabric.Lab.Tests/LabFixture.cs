namespace Fabric.Lab.Tests;

/// <summary>
/// The default fabric: 3 hosts × 2 VMs, port groups "web" (VNI 5001, VMs vm1) and "db" (VNI 5002,
/// VMs vm2) on every host, one agent per host.
/// </summary>
public sealed class LabFixture() : LabFabric(DefaultShape)
{
    public const int Hosts = 3;
    public const long WebVni = 5001;
    public const long DbVni = 5002;

    public static LabShape DefaultShape { get; } = new()
    {
        Stem = "fl",
        Hosts = Hosts,
        PortGroups = [new("web", $$"""{"vni":{{WebVni}}}"""), new("db", $$"""{"vni":{{DbVni}}}""")],
        Agents = Enumerable.Range(1, Hosts).ToDictionary(h => h, _ => LabShape.WebAndDb),
        FloodLists = new Dictionary<long, int[]> { [WebVni] = [1, 2, 3], [DbVni] = [1, 2, 3] },
    };
}

[CollectionDefinition(Name)]
public sealed class LabCollection : ICollectionFixture<LabFixture>
{
    public const string Name = "namespace lab";
}

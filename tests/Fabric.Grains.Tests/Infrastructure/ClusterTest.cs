using System.Net;
using Fabric.Addressing;

namespace Fabric.Grains.Tests.Infrastructure;

/// <summary>Helpers shared by cluster tests: each test builds its own switch, port groups and hosts with fresh names.</summary>
public abstract class ClusterTest(ClusterFixture fixture)
{
    protected ClusterFixture Fixture { get; } = fixture;

    protected IGrainFactory Grains => Fixture.Client;

    protected ISwitchGrain Switch(string name) => Grains.GetGrain<ISwitchGrain>(name);

    protected IHostGrain Host(string id) => Grains.GetGrain<IHostGrain>(id);

    protected ISegmentGrain Segment(Vni vni) => Grains.GetGrain<ISegmentGrain>(vni.Value);

    protected IMacTableGrain MacTable(Vni vni) => Grains.GetGrain<IMacTableGrain>(vni.Value);

    protected IFabricDirectoryGrain Directory => Grains.GetGrain<IFabricDirectoryGrain>(IFabricDirectoryGrain.Key);

    protected async Task<string> NewSwitchAsync(int mtu = 1500)
    {
        string name = Names.Unique("sw");
        await Switch(name).ConfigureAsync(new SwitchSettings(mtu));
        return name;
    }

    /// <summary>A switch with one port group on a fresh VNI.</summary>
    protected async Task<(string Switch, string PortGroup, Vni Vni)> NewPortGroupAsync()
    {
        string sw = await NewSwitchAsync();
        var vni = Names.NextVni();
        await Switch(sw).SetPortGroupAsync("web", new PortGroupSpec(vni));
        return (sw, "web", vni);
    }

    protected static IPAddress Vtep(int host) => IPAddress.Parse($"10.0.0.{host}");

    protected Task<HostInfo> RegisterAsync(string hostId, string sw, IPAddress vtep, params (string Port, string PortGroup)[] ports)
        => Host(hostId).RegisterAsync(new HostRegistration(vtep, "test-1.0", sw, [.. ports.Select(p => new HostPort(p.Port, p.PortGroup))]));

    protected static MacLearnRequest Learn(MacAddress mac, string hostId, int vtep, string port = "eth0")
        => new(mac, hostId, Vtep(vtep), port);
}

using Fabric.HostAgent.Configuration;
using Fabric.HostAgent.LocalPorts;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Tests.LocalPorts;

[Trait("Category", "Unit")]
public sealed class PortRegistryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fabric-ports-").FullName;

    private string File => Path.Combine(_dir, "ports.json");

    private PortRegistry Registry(int maxPorts = 8) => new(Options.Create(new AgentOptions
    {
        Ports = [new() { Interface = "vm1", PortGroup = "web" }],
        MaxPorts = maxPorts,
        RuntimePortsFile = File,
    }), TimeProvider.System);

    private static LocalPort Port(int slot, string name, string? owner = null) => new()
    {
        Slot = slot,
        Interface = name,
        PortGroup = "web",
        Mac = "02:00:00:00:00:0" + slot,
        Ipv4 = ["10.20.0." + (10 + slot)],
        Owner = owner,
        AttachedAt = DateTimeOffset.UnixEpoch,
    };

    [Fact]
    public void Runtime_ports_are_saved_before_they_count_and_a_new_registry_restores_them_in_their_slots()
    {
        var registry = Registry();
        int changes = 0;
        registry.Changed += () => changes++;
        int slot = registry.ReserveSlot()!.Value;
        Assert.Equal(1, slot); // slot 0 is the configured port
        registry.Add(Port(slot, "c1", "ctr/eth0"));
        Assert.Equal(1, changes);

        var restored = Registry();
        Assert.Equal(["vm1", "c1"], restored.Ports.Select(p => p.Interface));
        var c1 = restored.Find("c1")!;
        Assert.Equal((1, "ctr/eth0", false, "10.20.0.11"), (c1.Slot, c1.Owner, c1.Configured, c1.Ipv4.Single()));
        Assert.True(restored.Find("vm1")!.Configured);
        Assert.Equal("c1", restored.NameOf(1));

        Assert.NotNull(restored.Remove("c1"));
        Assert.Null(restored.Remove("c1"));
        Assert.Equal(["vm1"], Registry().Ports.Select(p => p.Interface));
    }

    [Fact]
    public void Slots_are_handed_out_in_turn_so_a_freed_slot_is_reused_last_and_a_full_registry_says_so()
    {
        var registry = Registry(maxPorts: 4);
        Assert.Equal([1, 2, 3], new[] { registry.ReserveSlot(), registry.ReserveSlot(), registry.ReserveSlot() });
        Assert.Null(registry.ReserveSlot());
        registry.ReleaseSlot(2);
        Assert.Equal(2, registry.ReserveSlot());
    }

    [Theory]
    [InlineData("{")]
    [InlineData("{\"version\":2,\"ports\":[]}")]
    [InlineData("{\"version\":1,\"ports\":[{\"slot\":0,\"interface\":\"c1\",\"portGroup\":\"web\"}]}")]
    [InlineData("{\"version\":1,\"ports\":[{\"slot\":99,\"interface\":\"c1\",\"portGroup\":\"web\"}]}")]
    [InlineData("{\"version\":1,\"ports\":[{\"slot\":1,\"interface\":\"vm1\",\"portGroup\":\"web\"}]}")]
    [InlineData("{\"version\":1,\"ports\":[{\"slot\":1,\"interface\":\"c1\",\"portGroup\":\"web\",\"mac\":\"ff:ff:ff:ff:ff:ff\"}]}")]
    public void A_damaged_ports_file_stops_the_agent_naming_the_file_instead_of_being_overwritten(string content)
    {
        System.IO.File.WriteAllText(File, content);
        var error = Assert.Throws<InvalidDataException>(() => Registry());
        Assert.Contains(File, error.Message, StringComparison.Ordinal);
        Assert.Equal(content, System.IO.File.ReadAllText(File));
    }

    [Fact]
    public async Task An_attach_waits_for_the_registration_of_its_version_and_gives_up_after_the_bound()
    {
        var registry = Registry();
        long version = registry.Current.Version + 1;
        Assert.False(await registry.WaitRegisteredAsync(version, TimeSpan.FromMilliseconds(50)));
        var waiting = registry.WaitRegisteredAsync(version, TimeSpan.FromSeconds(10));
        registry.MarkRegistered(version);
        Assert.True(await waiting);
        Assert.True(await registry.WaitRegisteredAsync(version - 1, TimeSpan.Zero));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

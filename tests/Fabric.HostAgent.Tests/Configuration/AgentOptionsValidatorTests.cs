using Fabric.HostAgent.Configuration;
using Microsoft.Extensions.Options;

namespace Fabric.HostAgent.Tests.Configuration;

/// <summary>The agent refuses to start on settings it cannot honour, with a message naming the setting.</summary>
[Trait("Category", "Unit")]
public sealed class AgentOptionsValidatorTests
{
    private static AgentOptions Valid() => new()
    {
        HostId = "h1",
        VtepAddress = "10.0.0.1",
        Switch = "dvs",
        Ports = [new PortBindingOptions { Interface = "vm1", PortGroup = "web" }],
    };

    private static IEnumerable<string> Failures(AgentOptions options)
        => new AgentOptionsValidator().Validate(Options.DefaultName, options).Failures ?? [];

    [Fact]
    public void A_complete_configuration_is_accepted_and_receive_threads_default_to_real_time_priority_10()
    {
        var options = Valid();
        Assert.Empty(Failures(options));
        Assert.Equal(10, options.ReceiveRealtimePriority);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(99)]
    public void Real_time_priority_0_and_1_to_99_are_accepted(int priority)
    {
        var options = Valid();
        options.ReceiveRealtimePriority = priority;
        Assert.Empty(Failures(options));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100)]
    public void A_real_time_priority_outside_sched_fifos_range_is_refused_by_name(int priority)
    {
        var options = Valid();
        options.ReceiveRealtimePriority = priority;
        var failure = Assert.Single(Failures(options));
        Assert.StartsWith("Fabric:Agent:ReceiveRealtimePriority must be 0", failure, StringComparison.Ordinal);
        Assert.Contains($"was {priority}", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_port_backend_is_refused_by_name()
    {
        var options = Valid();
        options.PortBackend = (PortBackend)7;
        Assert.Contains("Fabric:Agent:PortBackend must be AfPacket or Pcap.", Failures(options));
    }

    [Theory]
    [InlineData("65472-65535", 65472, 64)]
    [InlineData("50000-51023", 50000, 1024)]
    [InlineData("4790", 4790, 1)]
    public void Vxlan_source_port_ranges_of_up_to_1024_ports_are_accepted(string text, int first, int count)
    {
        var options = Valid();
        options.VxlanSourcePorts = text;
        Assert.Empty(Failures(options));
        Assert.Equal((first, count), (options.SourcePortRange.First, options.SourcePortRange.Count));
    }

    [Theory]
    [InlineData("")]
    [InlineData("65535-65472")] // reversed
    [InlineData("0-10")]
    [InlineData("65000-70000")]
    [InlineData("49152-65535")] // 16,384 ports: a socket each is too many
    [InlineData("abc")]
    [InlineData("-5")]
    public void A_bad_or_too_wide_vxlan_source_port_range_is_refused_by_name(string text)
    {
        var options = Valid();
        options.VxlanSourcePorts = text;
        var failure = Assert.Single(Failures(options));
        Assert.StartsWith($"Fabric:Agent:VxlanSourcePorts '{text}' must be 'first-last'", failure, StringComparison.Ordinal);
    }
}

using System.Net;
using Fabric.Addressing;

namespace Fabric.Providers.Tests.Persistence;

[GenerateSerializer, Alias("Fabric.Providers.Tests.TestState")]
public sealed class TestState
{
    [Id(0)] public string Text { get; set; } = "";
    [Id(1)] public int Counter { get; set; }
    [Id(2)] public byte[] Blob { get; set; } = [];
    [Id(3)] public Dictionary<MacAddress, IPAddress> Locations { get; set; } = [];
}

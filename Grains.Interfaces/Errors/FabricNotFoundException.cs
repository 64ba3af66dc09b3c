namespace Fabric.Grains;

/// <summary>A named thing (switch, port group, host, MAC) does not exist. Maps to HTTP 404.</summary>
[GenerateSerializer, Alias("fabric.not-found")]
public sealed class FabricNotFoundException : Exception
{
    public FabricNotFoundException(string kind, string name)
        : base($"{kind} '{name}' does not exist.")
    {
        Kind = kind;
        Name = name;
    }

    /// <summary><c>switch</c>, <c>port group</c>, <c>host</c> or <c>mac</c>.</summary>
    [Id(0)]
    public string Kind { get; private set; }

    [Id(1)]
    public string Name { get; private set; }
}

namespace Fabric.Grains;

/// <summary>
/// Input that a grain refused. <see cref="Field"/> names the offending field (for example
/// <c>vni</c>, <c>vlan.trunkRanges</c>, <c>mac</c>) so an HTTP API can map it to a 400 with a pointer.
/// The grain's state is unchanged when this is thrown.
/// </summary>
[GenerateSerializer, Alias("fabric.validation-error")]
public sealed class FabricValidationException : Exception
{
    public FabricValidationException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    [Id(0)]
    public string Field { get; private set; }
}

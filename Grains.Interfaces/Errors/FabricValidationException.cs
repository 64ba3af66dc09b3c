namespace Fabric.Grains;

/// <summary>
/// Input that a grain (or the management API) refused: a value out of range or malformed (VNI,
/// VLAN id, MAC, address, name), or a change the current state forbids (a VNI already claimed, a
/// port group in use). The grain's state is unchanged when this is thrown. The management API maps
/// it to HTTP 400 with <see cref="Field"/> in the problem's <c>field</c> member.
/// </summary>
/// <remarks>Serializable: it crosses from a grain to its caller with <see cref="Field"/> and the message intact.</remarks>
[GenerateSerializer, Alias("fabric.validation-error")]
public sealed class FabricValidationException : Exception
{
    /// <summary>Creates the error.</summary>
    /// <param name="field">The offending field; see <see cref="Field"/>.</param>
    /// <param name="message">What is wrong and what is allowed, for a person (it names the rule's source where there is one).</param>
    public FabricValidationException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    /// <summary>
    /// The offending field, as a camelCase JSON path of the request: for example <c>vni</c>,
    /// <c>mtu</c>, <c>vlan.trunkRanges</c>, <c>security.macLimit</c>, <c>mac</c>, <c>vtep</c>,
    /// <c>hostId</c>, <c>ports[2].name</c>.
    /// </summary>
    [Id(0)]
    public string Field { get; private set; }
}

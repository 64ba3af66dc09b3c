namespace Fabric.Grains;

/// <summary>
/// A named thing that a call needs does not exist: a switch, a port group, a registered host, a
/// MAC in a MAC table. Nothing was changed. The management API maps it to HTTP 404.
/// </summary>
/// <remarks>Serializable: it crosses from a grain to its caller with <see cref="Kind"/> and <see cref="Name"/> intact.</remarks>
[GenerateSerializer, Alias("fabric.not-found")]
public sealed class FabricNotFoundException : Exception
{
    /// <summary>Creates the error; the message is <c>{kind} '{name}' does not exist.</c></summary>
    /// <param name="kind">What was looked for; see <see cref="Kind"/>.</param>
    /// <param name="name">The name or key that was not found.</param>
    public FabricNotFoundException(string kind, string name)
        : base($"{kind} '{name}' does not exist.")
    {
        Kind = kind;
        Name = name;
    }

    /// <summary>
    /// What was looked for. The grains use <c>switch</c>, <c>port group</c>, <c>host</c> and
    /// <c>mac</c>; the management API also <c>segment</c> and <c>MAC entry</c>.
    /// </summary>
    [Id(0)]
    public string Kind { get; private set; }

    /// <summary>The name or key that was not found, as the caller gave it (a MAC in its text form).</summary>
    [Id(1)]
    public string Name { get; private set; }
}

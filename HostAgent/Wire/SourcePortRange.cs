using System.Globalization;
using System.Runtime.CompilerServices;

namespace Fabric.HostAgent.Wire;

/// <summary>
/// The outer UDP source ports a VTEP sends from, <see cref="First"/> .. <see cref="Last"/>: a flow's
/// port is <c>First + hash % Count</c> of its <see cref="FlowHash"/>, so every datagram of one inner
/// flow leaves from one port (RFC 7348 §5, "Source Port": entropy for the underlay's ECMP and the
/// receiver's RSS, order within a flow). The default is RFC 7348's whole recommended range,
/// 49152..65535 (16,384 ports). The agent uses a smaller range of its own
/// (<see cref="Configuration.AgentOptions.VxlanSourcePorts"/>, 64 ports by default) because it binds a
/// UDP socket per port to send super-frames with UDP GSO: a UDP socket cannot choose its source port
/// per datagram.
/// </summary>
internal readonly record struct SourcePortRange
{
    /// <summary>RFC 7348 §5's range, 49152..65535.</summary>
    public static SourcePortRange Rfc7348 { get; } = new(FlowHash.MinSourcePort, FlowHash.MaxSourcePort);

    /// <summary>A range of <c>last - first + 1</c> ports; both in 1..65535, <paramref name="first"/> ≤ <paramref name="last"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is empty or outside 1..65535.</exception>
    public SourcePortRange(int first, int last)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(first, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(last, 65535);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, last);
        First = (ushort)first;
        Count = last - first + 1;
    }

    /// <summary>The lowest port.</summary>
    public ushort First { get; }

    /// <summary>How many ports; 0 only for <c>default</c>, which <see cref="OrDefault"/> turns into <see cref="Rfc7348"/>.</summary>
    public int Count { get; }

    /// <summary>The highest port.</summary>
    public ushort Last => (ushort)(First + Count - 1);

    /// <summary>This range, or <see cref="Rfc7348"/> for <c>default</c>.</summary>
    public SourcePortRange OrDefault() => Count == 0 ? Rfc7348 : this;

    /// <summary>Which port of the range (0 .. Count-1) a flow of <paramref name="flowHash"/> takes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Bucket(ulong flowHash) => (int)(flowHash % (uint)Count);

    /// <summary>The source port of a flow of <paramref name="flowHash"/>. For <see cref="Rfc7348"/> it is <see cref="FlowHash.SourcePort"/>'s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort Port(ulong flowHash) => (ushort)(First + Bucket(flowHash));

    /// <summary>Parses <c>"first-last"</c> (e.g. <c>"65472-65535"</c>) or a single port.</summary>
    public static bool TryParse(string? text, out SourcePortRange range)
    {
        range = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string[] parts = text.Split('-', 2, StringSplitOptions.TrimEntries);
        if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int first))
        {
            return false;
        }

        int last = first;
        if (parts.Length == 2 && !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out last))
        {
            return false;
        }

        if (first < 1 || last > 65535 || first > last)
        {
            return false;
        }

        range = new SourcePortRange(first, last);
        return true;
    }

    public override string ToString() => Count == 0 ? "default" : $"{First}-{Last}";
}

using System.Globalization;
using Fabric.Cli.Api;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Fabric.Cli.Output;

/// <summary>
/// The tables fabricctl prints: borderless, upper-case headers, one row per line (as <c>kubectl</c>
/// and <c>bridge fdb show</c> print), so <c>grep</c> and <c>awk</c> work on them. Text is never read
/// as Spectre markup: a name with brackets prints as it is.
/// </summary>
internal static class Tables
{
    /// <summary>An empty cell.</summary>
    public const string None = "-";

    /// <summary>A table with these column headers.</summary>
    public static Table Create(params string[] headers)
    {
        var table = new Table().Border(TableBorder.None).HideRowSeparators();
        foreach (string header in headers)
        {
            table.AddColumn(new TableColumn(new Text(header, new Style(decoration: Decoration.Bold))).PadLeft(0).PadRight(2).NoWrap());
        }

        return table;
    }

    /// <summary>Adds a row of plain text cells (null prints as <see cref="None"/>).</summary>
    public static void Row(this Table table, params string?[] cells)
        => table.AddRow(cells.Select(c => (IRenderable)new Text(string.IsNullOrEmpty(c) ? None : c)).ToArray());

    /// <summary>Key/value lines for one object (<c>show</c>): <c>Name:  value</c>.</summary>
    public static Grid Details(params (string Key, string? Value)[] rows)
    {
        var grid = new Grid();
        grid.AddColumn(new GridColumn().NoWrap().PadRight(2));
        grid.AddColumn(new GridColumn());
        foreach (var (key, value) in rows)
        {
            grid.AddRow(new Text(key + ":", new Style(decoration: Decoration.Bold)), new Text(string.IsNullOrEmpty(value) ? None : value));
        }

        return grid;
    }

    /// <summary>A section title before a table in a <c>show</c>.</summary>
    public static void Section(IAnsiConsole console, string title)
    {
        console.WriteLine();
        console.Write(new Text(title, new Style(decoration: Decoration.Bold)));
        console.WriteLine();
    }

    /// <summary>A line of plain text.</summary>
    public static void Line(IAnsiConsole console, string text)
    {
        console.Write(new Text(text));
        console.WriteLine();
    }

    /// <summary>"yes" or "no".</summary>
    public static string YesNo(bool value) => value ? "yes" : "no";

    /// <summary>An integer in the invariant culture.</summary>
    public static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>How long ago <paramref name="then"/> was: <c>4s</c>, <c>3m</c>, <c>2h</c>, <c>5d</c> (as <c>kubectl</c>'s AGE).</summary>
    public static string Age(DateTimeOffset then, DateTimeOffset now)
    {
        var age = now - then;
        if (age < TimeSpan.Zero)
        {
            age = TimeSpan.Zero;
        }

        return age.TotalSeconds < 120 ? $"{(long)age.TotalSeconds}s"
            : age.TotalMinutes < 120 ? $"{(long)age.TotalMinutes}m"
            : age.TotalHours < 48 ? $"{(long)age.TotalHours}h"
            : $"{(long)age.TotalDays}d";
    }

    /// <summary>When a point in the future comes: <c>in 59m</c>, or <c>ended</c>.</summary>
    public static string Until(DateTimeOffset then, DateTimeOffset now) => then <= now ? "ended" : "in " + Age(now, then);

    /// <summary>A port group's VLAN policy in one cell: <c>access 100</c>, <c>untagged</c>, <c>trunk 100-199,300 native 100</c>.</summary>
    public static string Vlan(VlanPolicyView? vlan)
    {
        if (vlan is null)
        {
            return "untagged";
        }

        if (string.Equals(vlan.Mode, "trunk", StringComparison.OrdinalIgnoreCase))
        {
            string ranges = vlan.TrunkRanges is { Count: > 0 } r ? string.Join(',', r) : "none";
            return vlan.NativeVlan is { } native ? $"trunk {ranges} native {native}" : $"trunk {ranges}";
        }

        return vlan.AccessVlan is { } access ? $"access {access}" : "untagged";
    }

    /// <summary>A port group's flags: <c>routed,dhcp</c>.</summary>
    public static string Flags(PortGroupView group)
    {
        var flags = new List<string>();
        if (group.Routed)
        {
            flags.Add("routed");
        }

        if (group.Ipv4?.Dhcp == true)
        {
            flags.Add("dhcp");
        }

        if (group.Security is { AllowPromiscuous: true })
        {
            flags.Add("promiscuous");
        }

        if (group.Security is { AllowForgedTransmits: true })
        {
            flags.Add("forged-transmits");
        }

        return string.Join(',', flags);
    }

    /// <summary>A MAC entry's flags as <c>bridge fdb show</c> would list them: <c>static</c>, <c>frozen</c>, <c>moved×N</c>.</summary>
    public static string Flags(MacEntryView entry)
    {
        var flags = new List<string>();
        if (entry.Static)
        {
            flags.Add("static");
        }

        if (entry.Frozen)
        {
            flags.Add("frozen");
        }

        if (entry.Sequence > 1)
        {
            flags.Add(entry.Sequence == 2 ? "moved" : $"moved×{entry.Sequence - 1}");
        }

        if (entry.HostId.StartsWith("external-", StringComparison.Ordinal))
        {
            flags.Add("external");
        }

        return string.Join(',', flags);
    }
}

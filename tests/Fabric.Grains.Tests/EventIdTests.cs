using Fabric.Grains.Diagnostics;
using Fabric.Testing;

namespace Fabric.Grains.Tests;

/// <summary>
/// Operators alert on event ids, so every id Fabric.Grains logs with is unique, inside the assembly's range
/// 1000–1999, and listed in <see cref="GrainsEventIds"/>, each listed id logged by exactly one message.
/// </summary>
[Trait("Category", "Unit")]
public sealed class EventIdTests
{
    [Fact]
    public void Every_logged_event_id_is_unique_and_inside_the_assembly_range()
        => Assert.Empty(EventIdRegistry.RangeAndUniquenessProblems(typeof(GrainsEventIds).Assembly, 1000, 1999));

    [Fact]
    public void Every_logged_event_id_is_listed_in_the_registry_and_every_listed_id_is_logged_once()
        => Assert.Empty(EventIdRegistry.RegistryProblems(typeof(GrainsEventIds).Assembly, typeof(GrainsEventIds)));
}

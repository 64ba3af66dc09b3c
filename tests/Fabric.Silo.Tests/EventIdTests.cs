using Fabric.Silo.Diagnostics;
using Fabric.Testing;

namespace Fabric.Silo.Tests;

/// <summary>
/// Operators alert on event ids, so every id Fabric.Silo logs with is unique, inside the assembly's range
/// 2000–2999, and listed in <see cref="SiloEventIds"/>, each listed id logged by exactly one message.
/// </summary>
[Trait("Category", "Unit")]
public sealed class EventIdTests
{
    [Fact]
    public void Every_logged_event_id_is_unique_and_inside_the_assembly_range()
        => Assert.Empty(EventIdRegistry.RangeAndUniquenessProblems(typeof(SiloEventIds).Assembly, 2000, 2999));

    [Fact]
    public void Every_logged_event_id_is_listed_in_the_registry_and_every_listed_id_is_logged_once()
        => Assert.Empty(EventIdRegistry.RegistryProblems(typeof(SiloEventIds).Assembly, typeof(SiloEventIds)));
}

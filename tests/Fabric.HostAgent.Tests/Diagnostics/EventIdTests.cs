using Fabric.HostAgent.Diagnostics;
using Fabric.Testing;

namespace Fabric.HostAgent.Tests.Diagnostics;

/// <summary>
/// Operators alert on event ids, so every id Fabric.HostAgent logs with is unique, inside the assembly's range
/// 3000–3999, and listed in <see cref="AgentEventIds"/>, each listed id logged by exactly one message.
/// </summary>
[Trait("Category", "Unit")]
public sealed class EventIdTests
{
    [Fact]
    public void Every_logged_event_id_is_unique_and_inside_the_assembly_range()
        => Assert.Empty(EventIdRegistry.RangeAndUniquenessProblems(typeof(AgentEventIds).Assembly, 3000, 3999));

    [Fact]
    public void Every_logged_event_id_is_listed_in_the_registry_and_every_listed_id_is_logged_once()
        => Assert.Empty(EventIdRegistry.RegistryProblems(typeof(AgentEventIds).Assembly, typeof(AgentEventIds)));
}

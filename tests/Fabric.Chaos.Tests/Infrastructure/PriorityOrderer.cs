using Xunit.Abstractions;
using Xunit.Sdk;

namespace Fabric.Chaos.Tests;

/// <summary>Runs a class's cases in the order of their <see cref="OrderAttribute"/> (destructive ones last, each restoring state).</summary>
public sealed class PriorityOrderer : ITestCaseOrderer
{
    public const string Name = "Fabric.Chaos.Tests.PriorityOrderer";
    public const string Assembly = "Fabric.Chaos.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase
        => testCases.OrderBy(c => c.TestMethod.Method.GetCustomAttributes(typeof(OrderAttribute).AssemblyQualifiedName).FirstOrDefault()?.GetNamedArgument<int>(nameof(OrderAttribute.Value)) ?? int.MaxValue)
            .ThenBy(c => c.TestMethod.Method.Name, StringComparer.Ordinal);
}

[AttributeUsage(AttributeTargets.Method)]
public sealed class OrderAttribute(int value) : Attribute
{
    public int Value { get; } = value;
}

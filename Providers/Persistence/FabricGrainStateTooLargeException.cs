namespace Fabric.Providers.AzureTables;

/// <summary>A grain's serialized state does not fit in one table entity. Nothing was written.</summary>
public sealed class FabricGrainStateTooLargeException(string grainId, string stateName, string providerName, long size, long limit)
    : Exception($"Grain state '{stateName}' of grain '{grainId}' (storage provider '{providerName}') serializes to {size:N0} bytes; " +
                $"a table entity holds at most {limit:N0} bytes of state. Nothing was written: make the state smaller or split it across grains.")
{
    public string GrainId { get; } = grainId;
    public string StateName { get; } = stateName;
    public long Size { get; } = size;
    public long Limit { get; } = limit;
}

namespace Fabric.Grains.Hosting;

/// <summary>How every Fabric grain writes its state (docs/architecture.md, "Grains").</summary>
internal static class GrainStorage
{
    /// <summary>
    /// Writes <paramref name="state"/>. On failure memory is ahead of storage: <paramref name="grain"/>'s
    /// activation is dropped (deactivated when idle), so the next call reloads what was stored, and
    /// the storage provider's exception reaches the caller.
    /// </summary>
    public static async Task WriteOrDeactivateAsync<T>(this IPersistentState<T> state, IGrainBase grain)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            grain.DeactivateOnIdle();
            throw;
        }
    }
}

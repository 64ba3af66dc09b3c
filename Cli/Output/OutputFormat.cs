namespace Fabric.Cli.Output;

/// <summary><c>-o table|json</c>.</summary>
internal enum OutputFormat
{
    /// <summary>Tables for a person (the default).</summary>
    Table,

    /// <summary>The API's JSON.</summary>
    Json,
}

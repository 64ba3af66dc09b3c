namespace Fabric.Packaging.Tests.Infrastructure;

/// <summary>
/// Reads an environment file as systemd's <c>EnvironmentFile=</c> does for the simple files Fabric
/// ships (systemd.exec(5)): one <c>KEY=VALUE</c> a line, blank lines and lines starting with
/// <c>#</c> or <c>;</c> ignored, whitespace around the key and value dropped, one pair of
/// surrounding quotes removed. Unlike a shell, a <c>;</c> inside a value is part of it.
/// </summary>
public static class EnvironmentFile
{
    /// <summary>The variables <paramref name="path"/> sets, in order (a later line wins).</summary>
    public static Dictionary<string, string> Read(string path)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string raw in File.ReadAllLines(path))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new FormatException($"{path}: '{raw}' is not KEY=VALUE");
            }

            string value = line[(equals + 1)..].Trim();
            if (value.Length >= 2 && value[0] is '"' or '\'' && value[^1] == value[0])
            {
                value = value[1..^1];
            }

            variables[line[..equals].Trim()] = value;
        }

        return variables;
    }
}

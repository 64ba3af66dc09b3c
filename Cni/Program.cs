using System.Text.Json;
using System.Text.Json.Nodes;
using Fabric.Cni;

// fabric: the CNI plugin of the Fabric distributed switch (CNI spec 1.1.0; also 1.0.0 and 0.4.0).
// The runtime sets CNI_COMMAND and the other CNI_* variables and writes the network config on stdin;
// the result (ADD, CHECK's nothing, VERSION) or an error goes to stdout. Errors are CNI errors
// (code, msg, details) with a non-zero exit, never a stack trace.
string version = "1.1.0";
try
{
    var env = CniEnvironment.FromProcess();
    string stdin = Console.IsInputRedirected ? await Console.In.ReadToEndAsync() : string.Empty;
    if (env.Command == "VERSION")
    {
        version = NetworkConfig.VersionOf(stdin.Length == 0 ? null : SafeParse(stdin));
        Write(Results.Version(version));
        return 0;
    }

    version = NetworkConfig.VersionOf(SafeParse(stdin));
    var config = NetworkConfig.Parse(stdin, env.Args);
    version = config.CniVersion;
    switch (env.Command)
    {
        case "ADD":
            Write(await Plugin.AddAsync(config, env));
            break;
        case "DEL":
            await Plugin.DeleteAsync(config, env);
            break;
        case "CHECK":
            await Plugin.CheckAsync(config, env);
            break;
        case "GC" when config.HasGcAndStatus:
            await Plugin.GarbageCollectAsync(config);
            break;
        case "STATUS" when config.HasGcAndStatus:
            await Plugin.StatusAsync(config);
            break;
        case "GC" or "STATUS":
            throw new CniError(CniError.IncompatibleVersion, $"{env.Command} needs cniVersion 1.1.0 (the config has {config.CniVersion})");
        default:
            throw new CniError(CniError.InvalidEnvironment, $"CNI_COMMAND '{env.Command}' is not one of ADD, DEL, CHECK, GC, STATUS, VERSION");
    }

    return 0;
}
catch (CniError error)
{
    Write(Results.Error(version, error));
    return 1;
}
catch (Exception ex)
{
    // Not foreseen: still a CNI error, with the message only.
    Write(Results.Error(version, new CniError(CniError.IoFailure, $"fabric: {ex.GetType().Name}", ex.Message)));
    return 1;
}

static JsonObject? SafeParse(string text)
{
    try
    {
        return JsonNode.Parse(text) as JsonObject;
    }
    catch (JsonException)
    {
        return null;
    }
}

static void Write(JsonObject result) => Console.Out.Write(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

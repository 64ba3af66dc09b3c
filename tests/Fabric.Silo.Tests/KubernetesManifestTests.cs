namespace Fabric.Silo.Tests;

/// <summary>
/// Issue 11, item 5: deploy/kubernetes stays valid. No API server is reachable here, so instead of
/// <c>kubectl apply --dry-run=client</c> (which needs one for discovery) every manifest is checked
/// against the Kubernetes OpenAPI schemas (npm kubernetes-models) and for its cross-references by
/// deploy/kubernetes/check/check.mjs.
/// </summary>
[Trait("Category", "Cni")]
public sealed class KubernetesManifestTests
{
    private static string Check => Repository.Path("deploy", "kubernetes", "check", "check.mjs");

    [Fact]
    public async Task The_shipped_manifests_match_the_kubernetes_schemas_and_refer_to_each_other()
    {
        var result = await Shell.RunAsync("node", [Check, Repository.Path("deploy", "kubernetes")], TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("ok: ", result.Output, StringComparison.Ordinal);
        foreach (string kind in new[] { "StatefulSet/fabric-silo", "DaemonSet/fabric-agent", "Namespace/fabric-system", "ServiceAccount/fabric-agent", "ConfigMap/fabric-cni" })
        {
            Assert.Contains(kind, result.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("silo.yaml", "replicas: 3", "replicas: three", "spec/replicas must be integer")]
    [InlineData("agent.yaml", "name: fabric-cni\n", "name: fabric-cnix\n", "ConfigMap fabric-cnix, not defined")]
    [InlineData("agent.yaml", "serviceAccountName: fabric-agent", "serviceAccountName: fabric-agnet", "serviceAccountName fabric-agnet is not defined")]
    [InlineData("config.yaml", "\"type\": \"fabric\"", "\"type\": \"bridge\"", "the first plugin must be fabric")]
    public async Task A_broken_manifest_is_caught_naming_what_is_wrong(string file, string from, string to, string expected)
    {
        string dir = Directory.CreateTempSubdirectory("fabric-k8s-").FullName;
        try
        {
            foreach (string manifest in Directory.GetFiles(Repository.Path("deploy", "kubernetes"), "*.yaml"))
            {
                File.Copy(manifest, Path.Combine(dir, Path.GetFileName(manifest)));
            }

            string path = Path.Combine(dir, file);
            string text = await File.ReadAllTextAsync(path);
            Assert.Contains(from, text, StringComparison.Ordinal);
            await File.WriteAllTextAsync(path, text.Replace(from, to, StringComparison.Ordinal));

            var result = await Shell.RunAsync("node", [Check, dir], TimeSpan.FromSeconds(60));
            Assert.Equal(1, result.ExitCode);
            Assert.Contains(expected, result.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

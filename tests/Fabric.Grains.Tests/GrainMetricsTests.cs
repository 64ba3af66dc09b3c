using System.Diagnostics.Metrics;
using Fabric.Addressing;
using Fabric.Grains.Hosting;
using Fabric.Grains.Tests.Infrastructure;

namespace Fabric.Grains.Tests;

/// <summary>
/// The grains' meter on a three-silo cluster, read as an exporter reads it (a <see cref="MeterListener"/>
/// over every silo's <c>Fabric.Grains</c> meter): each MAC table is reported by exactly one silo, so
/// the silos' series add up to the fabric, also after an activation ends and another starts.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", "Ops")]
public sealed class GrainMetricsTests(ClusterFixture fixture) : ClusterTest(fixture)
{
    [Fact]
    public async Task Every_mac_table_is_reported_by_exactly_one_silo_with_its_size_moves_and_frozen_macs()
    {
        var vnis = Enumerable.Range(0, 12).Select(_ => Names.NextVni()).ToArray();
        for (int i = 0; i < vnis.Length; i++)
        {
            // VNI i holds i + 1 MACs.
            await MacTable(vnis[i]).LearnAsync([.. Enumerable.Range(0, i + 1).Select(_ => Learn(Names.NextMac(), "host-a", 1))]);
        }

        // A MAC that keeps moving in the first VNI: MaxMoves (5) moves, then frozen on the sixth.
        var restless = Names.NextMac();
        for (int move = 0; move <= 6; move++)
        {
            await MacTable(vnis[0]).LearnAsync([Learn(restless, move % 2 == 0 ? "host-a" : "host-b", move % 2 == 0 ? 1 : 2)]);
        }

        var entries = Read("fabric.mac_table.entries", vnis);
        var management = Grains.GetGrain<IManagementGrain>(0);
        var silos = new HashSet<SiloAddress>();
        foreach (var vni in vnis)
        {
            silos.Add(await management.GetActivationAddress(MacTable(vni)) ?? throw new InvalidOperationException($"VNI {vni.Value} is not active"));
        }

        for (int i = 0; i < vnis.Length; i++)
        {
            var reports = entries.Where(m => m.Vni == vnis[i].Value.ToString()).ToList();
            Assert.True(reports.Count == 1, $"VNI {vnis[i].Value} (held by one of {silos.Count} silos) is reported {reports.Count} times");
            Assert.Equal(i == 0 ? 2 : i + 1, reports[0].Value);
        }

        Assert.Equal(5, Assert.Single(Read("fabric.mac_table.moves", [vnis[0]])).Value);
        Assert.Equal(1, Assert.Single(Read("fabric.mac_table.frozen_macs", [vnis[0]])).Value);

        // An activation that ends (a reset ends it) stops being reported; the next one, on whichever
        // silo, reports alone and from its own state.
        await MacTable(vnis[5]).ResetAsync();
        await MacTable(vnis[5]).LearnAsync([Learn(Names.NextMac(), "host-a", 1)]);
        await Eventually.AssertAsync(
            () =>
            {
                var report = Assert.Single(Read("fabric.mac_table.entries", [vnis[5]]));
                Assert.Equal(1, report.Value);
                return Task.CompletedTask;
            },
            TimeSpan.FromSeconds(10), $"VNI {vnis[5].Value} reported once, with 1 entry, after its reset");
    }

    private sealed record Report(string Vni, long Value);

    /// <summary>One collection of <paramref name="instrument"/> over every silo's meter, keeping the series of <paramref name="vnis"/>.</summary>
    private static List<Report> Read(string instrument, IReadOnlyCollection<Vni> vnis)
    {
        var wanted = vnis.Select(v => v.Value.ToString()).ToHashSet();
        var reports = new List<Report>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (published, l) =>
            {
                if (published.Meter.Name == FabricGrainsExtensions.MeterName && published.Name == instrument)
                {
                    l.EnableMeasurementEvents(published);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "vni" && tag.Value is string vni && wanted.Contains(vni))
                {
                    lock (reports)
                    {
                        reports.Add(new Report(vni, value));
                    }
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return reports;
    }
}

using Fabric.Addressing;
using Fabric.HostAgent.Forwarding;
using static Fabric.HostAgent.Tests.Forwarding.ForwardingLab;

namespace Fabric.HostAgent.Tests.Forwarding;

/// <summary>L2 isolation: a frame of one VNI never lands in another, whatever path it takes.</summary>
[Trait("Category", "Unit")]
public sealed class IsolationTests
{
    private static readonly MacAddress Vm0 = Mac(0x100);
    private static readonly MacAddress Vm1 = Mac(0x101);

    [Fact]
    public void A_mac_learned_before_its_port_moved_to_another_vni_does_not_pull_frames_of_the_old_vni_into_the_new_one()
    {
        var lab = new ForwardingLab();
        lab.FromPort(1, Broadcast(Vm1));
        lab.DataPlane.Publish(lab.BuildSnapshot(swapPorts1And3: true));
        lab.Output.Clear();

        // Port 1 is in VNI B now; Vm1's entry in VNI A is stale until the control plane ages it.
        lab.FromPort(0, Frame(Vm1, Vm0));
        lab.FromVtep(Peer2, Datagram(VniA, Frame(Vm1, RemoteA)));

        Assert.DoesNotContain(1, lab.Output.PortsReached);
        Assert.All(lab.Output.Frames, f => Assert.Equal(VniA, lab.VniOfDelivery(f)));
    }

    [Fact]
    public void A_mac_learned_on_a_trunk_vlan_that_the_trunk_no_longer_carries_gets_no_untagged_copy()
    {
        var lab = new ForwardingLab();
        lab.Seed(TrunkWithoutNative, VniB, Vm1); // as if port 7 had carried VNI B before a reconfiguration

        lab.FromPort(3, Frame(Vm1, Vm0));

        Assert.DoesNotContain(TrunkWithoutNative, lab.Output.PortsReached);
        Assert.All(lab.Output.Frames, f => Assert.Equal(VniB, lab.VniOfDelivery(f)));
    }

    [Fact]
    public void Random_flows_never_cross_from_one_vni_into_another()
    {
        var random = new Random(20240611);
        var lab = new ForwardingLab();
        bool swapped = false;
        var pool = Enumerable.Range(0, 40)
            .Select(_ => new MacAddress((ulong)random.NextInt64(1, 1L << 48) & ~0x0100_0000_0000UL | 0x0200_0000_0000UL))
            .Concat([RemoteA, RemoteB, MacAddress.Broadcast, MacAddress.Parse("01:00:5e:00:00:01")])
            .ToArray();
        ushort?[] vids = [null, VidA, VidB, 30];
        uint[] vnis = [VniA, VniB, VniNative, 7777];
        uint[] sources = [Peer2, Peer3, PeerB, Stranger];
        int forwarded = 0;

        for (int step = 0; step < 5000; step++)
        {
            lab.Output.Clear();
            if (random.Next(100) < 3)
            {
                swapped = !swapped;
                lab.DataPlane.Publish(lab.BuildSnapshot(swapped));
                continue;
            }

            var destination = pool[random.Next(pool.Length)];
            var source = pool[random.Next(pool.Length)];
            uint? vni;
            int ingress = -1;
            ushort flow = (ushort)random.Next(1024, 65535);
            byte[] untagged = Frame(destination, source, flow: flow);
            if (random.Next(3) > 0)
            {
                ingress = random.Next(PortWithoutSegment + 1);
                var port = lab.Snapshot.Ports[ingress];
                ushort? vid = port.Trunk || random.Next(10) == 0 ? vids[random.Next(vids.Length)] : null;
                vni = !port.Trunk ? (vid is null ? port.AccessVni : null)
                    : vid is { } v ? (port.VniByVid.TryGetValue(v, out uint carried) ? carried : null)
                    : port.NativeVni;
                lab.FromPort(ingress, Frame(destination, source, vid, flow));
            }
            else
            {
                vni = vnis[random.Next(vnis.Length)];
                lab.FromVtep(sources[random.Next(sources.Length)], Datagram(vni.Value, untagged));
            }

            if (vni is null or 0)
            {
                Assert.Empty(lab.Output.Frames);
                Assert.Empty(lab.Output.Datagrams);
                continue;
            }

            foreach (var sent in lab.Output.Frames)
            {
                Assert.True(vni == lab.VniOfDelivery(sent), $"step {step}: a frame of VNI {vni} from {(ingress < 0 ? "the VTEP" : $"port {ingress}")} reached port {sent.Port} as VNI {lab.VniOfDelivery(sent)}");
                Assert.NotEqual(ingress, sent.Port);
                Assert.Equal(untagged, sent.Untagged());
                forwarded++;
            }

            foreach (var datagram in lab.Output.Datagrams)
            {
                Assert.True(ingress >= 0, $"step {step}: a datagram from a VTEP was sent back out");
                Assert.Equal(vni, datagram.Vni);
                Assert.Contains(datagram.OuterDestination, (IReadOnlySet<uint>)lab.Snapshot.Segments[vni.Value].Vteps);
                Assert.Equal(untagged, datagram.Inner);
                forwarded++;
            }
        }

        Assert.True(forwarded > 1000, $"only {forwarded} copies were forwarded: the property checked little");
    }
}

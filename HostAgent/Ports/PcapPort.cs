using System.Runtime.InteropServices;
using Fabric.HostAgent.Wire;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Fabric.HostAgent.Ports;

/// <summary>
/// A local port on libpcap through SharpPcap: one handle captures (inbound only, immediate mode,
/// so frames are not held for the read timeout), a separate handle injects, so injected frames
/// are never captured again (docs/architecture.md, "Known pitfalls on Linux").
/// </summary>
internal sealed class PcapPort : IFramePort
{
    private const int PollMilliseconds = 100;

    private readonly LibPcapLiveDevice _capture;
    private readonly LibPcapLiveDevice _inject;

    private PcapPort(string name, LibPcapLiveDevice capture, LibPcapLiveDevice inject)
    {
        Name = name;
        _capture = capture;
        _inject = inject;
    }

    public string Name { get; }

    /// <summary>libpcap hands frames as the interface sees them, with no word of pending offloads: the VM side must have them off.</summary>
    public bool CarriesOffloads => false;

    public int MaxFrameLength => FrameBatch.DefaultMaxFrameLength;

    /// <summary>Opens <paramref name="interfaceName"/>; call inside the port's network namespace.</summary>
    public static PcapPort Open(string interfaceName)
    {
        var capture = Find(interfaceName);
        var inject = Find(interfaceName);
        capture.Open(new DeviceConfiguration
        {
            Mode = DeviceModes.Promiscuous,
            Immediate = true,
            ReadTimeout = PollMilliseconds,
            Snaplen = FrameBatch.DefaultMaxFrameLength,
            BufferSize = 8 * 1024 * 1024,
        });
        if (LibPcapNative.SetDirection(capture.Handle.DangerousGetHandle(), LibPcapNative.DirectionIn) != 0)
        {
            string error = Marshal.PtrToStringAnsi(LibPcapNative.GetError(capture.Handle.DangerousGetHandle())) ?? "unknown error";
            capture.Close();
            throw new InvalidOperationException($"pcap_setdirection(PCAP_D_IN) on {interfaceName} failed: {error}");
        }

        inject.Open(new DeviceConfiguration { Mode = DeviceModes.None, ReadTimeout = PollMilliseconds, Snaplen = 64 });
        return new PcapPort(interfaceName, capture, inject);
    }

    private static LibPcapLiveDevice Find(string name)
        => LibPcapLiveDeviceList.New().FirstOrDefault(d => d.Name == name)
            ?? throw new InvalidOperationException($"interface '{name}' does not exist in this network namespace.");

    public unsafe int Receive(FrameBatch batch)
    {
        int count = 0;
        while (count < batch.Capacity)
        {
            nint header = 0, data = 0;
            int result = _capture.GetNextPacketPointers(ref header, ref data);
            if (result != 1)
            {
                // 0: the read timeout expired with nothing more; <0: error or end. Either way the batch ends.
                break;
            }

            // struct pcap_pkthdr { struct timeval ts; bpf_u_int32 caplen; bpf_u_int32 len; } on LP64.
            int captured = *(int*)((byte*)header + 16);
            int length = Math.Min(captured, batch.MaxFrameLength);
            new ReadOnlySpan<byte>((void*)data, length).CopyTo(batch.FrameSpace(count));
            batch.Set(count, length);
            count++;

            // pcap_next_ex hands one frame per call and would wait a whole read timeout for the
            // next; return what we have. (An AF_PACKET ring backend fills whole batches.)
            break;
        }

        batch.Count = count;
        return count;
    }

    public bool Send(ReadOnlySpan<byte> frame, in VirtioNetHeader offload)
    {
        try
        {
            _inject.SendPacket(frame);
            return true;
        }
        catch (PcapException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _capture.Close();
        _inject.Close();
    }
}

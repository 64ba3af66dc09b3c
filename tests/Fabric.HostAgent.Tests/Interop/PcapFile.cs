using System.Buffers.Binary;

namespace Fabric.HostAgent.Tests.Interop;

/// <summary>
/// Writes the classic libpcap file format (pcap-savefile(5)): a 24-byte global header, then per
/// frame a 16-byte record header and the frame. Little-endian, microsecond timestamps, link type 1
/// (LINKTYPE_ETHERNET).
/// </summary>
internal static class PcapFile
{
    private const uint Magic = 0xA1B2C3D4;
    private const uint LinkTypeEthernet = 1;
    private const uint SnapLength = 65535;

    public static void Write(string path, IReadOnlyList<byte[]> frames)
    {
        using var stream = File.Create(path);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2); // version 2.4
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0);  // thiszone: UTC
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // sigfigs
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], SnapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], LinkTypeEthernet);
        stream.Write(header);

        Span<byte> record = stackalloc byte[16];
        for (int i = 0; i < frames.Count; i++)
        {
            byte[] frame = frames[i];
            BinaryPrimitives.WriteUInt32LittleEndian(record, 1_700_000_000u + (uint)i); // ts_sec
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], 0);                     // ts_usec
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);    // incl_len
            BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);   // orig_len
            stream.Write(record);
            stream.Write(frame);
        }
    }
}

#!/usr/bin/env python3
"""802.1Q sub-interfaces in user space, for kernels without VLAN devices (the lab's has neither
8021q nor bridge VLAN filtering). Usage: vlan-subifs.py TRUNK VID:IFACE...

For each VID:IFACE, IFACE is the inner end of a veth pair whose other end (eth0.VID, with the VM's
address in that VLAN) the VM's stack uses: frames the stack sends there leave TRUNK tagged VID,
and frames arriving on TRUNK tagged VID are delivered there untagged. Untagged frames on TRUNK stay
with the stack. The kernel moves a received tag into packet metadata, so it is read from
PACKET_AUXDATA."""
import select
import socket
import struct
import sys

ETH_P_ALL = 3
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40


def open_socket(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((name, 0))
    return s


def send(s, frame):
    try:
        s.send(frame)
    except OSError as error:  # e.g. a frame over the MTU: count it as lost, as a NIC would
        print(f"drop {len(frame)} bytes: {error}", file=sys.stderr, flush=True)


trunk = open_socket(sys.argv[1])
by_vid, by_fd = {}, {}
for spec in sys.argv[2:]:
    vid, name = spec.split(":")
    s = open_socket(name)
    by_vid[int(vid)] = s
    by_fd[s.fileno()] = (int(vid), s)

poller = select.poll()
for s in [trunk, *by_vid.values()]:
    poller.register(s, select.POLLIN)
print("tagging", flush=True)

while True:
    for fd, _ in poller.poll():
        if fd == trunk.fileno():
            frame, ancillary, _, address = trunk.recvmsg(65535, socket.CMSG_SPACE(20))
            if address[2] == PACKET_OUTGOING:
                continue
            vid = None
            for level, kind, data in ancillary:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= 20:
                    status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", data[:20])
                    if status & TP_STATUS_VLAN_VALID and (not status & TP_STATUS_VLAN_TPID_VALID or tpid == 0x8100):
                        vid = tci & 0x0FFF
            if vid is None and len(frame) >= 18 and frame[12:14] == b"\x81\x00":
                vid = struct.unpack("!H", frame[14:16])[0] & 0x0FFF
                frame = frame[:12] + frame[16:]
            if vid in by_vid:
                send(by_vid[vid], frame)
        else:
            vid, s = by_fd[fd]
            frame, address = s.recvfrom(65535)
            if address[2] == PACKET_OUTGOING or len(frame) < 14:
                continue
            send(trunk, frame[:12] + struct.pack("!HH", 0x8100, vid) + frame[12:])

#!/usr/bin/env python3
"""Checks a capture in which every packet should appear COPIES times (gen_bridge_any.sh).

* The byte streams (first copy of each byte wins, as verify.py does) must match the
  log: verify.check(pcap, log) reports nothing.
* Packets are grouped by their IPv4 header + TCP segment bytes (layer 3 and up); every
  group must have exactly COPIES members, and the copies of a group must be adjacent
  in the file (nothing of the connection between them).
* Prints the copy structure: interface index / packet type of each copy (SLL / SLL2),
  whether IPv4 ID and TCP checksum are equal between copies (they are, by the
  grouping; the check is that there are no near-duplicates that differ), and the time
  between the first and last copy.
Exit status 1 on any failure.
"""
import argparse
import collections
import os
import sys

from scapy.all import IP, TCP, rdpcap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify  # noqa: E402


def link_info(p):
    """(interface index, packet type) from an SLL2 or SLL header."""
    raw = bytes(p)
    if p.name.startswith("cooked linux v2") or type(p).__name__ == "CookedLinuxV2":
        return int.from_bytes(raw[4:8], "big"), raw[10]
    if type(p).__name__ == "CookedLinux":
        return None, int.from_bytes(raw[0:2], "big")
    return None, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("log")
    ap.add_argument("--copies", type=int, default=2)
    a = ap.parse_args()
    errs = verify.check(a.pcap, a.log)
    pkts = rdpcap(a.pcap)
    groups = collections.OrderedDict()
    for n, p in enumerate(pkts, 1):
        ip = p[IP]
        key = bytes(ip)[:ip.len]
        groups.setdefault(key, []).append((n, p))
    counts = collections.Counter(len(v) for v in groups.values())
    gaps, links = [], collections.Counter()
    near = 0
    seen = {}
    for key, members in groups.items():
        if len(members) != a.copies:
            errs.append(f"packet {members[0][0]}: {len(members)} copies")
        nums = [n for n, _ in members]
        if nums != list(range(nums[0], nums[0] + len(nums))):
            errs.append(f"copies not adjacent: packets {nums}")
        gaps.append(float(members[-1][1].time - members[0][1].time))
        links[tuple(link_info(p) for _, p in members)] += 1
        p = members[0][1]
        ident = (p[IP].src, p[IP].id, p[TCP].seq, p[TCP].ack, len(key))
        if ident in seen:
            near += 1  # same header fields but different bytes (e.g. other checksum)
        seen[ident] = 1
    if near:
        errs.append(f"{near} near-duplicates (same IP ID/seq/ack, different bytes)")
    gaps.sort()
    print(f"{a.pcap}: {len(pkts)} packets, {len(groups)} distinct IPv4 packets, "
          f"copies per packet: {dict(counts)}")
    print("  (ifindex, pkttype) of the copies, in file order: "
          + "; ".join(f"{k}: {v}" for k, v in links.most_common()))
    print(f"  IPv4 ID and TCP checksum equal between copies: "
          f"{'yes (copies are byte-identical from the IP header on)' if not near else 'NO'}")
    if gaps:
        print(f"  time first->last copy: min {gaps[0] * 1e6:.0f} us, median "
              f"{gaps[len(gaps) // 2] * 1e6:.0f} us, max {gaps[-1] * 1e6:.0f} us")
    print("OK" if not errs else "FAIL: " + "; ".join(errs[:10]))
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()

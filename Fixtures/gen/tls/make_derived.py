"""Failure inputs derived from wss-tls13-aes128gcm (no new traffic):

  wss-tls13-aes128gcm.wrong.keys    every secret with its last hex digit changed
  wss-tls13-aes128gcm.badline.keys  the valid lines plus 3 malformed lines (see BAD)
  wss-tls13-midstream.pcap          editcap -r: only the packets after the TLS
                                    handshake finished (both Finished messages)
  wss-tls13-aes128gcm.pcapng        editcap --inject-secrets tls,<keys>: a pcapng
                                    with a Decryption Secrets Block
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tlsfix import OUT_DIR, key_lines_only, keylog_lines, tshark  # noqa: E402

BASE = os.path.join(OUT_DIR, "wss-tls13-aes128gcm")


def flip(h):
    return h[:-1] + "%x" % (int(h[-1], 16) ^ 1)


def main():
    lines = keylog_lines(BASE + ".keys")
    header = [l for l in lines if l.startswith("#")]
    kl = key_lines_only(lines)

    with open(BASE + ".wrong.keys", "w") as f:
        out = header + [" ".join(l.split()[:2] + [flip(l.split()[2])]) for l in kl]
        f.write("\n".join(out) + "\n")

    label, rnd, sec = kl[-1].split()
    bad = {
        "short random": "%s %s %s" % (label, rnd[:16], sec),
        "non-hex secret": "%s %s %s" % (kl[2].split()[0], kl[2].split()[1], "zq" * (len(kl[2].split()[2]) // 2)),
        "unknown label": "BOGUS_TRAFFIC_SECRET %s !!garbage%%~ not,hex 12345" % rnd,
    }
    # header, v1, v2, short random, v3, non-hex, v4, v5, unknown label
    out = header + kl[:2] + [bad["short random"]] + kl[2:3] + [bad["non-hex secret"]] + kl[3:] + [bad["unknown label"]]
    with open(BASE + ".badline.keys", "w") as f:
        f.write("\n".join(out) + "\n")
    for what, l in bad.items():
        print("  badline.keys line %d: %s" % (out.index(l) + 1, what))

    # last frame carrying a Finished (handshake type 20), as tshark sees it with the keys
    rows = tshark(["-r", BASE + ".pcap", "-o", "tls.keylog_file:" + BASE + ".keys",
                   "-Y", "tls.handshake.type == 20", "-T", "fields", "-e", "frame.number"]).split()
    total = len(tshark(["-r", BASE + ".pcap"]).splitlines())
    first = max(int(x) for x in rows) + 1
    mid = os.path.join(OUT_DIR, "wss-tls13-midstream.pcap")
    subprocess.run(["editcap", "-F", "pcap", "-r", BASE + ".pcap", mid, "%d-%d" % (first, total)], check=True)
    print("  wss-tls13-midstream.pcap: frames %d-%d of wss-tls13-aes128gcm.pcap "
          "(both Finished messages were in frames %s)" % (first, total, ",".join(rows)))

    subprocess.run(["editcap", "--inject-secrets", "tls," + BASE + ".keys", BASE + ".pcap",
                    BASE + ".pcapng"], check=True)
    print("  wss-tls13-aes128gcm.pcapng: Decryption Secrets Block with wss-tls13-aes128gcm.keys")


if __name__ == "__main__":
    main()

"""ws-gorilla.pcap: gorilla/websocket server :19220 and client :19320 (one Go process).

Builds gorilla_peer.go with Debian's Go and gorilla package (GO111MODULE=off,
GOPATH=/usr/share/gocode:tmp/gopath), captures its exchange and writes the log from
the SENT lines it prints.
"""
import os
import subprocess

from peerfix import HERE, TMP, FixtureLog, PeerCapture, Proc, frames_from_lines

SPORT, CPORT = 19220, 19320


def main():
    name = "ws-gorilla"
    os.makedirs(os.path.join(TMP, "gopath"), exist_ok=True)
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode:" + os.path.join(TMP, "gopath"),
               GOCACHE=os.path.join(TMP, "gocache"), GOFLAGS="")
    binary = os.path.join(TMP, "gorilla_peer")
    subprocess.run(["go", "build", "-o", binary, os.path.join(HERE, "gorilla_peer.go")], env=env, check=True)
    gover = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.split()[2]
    gorilla = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "golang-github-gorilla-websocket-dev"],
                             capture_output=True, text=True).stdout
    cap = PeerCapture(name, [SPORT]).start()
    try:
        peer = Proc([binary, str(SPORT), str(CPORT)])
        out, err = peer.wait(30)
    finally:
        cap.stop()
    if peer.p.returncode != 0 or "DONE" not in out:
        raise SystemExit("gorilla_peer failed (%s): %s" % (peer.p.returncode, err))
    log = FixtureLog(name)
    frames_from_lines(log, out.splitlines())
    for c in log.conns:
        c.extra["server"] = c.extra["client"] = "gorilla/websocket %s, %s" % (gorilla, gover)
        c.extra["write_buffer_size"] = {"server": 256, "client": 512}
    log.write(note="entries printed by gorilla_peer.go after each successful gorilla write; the frame "
                   "split of the two fragmented messages follows gorilla's messageWriter (see the source)")


if __name__ == "__main__":
    main()

"""ws-node-ws.pcap: Node's `ws` (Debian node-ws) server :19210 and client :19310.

node_ws_peer.js runs both peers in one Node process and prints every frame each side
handed to ws (wrapped Sender methods); this script captures the exchange and turns
those records into Fixtures/logs/ws-node-ws.json.
"""
import os
import subprocess

from peerfix import HERE, FixtureLog, PeerCapture, Proc, frames_from_lines

SPORT, CPORT = 19210, 19310


def main():
    name = "ws-node-ws"
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs")
    ver = subprocess.run(["node", "-e", "console.log(process.version + ' ws ' + require('ws/package.json').version)"],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    cap = PeerCapture(name, [SPORT]).start()
    try:
        node = Proc(["node", os.path.join(HERE, "node_ws_peer.js"), str(SPORT), str(CPORT)], env=env)
        out, err = node.wait(30)
    finally:
        cap.stop()
    if node.p.returncode != 0:
        raise SystemExit("node failed (%s): %s" % (node.p.returncode, err))
    log = FixtureLog(name)
    rest = frames_from_lines(log, out.splitlines())
    for c in log.conns:
        c.extra["server"] = c.extra["client"] = "node " + ver
        for line in rest:
            if line.startswith("EXT client "):
                c.extra["negotiated_extensions"] = line[len("EXT client "):].strip('"')
            if line.startswith("EXT server "):
                c.extra["offered_extensions"] = line[len("EXT server "):].strip('"')
    log.write(note="entries logged by wrapping ws's Sender.prototype.send/ping/pong/close in node_ws_peer.js")
    print("  " + " | ".join(rest))


if __name__ == "__main__":
    main()

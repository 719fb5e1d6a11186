// ws-node-ws.pcap: Node's `ws` (Debian node-ws) as both server and client, in one process.
//
// Every frame either side hands to ws is printed as `SENT {json}` by wrapping ws's
// Sender.prototype.{send,ping,pong,close} (the path for application sends, automatic
// pongs and the close reply alike).  `hex` is the payload before compression;
// `compressed` is whether ws set RSV1 on the message (Sender._compress).
//
// usage: node node_ws_peer.js SERVER_PORT CLIENT_PORT
'use strict';
const WebSocket = require('ws');
const Sender = WebSocket.Sender;

const SPORT = +process.argv[2], CPORT = +process.argv[3];
const toBuf = (d) => d === undefined ? Buffer.alloc(0) : Buffer.isBuffer(d) ? d
  : typeof d === 'string' ? Buffer.from(d, 'utf8') : Buffer.from(d.buffer || d, d.byteOffset || 0, d.byteLength);

function emit(sender, opcode, fin, data, compressed) {
  const s = sender._socket;
  const server = s.localPort === SPORT;
  console.log('SENT ' + JSON.stringify({
    side: server ? 'server' : 'client', cport: server ? s.remotePort : s.localPort, sport: SPORT,
    opcode, fin, hex: toBuf(data).toString('hex'), compressed,
  }));
}

const origSend = Sender.prototype.send;
Sender.prototype.send = function (data, options, cb) {
  const first = this._firstFragment;
  const r = origSend.call(this, data, options, cb);
  emit(this, first ? (options.binary ? 2 : 1) : 0, !!options.fin, data, first ? !!this._compress : false);
  return r;
};
for (const [name, opcode] of [['ping', 9], ['pong', 10]]) {
  const orig = Sender.prototype[name];
  Sender.prototype[name] = function (data, mask, cb) {
    emit(this, opcode, true, data, false);
    return orig.call(this, data, mask, cb);
  };
}
const origClose = Sender.prototype.close;
Sender.prototype.close = function (code, data, mask, cb) {
  let body = Buffer.alloc(0);
  if (code !== undefined) {
    body = Buffer.alloc(2);
    body.writeUInt16BE(code, 0);
    if (data !== undefined && data.length) body = Buffer.concat([body, toBuf(data)]);
  }
  emit(this, 8, true, body, false);
  return origClose.call(this, code, data, mask, cb);
};

const hardStop = setTimeout(() => { console.error('timeout'); process.exit(2); }, 15000);

// Server: deflate enabled (ws's server default is off; the client offers it by default).
const wss = new WebSocket.Server({ host: '127.0.0.1', port: SPORT, perMessageDeflate: true });
wss.on('connection', (ws, req) => {
  console.log('EXT server ' + JSON.stringify(req.headers['sec-websocket-extensions'] || null));
  let n = 0;
  ws.send('hello from ws ' + require('ws/package.json').version + ' on node ' + process.version);
  ws.on('message', (data, isBinary) => {
    n++;
    if (isBinary) ws.send(Buffer.from(data).reverse());
    else ws.send('echo #' + n + ': ' + data.toString());
    if (n === 3) ws.ping('server ping');
    if (n === 5) ws.send(JSON.stringify({ type: 'done', count: n, items: [1, 2, 3, 4, 5].map((i) => 'item-' + i) }),
      { compress: false });
  });
  ws.on('close', () => { wss.close(); });
});

wss.on('listening', () => {
  const ws = new WebSocket('ws://127.0.0.1:' + SPORT + '/node-ws', { localAddress: '127.0.0.1', localPort: CPORT });
  let got = 0, pongs = 0;
  ws.on('upgrade', (res) => console.log('EXT client ' + JSON.stringify(res.headers['sec-websocket-extensions'] || null)));
  ws.on('open', () => {
    ws.send('first text message from the ws client');
    ws.send(Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 254, 255]));
    // the same text twice: the second copy compresses to a back-reference (context takeover)
    ws.send('{"type":"tick","symbol":"NODE","bid":101.25,"ask":101.5,"volume":12345}');
    ws.send('{"type":"tick","symbol":"NODE","bid":101.25,"ask":101.5,"volume":12345}', { compress: false });
    // a fragmented message: 3 frames (FIN only on the last)
    ws.send('fragment one / ', { fin: false });
    ws.send('fragment two / ', { fin: false });
    ws.send('fragment three (last)', { fin: true });
    ws.ping(Buffer.from('client ping'));
  });
  ws.on('message', () => { got++; maybeClose(); });
  ws.on('pong', () => { pongs++; maybeClose(); });
  function maybeClose() {
    // 5 echoes + greeting + done JSON
    if (got === 7 && pongs === 1) ws.close(4001, 'node client done');
  }
  ws.on('close', (code, reason) => {
    console.log('CLOSED client ' + code + ' ' + reason);
    clearTimeout(hardStop);
  });
});

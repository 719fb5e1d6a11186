// Node's `ws` (Debian node-ws) over TLS: wss server and/or client(s) in one Node process.
//
// usage: node --tls-keylog=FILE node_wss_peer.js MODE SERVER_PORT CLIENT_PORT[,CLIENT_PORT...] CERT KEY
//   MODE both      : https + ws server on SERVER_PORT and one client per CLIENT_PORT, one after
//                    the other: the first offers permessage-deflate (ws's default), the second
//                    has perMessageDeflate: false (no extension).  TLS: Node's defaults.
//        both-tls12: the same with maxVersion 'TLSv1.2' on both sides and the client limited
//                    to ECDHE-RSA-AES128-GCM-SHA256 / ECDHE-ECDSA-AES128-GCM-SHA256.
//        client    : only the client(s) (permessage-deflate offered), against another server;
//                    KEY is unused, CERT is the CA to trust.
//
// Every frame either side hands to ws is printed as `SENT {json}` by wrapping ws's
// Sender.prototype.{send,ping,pong,close} (application sends, automatic pongs and the close
// reply alike); `hex` is the payload before compression, `compressed` whether ws set RSV1
// (Sender._compress); `t` a millisecond timestamp.  Each side prints `TLS {json}` once
// its TLS socket is up, from the socket's own getters (getProtocol, getCipher,
// servername, alpnProtocol, isSessionReused, getEphemeralKeyInfo).
'use strict';
const fs = require('fs');
const https = require('https');
const { performance } = require('perf_hooks');
const WebSocket = require('ws');
const Sender = WebSocket.Sender;

const [MODE, SPORT_S, CPORTS_S, CERT, KEY] = process.argv.slice(2);
const SPORT = +SPORT_S, CPORTS = CPORTS_S.split(',').map(Number);
const TLS12 = MODE === 'both-tls12';
const now = () => performance.timeOrigin + performance.now();
const toBuf = (d) => d === undefined ? Buffer.alloc(0) : Buffer.isBuffer(d) ? d
  : typeof d === 'string' ? Buffer.from(d, 'utf8') : Buffer.from(d.buffer || d, d.byteOffset || 0, d.byteLength);

function emit(sender, opcode, fin, data, compressed) {
  const s = sender._socket;
  const server = s.localPort === SPORT;
  console.log('SENT ' + JSON.stringify({
    side: server ? 'server' : 'client', cport: server ? s.remotePort : s.localPort, sport: SPORT,
    opcode, fin, hex: toBuf(data).toString('hex'), compressed, t: now(),
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

function tlsInfo(side, s, cport, sni) {
  const c = s.getCipher();
  console.log('TLS ' + JSON.stringify({
    side, cport, sport: SPORT, version: s.getProtocol(), cipher: c.standardName || c.name,
    openssl_cipher: c.name, sni: side === 'server' ? (s.servername || null) : sni,
    alpn: s.alpnProtocol || null, resumed: s.isSessionReused(),
    group: side === 'client' ? (s.getEphemeralKeyInfo() || {}).name || null : null,
  }));
}

const hardStop = setTimeout(() => { console.error('timeout'); process.exit(2); }, 20000);
const cert = fs.readFileSync(CERT);
const tls12 = TLS12 ? { maxVersion: 'TLSv1.2' } : {};

function startServer(onListening) {
  const server = https.createServer({ cert, key: fs.readFileSync(KEY), ALPNProtocols: ['http/1.1'], ...tls12 });
  // permessage-deflate accepted when offered (ws's server default is off)
  const wss = new WebSocket.Server({ server, perMessageDeflate: true });
  let closed = 0;
  wss.on('connection', (ws, req) => {
    const s = req.socket;
    tlsInfo('server', s, s.remotePort, null);
    console.log('EXT server ' + JSON.stringify({ cport: s.remotePort, offered: req.headers['sec-websocket-extensions'] || null }));
    let n = 0;
    ws.send('hello over ' + s.getProtocol() + ' from ws ' + require('ws/package.json').version + ' on node ' + process.version);
    ws.on('message', (data, isBinary) => {
      n++;
      if (isBinary) ws.send(Buffer.from(data).reverse());
      else ws.send('echo #' + n + ': ' + data.toString());
      if (n === 2) ws.ping('server ping ' + n);
    });
    ws.on('close', () => { if (++closed === CPORTS.length) { wss.close(); server.close(); } });
  });
  server.listen(SPORT, '127.0.0.1', onListening);
}

function runClient(i, done) {
  const cport = CPORTS[i];
  const deflate = MODE === 'client' || i === 0;
  const ws = new WebSocket('wss://ws.test:' + SPORT + '/node-ws-' + (deflate ? 'deflate' : 'plain'), {
    ca: cert, servername: 'ws.test', ALPNProtocols: ['http/1.1'], localAddress: '127.0.0.1', localPort: cport,
    // ws.test -> 127.0.0.1 without /etc/hosts (net's lookup hook; Node 20 asks with all: true)
    lookup: (host, opts, cb) => opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }])
      : cb(null, '127.0.0.1', 4),
    perMessageDeflate: deflate,
    ...(TLS12 ? { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256' } : {}),
  });
  let got = 0, pongs = 0;
  ws.on('upgrade', (res) => {
    tlsInfo('client', res.socket, cport, 'ws.test');
    console.log('EXT client ' + JSON.stringify({ cport, negotiated: res.headers['sec-websocket-extensions'] || null }));
  });
  ws.on('open', () => {
    ws.send('first text message from the ws client over TLS');
    ws.send(Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 254, 255]));
    // the same JSON twice: with deflate the second copy compresses to a back-reference
    ws.send('{"type":"tick","symbol":"WSS","bid":101.25,"ask":101.5,"volume":12345}');
    ws.send('{"type":"tick","symbol":"WSS","bid":101.25,"ask":101.5,"volume":12345}');
    // a fragmented text message: 3 frames, FIN on the last
    ws.send('fragment one / ', { fin: false });
    ws.send('fragment two / ', { fin: false });
    ws.send('fragment three (last)', { fin: true });
    ws.ping(Buffer.from('client ping ' + i));
  });
  ws.on('message', () => { got++; maybeClose(); });
  ws.on('pong', () => { pongs++; maybeClose(); });
  function maybeClose() {
    // greeting + 5 echoes, and the pong to our ping
    if (got === 6 && pongs === 1) ws.close(i === 0 ? 1000 : 4001, 'node wss client ' + i + ' done');
  }
  ws.on('close', (code, reason) => {
    console.log('CLOSED client ' + cport + ' ' + code + ' ' + reason);
    setTimeout(done, 200);
  });
}

function runClients(i) {
  if (i < CPORTS.length) runClient(i, () => runClients(i + 1));
  else clearTimeout(hardStop);
}

if (MODE === 'client') runClients(0);
else startServer(() => runClients(0));

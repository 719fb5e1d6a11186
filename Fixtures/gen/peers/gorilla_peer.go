// ws-gorilla.pcap: gorilla/websocket (Debian golang-github-gorilla-websocket-dev) as
// server and client in one process.
//
// Every send goes through send()/control(), which write through gorilla and then print
// one `SENT {json}` line per frame (under a per-connection lock, so the log order is the
// wire order).  gorilla has no per-frame hook; the frame boundaries of the two
// fragmented messages follow its messageWriter (conn.go):
//   - client (WriteBufferSize 512): NextWriter buffers and emits a frame each time its
//     512-byte buffer fills, the last (FIN) frame on Close: ceil(len/512) frames;
//   - server: a Write of more than 2*(buffer+14) bytes goes out as one frame of its own
//     ("don't buffer large messages"), and Close sends an empty FIN frame.
// Automatic pongs and the close reply are sent by handlers set here that do what
// gorilla's default handlers do, plus the log line.
//
// usage: gorilla_peer SERVER_PORT CLIENT_PORT
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

var sport, cport int
var outMu sync.Mutex

type peer struct {
	c    *websocket.Conn
	side string
	mu   sync.Mutex
}

func emit(side string, opcode int, fin bool, data []byte) {
	outMu.Lock()
	defer outMu.Unlock()
	b, _ := json.Marshal(map[string]interface{}{"side": side, "cport": cport, "sport": sport,
		"opcode": opcode, "fin": fin, "hex": hex.EncodeToString(data), "compressed": false})
	fmt.Println("SENT " + string(b))
}

// send: one message; unfragmented unless it is larger than the client's write buffer.
func (p *peer) send(mt int, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.c.WriteMessage(mt, data); err != nil {
		fmt.Fprintln(os.Stderr, p.side, "write:", err)
		os.Exit(1)
	}
	if p.side == "client" && len(data) > 512 {
		for off := 0; off < len(data); off += 512 {
			end := off + 512
			if end > len(data) {
				end = len(data)
			}
			op := 0
			if off == 0 {
				op = mt
			}
			emit(p.side, op, end == len(data), data[off:end])
		}
		return
	}
	emit(p.side, mt, true, data)
}

// sendChunks (server): NextWriter, one frame per large Write, empty FIN frame on Close.
func (p *peer) sendChunks(mt int, chunks [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, err := p.c.NextWriter(mt)
	if err != nil {
		panic(err)
	}
	for i, ch := range chunks {
		if _, err := w.Write(ch); err != nil {
			panic(err)
		}
		op := 0
		if i == 0 {
			op = mt
		}
		emit(p.side, op, false, ch)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	emit(p.side, 0, true, nil)
}

func (p *peer) control(mt int, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.c.WriteControl(mt, data, time.Now().Add(2*time.Second))
	if err == nil {
		emit(p.side, mt, true, data)
	}
	return err
}

// handlers equivalent to gorilla's defaults (conn.go SetPingHandler/SetCloseHandler), logged
func (p *peer) installHandlers(onPong func()) {
	p.c.SetPingHandler(func(appData string) error {
		err := p.control(websocket.PongMessage, []byte(appData))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	p.c.SetCloseHandler(func(code int, text string) error {
		msg := []byte{}
		if code != websocket.CloseNoStatusReceived {
			msg = websocket.FormatCloseMessage(code, "")
		}
		p.control(websocket.CloseMessage, msg) // ErrCloseSent if we closed first: nothing sent
		return nil
	})
	if onPong != nil {
		p.c.SetPongHandler(func(string) error { onPong(); return nil })
	}
}

func goVersion() string { return runtime.Version() }

func big(prefix string, n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s line %03d: the quick brown fox jumps over the lazy dog. ", prefix, i)
	}
	return b.Bytes()[:n]
}

func main() {
	sport, _ = strconv.Atoi(os.Args[1])
	cport, _ = strconv.Atoi(os.Args[2])
	go func() { time.Sleep(15 * time.Second); fmt.Fprintln(os.Stderr, "timeout"); os.Exit(2) }()

	serverDone := make(chan struct{})
	up := websocket.Upgrader{WriteBufferSize: 256, ReadBufferSize: 4096}
	mux := http.NewServeMux()
	mux.HandleFunc("/gorilla", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			panic(err)
		}
		p := &peer{c: c, side: "server"}
		p.installHandlers(nil)
		p.send(websocket.TextMessage, []byte("hello from gorilla/websocket (go "+goVersion()+")"))
		n := 0
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				break // the close frame arrived and was answered by the handler
			}
			n++
			switch {
			case len(data) > 1000:
				// a 3-chunk reply: 3 frames of 600 bytes + an empty FIN frame
				reply := big("server", 1800)
				p.sendChunks(websocket.TextMessage, [][]byte{reply[:600], reply[600:1200], reply[1200:]})
			case mt == websocket.BinaryMessage:
				r := make([]byte, len(data))
				for i := range data {
					r[i] = data[len(data)-1-i]
				}
				p.send(websocket.BinaryMessage, r)
			default:
				p.send(websocket.TextMessage, []byte(fmt.Sprintf("echo #%d: %s", n, data)))
			}
			if n == 2 {
				p.control(websocket.PingMessage, []byte("gorilla server ping"))
			}
		}
		c.Close() // server closes TCP first
		close(serverDone)
	})
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", sport))
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, mux)

	d := websocket.Dialer{
		WriteBufferSize: 512,
		NetDial: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: cport}}).Dial,
	}
	c, _, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/gorilla", sport), nil)
	if err != nil {
		panic(err)
	}
	p := &peer{c: c, side: "client"}
	events := make(chan string, 16)
	p.installHandlers(func() { events <- "pong" })
	go func() {
		for {
			_, _, err := c.ReadMessage()
			if err != nil {
				events <- "closed"
				return
			}
			events <- "message"
		}
	}()
	p.send(websocket.TextMessage, []byte("hello from the gorilla client"))
	p.send(websocket.BinaryMessage, []byte{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	p.send(websocket.TextMessage, big("client", 1300)) // 3 frames: 512 + 512 + 276
	p.control(websocket.PingMessage, []byte("gorilla client ping"))
	got, pongs := 0, 0
	for got < 4 || pongs < 1 {
		switch <-events {
		case "message":
			got++
		case "pong":
			pongs++
		case "closed":
			fmt.Fprintln(os.Stderr, "closed early")
			os.Exit(1)
		}
	}
	p.control(websocket.CloseMessage, websocket.FormatCloseMessage(4002, "gorilla client done"))
	for ev := range events {
		if ev == "closed" {
			break
		}
	}
	<-serverDone
	c.Close()
	time.Sleep(200 * time.Millisecond)
	fmt.Println("DONE")
}

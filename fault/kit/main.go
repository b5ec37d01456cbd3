// Command faultkit is the Go side of the fault harness (fault/README.md):
//
//	faultkit proxy SPECFILE
//	    The fault-injecting TCP proxy. SPECFILE has one listener a line:
//	    "LISTEN_ADDR TARGET_ADDR SRC DST [CLASS]" (SRC is "c" for clients or a
//	    node id, DST a node id, CLASS a word, default "data"); every connection
//	    accepted on LISTEN_ADDR is forwarded to TARGET_ADDR and belongs to the
//	    directed path SRC>DST of that class. Commands on stdin, one a line,
//	    each answered "ok ..." or "err ..." on stdout; SRC and DST may be "*",
//	    and DST may end in ":CLASS" to act on that class of paths only:
//	      cut SRC DST          close the path's connections and its listening
//	                           socket (new connections are refused)
//	      delay SRC DST MS     add MS milliseconds to every chunk, both ways (0: none)
//	      drop SRC DST fwd|rev|both|none
//	                           discard the bytes going SRC->DST (fwd) or DST->SRC
//	                           (rev) on the path's connections, which stay open;
//	                           "none" heals, closing the connections that lost
//	                           bytes (their streams are broken, as TCP's would be)
//	      heal SRC DST         undo cut, delay and drop on the path
//	      healall              heal every path
//	      stats                one line: each path's open and total connections
//	    It stops when stdin closes.
//
//	faultkit produce BOOTSTRAP TOPIC NAME RATE ACKED_FILE
//	    A franz-go idempotent acks=all producer (no compression) writing
//	    values "NAME:SEQ" (key "SEQ") at RATE records/s until SIGTERM/SIGINT,
//	    then flushing for at most 30 s. Every acknowledged record is one line
//	    "A PARTITION OFFSET VALUE" in ACKED_FILE; a failed one "F VALUE ERROR".
//
//	faultkit consume BOOTSTRAP TOPIC GROUP SEEN_FILE
//	    A franz-go group consumer (auto commit, from the start) writing every
//	    record it receives as "S PARTITION OFFSET VALUE" until SIGTERM/SIGINT;
//	    then it commits and leaves the group.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: faultkit proxy|produce|consume ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "proxy":
		err = proxyMain(os.Args[2:])
	case "produce":
		err = produceMain(os.Args[2:])
	case "consume":
		err = consumeMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultkit:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------------------
// proxy

type pathKey struct{ src, dst, class string }

type path struct {
	mu      sync.Mutex
	cut     bool
	delay   time.Duration
	dropFwd bool
	dropRev bool
	conns   map[*pconn]struct{}
	total   int // connections forwarded since the start
	lns     []*plistener
}

// plistener is one listening address of a path. While the path is cut it is
// closed, so a connection attempt is refused (RST), as by a host whose port
// is unreachable; accepting and closing at once would look to a client like
// a broker that hangs up during ApiVersions, which some clients take for a
// TLS mismatch and fail records on.
type plistener struct {
	addr, target, name string
	ln                 net.Listener
}

type pconn struct {
	client, server net.Conn
	broken         atomic.Bool // bytes were discarded: the stream is not whole
	once           sync.Once
}

func (c *pconn) close() {
	c.once.Do(func() {
		c.client.Close()
		c.server.Close()
	})
}

type proxy struct {
	mu    sync.Mutex
	paths map[pathKey]*path
}

func (p *proxy) path(src, dst, class string) *path {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pathKey{src, dst, class}
	if p.paths[k] == nil {
		p.paths[k] = &path{conns: map[*pconn]struct{}{}}
	}
	return p.paths[k]
}

func proxyMain(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: faultkit proxy SPECFILE")
	}
	spec, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	p := &proxy{paths: map[pathKey]*path{}}
	n := 0
	for _, line := range strings.Split(string(spec), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) == 4 {
			f = append(f, "data")
		}
		if len(f) != 5 {
			return fmt.Errorf("bad spec line %q", line)
		}
		pt := p.path(f[2], f[3], f[4])
		pl := &plistener{addr: f[0], target: f[1], name: f[2] + ">" + f[3] + ":" + f[4]}
		if err := p.listen(pt, pl); err != nil {
			return err
		}
		pt.lns = append(pt.lns, pl)
		n++
	}
	logf("proxy: %d listeners", n)
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println(p.command(strings.Fields(sc.Text())))
	}
	logf("proxy: stdin closed, exiting")
	return nil
}

// listen opens pl's address (retrying for a while: after a cut the port may
// still be settling) and serves it.
func (p *proxy) listen(pt *path, pl *plistener) error {
	var err error
	for i := 0; i < 50; i++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", pl.addr); err == nil {
			pl.ln = ln
			go p.serve(ln, pl.target, pt, pl.name)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("listen %s: %w", pl.addr, err)
}

func (p *proxy) serve(ln net.Listener, target string, pt *path, name string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				logf("proxy %s: accept: %v", name, err)
			}
			return
		}
		go p.handle(c, target, pt, name)
	}
}

func (p *proxy) handle(c net.Conn, target string, pt *path, name string) {
	pt.mu.Lock()
	cut := pt.cut
	pt.mu.Unlock()
	if cut {
		c.Close()
		return
	}
	s, err := net.DialTimeout("tcp", target, 3*time.Second)
	if err != nil {
		c.Close()
		return
	}
	pc := &pconn{client: c, server: s}
	pt.mu.Lock()
	if pt.cut { // cut while we dialled
		pt.mu.Unlock()
		pc.close()
		return
	}
	pt.conns[pc] = struct{}{}
	pt.total++
	pt.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pump(pt, pc, c, s, true) }()
	go func() { defer wg.Done(); pump(pt, pc, s, c, false) }()
	wg.Wait()
	pt.mu.Lock()
	delete(pt.conns, pc)
	pt.mu.Unlock()
}

type chunk struct {
	data []byte
	at   time.Time
}

// pump copies from -> to; fwd is the client->server direction. A reader
// queues chunks stamped with their delivery time; a writer delivers them in
// order, so a delay never reorders bytes.
func pump(pt *path, pc *pconn, from, to net.Conn, fwd bool) {
	q := make(chan chunk, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range q {
			if d := time.Until(ch.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := to.Write(ch.data); err != nil {
				pc.close()
				for range q {
				}
				return
			}
		}
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			pt.mu.Lock()
			drop := (fwd && pt.dropFwd) || (!fwd && pt.dropRev)
			delay := pt.delay
			pt.mu.Unlock()
			if drop {
				pc.broken.Store(true)
			} else {
				data := make([]byte, n)
				copy(data, buf[:n])
				q <- chunk{data, time.Now().Add(delay)}
			}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
	pc.close()
}

// matching: the paths SRC>DST; DST may end in ":CLASS" (a spec's fifth
// column, e.g. "data" or "ctl") to pick one class of them.
func (p *proxy) matching(src, dst string) []*path {
	p.mu.Lock()
	defer p.mu.Unlock()
	class := "*"
	if i := strings.IndexByte(dst, ':'); i >= 0 {
		dst, class = dst[:i], dst[i+1:]
	}
	var out []*path
	for k, pt := range p.paths {
		if (src == "*" || k.src == src) && (dst == "*" || k.dst == dst) && (class == "*" || k.class == class) {
			out = append(out, pt)
		}
	}
	return out
}

func (p *proxy) command(f []string) string {
	if len(f) == 0 {
		return "err empty command"
	}
	if f[0] == "healall" {
		f = []string{"heal", "*", "*"}
	}
	if f[0] == "stats" {
		p.mu.Lock()
		defer p.mu.Unlock()
		keys := make([]pathKey, 0, len(p.paths))
		for k := range p.paths {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, b := keys[i], keys[j]
			return a.src+">"+a.dst+":"+a.class < b.src+">"+b.dst+":"+b.class
		})
		var b strings.Builder
		open := 0
		for _, k := range keys {
			pt := p.paths[k]
			pt.mu.Lock()
			if pt.total > 0 {
				fmt.Fprintf(&b, " %s>%s:%s=%d/%d", k.src, k.dst, k.class, len(pt.conns), pt.total)
				open += len(pt.conns)
			}
			pt.mu.Unlock()
		}
		return fmt.Sprintf("ok open=%d (path=open/total)%s", open, b.String())
	}
	if len(f) < 3 {
		return "err usage: cut|delay|drop|heal SRC DST [ARG]"
	}
	paths := p.matching(f[1], f[2])
	if len(paths) == 0 {
		return "err no path " + f[1] + ">" + f[2]
	}
	var closed int
	for _, pt := range paths {
		pt.mu.Lock()
		var toClose []*pconn
		switch f[0] {
		case "cut":
			pt.cut = true
			for c := range pt.conns {
				toClose = append(toClose, c)
			}
			for _, pl := range pt.lns {
				if pl.ln != nil {
					pl.ln.Close()
					pl.ln = nil
				}
			}
		case "delay":
			if len(f) != 4 {
				pt.mu.Unlock()
				return "err usage: delay SRC DST MS"
			}
			ms, err := strconv.Atoi(f[3])
			if err != nil || ms < 0 {
				pt.mu.Unlock()
				return "err bad delay " + f[3]
			}
			pt.delay = time.Duration(ms) * time.Millisecond
		case "drop", "heal":
			mode := "none"
			if f[0] == "drop" {
				if len(f) != 4 {
					pt.mu.Unlock()
					return "err usage: drop SRC DST fwd|rev|both|none"
				}
				mode = f[3]
			} else {
				pt.cut = false
				pt.delay = 0
				for _, pl := range pt.lns {
					if pl.ln == nil {
						if err := p.listen(pt, pl); err != nil {
							pt.mu.Unlock()
							return "err " + err.Error()
						}
					}
				}
			}
			switch mode {
			case "fwd":
				pt.dropFwd = true
			case "rev":
				pt.dropRev = true
			case "both":
				pt.dropFwd, pt.dropRev = true, true
			case "none":
				pt.dropFwd, pt.dropRev = false, false
				for c := range pt.conns {
					if c.broken.Load() {
						toClose = append(toClose, c)
					}
				}
			default:
				pt.mu.Unlock()
				return "err bad drop mode " + mode
			}
		default:
			pt.mu.Unlock()
			return "err unknown command " + f[0]
		}
		pt.mu.Unlock()
		for _, c := range toClose {
			c.close()
		}
		closed += len(toClose)
	}
	logf("proxy: %s (%d paths, %d connections closed)", strings.Join(f, " "), len(paths), closed)
	return fmt.Sprintf("ok %s paths=%d closed=%d", strings.Join(f, " "), len(paths), closed)
}

// ---------------------------------------------------------------------------
// clients

func stopSignal() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-ch; cancel() }()
	return ctx
}

type kgoLogger struct{ name string }

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }
func (l kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	logf("%s %s: %s %v", l.name, level, msg, kv)
}

type lineFile struct {
	mu sync.Mutex
	w  *bufio.Writer
	f  *os.File
}

func newLineFile(name string) (*lineFile, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	lf := &lineFile{w: bufio.NewWriter(f), f: f}
	go func() { // keep the file current for whoever watches it
		for range time.Tick(500 * time.Millisecond) {
			lf.mu.Lock()
			lf.w.Flush()
			lf.mu.Unlock()
		}
	}()
	return lf, nil
}

func (l *lineFile) printf(format string, args ...any) {
	l.mu.Lock()
	fmt.Fprintf(l.w, format, args...)
	l.mu.Unlock()
}

func (l *lineFile) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.w.Flush(); err != nil {
		return err
	}
	return l.f.Close()
}

func produceMain(args []string) error {
	if len(args) != 5 {
		return errors.New("usage: faultkit produce BOOTSTRAP TOPIC NAME RATE ACKED_FILE")
	}
	boot, topic, name, out := args[0], args[1], args[2], args[4]
	rate, err := strconv.Atoi(args[3])
	if err != nil || rate <= 0 {
		return fmt.Errorf("bad rate %q", args[3])
	}
	acked, err := newLineFile(out)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(boot, ",")...),
		kgo.ClientID("fault-"+name),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // the default, said out loud; idempotence is on by default
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(5000),
		kgo.DialTimeout(5*time.Second),
		kgo.WithLogger(kgoLogger{name}),
	)
	if err != nil {
		return err
	}
	ctx := stopSignal()
	var nAck, nFail atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var seq int64
	status := time.NewTicker(10 * time.Second)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-status.C:
			logf("%s: sent %d acked %d failed %d", name, seq, nAck.Load(), nFail.Load())
		case <-tick.C:
			value := fmt.Sprintf("%s:%d", name, seq)
			r := &kgo.Record{Key: []byte(strconv.FormatInt(seq, 10)), Value: []byte(value)}
			seq++
			// Produce blocks while MaxBufferedRecords are in flight; a stop
			// signal aborts the wait (that record then fails, unacknowledged).
			cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				if err != nil {
					nFail.Add(1)
					acked.printf("F %s %s\n", r.Value, strings.ReplaceAll(err.Error(), "\n", " "))
					return
				}
				nAck.Add(1)
				acked.printf("A %d %d %s\n", r.Partition, r.Offset, r.Value)
			})
		}
	}
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := cl.Flush(fctx); err != nil {
		logf("%s: flush: %v", name, err)
	}
	cancel()
	cl.Close() // fails whatever is still buffered
	logf("%s: done: sent %d acked %d failed %d", name, seq, nAck.Load(), nFail.Load())
	return acked.close()
}

func consumeMain(args []string) error {
	if len(args) != 4 {
		return errors.New("usage: faultkit consume BOOTSTRAP TOPIC GROUP SEEN_FILE")
	}
	boot, topic, group, out := args[0], args[1], args[2], args[3]
	seen, err := newLineFile(out)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(boot, ",")...),
		kgo.ClientID("fault-"+group),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.DialTimeout(5*time.Second),
		kgo.WithLogger(kgoLogger{group}),
	)
	if err != nil {
		return err
	}
	ctx := stopSignal()
	var n int64
	last := time.Now()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				logf("%s: fetch %s/%d: %v", group, t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			n++
			seen.printf("S %d %d %s\n", r.Partition, r.Offset, r.Value)
		})
		if time.Since(last) > 10*time.Second {
			logf("%s: seen %d", group, n)
			last = time.Now()
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := cl.CommitUncommittedOffsets(cctx); err != nil {
		logf("%s: final commit: %v", group, err)
	}
	cancel()
	cl.Close() // leaves the group
	logf("%s: done: seen %d", group, n)
	return seen.close()
}

// Command kafka-go-compat is the segmentio/kafka-go compatibility suite.
//
//	kafka-go-compat <bootstrap> [case ...]   run all cases, or only the named ones
//	kafka-go-compat --list                   print the case names
//	kafka-go-compat --list-xfail-on-fjord    print the cases expected to fail on fjord
//
// One line per case on stdout: RESULT <case> <pass|fail|xfail> <message>.
// Diagnostics go to stderr. Every case has its own topic(s), group and
// deadline. kafka-go's Client.Fetch sends Fetch v11 with session id -1 and
// epoch -1 (a sessionless full fetch in KIP-227 terms), which is what the
// client_fetch case pins down.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

var (
	boot   string
	target = envOr("COMPAT_TARGET", "fjord")
	runID  = fmt.Sprintf("%x%04x", time.Now().Unix(), os.Getpid()&0xffff)
)

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[kafka-go] "+format+"\n", args...)
}

type failure struct{ msg string }

func fail(format string, args ...any) { panic(failure{fmt.Sprintf(format, args...)}) }

func check(cond bool, format string, args ...any) {
	if !cond {
		fail(format, args...)
	}
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func topicName(c string) string {
	return "compat-kafkago-" + strings.ReplaceAll(c, "_", "-") + "-" + runID
}

func addr() net.Addr { return kafka.TCP(strings.Split(boot, ",")...) }

func newClient() *kafka.Client {
	return &kafka.Client{Addr: addr(), Timeout: 15 * time.Second}
}

// createTopic creates the topic and waits until every partition answers
// ListOffsets, so the first produce does not race a new leader.
func createTopic(ctx context.Context, name string, partitions int) {
	cl := newClient()
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: name, NumPartitions: partitions, ReplicationFactor: 1,
	}}})
	must(err, "CreateTopics")
	must(resp.Errors[name], "CreateTopics "+name)
	for {
		req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
		for p := 0; p < partitions; p++ {
			req.Topics[name] = append(req.Topics[name], kafka.LastOffsetOf(p))
		}
		lo, err := cl.ListOffsets(ctx, req)
		ready := err == nil && len(lo.Topics[name]) == partitions
		if ready {
			for _, p := range lo.Topics[name] {
				ready = ready && p.Error == nil
			}
		}
		if ready {
			return
		}
		select {
		case <-ctx.Done():
			fail("topic %s not ready: %v", name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// msg is what a case produces and expects back.
type msg struct {
	key, value string
	header     string
}

func msgFor(c string, i int) msg {
	return msg{
		key:    fmt.Sprintf("k-%d", i%7),
		value:  fmt.Sprintf("%s value %06d %s", c, i, strings.Repeat("x", i%50)),
		header: fmt.Sprintf("h-%d", i),
	}
}

func (m msg) message() kafka.Message {
	return kafka.Message{Key: []byte(m.key), Value: []byte(m.value), Headers: []kafka.Header{{Key: "i", Value: []byte(m.header)}}}
}

func (m msg) record() kafka.Record {
	return kafka.Record{
		Key: kafka.NewBytes([]byte(m.key)), Value: kafka.NewBytes([]byte(m.value)),
		Headers: []kafka.Header{{Key: "i", Value: []byte(m.header)}},
	}
}

func fromMessage(m kafka.Message) msg {
	h := ""
	for _, x := range m.Headers {
		if x.Key == "i" {
			h = string(x.Value)
		}
	}
	return msg{key: string(m.Key), value: string(m.Value), header: h}
}

func readBytes(b kafka.Bytes) string {
	if b == nil {
		return ""
	}
	data, err := io.ReadAll(b)
	must(err, "read record bytes")
	return string(data)
}

// produceRecords appends msgs to one partition with Client.Produce in
// batches of batch records and returns the base offsets.
func produceRecords(ctx context.Context, topic string, partition int, msgs []msg, batch int) []int64 {
	cl := newClient()
	var bases []int64
	for i := 0; i < len(msgs); i += batch {
		end := min(i+batch, len(msgs))
		recs := make([]kafka.Record, 0, end-i)
		for _, m := range msgs[i:end] {
			recs = append(recs, m.record())
		}
		resp, err := cl.Produce(ctx, &kafka.ProduceRequest{
			Topic: topic, Partition: partition, RequiredAcks: kafka.RequireAll,
			Records: kafka.NewRecordReader(recs...),
		})
		must(err, "Client.Produce")
		must(resp.Error, "Client.Produce response")
		bases = append(bases, resp.BaseOffset)
	}
	return bases
}

// fetchAll reads a partition from offset with Client.Fetch until end.
func fetchAll(ctx context.Context, topic string, partition int, offset, end int64) []msg {
	cl := newClient()
	var got []msg
	for offset < end {
		resp, err := cl.Fetch(ctx, &kafka.FetchRequest{
			Topic: topic, Partition: partition, Offset: offset,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 500 * time.Millisecond,
		})
		must(err, "Client.Fetch")
		must(resp.Error, "Client.Fetch response")
		check(resp.HighWatermark == end, "Client.Fetch high watermark %d, want %d", resp.HighWatermark, end)
		for {
			r, err := resp.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			must(err, "ReadRecord")
			if r.Offset < offset {
				continue // a batch may start before the fetch offset
			}
			check(r.Offset == offset, "record at offset %d, want %d", r.Offset, offset)
			m := msg{key: readBytes(r.Key), value: readBytes(r.Value)}
			for _, h := range r.Headers {
				if h.Key == "i" {
					m.header = string(h.Value)
				}
			}
			got = append(got, m)
			offset++
		}
	}
	return got
}

func sameSeq(got, want []msg, what string) {
	check(len(got) == len(want), "%s: %d records, want %d", what, len(got), len(want))
	for i := range want {
		check(got[i] == want[i], "%s: record %d is %+v, want %+v", what, i, got[i], want[i])
	}
}

func sameSet(got, want []msg, what string) {
	key := func(m msg) string { return m.key + "\x00" + m.value + "\x00" + m.header }
	g := make([]string, len(got))
	for i, m := range got {
		g[i] = key(m)
	}
	w := make([]string, len(want))
	for i, m := range want {
		w[i] = key(m)
	}
	sort.Strings(g)
	sort.Strings(w)
	check(len(g) == len(w), "%s: %d records, want %d", what, len(g), len(w))
	for i := range w {
		check(g[i] == w[i], "%s: records differ (first difference %q vs %q)", what, g[i], w[i])
	}
}

func endOffsets(ctx context.Context, topic string, partitions int) map[int]int64 {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := 0; p < partitions; p++ {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	lo, err := newClient().ListOffsets(ctx, req)
	must(err, "ListOffsets")
	out := map[int]int64{}
	for _, p := range lo.Topics[topic] {
		must(p.Error, "ListOffsets partition")
		out[p.Partition] = p.LastOffset
	}
	return out
}

func msgsFor(c string, n int) []msg {
	out := make([]msg, n)
	for i := range out {
		out[i] = msgFor(c, i)
	}
	return out
}

type caseDef struct {
	name string
	// xfailOnFjord marks a case covered by an open fjord issue (none now).
	xfailOnFjord bool
	timeout      time.Duration
	fn           func(ctx context.Context, name string)
}

var cases []caseDef

func addCase(name string, timeout time.Duration, fn func(ctx context.Context, name string)) {
	cases = append(cases, caseDef{name, false, timeout, fn})
}

func init() {
	// Client.Produce: three batches to one partition get consecutive base
	// offsets, and ListOffsets sees the end.
	addCase("client_produce", 60*time.Second, func(ctx context.Context, name string) {
		t := topicName(name)
		createTopic(ctx, t, 2)
		bases := produceRecords(ctx, t, 1, msgsFor(name, 30), 10)
		check(fmt.Sprint(bases) == "[0 10 20]", "base offsets %v, want [0 10 20]", bases)
		ends := endOffsets(ctx, t, 2)
		check(ends[0] == 0 && ends[1] == 30, "end offsets %v, want map[0:0 1:30]", ends)
	})

	// Client.Fetch (Fetch v11, session id -1, epoch -1): every record comes
	// back in order from offset 0, and from an offset inside a batch; at the
	// end of the log the answer is empty, with the high watermark.
	addCase("client_fetch", 60*time.Second, func(ctx context.Context, name string) {
		t := topicName(name)
		createTopic(ctx, t, 1)
		want := msgsFor(name, 100)
		produceRecords(ctx, t, 0, want, 25)
		sameSeq(fetchAll(ctx, t, 0, 0, 100), want, "Client.Fetch from 0")
		sameSeq(fetchAll(ctx, t, 0, 37, 100), want[37:], "Client.Fetch from 37")
		resp, err := newClient().Fetch(ctx, &kafka.FetchRequest{
			Topic: t, Partition: 0, Offset: 100, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond,
		})
		must(err, "Client.Fetch at the end")
		must(resp.Error, "Client.Fetch at the end")
		check(resp.HighWatermark == 100, "high watermark %d at the end", resp.HighWatermark)
		_, err = resp.Records.ReadRecord()
		check(errors.Is(err, io.EOF), "records at the end of the log: %v", err)
	})

	// Writer: keyed messages over three partitions (hash balancer, acks=all)
	// all land, and reading each partition back gives exactly them.
	addCase("writer", 90*time.Second, func(ctx context.Context, name string) {
		t := topicName(name)
		createTopic(ctx, t, 3)
		w := &kafka.Writer{
			Addr: addr(), Topic: t, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
			BatchTimeout: 10 * time.Millisecond, WriteTimeout: 15 * time.Second,
		}
		defer w.Close()
		want := msgsFor(name, 600)
		for i := 0; i < len(want); i += 100 {
			batch := make([]kafka.Message, 0, 100)
			for _, m := range want[i : i+100] {
				batch = append(batch, m.message())
			}
			must(w.WriteMessages(ctx, batch...), "Writer.WriteMessages")
		}
		ends := endOffsets(ctx, t, 3)
		var got []msg
		for p := 0; p < 3; p++ {
			got = append(got, fetchAll(ctx, t, p, 0, ends[p])...)
		}
		sameSet(got, want, "records written by Writer")
	})

	// Reader without a group (a partition reader): reads one partition from
	// the first offset, in order, with offsets and headers.
	addCase("reader_partition", 60*time.Second, func(ctx context.Context, name string) {
		t := topicName(name)
		createTopic(ctx, t, 2)
		want := msgsFor(name, 200)
		produceRecords(ctx, t, 1, want, 50)
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: strings.Split(boot, ","), Topic: t, Partition: 1,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond,
		})
		defer r.Close()
		must(r.SetOffset(kafka.FirstOffset), "Reader.SetOffset")
		var got []msg
		for i := range want {
			m, err := r.ReadMessage(ctx)
			must(err, fmt.Sprintf("Reader.ReadMessage %d", i))
			check(m.Partition == 1 && m.Offset == int64(i), "message %d at partition %d offset %d", i, m.Partition, m.Offset)
			got = append(got, fromMessage(m))
		}
		sameSeq(got, want, "partition reader")
		check(r.Lag() == 0, "lag %d after reading everything", r.Lag())
	})

	// Reader with a group: joins, is assigned all three partitions, reads
	// every record once and commits; the group's committed offsets are the
	// end offsets.
	addCase("reader_group", 120*time.Second, func(ctx context.Context, name string) {
		t := topicName(name)
		createTopic(ctx, t, 3)
		want := msgsFor(name, 300)
		for p := 0; p < 3; p++ {
			var part []msg
			for i := p; i < len(want); i += 3 {
				part = append(part, want[i])
			}
			produceRecords(ctx, t, p, part, 50)
		}
		group := "compat-kafkago-group-" + runID
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: strings.Split(boot, ","), Topic: t, GroupID: group,
			StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 1 << 20,
			MaxWait: 200 * time.Millisecond, HeartbeatInterval: time.Second,
			SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second,
		})
		var got []msg
		seen := map[string]bool{}
		for len(got) < len(want) {
			m, err := r.FetchMessage(ctx)
			must(err, "Reader.FetchMessage")
			k := fmt.Sprintf("%d/%d", m.Partition, m.Offset)
			check(!seen[k], "message %s read twice", k)
			seen[k] = true
			got = append(got, fromMessage(m))
			must(r.CommitMessages(ctx, m), "Reader.CommitMessages")
		}
		must(r.Close(), "Reader.Close")
		sameSet(got, want, "group reader")
		of, err := newClient().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{t: {0, 1, 2}}})
		must(err, "OffsetFetch")
		for _, p := range of.Topics[t] {
			must(p.Error, "OffsetFetch partition")
			check(p.CommittedOffset == 100, "partition %d committed %d, want 100", p.Partition, p.CommittedOffset)
		}
		check(len(of.Topics[t]) == 3, "OffsetFetch answered %d partitions", len(of.Topics[t]))
	})

	// Conn: DialLeader, WriteMessages, Seek and ReadBatch, the low-level API.
	addCase("conn_read_batch", 60*time.Second, func(ctx context.Context, name string) {
		t := topicName(name)
		createTopic(ctx, t, 1)
		conn, err := kafka.DialLeader(ctx, "tcp", strings.Split(boot, ",")[0], t, 0)
		must(err, "DialLeader")
		defer conn.Close()
		deadline, _ := ctx.Deadline()
		must(conn.SetDeadline(deadline), "SetDeadline")
		want := msgsFor(name, 150)
		for i := 0; i < len(want); i += 50 {
			batch := make([]kafka.Message, 0, 50)
			for _, m := range want[i : i+50] {
				batch = append(batch, m.message())
			}
			_, err := conn.WriteMessages(batch...)
			must(err, "Conn.WriteMessages")
		}
		first, last, err := conn.ReadOffsets()
		must(err, "Conn.ReadOffsets")
		check(first == 0 && last == 150, "offsets %d..%d, want 0..150", first, last)
		var got []msg
		for offset := int64(0); offset < 150; {
			_, err := conn.Seek(offset, kafka.SeekAbsolute)
			must(err, "Conn.Seek")
			b := conn.ReadBatch(1, 1<<20)
			for {
				m, err := b.ReadMessage()
				if err != nil {
					break
				}
				check(m.Offset == offset, "Conn message at offset %d, want %d", m.Offset, offset)
				got = append(got, fromMessage(m))
				offset++
			}
			check(b.HighWaterMark() == 150, "batch high watermark %d", b.HighWaterMark())
			must(b.Close(), "Batch.Close")
		}
		sameSeq(got, want, "Conn.ReadBatch")
	})
}

// runCase runs one case under its deadline; a case that ignores its context
// is abandoned 10 s after the deadline so the suite always finishes.
func runCase(c caseDef) (status, msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	res := make(chan string, 1)
	go func() {
		defer func() {
			r := recover()
			switch v := r.(type) {
			case nil:
				res <- ""
			case failure:
				res <- v.msg
			default:
				res <- fmt.Sprintf("panic: %v", v)
			}
		}()
		c.fn(ctx, c.name)
	}()
	select {
	case msg = <-res:
	case <-time.After(c.timeout + 10*time.Second):
		msg = fmt.Sprintf("case did not finish within %s", c.timeout+10*time.Second)
	}
	expectFail := c.xfailOnFjord && target == "fjord"
	switch {
	case msg == "" && expectFail:
		return "xfail", "unexpected-pass"
	case msg == "":
		return "pass", ""
	case expectFail:
		return "xfail", msg
	}
	return "fail", msg
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--list" {
		for _, c := range cases {
			fmt.Println(c.name)
		}
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "--list-xfail-on-fjord" {
		for _, c := range cases {
			if c.xfailOnFjord {
				fmt.Println(c.name)
			}
		}
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kafka-go-compat <bootstrap> [case ...] | --list")
		os.Exit(2)
	}
	boot = os.Args[1]
	only := map[string]bool{}
	for _, a := range os.Args[2:] {
		only[a] = true
	}
	logf("target %s, run %s", target, runID)
	for _, c := range cases {
		if len(only) > 0 && !only[c.name] {
			continue
		}
		start := time.Now()
		status, msg := runCase(c)
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		logf("%s %s in %s", c.name, status, time.Since(start).Round(time.Millisecond))
		fmt.Println(strings.TrimRight(fmt.Sprintf("RESULT %s %s %s", c.name, status, msg), " "))
	}
}

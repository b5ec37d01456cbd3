// Command franz-go-compat is the franz-go compatibility suite.
//
//	franz-go-compat <bootstrap> [case ...]   run all cases, or only the named ones
//	franz-go-compat --list                   print the case names
//	franz-go-compat --list-xfail-on-fjord    print the cases expected to fail on fjord
//
// One line per case on stdout: RESULT <case> <pass|fail|xfail> <message>.
// Diagnostics (and a summary of the requests and versions the client sent)
// go to stderr. Every case has its own topic(s) and its own deadline.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	boot   string
	target = envOr("COMPAT_TARGET", "fjord")
	runID  = fmt.Sprintf("%x%04x", time.Now().Unix(), os.Getpid()&0xffff)
	reqLog = newRequestLog()
)

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[franz-go] "+format+"\n", args...)
}

// ---------------------------------------------------------------------------
// request log: franz-go logs "wrote <Request> v<N>" at debug level; count them
// so a run ends with the list of APIs and versions this client really used.

type requestLog struct {
	mu     sync.Mutex
	counts map[string]int
}

func newRequestLog() *requestLog { return &requestLog{counts: map[string]int{}} }

func (l *requestLog) Level() kgo.LogLevel { return kgo.LogLevelDebug }

func (l *requestLog) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if level == kgo.LogLevelDebug && strings.HasPrefix(msg, "wrote ") {
		l.mu.Lock()
		l.counts[strings.TrimPrefix(msg, "wrote ")]++
		l.mu.Unlock()
		return
	}
	if level <= kgo.LogLevelWarn && level != kgo.LogLevelNone {
		var b strings.Builder
		for i := 0; i+1 < len(keyvals); i += 2 {
			fmt.Fprintf(&b, " %v=%v", keyvals[i], keyvals[i+1])
		}
		logf("client %s: %s%s", level, msg, b.String())
	}
}

func (l *requestLog) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.counts))
	for k := range l.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, l.counts[k])
	}
	return strings.Join(parts, ", ")
}

// ---------------------------------------------------------------------------

type failure struct{ msg string }

func (f failure) Error() string { return f.msg }

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
	return "compat-franz-" + strings.ReplaceAll(c, "_", "-") + "-" + runID
}

func newClient(opts ...kgo.Opt) *kgo.Client {
	base := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(boot, ",")...),
		kgo.ClientID("fjord-compat-franz-go"),
		kgo.WithLogger(reqLog),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(20 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	must(err, "kgo.NewClient")
	return cl
}

// closeBounded closes a client but gives up waiting after d (a group member
// that cannot leave its group must not hang the suite).
func closeBounded(cl *kgo.Client, d time.Duration) {
	done := make(chan struct{})
	go func() { cl.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		logf("client close did not finish within %s", d)
	}
}

func newAdmin() (*kadm.Client, func()) {
	cl := newClient()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(15000)
	return adm, func() { closeBounded(cl, 5*time.Second) }
}

func createTopic(ctx context.Context, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, name)
	must(err, "CreateTopic "+name)
	must(resp.Err, "CreateTopic "+name)
	waitTopic(ctx, adm, name, int(partitions))
	// A KRaft broker can name a leader in metadata a moment before that
	// leader serves the partition: wait until every partition answers ListOffsets.
	for {
		ends, err := adm.ListEndOffsets(ctx, name)
		if err == nil && ends.Error() == nil {
			return
		}
		select {
		case <-ctx.Done():
			fail("partitions of %s never answered ListOffsets: %v / %v", name, err, ends.Error())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func waitTopic(ctx context.Context, adm *kadm.Client, name string, partitions int) {
	for {
		tds, err := adm.ListTopics(ctx, name)
		if err == nil {
			if td, ok := tds[name]; ok && td.Err == nil && len(td.Partitions) == partitions {
				ok := true
				for _, p := range td.Partitions {
					ok = ok && p.Leader >= 0 && p.Err == nil
				}
				if ok {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			fail("topic %s not visible with %d partitions with leaders (last error %v)", name, partitions, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ---------------------------------------------------------------------------
// deterministic record content

func recordFor(i int, size int) *kgo.Record {
	key := []byte(fmt.Sprintf("key-%06d", i))
	var value []byte
	switch i % 1000 {
	case 999:
		value = nil // null value
	case 500:
		value = []byte{} // empty, not null
	default:
		value = make([]byte, 0, size+16)
		value = append(value, fmt.Sprintf("value-%06d|", i)...)
		for j := 0; j < size; j++ {
			value = append(value, byte(i*31+j*7))
		}
	}
	return &kgo.Record{
		Key:   key,
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: "idx", Value: []byte(fmt.Sprint(i))},
			{Key: "dup", Value: []byte("first")},
			{Key: "dup", Value: []byte("second")},
			{Key: "bin", Value: []byte{0, 255, byte(i)}},
			{Key: "empty", Value: []byte{}},
		},
	}
}

func sameRecord(got, want *kgo.Record) string {
	if !bytes.Equal(got.Key, want.Key) {
		return fmt.Sprintf("key %q, want %q", got.Key, want.Key)
	}
	if (got.Value == nil) != (want.Value == nil) || !bytes.Equal(got.Value, want.Value) {
		return fmt.Sprintf("value differs (nil %v vs %v, %d vs %d bytes)", got.Value == nil, want.Value == nil, len(got.Value), len(want.Value))
	}
	if len(got.Headers) != len(want.Headers) {
		return fmt.Sprintf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i := range got.Headers {
		if got.Headers[i].Key != want.Headers[i].Key || !bytes.Equal(got.Headers[i].Value, want.Headers[i].Value) {
			return fmt.Sprintf("header %d is %q=%q, want %q=%q", i, got.Headers[i].Key, got.Headers[i].Value, want.Headers[i].Key, want.Headers[i].Value)
		}
	}
	return ""
}

type produced struct {
	topic  string
	n      int
	size   int
	tsBase time.Time
	// per partition: record indexes in offset order (offset = position)
	byPartition map[int32][]int
}

// produceAll writes n records asynchronously and flushes, then checks every
// promise succeeded and offsets per partition are 0..k-1.
func produceAll(ctx context.Context, cl *kgo.Client, topic string, n, size int, tsBase time.Time) *produced {
	type ack struct {
		idx  int
		part int32
		off  int64
	}
	var (
		mu     sync.Mutex
		acks   = make([]ack, 0, n)
		errs   int
		first  error
		tsUsed = !tsBase.IsZero()
	)
	for i := 0; i < n; i++ {
		r := recordFor(i, size)
		r.Topic = topic
		if tsUsed {
			r.Timestamp = tsBase.Add(time.Duration(i) * time.Millisecond)
		}
		i := i
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if first == nil {
					first = fmt.Errorf("record %d: %w", i, err)
				}
				return
			}
			acks = append(acks, ack{i, r.Partition, r.Offset})
		})
	}
	must(cl.Flush(ctx), "Flush")
	mu.Lock()
	defer mu.Unlock()
	check(errs == 0, "%d produce errors, first: %v", errs, first)
	check(len(acks) == n, "%d acks for %d records", len(acks), n)
	p := &produced{topic: topic, n: n, size: size, tsBase: tsBase, byPartition: map[int32][]int{}}
	sort.Slice(acks, func(a, b int) bool {
		if acks[a].part != acks[b].part {
			return acks[a].part < acks[b].part
		}
		return acks[a].off < acks[b].off
	})
	for _, a := range acks {
		list := p.byPartition[a.part]
		check(a.off == int64(len(list)), "partition %d: offset %d acked where %d expected (gap or duplicate)", a.part, a.off, len(list))
		if len(list) > 0 {
			check(a.idx > list[len(list)-1], "partition %d: record %d stored after record %d (out of order)", a.part, a.idx, list[len(list)-1])
		}
		p.byPartition[a.part] = append(list, a.idx)
	}
	return p
}

// consumeDirect reads every partition from offset 0 with ConsumePartitions (no
// group) and checks order, content and (optionally) timestamps.
func consumeDirect(ctx context.Context, p *produced, partitions int32) {
	offs := map[int32]kgo.Offset{}
	for i := int32(0); i < partitions; i++ {
		offs[i] = kgo.NewOffset().At(0)
	}
	cl := newClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.topic: offs}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	defer closeBounded(cl, 5*time.Second)
	next := map[int32]int{}
	total := 0
	for total < p.n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fail("timed out reading: %d of %d records (%v)", total, p.n, next)
		}
		fs.EachError(func(t string, part int32, err error) {
			fail("fetch %s[%d]: %v", t, part, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			list := p.byPartition[r.Partition]
			pos := next[r.Partition]
			check(r.Offset == int64(pos), "partition %d: got offset %d, expected %d", r.Partition, r.Offset, pos)
			check(pos < len(list), "partition %d: unexpected record at offset %d", r.Partition, r.Offset)
			want := recordFor(list[pos], p.size)
			if d := sameRecord(r, want); d != "" {
				fail("partition %d offset %d: %s", r.Partition, r.Offset, d)
			}
			if !p.tsBase.IsZero() {
				wantTs := p.tsBase.Add(time.Duration(list[pos]) * time.Millisecond)
				check(r.Timestamp.Equal(wantTs) && r.Attrs.TimestampType() == 0,
					"partition %d offset %d: timestamp %v (type %d), want CreateTime %v", r.Partition, r.Offset, r.Timestamp.UnixMilli(), r.Attrs.TimestampType(), wantTs.UnixMilli())
			}
			next[r.Partition] = pos + 1
			total++
		})
	}
	for part, list := range p.byPartition {
		check(next[part] == len(list), "partition %d: read %d of %d", part, next[part], len(list))
	}
}

// ---------------------------------------------------------------------------
// cases

type caseDef struct {
	name string
	// xfailOnFjord: an open fjord issue makes this case expected to fail on
	// fjord (it then reports xfail there).
	xfailOnFjord bool
	timeout      time.Duration
	fn           func(ctx context.Context, name string)
}

var cases []caseDef

func addCase(name string, xfailOnFjord bool, timeout time.Duration, fn func(ctx context.Context, name string)) {
	cases = append(cases, caseDef{name, xfailOnFjord, timeout, fn})
}

// produceFixture creates this case's 3-partition topic and fills it with n
// records (idempotent producer, CreateTime timestamps tsBase + i ms).
func produceFixture(ctx context.Context, name string, n int) *produced {
	adm, done := newAdmin()
	defer done()
	t := topicName(name)
	createTopic(ctx, adm, t, 3, nil)
	cl := newClient(kgo.ProducerLinger(10 * time.Millisecond))
	defer closeBounded(cl, 5*time.Second)
	return produceAll(ctx, cl, t, n, 100, time.Now().Add(-10*time.Minute).Truncate(time.Millisecond))
}

func init() {
	addCase("admin_create_topics", false, 30*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 3, map[string]*string{
			"retention.ms":      kadm.StringPtr("3600000"),
			"max.message.bytes": kadm.StringPtr("2000000"),
		})
		resp, err := adm.CreateTopic(ctx, 3, 1, nil, t)
		if err == nil {
			err = resp.Err
		}
		check(errors.Is(err, kerr.TopicAlreadyExists), "second create of %s: %v, want TOPIC_ALREADY_EXISTS", t, err)
	})

	addCase("admin_list_topics", false, 30*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 3, nil)
		tds, err := adm.ListTopics(ctx)
		must(err, "ListTopics")
		td, ok := tds[t]
		check(ok, "%s missing from ListTopics (%d topics)", t, len(tds))
		check(len(td.Partitions) == 3, "%d partitions", len(td.Partitions))
		check(td.ID != kadm.TopicID{}, "topic has no topic ID")
		md, err := adm.BrokerMetadata(ctx)
		must(err, "BrokerMetadata")
		check(len(md.Brokers) >= 1 && md.Cluster != "", "metadata: %d brokers, cluster id %q", len(md.Brokers), md.Cluster)
		for _, p := range td.Partitions {
			check(len(p.Replicas) >= 1 && len(p.ISR) >= 1, "partition %d: replicas %v isr %v", p.Partition, p.Replicas, p.ISR)
		}
	})

	addCase("admin_describe_configs", false, 30*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 1, map[string]*string{
			"retention.ms":      kadm.StringPtr("3600000"),
			"max.message.bytes": kadm.StringPtr("2000000"),
		})
		rcs, err := adm.DescribeTopicConfigs(ctx, t)
		must(err, "DescribeTopicConfigs")
		rc, err := rcs.On(t, nil)
		must(err, "DescribeTopicConfigs "+t)
		must(rc.Err, "DescribeTopicConfigs "+t)
		got := map[string]kadm.Config{}
		for _, c := range rc.Configs {
			got[c.Key] = c
		}
		rm := got["retention.ms"]
		check(rm.MaybeValue() == "3600000", "retention.ms=%q", rm.MaybeValue())
		check(rm.Source.String() == "DYNAMIC_TOPIC_CONFIG", "retention.ms source %s", rm.Source)
		cp := got["cleanup.policy"]
		check(cp.MaybeValue() == "delete", "cleanup.policy=%q", cp.MaybeValue())
		md, err := adm.BrokerMetadata(ctx)
		must(err, "BrokerMetadata")
		id := md.Brokers[0].NodeID
		brcs, err := adm.DescribeBrokerConfigs(ctx, id)
		must(err, "DescribeBrokerConfigs")
		check(len(brcs) == 1 && brcs[0].Err == nil && len(brcs[0].Configs) > 10, "broker %d configs: %+v", id, brcs)
	})

	addCase("admin_alter_configs", false, 30*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 1, nil)
		rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("7200000")},
			{Op: kadm.SetConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")},
		}, t)
		must(err, "AlterTopicConfigs set")
		for _, r := range rs {
			must(r.Err, "AlterTopicConfigs set "+r.Name)
		}
		waitConfig(ctx, adm, t, map[string]string{"retention.ms": "7200000", "cleanup.policy": "compact"})
		rs, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.ms"}}, t)
		must(err, "AlterTopicConfigs delete")
		for _, r := range rs {
			must(r.Err, "AlterTopicConfigs delete "+r.Name)
		}
		// retention.ms falls back to the broker default: no longer a topic override
		for {
			rcs, err := adm.DescribeTopicConfigs(ctx, t)
			if err == nil && len(rcs) == 1 && rcs[0].Err == nil {
				var src string
				for _, c := range rcs[0].Configs {
					if c.Key == "retention.ms" {
						src = c.Source.String()
					}
				}
				if src != "" && src != "DYNAMIC_TOPIC_CONFIG" {
					break
				}
			}
			select {
			case <-ctx.Done():
				fail("retention.ms still a topic override after DeleteConfig (err %v)", err)
			case <-time.After(300 * time.Millisecond):
			}
		}
	})

	addCase("admin_create_partitions", false, 30*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 1, nil)
		rs, err := adm.UpdatePartitions(ctx, 4, t)
		must(err, "UpdatePartitions")
		must(rs.Error(), "UpdatePartitions "+t)
		waitTopic(ctx, adm, t, 4)
	})

	addCase("admin_delete_topics", false, 30*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 3, nil)
		r, err := adm.DeleteTopic(ctx, t)
		must(err, "DeleteTopic")
		must(r.Err, "DeleteTopic "+t)
		for {
			tds, err := adm.ListTopics(ctx)
			if err == nil {
				if _, ok := tds[t]; !ok {
					break
				}
			}
			select {
			case <-ctx.Done():
				fail("%s still listed after delete", t)
			case <-time.After(300 * time.Millisecond):
			}
		}
		r, err = adm.DeleteTopic(ctx, "compat-franz-never-created-"+runID)
		if err == nil {
			err = r.Err
		}
		check(errors.Is(err, kerr.UnknownTopicOrPartition), "deleting a missing topic: %v", err)
	})

	addCase("idempotent_produce", false, 90*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 3, nil)
		// franz-go is idempotent with acks=all by default; say so anyway.
		cl := newClient(
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerLinger(10*time.Millisecond),
			kgo.DefaultProduceTopic(t),
		)
		defer closeBounded(cl, 5*time.Second)
		start := time.Now()
		p := produceAll(ctx, cl, t, 50000, 100, time.Now().Add(-10*time.Minute).Truncate(time.Millisecond))
		logf("produced %d records in %s: %v", p.n, time.Since(start).Round(time.Millisecond), partitionCounts(p))
		check(len(p.byPartition) == 3, "records landed in %d of 3 partitions", len(p.byPartition))
	})

	addCase("direct_consume", false, 90*time.Second, func(ctx context.Context, name string) {
		p := produceFixture(ctx, name, 50000)
		start := time.Now()
		consumeDirect(ctx, p, 3)
		logf("consumed %d records in %s", p.n, time.Since(start).Round(time.Millisecond))
	})

	addCase("list_offsets", false, 30*time.Second, func(ctx context.Context, name string) {
		p := produceFixture(ctx, name, 3000)
		adm, done := newAdmin()
		defer done()
		starts, err := adm.ListStartOffsets(ctx, p.topic)
		must(err, "ListStartOffsets")
		must(starts.Error(), "ListStartOffsets")
		ends, err := adm.ListEndOffsets(ctx, p.topic)
		must(err, "ListEndOffsets")
		must(ends.Error(), "ListEndOffsets")
		for part, list := range p.byPartition {
			s, _ := starts.Lookup(p.topic, part)
			e, _ := ends.Lookup(p.topic, part)
			check(s.Offset == 0 && e.Offset == int64(len(list)), "partition %d: start %d end %d, want 0 and %d", part, s.Offset, e.Offset, len(list))
		}
		// first offset whose timestamp is >= the middle record's timestamp
		for part, list := range p.byPartition {
			mid := len(list) / 2
			ms := p.tsBase.Add(time.Duration(list[mid]) * time.Millisecond).UnixMilli()
			after, err := adm.ListOffsetsAfterMilli(ctx, ms, p.topic)
			must(err, "ListOffsetsAfterMilli")
			o, ok := after.Lookup(p.topic, part)
			check(ok && o.Err == nil, "ListOffsetsAfterMilli partition %d: %v", part, o.Err)
			check(o.Offset == int64(mid), "ListOffsetsAfterMilli(%d) partition %d = %d, want %d", ms, part, o.Offset, mid)
		}
		// past the last timestamp: the end offset
		late, err := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), p.topic)
		must(err, "ListOffsetsAfterMilli(future)")
		for part, list := range p.byPartition {
			o, _ := late.Lookup(p.topic, part)
			check(o.Offset == int64(len(list)), "ListOffsetsAfterMilli(future) partition %d = %d, want end %d", part, o.Offset, len(list))
		}
	})

	for _, c := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	} {
		codec := c.codec
		addCase("compression_"+c.name, false, 45*time.Second, func(ctx context.Context, name string) {
			adm, done := newAdmin()
			defer done()
			t := topicName(name)
			createTopic(ctx, adm, t, 1, nil)
			cl := newClient(kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(20*time.Millisecond))
			defer closeBounded(cl, 5*time.Second)
			p := produceAll(ctx, cl, t, 5000, 200, time.Time{})
			consumeDirect(ctx, p, 1)
		})
	}

	addCase("delete_records", false, 45*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 1, nil)
		cl := newClient()
		defer closeBounded(cl, 5*time.Second)
		produceAll(ctx, cl, t, 1000, 50, time.Time{})
		var offs kadm.Offsets
		offs.AddOffset(t, 0, 400, -1)
		rs, err := adm.DeleteRecords(ctx, offs)
		must(err, "DeleteRecords")
		must(rs.Error(), "DeleteRecords")
		r, _ := rs.Lookup(t, 0)
		check(r.LowWatermark == 400, "DeleteRecords low watermark %d, want 400", r.LowWatermark)
		starts, err := adm.ListStartOffsets(ctx, t)
		must(err, "ListStartOffsets")
		s, _ := starts.Lookup(t, 0)
		check(s.Offset == 400, "start offset after DeleteRecords %d, want 400", s.Offset)
		// reading from offset 0 now resets to the new start (reset policy: start)
		rd := newClient(
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{t: {0: kgo.NewOffset().At(0)}}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(500*time.Millisecond),
		)
		defer closeBounded(rd, 5*time.Second)
		for {
			fs := rd.PollFetches(ctx)
			if ctx.Err() != nil {
				fail("no record read after DeleteRecords")
			}
			var first *kgo.Record
			fs.EachRecord(func(r *kgo.Record) {
				if first == nil {
					first = r
				}
			})
			if first != nil {
				check(first.Offset == 400, "first record after DeleteRecords at offset %d, want 400", first.Offset)
				break
			}
		}
	})

	addCase("group_cooperative_sticky_commit", false, 60*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 3, nil)
		pcl := newClient()
		p := produceAll(ctx, pcl, t, 3000, 50, time.Time{})
		closeBounded(pcl, 5*time.Second)
		group := "compat-franz-group-" + runID
		cl := newClient(
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(t),
			kgo.Balancers(kgo.CooperativeStickyBalancer()),
			kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.SessionTimeout(10*time.Second),
			kgo.FetchMaxWait(500*time.Millisecond),
		)
		closed := false
		defer func() {
			if !closed {
				closeBounded(cl, 5*time.Second)
			}
		}()
		seen := map[int32]int{}
		total := 0
		for total < p.n {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				fail("group consumer read %d of %d records", total, p.n)
			}
			fs.EachError(func(t string, part int32, err error) {
				fail("fetch %s[%d]: %v", t, part, err)
			})
			fs.EachRecord(func(r *kgo.Record) {
				check(r.Offset == int64(seen[r.Partition]), "partition %d: offset %d, expected %d", r.Partition, r.Offset, seen[r.Partition])
				seen[r.Partition]++
				total++
			})
		}
		must(cl.CommitUncommittedOffsets(ctx), "CommitUncommittedOffsets")
		dg, err := adm.DescribeGroups(ctx, group)
		must(err, "DescribeGroups")
		g := dg[group]
		must(g.Err, "DescribeGroups "+group)
		check(g.State == "Stable" && len(g.Members) == 1 && g.Protocol == "cooperative-sticky",
			"group state %q, %d members, protocol %q; want Stable, 1, cooperative-sticky", g.State, len(g.Members), g.Protocol)
		lctx, lcancel := context.WithTimeout(ctx, 15*time.Second)
		err = cl.LeaveGroupContext(lctx)
		lcancel()
		must(err, "LeaveGroup")
		closeBounded(cl, 5*time.Second)
		closed = true
		offs, err := adm.FetchOffsets(ctx, group)
		must(err, "FetchOffsets")
		must(offs.Error(), "FetchOffsets")
		for part, list := range p.byPartition {
			o, ok := offs.Lookup(t, part)
			check(ok && o.At == int64(len(list)), "committed offset for partition %d: %d (found %v), want %d", part, o.At, ok, len(list))
		}
		lg, err := adm.ListGroups(ctx)
		must(err, "ListGroups")
		_, listed := lg[group]
		check(listed, "group %s missing from ListGroups", group)
	})

	// Issue 15: OffsetCommit requests pipelined on one connection must take
	// effect in the order sent. Each commit is issued from its own goroutine
	// as soon as the previous one is written (not answered), so a round's
	// commits go out back to back in a known order with rising offsets; once
	// all are answered, FetchOffsets must return the last. A broker that
	// reorders them is caught only when the last commit of a burst loses the
	// race, hence several rounds.
	addCase("commit_pipelined_in_order", false, 60*time.Second, func(ctx context.Context, name string) {
		const rounds, perRound = 5, 100
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		createTopic(ctx, adm, t, 1, nil)
		pcl := newClient()
		produceAll(ctx, pcl, t, rounds*perRound, 50, time.Time{})
		closeBounded(pcl, 5*time.Second)
		tds, err := adm.ListTopics(ctx, t)
		must(err, "ListTopics")
		topicID := tds[t].ID
		group := "compat-franz-commit-order-" + runID

		written := make(commitWrites, rounds*perRound)
		cl := newClient(kgo.WithHooks(written))
		defer closeBounded(cl, 5*time.Second)
		cadm := kadm.NewClient(cl)
		// Also finds the coordinator, so the commits below go straight out.
		// (A fresh Kafka answers COORDINATOR_NOT_AVAILABLE while it creates
		// __consumer_offsets.)
		var offs kadm.OffsetResponses
		for {
			offs, err = cadm.FetchOffsets(ctx, group)
			if err == nil || !errors.Is(err, kerr.CoordinatorNotAvailable) {
				break
			}
			select {
			case <-ctx.Done():
				fail("FetchOffsets: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
		}
		must(err, "FetchOffsets")
		_, found := offs.Lookup(t, 0)
		check(!found, "a new group already has a committed offset")

		for round := 1; round <= rounds; round++ {
			end := int64(round * perRound)
			var wg sync.WaitGroup
			errs := make(chan error, perRound)
			for at := end - perRound + 1; at <= end; at++ {
				req := kmsg.NewPtrOffsetCommitRequest()
				req.Group = group
				rt := kmsg.NewOffsetCommitRequestTopic()
				rt.Topic = t
				rt.TopicID = [16]byte(topicID) // OffsetCommit v10+ names topics by id
				rp := kmsg.NewOffsetCommitRequestTopicPartition()
				rp.Offset = at
				rt.Partitions = append(rt.Partitions, rp)
				req.Topics = append(req.Topics, rt)
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := req.RequestWith(ctx, cl)
					if err == nil {
						for _, rt := range resp.Topics {
							for _, rp := range rt.Partitions {
								if err == nil {
									err = kerr.ErrorForCode(rp.ErrorCode)
								}
							}
						}
					}
					if err != nil {
						errs <- fmt.Errorf("commit of offset %d: %w", at, err)
					}
				}()
				select {
				case <-written:
				case <-ctx.Done():
					fail("round %d: the commit of offset %d was never written", round, at)
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				fail("%v", err)
			}
			offs, err := cadm.FetchOffsets(ctx, group)
			must(err, "FetchOffsets")
			must(offs.Error(), "FetchOffsets")
			o, _ := offs.Lookup(t, 0)
			check(o.At == end, "committed offset %d after round %d of %d pipelined OffsetCommits, want %d (the last one's)",
				o.At, round, perRound, end)
		}
	})
}

// commitWrites is a kgo hook that signals every OffsetCommit request written
// to a broker.
type commitWrites chan struct{}

func (w commitWrites) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == kmsg.OffsetCommit.Int16() && err == nil {
		w <- struct{}{}
	}
}

func waitConfig(ctx context.Context, adm *kadm.Client, topic string, want map[string]string) {
	for {
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		got := map[string]string{}
		if err == nil && len(rcs) == 1 && rcs[0].Err == nil {
			for _, c := range rcs[0].Configs {
				got[c.Key] = c.MaybeValue()
			}
			ok := true
			for k, v := range want {
				ok = ok && got[k] == v
			}
			if ok {
				return
			}
		}
		select {
		case <-ctx.Done():
			fail("configs of %s never became %v (last: err %v, values %v)", topic, want, err, pick(got, want))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func pick(m, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		out[k] = m[k]
	}
	return out
}

func partitionCounts(p *produced) map[int32]int {
	out := map[int32]int{}
	for k, v := range p.byPartition {
		out[k] = len(v)
	}
	return out
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
		fmt.Fprintln(os.Stderr, "usage: franz-go-compat <bootstrap> [case ...] | --list")
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
	logf("requests sent (api version x count): %s", reqLog.summary())
}

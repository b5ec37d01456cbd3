// Command franz-go-groups-compat is the franz-go consumer-group suite.
//
//	franz-go-groups-compat <bootstrap> [case ...]   run all cases, or only the named ones
//	franz-go-groups-compat --list                   print the case names
//
// One line per case on stdout: RESULT <case> <pass|fail> <message>.
// Diagnostics (and a summary of the requests and versions the client sent)
// go to stderr. Every case has its own topic(s) and group and its own deadline.
package main

import (
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
)

var (
	boot   string
	target = envOr("COMPAT_TARGET", "fjord")
	runID  = fmt.Sprintf("%x%04x", time.Now().Unix(), os.Getpid()&0xffff)
	reqLog = newRequestLog()
)

const partitions = 6

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[franz-go-groups] "+format+"\n", args...)
}

// requestLog counts the "wrote <Request> v<N>" debug lines of every client
// and passes warnings and errors to stderr.
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
	return "compat-franz-groups-" + strings.ReplaceAll(c, "_", "-") + "-" + runID
}

func groupName(c string) string {
	return "compat-franz-groups-" + strings.ReplaceAll(c, "_", "-") + "-" + runID
}

func newClient(opts ...kgo.Opt) *kgo.Client {
	base := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(boot, ",")...),
		kgo.ClientID("fjord-compat-franz-go-groups"),
		kgo.WithLogger(reqLog),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(20 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	must(err, "kgo.NewClient")
	return cl
}

// closeBounded closes a client (a group member leaves its group) but gives
// up waiting after d.
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

// createTopic creates a topic and waits until every partition has a leader
// that answers ListOffsets.
func createTopic(ctx context.Context, adm *kadm.Client, name string, n int32) {
	resp, err := adm.CreateTopic(ctx, n, 1, nil, name)
	must(err, "CreateTopic "+name)
	must(resp.Err, "CreateTopic "+name)
	for {
		ends, err := adm.ListEndOffsets(ctx, name)
		if err == nil && ends.Error() == nil && len(ends[name]) == int(n) {
			return
		}
		select {
		case <-ctx.Done():
			fail("partitions of %s never answered ListOffsets: %v", name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// produce writes n records (record i to partition i % partitions, keys and
// values naming i) with the idempotent producer and waits for every ack.
func produce(ctx context.Context, cl *kgo.Client, topic string, from, n int) {
	var (
		mu    sync.Mutex
		errs  int
		first error
	)
	for i := from; i < from+n; i++ {
		r := &kgo.Record{Topic: topic, Partition: int32(i % partitions),
			Key: []byte(fmt.Sprintf("key-%07d", i)), Value: []byte(fmt.Sprintf("value-%07d", i))}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				errs++
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	must(cl.Flush(ctx), "Flush")
	check(errs == 0, "%d produce errors, first: %v", errs, first)
}

func producer() *kgo.Client {
	return newClient(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
}

func endOffsets(ctx context.Context, adm *kadm.Client, topic string) map[int32]int64 {
	ends, err := adm.ListEndOffsets(ctx, topic)
	must(err, "ListEndOffsets")
	must(ends.Error(), "ListEndOffsets")
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func committed(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	if err := offs.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, o := range offs[topic] {
		out[p] = o.At
	}
	return out, nil
}

func sameOffsets(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// tracker: which offsets of each partition any member processed

type tracker struct {
	mu   sync.Mutex
	done map[int32]map[int64]bool
	dups int
}

func newTracker() *tracker { return &tracker{done: map[int32]map[int64]bool{}} }

func (t *tracker) add(p int32, o int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.done[p]
	if m == nil {
		m = map[int64]bool{}
		t.done[p] = m
	}
	if m[o] {
		t.dups++
	}
	m[o] = true
}

// covers: every offset in [from[p], to[p]) of every partition processed.
func (t *tracker) covers(from, to map[int32]int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, end := range to {
		for o := from[p]; o < end; o++ {
			if !t.done[p][o] {
				return false
			}
		}
	}
	return true
}

func (t *tracker) lowest(p int32) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	low := int64(-1)
	for o := range t.done[p] {
		if low < 0 || o < low {
			low = o
		}
	}
	return low
}

func (t *tracker) describe(from, to map[int32]int64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var parts []string
	for p := int32(0); p < partitions; p++ {
		missing := int64(-1)
		n := 0
		for o := from[p]; o < to[p]; o++ {
			if t.done[p][o] {
				n++
			} else if missing < 0 {
				missing = o
			}
		}
		s := fmt.Sprintf("p%d %d/%d", p, n, to[p]-from[p])
		if missing >= 0 {
			s += fmt.Sprintf(" (first missing %d)", missing)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(", %d duplicates", t.dups)
}

// ---------------------------------------------------------------------------
// member: one group client polling, processing and committing on its own
// goroutine. BlockRebalanceOnPoll keeps rebalances out of the window between
// a poll and its commit (franz-go's at-least-once pattern without needless
// duplicates).

type member struct {
	name string
	cl   *kgo.Client
	tr   *tracker

	mu                      sync.Mutex
	owned                   map[int32]bool
	last                    map[int32]int64
	assigned, revoked, lost int
	revokedPartitions       int
	processed               int64
	commitErrs              int
	err                     string
	stop, done              chan struct{}
}

func startMember(name, group, topic string, balancer kgo.GroupBalancer, tr *tracker, extra ...kgo.Opt) *member {
	m := &member{name: name, tr: tr, owned: map[int32]bool{}, last: map[int32]int64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.Balancers(balancer),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(10 * time.Second),
		kgo.HeartbeatInterval(time.Second),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			m.assigned++
			for _, p := range a[topic] {
				m.owned[p] = true
			}
			m.mu.Unlock()
			logf("member %s: assigned %v", name, sorted(a[topic]))
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			m.revoked++
			m.revokedPartitions += len(r[topic])
			for _, p := range r[topic] {
				delete(m.owned, p)
				delete(m.last, p)
			}
			m.mu.Unlock()
			logf("member %s: revoked %v", name, sorted(r[topic]))
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			m.mu.Lock()
			m.lost++
			for _, p := range l[topic] {
				delete(m.owned, p)
				delete(m.last, p)
			}
			m.mu.Unlock()
			logf("member %s: lost %v", name, sorted(l[topic]))
		}),
	}
	m.cl = newClient(append(opts, extra...)...)
	go m.run()
	return m
}

func sorted(ps []int32) []int32 {
	out := append([]int32(nil), ps...)
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

func (m *member) setErr(format string, args ...any) {
	m.mu.Lock()
	if m.err == "" {
		m.err = fmt.Sprintf(format, args...)
	}
	m.mu.Unlock()
}

func (m *member) run() {
	defer close(m.done)
	for {
		select {
		case <-m.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := m.cl.PollRecords(ctx, 1000)
		cancel()
		if fs.IsClientClosed() {
			m.cl.AllowRebalance()
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				m.setErr("fetch %s[%d]: %v", t, p, err)
			}
		})
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			m.mu.Lock()
			prev, ok := m.last[r.Partition]
			if ok && r.Offset != prev+1 && m.err == "" {
				m.err = fmt.Sprintf("read partition %d offset %d right after offset %d without a rebalance", r.Partition, r.Offset, prev)
			}
			m.last[r.Partition] = r.Offset
			m.processed++
			m.mu.Unlock()
			m.tr.add(r.Partition, r.Offset)
			n++
		})
		if n > 0 {
			cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := m.cl.CommitUncommittedOffsets(cctx)
			ccancel()
			if err != nil {
				if errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) {
					m.mu.Lock()
					m.commitErrs++
					m.mu.Unlock()
				} else {
					m.setErr("commit: %v", err)
				}
			}
		}
		m.cl.AllowRebalance()
	}
}

// leave stops polling and closes the client, which leaves the group.
func (m *member) leave() {
	close(m.stop)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		logf("member %s: poll loop did not end", m.name)
	}
	closeBounded(m.cl, 10*time.Second)
}

func (m *member) ownedSet() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.owned {
		out = append(out, p)
	}
	return sorted(out)
}

func (m *member) state() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var owned []int32
	for p := range m.owned {
		owned = append(owned, p)
	}
	s := fmt.Sprintf("%s{owns %v, processed %d, assigned/revoked/lost calls %d/%d/%d", m.name, sorted(owned), m.processed, m.assigned, m.revoked, m.lost)
	if m.err != "" {
		s += ", error " + m.err
	}
	return s + "}"
}

func (m *member) failed() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func states(ms []*member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.state()
	}
	return strings.Join(parts, ", ")
}

// await polls cond until it holds, failing early if a member failed and
// with the members' state after d.
func await(ctx context.Context, d time.Duration, what string, ms []*member, cond func() bool, state func() string) {
	deadline := time.Now().Add(d)
	for {
		for _, m := range ms {
			if e := m.failed(); e != "" {
				fail("member %s: %s", m.name, e)
			}
		}
		if cond() {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			fail("%s not reached within %s: %s", what, d, state())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func balanced(ms []*member, each int) bool {
	all := map[int32]bool{}
	for _, m := range ms {
		o := m.ownedSet()
		if len(o) != each {
			return false
		}
		for _, p := range o {
			all[p] = true
		}
	}
	return len(all) == partitions
}

func covering(ms []*member) bool {
	all := map[int32]bool{}
	for _, m := range ms {
		for _, p := range m.ownedSet() {
			all[p] = true
		}
	}
	return len(all) == partitions
}

func awaitDone(ctx context.Context, adm *kadm.Client, ms []*member, tr *tracker, group, topic string, from, to map[int32]int64) {
	var last map[int32]int64
	var lastErr error
	await(ctx, 90*time.Second, "every record processed and the end offsets committed", ms, func() bool {
		if !tr.covers(from, to) {
			return false
		}
		last, lastErr = committed(ctx, adm, group, topic)
		return lastErr == nil && sameOffsets(last, to)
	}, func() string {
		return fmt.Sprintf("%s; committed %v (%v), end %v; %s", tr.describe(from, to), last, lastErr, to, states(ms))
	})
}

// sharedConsumption: three members share a 6-partition topic while 30,000
// records are produced in chunks; one member leaves, a new one joins; every
// record is processed at least once, no owned partition's offsets jump, the
// group commits the end offsets and DescribeGroups shows it Stable.
func sharedConsumption(ctx context.Context, name string, balancer kgo.GroupBalancer, cooperative bool) {
	adm, done := newAdmin()
	defer done()
	t := topicName(name)
	group := groupName(name)
	createTopic(ctx, adm, t, partitions)
	tr := newTracker()
	ms := []*member{startMember("a", group, t, balancer, tr), startMember("b", group, t, balancer, tr), startMember("c", group, t, balancer, tr)}
	all := append([]*member(nil), ms...)
	defer func() {
		for _, m := range all {
			select {
			case <-m.stop:
			default:
				m.leave()
			}
		}
	}()
	await(ctx, 60*time.Second, "three members with two partitions each", ms, func() bool { return balanced(ms, 2) },
		func() string { return states(ms) })
	logf("group formed: %s", states(ms))

	prodErr := make(chan string, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				prodErr <- fmt.Sprint(r)
				return
			}
			prodErr <- ""
		}()
		pcl := producer()
		defer closeBounded(pcl, 5*time.Second)
		for chunk := 0; chunk < 6; chunk++ {
			produce(ctx, pcl, t, chunk*5000, 5000)
			time.Sleep(500 * time.Millisecond)
		}
	}()
	await(ctx, 60*time.Second, "5,000 records processed", ms, func() bool {
		var n int64
		for _, m := range ms {
			m.mu.Lock()
			n += m.processed
			m.mu.Unlock()
		}
		return n >= 5000
	}, func() string { return states(ms) })

	aBefore, bBefore := ms[0].ownedSet(), ms[1].ownedSet()
	ms[0].mu.Lock()
	aRevoked := ms[0].revokedPartitions
	ms[0].mu.Unlock()
	ms[1].mu.Lock()
	bRevoked := ms[1].revokedPartitions
	ms[1].mu.Unlock()
	ms[2].leave()
	check(ms[2].failed() == "", "member c: %s", ms[2].failed())
	live := ms[:2]
	await(ctx, 30*time.Second, "a and b owning every partition after c left", live, func() bool { return covering(live) },
		func() string { return states(live) })
	logf("after c left: %s", states(live))
	if cooperative {
		ms[0].mu.Lock()
		aNow := ms[0].revokedPartitions
		ms[0].mu.Unlock()
		ms[1].mu.Lock()
		bNow := ms[1].revokedPartitions
		ms[1].mu.Unlock()
		check(aNow == aRevoked && bNow == bRevoked && contains(ms[0].ownedSet(), aBefore) && contains(ms[1].ownedSet(), bBefore),
			"cooperative takeover revoked survivors' partitions (a had %v, b had %v): %s", aBefore, bBefore, states(live))
	}
	d := startMember("d", group, t, balancer, tr)
	all = append(all, d)
	live = append(live, d)
	await(ctx, 60*time.Second, "a, b and the new member d with two partitions each", live, func() bool { return balanced(live, 2) },
		func() string { return states(live) })
	logf("after d joined: %s", states(live))

	select {
	case e := <-prodErr:
		check(e == "", "producer: %s", e)
	case <-ctx.Done():
		fail("producer did not finish")
	}
	end := endOffsets(ctx, adm, t)
	var total int64
	for _, o := range end {
		total += o
	}
	check(total == 30000, "end offsets %v do not add up to 30000", end)
	awaitDone(ctx, adm, live, tr, group, t, map[int32]int64{}, end)

	dg, err := adm.DescribeGroups(ctx, group)
	must(err, "DescribeGroups")
	g := dg[group]
	must(g.Err, "DescribeGroups "+group)
	check(g.State == "Stable" && len(g.Members) == 3 && g.Protocol == balancer.ProtocolName() && g.ProtocolType == "consumer",
		"DescribeGroups: state %q, %d members, protocol %q/%q; want Stable, 3, consumer/%s", g.State, len(g.Members), g.ProtocolType, g.Protocol, balancer.ProtocolName())
	described := map[int32]bool{}
	for _, mem := range g.Members {
		ca, ok := mem.Assigned.AsConsumer()
		check(ok, "member %s: assignment is not a consumer assignment", mem.MemberID)
		for _, at := range ca.Topics {
			for _, p := range at.Partitions {
				described[p] = true
			}
		}
	}
	check(len(described) == partitions, "DescribeGroups assignments cover %d partitions", len(described))
	for _, m := range live {
		m.leave()
		check(m.failed() == "", "member %s: %s", m.name, m.failed())
	}
	tr.mu.Lock()
	dups := tr.dups
	tr.mu.Unlock()
	logf("%d records, %d processed twice", total, dups)
	// The group is Empty now and still listed, with its offsets.
	lg, err := adm.ListGroups(ctx)
	must(err, "ListGroups")
	lgd, listed := lg[group]
	check(listed && lgd.State == "Empty", "ListGroups: %s listed %v, state %q; want Empty", group, listed, lgd.State)
	c, err := committed(ctx, adm, group, t)
	must(err, "FetchOffsets")
	check(sameOffsets(c, end), "committed after the members left: %v, want %v", c, end)
}

func contains(have, want []int32) bool {
	set := map[int32]bool{}
	for _, p := range have {
		set[p] = true
	}
	for _, p := range want {
		if !set[p] {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// cases

type caseDef struct {
	name    string
	timeout time.Duration
	fn      func(ctx context.Context, name string)
}

var cases []caseDef

func addCase(name string, timeout time.Duration, fn func(ctx context.Context, name string)) {
	cases = append(cases, caseDef{name, timeout, fn})
}

func init() {
	addCase("group_cooperative_sticky_commit", 150*time.Second, func(ctx context.Context, name string) {
		sharedConsumption(ctx, name, kgo.CooperativeStickyBalancer(), true)
	})

	addCase("group_range_eager_commit", 150*time.Second, func(ctx context.Context, name string) {
		sharedConsumption(ctx, name, kgo.RangeBalancer(), false)
	})

	// Offsets committed with the admin client (a group without members) are
	// where a new member of the group starts.
	addCase("group_resume_from_committed", 90*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t := topicName(name)
		group := groupName(name)
		createTopic(ctx, adm, t, partitions)
		pcl := producer()
		produce(ctx, pcl, t, 0, 6000)
		closeBounded(pcl, 5*time.Second)
		end := endOffsets(ctx, adm, t)
		mid := map[int32]int64{}
		var os kadm.Offsets
		for p, e := range end {
			mid[p] = e / 2
			os.AddOffset(t, p, e/2, -1)
		}
		resp, err := adm.CommitOffsets(ctx, group, os)
		must(err, "CommitOffsets")
		must(resp.Error(), "CommitOffsets")
		c, err := committed(ctx, adm, group, t)
		must(err, "FetchOffsets")
		check(sameOffsets(c, mid), "committed %v, want %v", c, mid)
		tr := newTracker()
		m := startMember("resumer", group, t, kgo.CooperativeStickyBalancer(), tr)
		defer m.leave()
		awaitDone(ctx, adm, []*member{m}, tr, group, t, mid, end)
		for p := int32(0); p < partitions; p++ {
			check(tr.lowest(p) == mid[p], "partition %d: first offset read %d, want the committed %d", p, tr.lowest(p), mid[p])
		}
		tr.mu.Lock()
		dups := tr.dups
		tr.mu.Unlock()
		check(dups == 0, "%d records read twice", dups)
	})

	// kadm on an empty group: commit offsets for two topics, delete one
	// topic's offsets, delete the group, delete it again.
	addCase("group_admin_offsets_delete", 60*time.Second, func(ctx context.Context, name string) {
		adm, done := newAdmin()
		defer done()
		t1, t2 := topicName(name)+"-a", topicName(name)+"-b"
		group := groupName(name)
		createTopic(ctx, adm, t1, 2)
		createTopic(ctx, adm, t2, 1)
		pcl := producer()
		produce(ctx, pcl, t1, 0, 2) // partition i % 6: 0 and 1
		produce(ctx, pcl, t2, 0, 1)
		closeBounded(pcl, 5*time.Second)
		var os kadm.Offsets
		os.AddOffset(t1, 0, 1, -1)
		os.AddOffset(t1, 1, 1, -1)
		os.AddOffset(t2, 0, 1, -1)
		resp, err := adm.CommitOffsets(ctx, group, os)
		must(err, "CommitOffsets")
		must(resp.Error(), "CommitOffsets")
		fo, err := adm.FetchOffsets(ctx, group)
		must(err, "FetchOffsets")
		must(fo.Error(), "FetchOffsets")
		check(len(fo[t1]) == 2 && len(fo[t2]) == 1, "FetchOffsets: %v", fo)
		dr, err := adm.DeleteOffsets(ctx, group, kadm.TopicsSet{t1: {0: {}, 1: {}}})
		must(err, "DeleteOffsets")
		must(dr.Error(), "DeleteOffsets")
		fo, err = adm.FetchOffsets(ctx, group)
		must(err, "FetchOffsets")
		must(fo.Error(), "FetchOffsets")
		check(len(fo[t1]) == 0 && len(fo[t2]) == 1, "FetchOffsets after DeleteOffsets of %s: %v", t1, fo)
		lg, err := adm.ListGroups(ctx)
		must(err, "ListGroups")
		_, listed := lg[group]
		check(listed, "group %s missing from ListGroups", group)
		dg, err := adm.DeleteGroup(ctx, group)
		must(err, "DeleteGroup")
		must(dg.Err, "DeleteGroup")
		lg, err = adm.ListGroups(ctx)
		must(err, "ListGroups")
		_, listed = lg[group]
		check(!listed, "group %s still listed after DeleteGroup", group)
		dg, err = adm.DeleteGroup(ctx, group)
		check(err != nil || errors.Is(dg.Err, kerr.GroupIDNotFound), "second DeleteGroup: %v / %v, want GROUP_ID_NOT_FOUND", err, dg.Err)
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
	if msg == "" {
		return "pass", ""
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
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: franz-go-groups-compat <bootstrap> [case ...] | --list")
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

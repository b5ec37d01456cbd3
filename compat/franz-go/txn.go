package main

// Transactions: franz-go's transactional producer (kgo.TransactionalID,
// BeginTransaction / EndTransaction with TryCommit or TryAbort) and
// read_committed consumers (kgo.FetchIsolationLevel(kgo.ReadCommitted())).
// These cases are registered after main.go's (init order follows the file
// names), so the broker-kill case, which crashes and restarts the broker,
// runs last.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	addCase("txn_commit_abort_interleaved", false, 60*time.Second, txnCommitAbortInterleaved)
	addCase("txn_broker_kill_open_txn", false, 150*time.Second, txnBrokerKillOpenTxn)
}

// txnRec is one acknowledged record of a transaction.
type txnRec struct {
	part       int32
	off        int64
	key, value string
}

func sortRecs(rs []txnRec) {
	sort.Slice(rs, func(a, b int) bool {
		if rs[a].part != rs[b].part {
			return rs[a].part < rs[b].part
		}
		return rs[a].off < rs[b].off
	})
}

// txnClient is a transactional producer with the transactional id id that
// writes each record to the partition the record names.
func txnClient(seed, id string, timeout time.Duration) *kgo.Client {
	opts := []kgo.Opt{
		kgo.TransactionalID(id),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5 * time.Millisecond),
	}
	if timeout > 0 {
		opts = append(opts, kgo.TransactionTimeout(timeout))
	}
	if seed != "" {
		opts = append(opts, kgo.SeedBrokers(seed))
	}
	return newClient(opts...)
}

// produceTxn writes n records of the open transaction tagged tag (record i to
// partition i % parts) and waits until every one is acknowledged, so each is
// in the log whatever becomes of the transaction.
func produceTxn(ctx context.Context, cl *kgo.Client, topic, tag string, n int, parts int32) []txnRec {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{
			Topic:     topic,
			Partition: int32(i) % parts,
			Key:       []byte(fmt.Sprintf("%s-%04d", tag, i)),
			Value:     []byte(fmt.Sprintf("value|%s|%04d", tag, i)),
		}
	}
	res := cl.ProduceSync(ctx, recs...)
	out := make([]txnRec, 0, n)
	for i, r := range res {
		must(r.Err, fmt.Sprintf("transaction %s: record %d", tag, i))
		out = append(out, txnRec{r.Record.Partition, r.Record.Offset, string(r.Record.Key), string(r.Record.Value)})
	}
	return out
}

// offsetsMap turns kadm's ListedOffsets of one topic into partition -> offset.
func offsetsMap(lo kadm.ListedOffsets, topic string) (map[int32]int64, error) {
	if err := lo.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, o := range lo[topic] {
		out[p] = o.Offset
	}
	return out, nil
}

// waitStable waits until every partition's last stable offset (ListOffsets
// latest, read_committed) equals its end offset (read_uncommitted): no
// transaction is open on it and its markers are written; with want, the end
// offsets must also be those. Retriable errors of a broker that has just
// started are retried. Returns the end offsets.
func waitStable(ctx context.Context, adm *kadm.Client, topic string, want map[int32]int64, timeout time.Duration) map[int32]int64 {
	deadline := time.Now().Add(timeout)
	var end, lso map[int32]int64
	var lastErr error
	for {
		lastErr = nil
		e, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			end, err = offsetsMap(e, topic)
		}
		if err == nil {
			var l kadm.ListedOffsets
			l, err = adm.ListCommittedOffsets(ctx, topic)
			if err == nil {
				lso, err = offsetsMap(l, topic)
			}
		}
		lastErr = err
		if err == nil && fmt.Sprint(end) == fmt.Sprint(lso) && (want == nil || fmt.Sprint(end) == fmt.Sprint(want)) {
			return end
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			fail("after %s: end offsets %v, last stable offsets %v, want end offsets %v (last error %v)", timeout, end, lso, want, lastErr)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// readAll reads the topic's partitions from the start with ConsumePartitions
// (no group) at the isolation level until it has want records, then for
// another second to catch any record too many. Returns them sorted by
// partition and offset.
func readAll(ctx context.Context, seed, topic string, parts int32, level kgo.IsolationLevel, want int) []txnRec {
	offs := map[int32]kgo.Offset{}
	for p := int32(0); p < parts; p++ {
		offs[p] = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchIsolationLevel(level),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
	if seed != "" {
		opts = append(opts, kgo.SeedBrokers(seed))
	}
	cl := newClient(opts...)
	defer closeBounded(cl, 5*time.Second)
	var got []txnRec
	var quietUntil time.Time
	for {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			fail("timed out reading: %d of %d records", len(got), want)
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fail("fetch %s[%d]: %v", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, txnRec{r.Partition, r.Offset, string(r.Key), string(r.Value)})
		})
		if len(got) >= want {
			if quietUntil.IsZero() {
				quietUntil = time.Now().Add(time.Second)
			} else if time.Now().After(quietUntil) {
				break
			}
		}
	}
	sortRecs(got)
	return got
}

// expectRecs fails unless got is exactly want (both sorted by partition and offset).
func expectRecs(got, want []txnRec, what string) {
	sortRecs(want)
	if fmt.Sprint(got) == fmt.Sprint(want) {
		return
	}
	in := func(r txnRec, rs []txnRec) bool {
		for _, x := range rs {
			if x == r {
				return true
			}
		}
		return false
	}
	var extra, missing []txnRec
	for _, r := range got {
		if !in(r, want) {
			extra = append(extra, r)
		}
	}
	for _, r := range want {
		if !in(r, got) {
			missing = append(missing, r)
		}
	}
	first := func(rs []txnRec) string {
		if len(rs) == 0 {
			return "none"
		}
		return fmt.Sprintf("%+v", rs[0])
	}
	fail("%s: read %d records, want %d (%d unexpected, first %s; %d missing, first %s)",
		what, len(got), len(want), len(extra), first(extra), len(missing), first(missing))
}

const (
	txnPartitions = 3
	txnCount      = 10
	txnRecords    = 30
)

// txnCommitAbortInterleaved: one transactional producer runs 10 transactions
// of 30 records over a 3-partition topic (record i to partition i % 3), each
// record acknowledged before the transaction ends (ProduceSync); the even
// ones are committed (TryCommit), the odd ones aborted (TryAbort). The end
// offsets are the records plus one marker per transaction and partition;
// read_committed reads exactly the committed records at their acknowledged
// offsets, read_uncommitted all of them.
func txnCommitAbortInterleaved(ctx context.Context, name string) {
	topic := topicName(name)
	adm, done := newAdmin()
	defer done()
	createTopic(ctx, adm, topic, txnPartitions, nil)
	p := txnClient("", "compat-franz-txn-ca-"+runID, 0)
	defer closeBounded(p, 5*time.Second)
	var committed, all []txnRec
	for k := 0; k < txnCount; k++ {
		must(p.BeginTransaction(), "BeginTransaction")
		recs := produceTxn(ctx, p, topic, fmt.Sprintf("t%02d", k), txnRecords, txnPartitions)
		all = append(all, recs...)
		end := kgo.TryAbort
		if k%2 == 0 {
			end = kgo.TryCommit
			committed = append(committed, recs...)
		}
		must(p.EndTransaction(ctx, end), fmt.Sprintf("EndTransaction of transaction %d (commit %v)", k, bool(end)))
	}
	logf("%d transactions over %d partitions: %d records, %d committed", txnCount, txnPartitions, len(all), len(committed))
	want := map[int32]int64{}
	for q := int32(0); q < txnPartitions; q++ {
		want[q] = txnCount*txnRecords/txnPartitions + txnCount
	}
	waitStable(ctx, adm, topic, want, 20*time.Second)
	expectRecs(readAll(ctx, "", topic, txnPartitions, kgo.ReadCommitted(), len(committed)), committed, "read_committed")
	expectRecs(readAll(ctx, "", topic, txnPartitions, kgo.ReadUncommitted(), len(all)), all, "read_uncommitted")
}

const (
	killPartitions = 2
	killTxnTimeout = 5 * time.Second
)

// txnBrokerKillOpenTxn: producer P1 (TransactionTimeout 5 s) commits a
// transaction A, begins B and writes records that are all acknowledged, and
// leaves B open; the broker is killed with SIGKILL and started again on the
// same data dir (COMPAT_KILL_RESTART_CMD). Afterwards B, an open transaction
// of a broker that crashed, must be aborted by its timeout within 45 s of the
// restart: the last stable offsets reach the end offsets (A, B and one
// marker per transaction and partition) and read_committed reads exactly A.
// P1's EndTransaction(TryCommit) of B must then fail. A new client P2 with
// the same transactional id commits C: read_committed reads exactly A and C,
// read_uncommitted A, B and C (B was acknowledged before the crash).
func txnBrokerKillOpenTxn(ctx context.Context, name string) {
	restartCmd := os.Getenv("COMPAT_KILL_RESTART_CMD")
	check(restartCmd != "", "no broker to kill and restart (run.sh sets COMPAT_KILL_RESTART_CMD)")
	seed := envOr("COMPAT_RESTART_BOOTSTRAP", boot)
	topic := topicName(name)
	admCl := newClient(kgo.SeedBrokers(seed))
	adm := kadm.NewClient(admCl)
	adm.SetTimeoutMillis(15000)
	createTopic(ctx, adm, topic, killPartitions, nil)
	txnID := "compat-franz-txn-kill-" + runID

	p1 := txnClient(seed, txnID, killTxnTimeout)
	defer closeBounded(p1, 5*time.Second)
	must(p1.BeginTransaction(), "P1 BeginTransaction A")
	recA := produceTxn(ctx, p1, topic, "A", 20, killPartitions)
	must(p1.EndTransaction(ctx, kgo.TryCommit), "P1 EndTransaction(TryCommit) of A")
	must(p1.BeginTransaction(), "P1 BeginTransaction B")
	recB := produceTxn(ctx, p1, topic, "B", 20, killPartitions)
	firstB := map[int32]int64{}
	for _, r := range recB {
		if o, ok := firstB[r.part]; !ok || r.off < o {
			firstB[r.part] = r.off
		}
	}
	l, err := adm.ListCommittedOffsets(ctx, topic)
	must(err, "ListCommittedOffsets with B open")
	lso, err := offsetsMap(l, topic)
	must(err, "ListCommittedOffsets with B open")
	check(fmt.Sprint(lso) == fmt.Sprint(firstB), "with B open, last stable offsets %v, want B's first offsets %v", lso, firstB)
	closeBounded(admCl, 5*time.Second)

	logf("B open with %d acknowledged records; killing the broker: %s", len(recB), restartCmd)
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "bash", "-c", restartCmd+" 1>&2")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	must(cmd.Run(), "broker kill and restart")
	logf("broker killed and restarted in %s", time.Since(t0).Round(100*time.Millisecond))

	admCl = newClient(kgo.SeedBrokers(seed))
	defer closeBounded(admCl, 5*time.Second)
	adm = kadm.NewClient(admCl)
	adm.SetTimeoutMillis(15000)
	perPartition := map[int32]int64{}
	for q := int32(0); q < killPartitions; q++ {
		perPartition[q] = 2*20/killPartitions + 2
	}
	waitStable(ctx, adm, topic, perPartition, 45*time.Second)
	logf("B aborted %s after the restart began", time.Since(t0).Round(100*time.Millisecond))
	expectRecs(readAll(ctx, seed, topic, killPartitions, kgo.ReadCommitted(), len(recA)), recA, "read_committed after the abort of B")

	// P1, the same client, lived through the crash: it must not be able to
	// commit B any more.
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = p1.EndTransaction(ectx, kgo.TryCommit)
	cancel()
	check(err != nil, "P1's EndTransaction(TryCommit) of B succeeded after B was aborted")
	logf("P1 EndTransaction(TryCommit) of B after the abort: %v", err)
	closeBounded(p1, 5*time.Second)

	p2 := txnClient(seed, txnID, killTxnTimeout)
	defer closeBounded(p2, 5*time.Second)
	must(p2.BeginTransaction(), "P2 BeginTransaction C")
	recC := produceTxn(ctx, p2, topic, "C", 20, killPartitions)
	must(p2.EndTransaction(ctx, kgo.TryCommit), "P2 EndTransaction(TryCommit) of C")
	want := map[int32]int64{}
	for q, n := range perPartition {
		want[q] = n + 20/killPartitions + 1
	}
	waitStable(ctx, adm, topic, want, 20*time.Second)
	expectRecs(readAll(ctx, seed, topic, killPartitions, kgo.ReadCommitted(), len(recA)+len(recC)),
		append(append([]txnRec{}, recA...), recC...), "read_committed")
	expectRecs(readAll(ctx, seed, topic, killPartitions, kgo.ReadUncommitted(), len(recA)+len(recB)+len(recC)),
		append(append(append([]txnRec{}, recA...), recB...), recC...), "read_uncommitted")
}

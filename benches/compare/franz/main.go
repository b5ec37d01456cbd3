// Command franz-bench is the light load generator of benches/compare: a
// franz-go client, so that the Java client's own CPU on a 2-core machine
// does not hide the difference between brokers.
//
//	franz-bench produce BOOTSTRAP TOPIC RECORDS RECORD_BYTES ACKS LINGER_MS BATCH_BYTES
//	franz-bench e2e BOOTSTRAP TOPIC RATE_PER_S RECORD_BYTES WARMUP_S MEASURE_S
//	franz-bench consume BOOTSTRAP TOPIC RECORDS
//
// produce: ACKS is 1 (leader only, idempotence off) or all (idempotent,
// franz-go's default); reports throughput and the produce latency (Produce
// call to acknowledgement).
//
// e2e: produces RATE records/s (acks=1, no linger) carrying their send time
// and consumes them from partition 0 in the same process (one clock);
// reports end-to-end latency percentiles of the records after the warm-up.
//
// consume: reads RECORDS records of every partition of TOPIC from the
// start, without a group (the broker's fetch path only), and reports the
// throughput of record bytes.
//
// BOOTSTRAP is one host:port or a comma-separated list of them.
//
// Each prints one line "RESULT key=value ..." on stdout; diagnostics go to stderr.
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "produce":
		if len(os.Args) != 9 && len(os.Args) != 10 {
			usage()
		}
		backdateMs := 0
		if len(os.Args) == 10 {
			backdateMs = mustInt(os.Args[9])
		}
		produce(os.Args[2], os.Args[3], mustInt(os.Args[4]), mustInt(os.Args[5]), os.Args[6], mustInt(os.Args[7]), mustInt(os.Args[8]),
			time.Duration(backdateMs)*time.Millisecond)
	case "e2e":
		if len(os.Args) != 8 {
			usage()
		}
		endToEnd(os.Args[2], os.Args[3], mustInt(os.Args[4]), mustInt(os.Args[5]), mustInt(os.Args[6]), mustInt(os.Args[7]))
	case "consume":
		if len(os.Args) != 5 {
			usage()
		}
		consume(os.Args[2], os.Args[3], mustInt(os.Args[4]))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: franz-bench produce BOOTSTRAP TOPIC RECORDS RECORD_BYTES ACKS LINGER_MS BATCH_BYTES [BACKDATE_MS]\n"+
		"       franz-bench e2e BOOTSTRAP TOPIC RATE_PER_S RECORD_BYTES WARMUP_S MEASURE_S\n"+
		"       franz-bench consume BOOTSTRAP TOPIC RECORDS")
	os.Exit(2)
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
	os.Exit(1)
}

// produce sends RECORDS records as fast as the client allows. With a
// backdate, every record's CreateTime is that long before its send time
// (a backfill of old data; segment rolling must not depend on it).
func produce(bootstrap, topic string, records, recordBytes int, acks string, lingerMs, batchBytes int, backdate time.Duration) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(time.Duration(lingerMs) * time.Millisecond),
		kgo.ProducerBatchMaxBytes(int32(batchBytes)),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// franz-go measures the delivery timeout from each record's
		// Timestamp: a backdate would expire every record at once.
		kgo.RecordDeliveryTimeout(2*time.Minute + backdate),
		// benches/compare creates its topics first; a bare run may rely on
		// auto.create.topics.enable.
		kgo.AllowAutoTopicCreation(),
	}
	switch acks {
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	default:
		fail("ACKS", fmt.Errorf("must be 1 or all, not %q", acks))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fail("client", err)
	}
	defer cl.Close()
	ctx := context.Background()
	// Connect and load metadata before the clock starts.
	if err := cl.Ping(ctx); err != nil {
		fail("ping", err)
	}

	payload := make([]byte, recordBytes)
	for i := range payload {
		payload[i] = byte('A' + i%26)
	}
	latencies := make([]int64, records)
	var done atomic.Int64
	var failed atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	wg.Add(records)
	start := time.Now()
	for i := 0; i < records; i++ {
		sent := time.Now()
		rec := &kgo.Record{Value: payload}
		if backdate > 0 {
			rec.Timestamp = sent.Add(-backdate)
		}
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				firstErr.Do(func() { fmt.Fprintln(os.Stderr, "produce error:", err) })
			}
			latencies[done.Add(1)-1] = int64(time.Since(sent))
			wg.Done()
		})
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	fmt.Printf("RESULT records=%d errors=%d seconds=%.3f records_per_s=%.1f mib_per_s=%.2f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f\n",
		records, failed.Load(), seconds, float64(records)/seconds,
		float64(records)*float64(recordBytes)/seconds/(1<<20),
		pct(latencies, 0.50)/1e6, pct(latencies, 0.99)/1e6, pct(latencies, 0.999)/1e6)
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

func consume(bootstrap, topic string, records int) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(8<<20),
	)
	if err != nil {
		fail("client", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		fail("ping", err)
	}
	var got, bytes int
	start := time.Now()
	for got < records {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fail("consume", fmt.Errorf("%d of %d records before the deadline", got, records))
		}
		fetches.EachError(func(t string, p int32, err error) { fail(fmt.Sprintf("fetch %s-%d", t, p), err) })
		fetches.EachRecord(func(r *kgo.Record) {
			got++
			bytes += len(r.Value)
		})
	}
	seconds := time.Since(start).Seconds()
	fmt.Printf("RESULT records=%d seconds=%.3f records_per_s=%.1f mib_per_s=%.2f\n",
		got, seconds, float64(got)/seconds, float64(bytes)/seconds/(1<<20))
}

func endToEnd(bootstrap, topic string, rate, recordBytes, warmupS, measureS int) {
	if recordBytes < 16 {
		fail("RECORD_BYTES", fmt.Errorf("must be at least 16"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Send times are nanoseconds since base on Go's monotonic clock.
	base := time.Now()
	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtEnd()}}),
	)
	if err != nil {
		fail("consumer", err)
	}
	defer consumer.Close()
	producer, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		fail("producer", err)
	}
	defer producer.Close()
	if err := producer.Ping(ctx); err != nil {
		fail("ping", err)
	}

	total := rate * (warmupS + measureS)
	warmup := rate * warmupS
	latencies := make([]int64, 0, total-warmup)
	received := 0
	consumed := make(chan struct{})
	// Each value carries (send time, sequence number); records of the
	// warm-up are received but not measured.
	go func() {
		defer close(consumed)
		for len(latencies) < total-warmup {
			fetches := consumer.PollFetches(ctx)
			now := int64(time.Since(base))
			if ctx.Err() != nil {
				return
			}
			fetches.EachError(func(t string, p int32, err error) {
				fmt.Fprintf(os.Stderr, "fetch error %s/%d: %v\n", t, p, err)
			})
			fetches.EachRecord(func(r *kgo.Record) {
				received++
				if binary.BigEndian.Uint64(r.Value[8:]) >= uint64(warmup) {
					latencies = append(latencies, now-int64(binary.BigEndian.Uint64(r.Value)))
				}
			})
		}
	}()
	// The consumer positions itself at the end with its first fetch; give
	// it a moment before the first record (the warm-up covers the rest).
	time.Sleep(500 * time.Millisecond)

	var sendErrors atomic.Int64
	period := time.Second / time.Duration(rate)
	start := time.Now()
	for i := 0; i < total; i++ {
		if d := time.Until(start.Add(time.Duration(i) * period)); d > 0 {
			time.Sleep(d)
		}
		value := make([]byte, recordBytes)
		binary.BigEndian.PutUint64(value[8:], uint64(i))
		binary.BigEndian.PutUint64(value, uint64(time.Since(base)))
		producer.Produce(ctx, &kgo.Record{Value: value, Partition: 0}, func(_ *kgo.Record, err error) {
			if err != nil && sendErrors.Add(1) == 1 {
				fmt.Fprintln(os.Stderr, "produce error:", err)
			}
		})
	}
	if err := producer.Flush(ctx); err != nil {
		fail("flush", err)
	}
	select {
	case <-consumed:
	case <-time.After(30 * time.Second):
		cancel()
		<-consumed
	}
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	maxUs := 0.0
	if n := len(latencies); n > 0 {
		maxUs = float64(latencies[n-1]) / 1e3
	}
	fmt.Printf("RESULT sent=%d received=%d measured=%d send_errors=%d rate=%d record_bytes=%d p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
		total, received, len(latencies), sendErrors.Load(), rate, recordBytes,
		pct(latencies, 0.50)/1e3, pct(latencies, 0.99)/1e3, pct(latencies, 0.999)/1e3, maxUs)
}

// pct is the q-quantile (nearest rank) of sorted nanosecond values.
func pct(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i])
}

func mustInt(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%q is not a number\n", s)
		os.Exit(2)
	}
	return n
}

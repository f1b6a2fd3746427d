// Package kafka audits a topic written by the kafka output, with franz-go.
//
// The output stamps each record with the time it was produced, which is
// after the activity's created_at (by settle at least, by much more for a
// backfill or a late arrival). So the audit starts each partition at the
// offset of the window's start (less Slack for clock skew) and reads to the
// partition's end offset as it was when the audit started: a record of the
// window can have been produced at any time after the window. Records dated
// outside the window are dropped by their created_at (values, or the
// activity_created_at header with keys).
package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/compliance-connect/compliance-connect/audit"
)

// What a record's id is read from.
const (
	ByValue = "value" // the record value is the document (the default)
	ByKey   = "key"   // the record key is the activity id (the output's default key)
)

// Defaults of a Destination.
const (
	DefaultSlack = 10 * time.Minute
	DefaultIdle  = 30 * time.Second
)

// Destination is one topic of a cluster.
type Destination struct {
	// Opts connect the client (seed brokers, TLS, SASL).
	Opts    []kgo.Opt
	Brokers []string
	Topic   string
	// By is ByValue or ByKey.
	By string
	// Fields locate the id and created_at in values.
	Fields audit.Fields
	// Slack is subtracted from the window's start to find the first offset
	// (producer clock skew). Idle is how long the consumer may go without a
	// record before the audit gives up on partitions that did not reach
	// their end.
	Slack, Idle time.Duration
}

func (d *Destination) String() string {
	return fmt.Sprintf("kafka://%s/%s (by %s)", strings.Join(d.Brokers, ","), d.Topic, d.by())
}

func (d *Destination) by() string {
	if d.By == "" {
		return ByValue
	}
	return d.By
}

// headerCreatedAt is the header the kafka output writes for the activity_
// metadata prefix.
const headerCreatedAt = "activity_created_at"

// Scan reads every record produced since the window's start up to the end
// offsets of the moment it starts.
func (d *Destination) Scan(ctx context.Context, w audit.Window, sink *audit.Sink) error {
	if d.by() != ByValue && d.by() != ByKey {
		return fmt.Errorf("by must be %q or %q, got %q", ByValue, ByKey, d.By)
	}
	admin, err := kgo.NewClient(d.Opts...)
	if err != nil {
		return err
	}
	defer admin.Close()
	start := w.From.Add(-d.Slack).UnixMilli()
	starts, err := listOffsets(ctx, admin, d.Topic, start)
	if err != nil {
		return err
	}
	ends, err := listOffsets(ctx, admin, d.Topic, -1)
	if err != nil {
		return err
	}
	consume := map[int32]kgo.Offset{}
	pending := map[int32]int64{} // partition -> end offset still to reach
	var total int64
	for p, end := range ends {
		s := starts[p]
		if s < 0 || s > end {
			s = end // no record at or after the start time
		}
		if s < end {
			consume[p] = kgo.NewOffset().At(s)
			pending[p] = end
			total += end - s
		}
	}
	sink.Note(fmt.Sprintf("kafka: %d partitions, %d records from %s to the end offsets at the start of the audit", len(ends), total, time.UnixMilli(start).UTC().Format(time.RFC3339)))
	if len(pending) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(slices.Clip(d.Opts), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{d.Topic: consume}))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	idle := d.Idle
	if idle <= 0 {
		idle = DefaultIdle
	}
	for len(pending) > 0 {
		pctx, cancel := context.WithTimeout(ctx, idle)
		fetches := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if fetches.IsClientClosed() {
			return errors.New("kafka client closed")
		}
		progressed := false
		var ferr error
		fetches.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && ferr == nil {
				ferr = fmt.Errorf("fetching %s/%d: %w", d.Topic, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var done []int32
		var addErr error
		fetches.EachRecord(func(rec *kgo.Record) {
			end, ok := pending[rec.Partition]
			if !ok || rec.Offset >= end || addErr != nil {
				return
			}
			progressed = true
			addErr = d.record(rec, sink)
			if rec.Offset >= end-1 {
				delete(pending, rec.Partition)
				done = append(done, rec.Partition)
			}
		})
		if addErr != nil {
			return addErr
		}
		if len(done) > 0 {
			cl.PauseFetchPartitions(map[string][]int32{d.Topic: done})
		}
		if !progressed && len(pending) > 0 {
			var left []string
			for p, end := range pending {
				left = append(left, fmt.Sprintf("%d (end offset %d)", p, end))
			}
			slices.Sort(left)
			return fmt.Errorf("no record for %s from partitions %s: they did not reach their end offsets (transactional or compacted topic?)", idle, strings.Join(left, ", "))
		}
	}
	return nil
}

func (d *Destination) record(rec *kgo.Record, sink *audit.Sink) error {
	where := audit.Loc{Where: fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)}
	if d.by() == ByValue {
		return sink.Doc(rec.Value, where, d.Fields)
	}
	if len(rec.Key) == 0 {
		sink.Unreadable(where, errors.New("record without a key"))
		return nil
	}
	r := audit.Record{ID: string(rec.Key)}
	for _, h := range rec.Headers {
		if h.Key == headerCreatedAt {
			t, err := audit.ParseTime(string(h.Value))
			if err != nil {
				sink.Unreadable(where, err)
				return nil
			}
			r.CreatedAt = t
		}
	}
	return sink.Add(r)
}

// listOffsets returns each partition's offset for a timestamp in epoch
// milliseconds (-1: the end offset; -1 in the result: no record at or after
// the timestamp).
func listOffsets(ctx context.Context, cl *kgo.Client, topic string, ts int64) (map[int32]int64, error) {
	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata of topic %q: %w", topic, err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("metadata of topic %q: %d topics in the answer", topic, len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("topic %q: %w", topic, err)
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range mresp.Topics[0].Partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p.Partition
		rp.CurrentLeaderEpoch = -1
		rp.Timestamp = ts
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("offsets of topic %q: %w", topic, err)
	}
	out := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("offsets of %s/%d: %w", topic, p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	if len(out) != len(mresp.Topics[0].Partitions) {
		return nil, fmt.Errorf("offsets of topic %q: %d of %d partitions answered", topic, len(out), len(mresp.Topics[0].Partitions))
	}
	return out, nil
}

package processor

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"
	rec "github.com/awslabs/kinesis-aggregation/go/v2/records"
	"github.com/golang/protobuf/proto" //lint:ignore SA1019 the KCL's de-aggregator decodes with this package; the guard must agree with it exactly
)

// The KCL de-aggregates KPL-aggregated records before ProcessRecords sees
// them (awslabs/kinesis-aggregation). A record that starts with the KPL
// magic number and ends with the MD5 of the rest is taken for an aggregate;
// when it is not a valid one, the de-aggregator fails in two ways that would
// break every promise hublake makes:
//
//   - a body that does not decode makes it return no records at all for the
//     whole GetRecords page, good records included, which the KCL then
//     passes on as an empty page: the next checkpoint skips them, lost
//     without a trace;
//   - a user record whose partition key index is out of range makes it
//     panic, which kills the worker, and the next one, on the same record.
//
// An aggregate without user records simply disappears. Anyone who can put
// records into the stream can send such a record. GuardAggregated inspects
// every GetRecords response before the KCL does and takes these records out
// of its way: their data is replaced by nothing (which the de-aggregator
// passes through as an ordinary record) and kept aside, by sequence number,
// for the shard's processor, which turns them into dead letters with their
// original bytes.

var kplMagic = []byte{0xf3, 0x89, 0x9a, 0xc2}

// kplProblem returns why data, which the KCL takes for a KPL aggregate,
// cannot be de-aggregated, or "" when the KCL can handle it (a valid
// aggregate, or no aggregate at all).
func kplProblem(data []byte) string {
	if !bytes.HasPrefix(data, kplMagic) {
		return ""
	}
	body := data[len(kplMagic):]
	if len(body) <= md5.Size {
		return ""
	}
	msg, sum := body[:len(body)-md5.Size], body[len(body)-md5.Size:]
	if want := md5.Sum(msg); !bytes.Equal(want[:], sum) {
		return "" // not an aggregate to the KCL: handed over as it is
	}
	var agg rec.AggregatedRecord
	if err := proto.Unmarshal(msg, &agg); err != nil {
		return "KPL aggregated record (magic number and checksum) whose body does not decode"
	}
	if len(agg.Records) == 0 {
		return "KPL aggregated record without user records"
	}
	for i, r := range agg.Records {
		if r.PartitionKeyIndex == nil || *r.PartitionKeyIndex >= uint64(len(agg.PartitionKeyTable)) {
			return fmt.Sprintf("KPL aggregated record: user record %d has no valid partition key index", i)
		}
	}
	return ""
}

// poisoned is a record taken out of the KCL's way.
type poisoned struct {
	data   []byte
	reason string
}

// GuardAggregated is an option of the Kinesis client the KCL reads with:
// kinesis.NewFromConfig(cfg, consumer.GuardAggregated).
func (c *Consumer) GuardAggregated(o *kinesis.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("hublakeGuardAggregated",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if res, ok := out.Result.(*kinesis.GetRecordsOutput); ok && err == nil {
					c.guardRecords(res.Records)
				}
				return out, md, err
			}), middleware.Before)
	})
}

// guardRecords takes the records the KCL cannot de-aggregate out of its way.
func (c *Consumer) guardRecords(records []types.Record) {
	for i := range records {
		r := &records[i]
		reason := kplProblem(r.Data)
		if reason == "" {
			continue
		}
		c.poison.Store(aws.ToString(r.SequenceNumber), poisoned{data: r.Data, reason: reason})
		r.Data = nil
	}
}

// takePoisoned returns the original data of a record guardRecords emptied,
// and why it cannot be de-aggregated.
func (c *Consumer) takePoisoned(seq string, data []byte) ([]byte, string, bool) {
	if len(data) != 0 {
		return nil, "", false
	}
	v, ok := c.poison.LoadAndDelete(seq)
	if !ok {
		return nil, "", false
	}
	p := v.(poisoned)
	return p.data, p.reason, true
}

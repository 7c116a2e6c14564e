package stream

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/hublake/hublake/units"
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
// records into the stream can send such a record. guardAggregated inspects
// every GetRecords response before the KCL does and takes these records out
// of its way: their data is replaced by nothing (which the de-aggregator
// passes through as an ordinary record) and kept aside, by sequence number,
// for the shard's processor, which turns them into dead letters with their
// original bytes.

// poisoned is a record taken out of the KCL's way.
type poisoned struct {
	data   []byte
	reason string
}

// guardAggregated is an option of the Kinesis client the KCL reads with:
// kinesis.NewFromConfig(cfg, shards.guardAggregated).
func (c *shards) guardAggregated(o *kinesis.Options) {
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
func (c *shards) guardRecords(records []types.Record) {
	for i := range records {
		r := &records[i]
		reason := units.KPLProblem(r.Data)
		if reason == "" {
			continue
		}
		c.poison.Store(aws.ToString(r.SequenceNumber), poisoned{data: r.Data, reason: reason})
		r.Data = nil
	}
}

// takePoisoned returns the original data of a record guardRecords emptied,
// and why it cannot be de-aggregated.
func (c *shards) takePoisoned(seq string, data []byte) ([]byte, string, bool) {
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

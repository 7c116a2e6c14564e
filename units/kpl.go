package units

import (
	"bytes"
	"crypto/md5"
	"fmt"

	rec "github.com/awslabs/kinesis-aggregation/go/v2/records"
	"github.com/golang/protobuf/proto" //lint:ignore SA1019 the KCL's de-aggregator decodes with this package; the guard must agree with it exactly
)

// The KCL de-aggregates records that look like KPL aggregates (magic number,
// body, MD5 of the body) before a record processor sees them, and fails on
// some that only look like one: see stream/kpl.go for how the consumer
// keeps them out of its way.

// KPLMagic starts every KPL-aggregated record.
var KPLMagic = []byte{0xf3, 0x89, 0x9a, 0xc2}

// KPLProblem returns why data, which the KCL takes for a KPL aggregate,
// cannot be de-aggregated, or "" when the KCL can handle it (a valid
// aggregate, or no aggregate at all).
func KPLProblem(data []byte) string {
	if !bytes.HasPrefix(data, KPLMagic) {
		return ""
	}
	body := data[len(KPLMagic):]
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

package hostile

import (
	"crypto/md5"

	rec "github.com/awslabs/kinesis-aggregation/go/v2/records"
	"github.com/golang/protobuf/proto" //lint:ignore SA1019 the KCL's de-aggregator's package: these records must look to it as they would from the KPL
)

// KPLMagic starts every KPL-aggregated Kinesis record.
var KPLMagic = []byte{0xf3, 0x89, 0x9a, 0xc2}

// KPLRecord frames msg as the KPL does: magic number, body, MD5 of the body.
func KPLRecord(msg []byte) []byte {
	sum := md5.Sum(msg)
	out := append(append([]byte{}, KPLMagic...), msg...)
	return append(out, sum[:]...)
}

// KPLAggregate is a valid KPL aggregate of the user records data.
func KPLAggregate(data ...[]byte) []byte {
	agg := &rec.AggregatedRecord{PartitionKeyTable: []string{"pk"}}
	for _, d := range data {
		agg.Records = append(agg.Records, &rec.Record{PartitionKeyIndex: proto.Uint64(0), Data: d})
	}
	return KPLRecord(mustMarshal(agg))
}

// KPLPoison are records that carry the KPL magic number and checksum but
// that the KCL's de-aggregator cannot handle, by what is wrong with them.
func KPLPoison() map[string][]byte {
	return map[string][]byte{
		"body does not decode": KPLRecord([]byte("\xff\xff\xff\xff not protobuf " + Secrets[0])),
		"no valid partition key index": KPLRecord(mustMarshal(&rec.AggregatedRecord{PartitionKeyTable: []string{"pk"},
			Records: []*rec.Record{{PartitionKeyIndex: proto.Uint64(0), Data: []byte("{}")}, {PartitionKeyIndex: proto.Uint64(7), Data: []byte(Secrets[0])}}})),
		"without user records": KPLRecord(mustMarshal(&rec.AggregatedRecord{PartitionKeyTable: []string{"pk"}})),
	}
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

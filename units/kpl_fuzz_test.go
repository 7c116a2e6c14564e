package units

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/awslabs/kinesis-aggregation/go/v2/deaggregator"

	"github.com/hublake/hublake/internal/hostile"
)

// FuzzKPLGuard: KPLProblem finds exactly the records on which the KCL's
// de-aggregator fails (an error that drops the page, a panic, or a record
// that vanishes). processor's TestKPLGuard checks what the consumer does
// with them. frame wraps the input in the KPL magic number and a
// matching checksum, so that the fuzzer explores aggregate bodies.
func FuzzKPLGuard(f *testing.F) {
	for _, data := range hostile.KPLPoison() {
		f.Add(data[len(hostile.KPLMagic):len(data)-16], true)
		f.Add(data, false)
	}
	agg := hostile.KPLAggregate([]byte(`{"a":1}`), []byte(`{"b":2}`))
	f.Add(agg[len(hostile.KPLMagic):len(agg)-16], true)
	f.Add([]byte(`{"detail-type":"x"}`), false)
	f.Add(hostile.KPLMagic, false)
	f.Fuzz(func(t *testing.T, body []byte, frame bool) {
		data := body
		if frame {
			data = hostile.KPLRecord(body)
		}
		problem := KPLProblem(data)
		var out []types.Record
		var err error
		panicked := false
		func() {
			defer func() {
				if recover() != nil {
					panicked = true
				}
			}()
			out, err = deaggregator.DeaggregateRecords([]types.Record{{Data: data, SequenceNumber: aws.String("1")}})
		}()
		fails := panicked || err != nil || len(out) == 0
		if fails != (problem != "") {
			t.Fatalf("guard says %q; the de-aggregator: panic %v, error %v, %d records", problem, panicked, err, len(out))
		}
	})
}

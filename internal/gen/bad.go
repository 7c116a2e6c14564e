package gen

import (
	"bytes"
	"strconv"
)

// Bad units: what a reader of a real stream or archive meets sooner or later.
// Each one must become exactly one dead letter. In NDJSON they are lines of
// their own; in a concatenated stream only those that cannot swallow their
// neighbours are used (no truncated or malformed objects), and the ones that
// are not objects end with a newline so a reader can resynchronise.
const (
	badMalformed    = iota // an object that is not valid JSON
	badNotJSON             // an HTML error page or a log line
	badTruncated           // an event cut short
	badScalar              // a JSON string, number, boolean or null
	badOtherSource         // a GuardDuty event from the same bus
	badDetailType          // a CloudTrail event with source aws.securityhub
	badNoID                // a finding without Id
	badNoInsightARN        // an insight event without insightArn
	badLatin1              // a finding encoded in Latin-1, not UTF-8
	nBadASFF
	badOCSFNoKey      = nBadASFF + iota - nBadASFF - 1 // a V2 finding without metadata.uid and finding_info.uid
	badOCSFNotAnArray                                  // a V2 event whose findings is an object
	nBad
)

func (g *Generator) bad() []byte {
	n := nBadASFF
	if g.cfg.OCSFRatio > 0 {
		n = nBad
	}
	k := g.rng.IntN(n)
	if g.cfg.Format == Concat && (k == badMalformed || k == badTruncated) {
		k = badOtherSource
	}
	var b []byte
	switch k {
	case badMalformed:
		b = g.malformed()
	case badNotJSON:
		if g.rng.IntN(2) == 0 {
			b = []byte(`<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>awselb/2.0</center></body></html>`)
		} else {
			b = appendTime(nil, g.now(), tsMilli, false)
			b = append(b[1:len(b)-1], " ERROR [forwarder] failed to deliver batch 7f3a: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"...)
		}
	case badTruncated:
		g.buildImported(nil, g.now(), false)
		b = g.out.b[:len(g.out.b)/4+g.rng.IntN(len(g.out.b)*3/4-1)]
	case badScalar:
		b = []byte([]string{`"Security Hub Findings - Imported"`, `12345`, `null`, `true`, `""`}[g.rng.IntN(5)])
	case badOtherSource:
		b = g.guardDutyNative()
	case badDetailType:
		b = g.cloudTrailEvent()
	case badNoID:
		g.buildImported(nil, g.now(), true)
		b = g.out.b
	case badNoInsightARN:
		b = g.insight(true)
	case badLatin1:
		b = g.latin1()
	case badOCSFNoKey:
		t := g.now()
		g.buildV2(g.scratchOCSF(t), t, true)
		b = g.out.b
	case badOCSFNotAnArray:
		t := g.now()
		g.buildV2(g.scratchOCSF(t), t, false)
		b = g.out.b
		const arr = `"findings":[`
		if i := bytes.Index(b, []byte(arr)); i >= 0 {
			b = append(append(b[:i:i], `"findings":`...), b[i+len(arr):len(b)-3]...)
			b = append(b, "}}"...)
		}
	}
	if g.cfg.Format == Concat && (k == badNotJSON || k == badScalar) {
		b = append(b, '\n')
	}
	g.count(b)
	g.stats.Bad++
	return b
}

// scratchOCSF returns a throwaway OCSF finding first seen at t, for bad
// units: it is not remembered, so no later event carries it.
func (g *Generator) scratchOCSF(t int64) *finding {
	r := g.rng
	g.scratch = finding{
		seed: r.Uint64(), product: uint8(ocsfProducts[r.IntN(len(ocsfProducts))].product), feed: feedOCSF,
		account: uint16(skewed(r, len(g.accounts))), region: uint8(skewed(r, len(g.regions))),
		compliance: stFailed, prev: noStatus, note: -1, count: 1, evt: t,
		created: t - 3600e9, firstObs: t - 3600e9, lastObs: t - 60e9, updated: t - 30e9, processed: t - 20e9,
	}
	return &g.scratch
}

// malformed returns an event-looking line that is not valid JSON.
func (g *Generator) malformed() []byte {
	e := &g.out
	e.b = e.b[:0]
	switch g.rng.IntN(3) {
	case 0: // a double comma
		e.b = append(e.b, `{"version":"0","id":"`...)
		e.b = appendUUID(e.b, g.rng.Uint64(), g.rng.Uint64())
		e.b = append(e.b, `","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub",,"detail":{"findings":[]}}`...)
	case 1: // a Python dict printed instead of serialised
		e.b = append(e.b, `{'version': '0', 'detail-type': 'Security Hub Findings - Imported', 'source': 'aws.securityhub', 'account': '`...)
		e.b = append(e.b, g.accounts[0].id...)
		e.b = append(e.b, `', 'detail': {'findings': [{'Id': 'x', 'Sample': True}]}}`...)
	default: // a trailing comma
		e.b = append(e.b, `{"version":"0","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"SchemaVersion":"2018-10-08","Id":"x",}]},}`...)
	}
	return e.b
}

// guardDutyNative returns a GuardDuty event (source aws.guardduty) that a
// too-broad rule routed to the stream.
func (g *Generator) guardDutyNative() []byte {
	r := g.rng
	a := &g.accounts[skewed(r, len(g.accounts))]
	rg := g.regions[skewed(r, len(g.regions))]
	t := g.now()
	det := string(appendHex(appendHex(nil, r.Uint64(), 16), r.Uint64(), 16))
	fid := string(appendHex(appendHex(nil, r.Uint64(), 16), r.Uint64(), 16))
	inst := res{kind: kInstance, k: r.IntN(kinds[kInstance].pool), a: a, region: rg}
	e := &g.out
	e.b, e.more = e.b[:0], false
	e.open("")
	e.str("version", "0")
	e.key("id")
	e.b = appendQuoted(e.b, string(appendUUID(nil, r.Uint64(), r.Uint64())))
	e.more = true
	e.str("detail-type", "GuardDuty Finding")
	e.str("source", "aws.guardduty")
	e.str("account", a.id)
	e.ts("time", t, tsSec, false)
	e.str("region", rg)
	e.strs("resources")
	e.open("detail")
	e.str("schemaVersion", "2.0")
	e.str("accountId", a.id)
	e.str("region", rg)
	e.str("partition", "aws")
	e.str("id", fid)
	e.cat("arn", "arn:aws:guardduty:", rg, ":", a.id, ":detector/", det, "/finding/", fid)
	e.str("type", "Recon:EC2/PortProbeUnprotectedPort")
	e.open("resource")
	e.str("resourceType", "Instance")
	e.open("instanceDetails")
	e.str("instanceId", inst.name())
	e.str("instanceType", "t3.micro")
	e.close()
	e.close()
	e.open("service")
	e.str("serviceName", "guardduty")
	e.str("detectorId", det)
	e.open("action")
	e.str("actionType", "PORT_PROBE")
	e.close()
	e.boolean("archived", false)
	e.int("count", int64(1+r.IntN(40)))
	e.ts("eventFirstSeen", t-3600e9, tsMilli, false)
	e.ts("eventLastSeen", t-60e9, tsMilli, false)
	e.close()
	e.int("severity", 2)
	e.ts("createdAt", t-3000e9, tsMilli, false)
	e.ts("updatedAt", t-30e9, tsMilli, false)
	e.cat("title", "Unprotected port on EC2 instance ", inst.name(), " is being probed.")
	e.str("description", "EC2 instance has an unprotected port which is being probed by a known malicious host.")
	e.close()
	e.close()
	return e.b
}

// cloudTrailEvent returns the CloudTrail record of a BatchUpdateFindings
// call: source aws.securityhub, but not a detail-type hublake reads.
func (g *Generator) cloudTrailEvent() []byte {
	r := g.rng
	admin, home := g.accounts[0].id, g.regions[0]
	t := g.now()
	var f *finding
	if len(g.pool) > 0 {
		f = &g.pool[r.IntN(len(g.pool))]
	} else {
		f = g.newFinding(t, false)
	}
	g.fb.b, g.fb.more = g.fb.b[:0], false
	pa, id := g.renderFinding(&g.fb, f, false)
	e := &g.out
	e.b, e.more = e.b[:0], false
	e.open("")
	e.str("version", "0")
	e.key("id")
	e.b = appendQuoted(e.b, string(appendUUID(nil, r.Uint64(), r.Uint64())))
	e.more = true
	e.str("detail-type", "AWS API Call via CloudTrail")
	e.str("source", "aws.securityhub")
	e.str("account", admin)
	e.ts("time", t, tsSec, false)
	e.str("region", home)
	e.strs("resources")
	e.open("detail")
	e.str("eventVersion", "1.09")
	e.open("userIdentity")
	e.str("type", "AssumedRole")
	e.str("principalId", "AROA5EXAMPLEANALYST01:alice@example.com")
	e.cat("arn", "arn:aws:sts::", admin, ":assumed-role/AWSReservedSSO_SecurityAnalyst_3f2a1b9c8d7e6f5a/alice@example.com")
	e.str("accountId", admin)
	e.close()
	e.ts("eventTime", t-5e9, tsSec, false)
	e.str("eventSource", "securityhub.amazonaws.com")
	e.str("eventName", "BatchUpdateFindings")
	e.str("awsRegion", home)
	e.str("sourceIPAddress", "198.51.100."+strconv.Itoa(1+r.IntN(254)))
	e.str("userAgent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36")
	e.open("requestParameters")
	e.openArr("FindingIdentifiers")
	e.open("")
	e.str("Id", id)
	e.str("ProductArn", pa)
	e.close()
	e.closeArr()
	e.open("Workflow")
	e.str("Status", "SUPPRESSED")
	e.close()
	e.close()
	e.open("responseElements")
	e.openArr("ProcessedFindings")
	e.open("")
	e.str("Id", id)
	e.str("ProductArn", pa)
	e.close()
	e.closeArr()
	e.openArr("UnprocessedFindings")
	e.closeArr()
	e.close()
	e.str("requestID", string(appendUUID(nil, r.Uint64(), r.Uint64())))
	e.str("eventID", string(appendUUID(nil, r.Uint64(), r.Uint64())))
	e.boolean("readOnly", false)
	e.str("eventType", "AwsApiCall")
	e.boolean("managementEvent", true)
	e.str("recipientAccountId", admin)
	e.str("eventCategory", "Management")
	e.close()
	e.close()
	return e.b
}

// latin1 returns an Imported event whose title a producer encoded in
// Latin-1: valid JSON structure, invalid UTF-8.
func (g *Generator) latin1() []byte {
	g.buildImported(nil, g.now(), false)
	b := g.out.b
	const marker = `"Title":"`
	for i := 0; i+len(marker) < len(b); i++ {
		if string(b[i:i+len(marker)]) == marker {
			rest := append([]byte("R\xe9sum\xe9 \xab "), b[i+len(marker):]...)
			return append(b[:i+len(marker)], rest...)
		}
	}
	return append(b[:len(b)-1], "\xff}"...)
}

package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bytedance/sonic/decoder"
)

// Origin says where a unit came from. It is the only context Decode needs:
// decoding is a pure function of (bytes, origin).
type Origin struct {
	// Source names the unit's position: "kinesis:<stream>/<shard>/<sequence>"
	// or "file:<path>#<offset>". It fills the source column.
	Source string
	// RecordTime is the Kinesis ApproximateArrivalTimestamp, zero for files.
	// It dates dead letters that carry no usable time of their own.
	RecordTime time.Time
	// NotAfter is the last acceptable partition date: a dt after it is not
	// usable (Athena's projection range ends one day after now). The stream
	// uses the record's arrival time plus a day, so a replay decides the same;
	// backfill uses the start of the run plus a day.
	NotAfter time.Time
}

// Output collects what units decode to. Decode appends to it, so one Output
// can gather a whole batch; Reset empties it while keeping capacity. Each
// Parquet table's rows are a field (its Table declares which).
type Output struct {
	Findings []Finding
	Insights []InsightResult
	OCSF     []OCSFFinding
	Dead     []DeadLetter
	// Unreadable counts values that had a JSON type their column cannot hold
	// (an object where a string belongs): they are NULL in the row and intact
	// in raw_finding.
	Unreadable int
}

// Reset empties the output, keeping its allocated capacity (in place: a
// copy of the output would escape to the heap through the tables' methods,
// one allocation a unit). TestOutputReset checks every field.
func (o *Output) Reset() {
	for _, t := range tables {
		t.empty(o)
	}
	clear(o.Dead)
	o.Dead = o.Dead[:0]
	o.Unreadable = 0
}

// DeadLetter is a unit, or one finding of a unit, that could not become a row.
type DeadLetter struct {
	Source string
	Reason string
	Data   []byte
	// Time is the best time known for the unit (event time, UpdatedAt or
	// record time); zero when there is none. It dates the dead letter.
	Time time.Time
}

// PartitionDate returns the dt value for t, or false when t is outside the
// range Athena can read.
func PartitionDate(t time.Time, notAfter time.Time) (string, bool) {
	if t.IsZero() || (!notAfter.IsZero() && t.After(notAfter)) {
		return "", false
	}
	// Dates of four-digit years (ParseTime admits 1 to 9999) order as text.
	dt := t.UTC().Format(time.DateOnly)
	if dt < PartitionRangeStart {
		return "", false
	}
	return dt, true
}

// Decode turns the bytes of one unit into rows and dead letters, appending them
// to out. It never panics and never fails: whatever cannot be a row is a dead
// letter with its reason. Rows share memory with data, which must not change
// while they are in use.
func Decode(data []byte, o Origin, out *Output) {
	d := decoderState{origin: o, out: out}
	d.unit(data)
}

type decoderState struct {
	origin Origin
	out    *Output
}

func (d *decoderState) dead(data []byte, t time.Time, format string, args ...any) {
	if t.IsZero() {
		t = d.origin.RecordTime
	}
	d.out.Dead = append(d.out.Dead, DeadLetter{
		Source: d.origin.Source,
		Reason: fmt.Sprintf(format, args...),
		Data:   data,
		Time:   t,
	})
}

// firstByte returns the first non-whitespace byte of b, or 0.
func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func (d *decoderState) unit(data []byte) {
	if !utf8.Valid(data) {
		d.dead(data, time.Time{}, "invalid UTF-8")
		return
	}
	switch firstByte(data) {
	case 0:
		d.dead(data, time.Time{}, "empty unit")
	case '[':
		var elems []RawJSON
		if err := jsonAPI.UnmarshalFromString(bytesToString(data), &elems); err != nil {
			d.dead(data, time.Time{}, "invalid JSON: %s", jsonError(err))
			return
		}
		// An empty array holds nothing to read (get-findings --query
		// Findings of an empty page, Prowler's run that found nothing): no
		// row, no dead letter, as when it is a whole file.
		for i, e := range elems {
			if firstByte(e) != '{' {
				d.dead(e, time.Time{}, "array element %d is not a JSON object", i)
				continue
			}
			d.object(e, i)
		}
	case '{':
		d.object(data, 0)
	default:
		// Not an object or array: a scalar, or not JSON at all.
		if json.Valid(data) {
			d.dead(data, time.Time{}, "not a JSON object: a %s", jsonKind(firstByte(data)))
		} else {
			d.dead(data, time.Time{}, "invalid JSON: not an object or array")
		}
	}
}

// object decodes one JSON object: an event, a Findings document or a bare
// finding (index is its position when it came in an array). A finding is
// ASFF or OCSF by its own keys (formatOf), wherever it is, so one file or
// stream may mix both.
//
// Events of the findings detail-types, nearly all of the stream, are
// decoded in one pass over the envelope (findings kept as raw slices) and one
// pass per finding. Insight events, whose raw detail is a column, and events
// whose detail is missing or malformed take a second look at the envelope
// with the detail kept raw.
func (d *decoderState) object(data []byte, index int) {
	var env envelope
	err := checkSyntax(data, jsonAPI.UnmarshalFromString(bytesToString(data), &env))
	if err != nil && !isMismatch(err) {
		d.dead(data, time.Time{}, "invalid JSON: %s", jsonError(err))
		return
	}
	switch {
	case env.DetailType != nil || env.Detail != nil:
		if err == nil && env.Detail != nil && env.DetailType != nil && *env.DetailType != DetailInsight {
			d.event(data, &env, env.Detail, nil)
			return
		}
		var raw rawEnvelope
		_ = jsonAPI.UnmarshalFromString(bytesToString(data), &raw)
		d.event(data, &env, nil, raw.Detail)
	case env.Findings != nil || env.FindingsLower != nil:
		doc := findingsDocument{Findings: env.Findings, FindingsLower: env.FindingsLower}
		d.findingsDocument(doc.findings())
	case env.StatusCode.Valid && env.Data != nil:
		d.placebo(data, &env)
	default:
		d.anyFinding(data, index, &eventContext{DetailType: KindBackfill}, formatASFF)
	}
}

// findingsDocument decodes the findings of a {"Findings": [...]} document
// decoded whole (a Kinesis record, a line, an element of an array; a file's
// documents are split into their findings before). An empty one, the last
// page of a paginated get-findings, holds nothing to read: no row, no dead
// letter, as when it is a whole file.
func (d *decoderState) findingsDocument(findings []RawJSON) {
	for i, f := range findings {
		d.anyFinding(f, i, &eventContext{DetailType: KindBackfill}, formatASFF)
	}
}

// placebo decodes a Cloud Custodian placebo recording, {"status_code": <a
// number>, "data": <the boto3 response>} (the largest public corpus of real
// GetFindings responses, in Cloud Custodian's tests): when data is a
// Findings document its findings are rows, as the document's would be;
// any other recording (another API's, a failed call's) is a dead letter
// that says so. It is one unit: its findings share its source and are told
// apart by finding_index.
func (d *decoderState) placebo(data []byte, env *envelope) {
	var doc findingsDocument
	if firstByte(env.Data) == '{' {
		_ = d.decode(env.Data, &doc)
	}
	findings := doc.findings()
	if findings == nil {
		d.dead(data, time.Time{}, "a placebo recording (Cloud Custodian's {\"status_code\": %d, \"data\": ...}) whose data is not a Findings document: no findings to read", env.StatusCode.V)
		return
	}
	d.findingsDocument(findings)
}

// event turns an EventBridge event into rows. det is its decoded findings
// detail when the fast path has it; otherwise rawDetail is the detail as
// sent (or nil when absent).
func (d *decoderState) event(data []byte, env *envelope, det *findingsDetail, rawDetail []byte) {
	ec := eventContext{
		ID:        string(env.ID),
		Region:    env.Region,
		Account:   string(env.Account),
		Resources: env.Resources,
		ActionARN: actionARN(env.Resources),
	}
	if env.DetailType != nil {
		ec.DetailType = *env.DetailType
	}
	ec.TimeRaw = env.Time
	ec.Time, ec.TimeOK = ParseTime(env.Time)
	if env.Source != EventSource {
		d.dead(data, ec.Time, "unsupported event source %q (want %q)", clip(env.Source), EventSource)
		return
	}
	if det == nil && firstByte(rawDetail) != '{' {
		d.dead(data, ec.Time, "event detail is not a JSON object")
		return
	}
	switch ec.DetailType {
	case DetailImported, DetailCustomAction, DetailImportedV2:
		if det == nil {
			det = &findingsDetail{}
			if err := jsonAPI.UnmarshalFromString(bytesToString(rawDetail), det); err != nil && !isMismatch(err) {
				d.dead(data, ec.Time, "invalid event detail: %s", jsonError(err))
				return
			}
		}
		if det.Findings == nil {
			d.dead(data, ec.Time, "event detail has no findings array")
			return
		}
		if len(det.Findings) == 0 {
			d.dead(data, ec.Time, "event carries no findings")
			return
		}
		ec.ActionName, ec.ActionDescription = det.ActionName, det.ActionDescription
		dflt := formatASFF
		if ec.DetailType == DetailImportedV2 {
			dflt = formatOCSF
		}
		for i, f := range det.Findings {
			d.anyFinding(f, i, &ec, dflt)
		}
	case DetailInsight:
		d.insight(data, rawDetail, &ec)
	default:
		d.dead(data, ec.Time, "unsupported detail-type %q", clip(ec.DetailType))
	}
}

// anyFinding decodes one finding of either format: dflt unless its own keys
// say otherwise (formatOf).
func (d *decoderState) anyFinding(raw []byte, index int, ec *eventContext, dflt findingFormat) {
	if firstByte(raw) != '{' {
		d.dead(raw, ec.Time, "finding %d is not a JSON object", index)
		return
	}
	if formatOf(raw, dflt) == formatOCSF {
		d.ocsfFinding(raw, index, ec)
		return
	}
	d.finding(raw, index, ec)
}

// finding flattens one ASFF finding into a row, or dead-letters it.
func (d *decoderState) finding(raw []byte, index int, ec *eventContext) {
	var f asffFinding
	if err := d.decode(raw, &f); err != nil {
		d.dead(raw, ec.Time, "finding %d: invalid JSON: %s", index, jsonError(err))
		return
	}
	updated := f.UpdatedAt.T
	updatedOK := !updated.IsZero()
	when := ec.Time
	if !ec.TimeOK {
		when = updated
	}
	switch {
	case f.ID == "":
		d.dead(raw, when, "finding %d has no Id (or it is not a string)", index)
		return
	case f.ProductArn == "":
		d.dead(raw, when, "finding %d has no ProductArn (or it is not a string)", index)
		return
	}
	dt, ok := PartitionDate(when, d.origin.NotAfter)
	if !ok {
		switch {
		case ec.TimeOK:
			d.dead(raw, when, "finding %d: event time %s is outside the partition range", index, ec.Time.Format(time.RFC3339))
		case updatedOK:
			d.dead(raw, when, "finding %d: no event time and UpdatedAt %s is outside the partition range", index, updated.Format(time.RFC3339))
		default:
			d.dead(raw, when, "finding %d: no usable date (neither event time nor UpdatedAt parses)", index)
		}
		return
	}
	row := flatten(&f, raw, updated)
	row.EventID = ec.ID
	row.EventTime = ec.Time
	row.EventDetailType = ec.DetailType
	row.EventRegion = ec.Region
	row.EventAccount = ec.Account
	row.EventResources = ec.Resources
	row.ActionName = ec.ActionName
	row.ActionDescription = ec.ActionDescription
	row.ActionARN = ec.ActionARN
	row.FindingIndex = int32(index)
	row.Source = d.origin.Source
	row.Date = dt
	d.out.Findings = append(d.out.Findings, row)
}

func (d *decoderState) insight(data, detail []byte, ec *eventContext) {
	var det insightDetail
	if err := d.decode(detail, &det); err != nil {
		d.dead(data, ec.Time, "invalid event detail: %s", jsonError(err))
		return
	}
	if det.InsightArn == "" {
		d.dead(data, ec.Time, "insight event has no insightArn (or it is not a string)")
		return
	}
	if !ec.TimeOK {
		d.dead(data, time.Time{}, "insight event has no usable date: time %q does not parse", clip(ec.TimeRaw))
		return
	}
	dt, ok := PartitionDate(ec.Time, d.origin.NotAfter)
	if !ok {
		d.dead(data, ec.Time, "insight event time %s is outside the partition range", ec.Time.Format(time.RFC3339))
		return
	}
	base := InsightResult{
		EventID:           ec.ID,
		EventTime:         ec.Time,
		EventRegion:       ec.Region,
		EventAccount:      ec.Account,
		ActionName:        det.ActionName,
		ActionDescription: det.ActionDescription,
		ActionARN:         ec.ActionARN,
		InsightARN:        det.InsightArn,
		InsightName:       det.InsightName,
		ResultType:        det.ResultType,
		NumberOfResults:   string(det.NumberOfResults),
		RawDetail:         bytesToString(detail),
		Source:            d.origin.Source,
		Date:              dt,
	}
	n := 0
	emit := func(value string, count Int) {
		r := base
		r.ResultIndex = int32(n)
		r.ResultValue = value
		r.ResultCount = count.Ptr64()
		d.out.Insights = append(d.out.Insights, r)
		n++
	}
	for i, elem := range det.InsightResults {
		pairs, err := objectPairs(elem)
		if err == nil && len(pairs) == 0 {
			err = errors.New("empty object")
		}
		if err != nil {
			d.dead(elem, ec.Time, "insightResults[%d]: %v", i, err)
			continue
		}
		for _, p := range pairs {
			var c Int
			_ = c.UnmarshalJSON(p.value)
			emit(p.key, c)
		}
	}
	if len(det.InsightResults) == 0 {
		// An insight sent with no results is still an event an analyst sent:
		// keep it as one row with NULL result_value and result_count.
		emit("", Int{})
	}
}

type pair struct {
	key   string
	value []byte
}

// objectPairs returns the members of a JSON object in input order (an
// insightResults element is a single-key object; more keys are tolerated).
func objectPairs(b []byte) ([]pair, error) {
	if firstByte(b) != '{' {
		return nil, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	var out []pair
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		out = append(out, pair{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return out, nil
}

// decode decodes raw into v. A value of the wrong JSON type for its field
// is tolerated (NULL in the row, counted in Output.Unreadable); any other
// error is returned for the caller to dead-letter.
func (d *decoderState) decode(raw []byte, v any) error {
	err := jsonAPI.UnmarshalFromString(bytesToString(raw), v)
	if err != nil && isMismatch(err) {
		d.out.Unreadable++
		return nil
	}
	return err
}

// checkSyntax returns err, unless err is a type mismatch and data is not
// valid JSON: then it returns the syntax error. Once sonic has reported a
// mismatch it does not look at the rest of the input, so a mismatch can
// hide trailing bytes after the value (`{...}00` decoded as the object) and
// is only tolerated for input that is valid JSON (a validating scan: a bare
// OCSF finding's integer "time" is a mismatch for the envelope, every time).
// object calls it on every object it is given; everything decoded below
// (details, findings) is a slice of an object then known to be valid JSON,
// so the later decodes need no check of their own.
func checkSyntax(data []byte, err error) error {
	if err == nil || !isMismatch(err) {
		return err
	}
	if jsonAPI.Valid(data) {
		return err
	}
	var v any // for the syntax error's message; invalid input is rarer still
	if serr := jsonAPI.UnmarshalFromString(bytesToString(data), &v); serr != nil {
		return serr
	}
	return errors.New("invalid JSON")
}

// isMismatch reports whether err only says that some value had the wrong JSON
// type for its field; the rest of the value was decoded.
func isMismatch(err error) bool {
	var m *decoder.MismatchTypeError
	var u *json.UnmarshalTypeError
	return errors.As(err, &m) || errors.As(err, &u)
}

// jsonError shortens a decoder error to one line without the input excerpt
// that decoders like to quote: dead letter reasons reach logs, and finding
// contents must not.
func jsonError(err error) string {
	s := err.Error()
	if u, uerr := strconv.Unquote(s); uerr == nil {
		s = u
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return clip(strings.TrimSpace(s))
}

func jsonKind(c byte) string {
	switch c {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// clip bounds a value quoted in a reason to something a log line can carry.
func clip(s string) string {
	const max = 96
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

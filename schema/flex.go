package schema

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Real producers do not always send the JSON types the ASFF documentation
// promises: Prowler and others send numbers as strings ("DestinationPort": "80"),
// some send labels as numbers. The types in this file accept either form and
// never fail: a value that cannot be read is simply absent (NULL in its column),
// while the original text survives in raw_finding.

// Int is an integer that may arrive as a JSON number or as a string holding
// one. Valid is false when the field was missing, null or unreadable.
type Int struct {
	V     int64
	Valid bool
}

// UnmarshalJSON implements json.Unmarshaler and never returns an error.
func (n *Int) UnmarshalJSON(b []byte) error {
	*n = Int{}
	s := unquote(b)
	if s == "" || s == "null" {
		return nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = Int{V: v, Valid: true}
		return nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
		*n = Int{V: int64(f), Valid: true}
	}
	return nil
}

// Ptr32 returns the value as an *int32 for an optional INT32 column, or nil
// when absent or out of range.
func (n Int) Ptr32() *int32 {
	if !n.Valid || n.V < math.MinInt32 || n.V > math.MaxInt32 {
		return nil
	}
	v := int32(n.V)
	return &v
}

// Ptr64 returns the value as an *int64 for an optional INT64 column.
func (n Int) Ptr64() *int64 {
	if !n.Valid {
		return nil
	}
	v := n.V
	return &v
}

// Float is a floating point number that may arrive as a number or a string.
type Float struct {
	V     float64
	Valid bool
}

// UnmarshalJSON implements json.Unmarshaler and never returns an error.
func (f *Float) UnmarshalJSON(b []byte) error {
	*f = Float{}
	s := unquote(b)
	if s == "" || s == "null" {
		return nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		*f = Float{V: v, Valid: true}
	}
	return nil
}

// Ptr returns the value as a *float64 for an optional DOUBLE column.
func (f Float) Ptr() *float64 {
	if !f.Valid {
		return nil
	}
	v := f.V
	return &v
}

// Text is a string that may arrive as a JSON string, number or boolean; the
// text of a number or boolean is kept as sent. Objects, arrays and null leave
// it empty.
type Text string

// UnmarshalJSON implements json.Unmarshaler and never returns an error.
func (t *Text) UnmarshalJSON(b []byte) error {
	*t = ""
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		// Most values have no escapes: the text between the quotes (the
		// decoder has validated the JSON) without a second decoder pass.
		if n := len(b); n >= 2 && b[n-1] == '"' && bytes.IndexByte(b[1:n-1], '\\') < 0 {
			*t = Text(b[1 : n-1])
			return nil
		}
		*t = Text(unescape(b))
	case '{', '[', 'n':
	default:
		*t = Text(b)
	}
	return nil
}

// Bool is a boolean that may arrive as true/false or as the strings "true"/"false".
type Bool struct {
	V     bool
	Valid bool
}

// UnmarshalJSON implements json.Unmarshaler and never returns an error.
func (v *Bool) UnmarshalJSON(b []byte) error {
	*v = Bool{}
	if x, err := strconv.ParseBool(strings.ToLower(unquote(b))); err == nil {
		*v = Bool{V: x, Valid: true}
	}
	return nil
}

// Ptr returns the value as a *bool for an optional BOOLEAN column.
func (v Bool) Ptr() *bool {
	if !v.Valid {
		return nil
	}
	x := v.V
	return &x
}

// unquote returns the text of a scalar JSON value without surrounding quotes
// or whitespace. It does not decode escapes: numbers never contain any.
func unquote(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = bytes.TrimSpace(b[1 : len(b)-1])
	}
	return string(b)
}

// Timestamp is a time as real producers send it, in an ASFF *At field or an
// OCSF *_time attribute: an RFC 3339 string (ParseTime: any offset, up to
// nine fraction digits, a space for the T, no zone read as UTC), or an epoch
// number, as a JSON number or a string of one. An epoch number below 10^11
// is seconds, anything else milliseconds (epochTime): OCSF says
// milliseconds and some producers write seconds (Prowler ≥ 5); ASFF says
// RFC 3339 and tables of ASFF exported to JSON (pandas' to_json, the
// default of its date_unit) write milliseconds. The rule cannot misread a
// real date: in milliseconds 10^11 is 1973-03-03, in seconds the year 5138.
// It never fails: a value it cannot read leaves T zero (NULL in its
// column; the text survives in raw_finding).
type Timestamp struct{ T time.Time }

// UnmarshalJSON implements json.Unmarshaler and never returns an error.
func (ts *Timestamp) UnmarshalJSON(b []byte) error {
	*ts = Timestamp{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if b[0] != '"' {
		// A number (null, booleans and the like are no number).
		ts.T, _ = epochTime(bytesToString(b))
		return nil
	}
	// Nothing below keeps s: it may share the decoder's buffer.
	var s string
	if n := len(b); n >= 2 && b[n-1] == '"' && bytes.IndexByte(b[1:n-1], '\\') < 0 {
		s = bytesToString(b[1 : n-1])
	} else {
		s = unescape(b)
	}
	if t, ok := ParseTime(s); ok {
		ts.T = t
		return nil
	}
	ts.T, _ = epochTime(strings.TrimSpace(s))
	return nil
}

// unescape decodes the JSON string b ("" when it is none). It is apart from
// its callers so that the string whose address it takes is allocated only
// for the rare value with escapes, not for every value they read.
func unescape(b []byte) string {
	var s string
	_ = jsonAPI.Unmarshal(b, &s)
	return s
}

// ptr is the time for a timestamp in a list element or an optional struct
// (see rows.go): nil for NULL.
func (ts Timestamp) ptr() *time.Time {
	if ts.T.IsZero() {
		return nil
	}
	t := ts.T
	return &t
}

// secondsBelow is where epoch seconds end and epoch milliseconds begin.
const secondsBelow = 1e11

// epochTime reads s as epoch seconds (below 10^11) or milliseconds, with a
// fraction or without (seconds keep their milliseconds, milliseconds lose
// the rest); false when s is not a number or the time is outside the years
// 1 to 9999.
func epochTime(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < secondsBelow {
			if n < minMillis/1000 {
				return time.Time{}, false
			}
			return fromMillis(n * 1000)
		}
		return fromMillis(n)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxMillis {
		return time.Time{}, false
	}
	if f < secondsBelow {
		return fromMillis(int64(math.Round(f * 1000)))
	}
	return fromMillis(int64(math.Floor(f)))
}

// The epoch milliseconds of the first and last instant of the years 1 to
// 9999, the range ParseTime admits too.
const (
	minMillis = -62135596800000
	maxMillis = 253402300799999
)

// fromMillis returns the UTC time of epoch milliseconds, false outside the
// years 1 to 9999.
func fromMillis(ms int64) (time.Time, bool) {
	if ms < minMillis || ms > maxMillis {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

// ParseTime reads an ASFF or EventBridge timestamp: RFC 3339 with any offset
// and up to nine fraction digits. The boolean is false when s is not such a
// time; the result is always in UTC.
func ParseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// A few producers write a space instead of "T" or omit the zone.
		alt := strings.Replace(s, " ", "T", 1)
		if t, err = time.Parse(time.RFC3339Nano, alt); err != nil {
			if t, err = time.Parse("2006-01-02T15:04:05.999999999", alt); err != nil {
				return time.Time{}, false
			}
		}
	}
	// Check the year in UTC: an offset can move 9999-12-31 into year 10000,
	// which is no valid dt partition.
	t = t.UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// bytesToString returns a string sharing b's memory. The caller promises that
// b is never modified afterwards (units are immutable once read).
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

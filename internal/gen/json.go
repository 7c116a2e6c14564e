package gen

import (
	"strconv"
	"strings"
	"time"
)

// enc builds compact JSON by appending to a byte slice. Members are written
// in the order the code calls them (Go maps are never iterated), so the
// output is a pure function of the calls. It only tracks whether a comma is
// due, which is all a writer that never backtracks needs.
type enc struct {
	b    []byte
	more bool
	// millis writes every *At timestamp as an epoch-milliseconds number
	// (shapeTableExport).
	millis bool
}

// key starts a member named k, or an array element when k is "". Keys are
// constants of this package and need no escaping.
func (e *enc) key(k string) {
	if e.more {
		e.b = append(e.b, ',')
	}
	if k != "" {
		e.b = append(e.b, '"')
		e.b = append(e.b, k...)
		e.b = append(e.b, '"', ':')
	}
	e.more = false
}

func (e *enc) open(k string)    { e.key(k); e.b = append(e.b, '{') }
func (e *enc) close()           { e.b = append(e.b, '}'); e.more = true }
func (e *enc) openArr(k string) { e.key(k); e.b = append(e.b, '[') }
func (e *enc) closeArr()        { e.b = append(e.b, ']'); e.more = true }

func (e *enc) str(k, v string) {
	e.key(k)
	e.b = appendQuoted(e.b, v)
	e.more = true
}

// cat writes the concatenation of parts as one string value.
func (e *enc) cat(k string, parts ...string) {
	e.key(k)
	e.b = append(e.b, '"')
	for _, p := range parts {
		e.b = appendEscaped(e.b, p)
	}
	e.b = append(e.b, '"')
	e.more = true
}

// strs writes an array of strings.
func (e *enc) strs(k string, vs ...string) {
	e.openArr(k)
	for i, v := range vs {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.b = appendQuoted(e.b, v)
	}
	e.closeArr()
}

func (e *enc) int(k string, v int64) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
	e.more = true
}

// num writes a float in its shortest form (9.8, 10, 0.00043).
func (e *enc) num(k string, v float64) {
	e.key(k)
	e.b = strconv.AppendFloat(e.b, v, 'f', -1, 64)
	e.more = true
}

func (e *enc) boolean(k string, v bool) {
	e.key(k)
	e.b = strconv.AppendBool(e.b, v)
	e.more = true
}

// hexStr writes prefix followed by n hex digits drawn from h.
func (e *enc) hexStr(k, prefix string, h *hs, n int) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = append(e.b, prefix...)
	for ; n > 0; n -= 16 {
		e.b = appendHex(e.b, h.next(), min(n, 16))
	}
	e.b = append(e.b, '"')
	e.more = true
}

// Timestamp styles seen in real findings.
type tstyle uint8

const (
	tsMilli tstyle = iota // 2025-03-04T05:06:07.123Z (AWS services)
	tsSec                 // 2025-03-04T05:06:07Z
	tsNano                // 2025-03-04T05:06:07.123456789Z (Go tools: Trivy)
)

var jst = time.FixedZone("JST", 9*3600)

// ts writes the time t (Unix nanoseconds) in style s, in UTC or, when local
// is set, with a +09:00 offset (a tool run on a laptop in Tokyo). While
// millis is set, an ASFF *At member is an epoch-milliseconds number
// instead (the style's precision kept); other members (ProductFields
// values, strings in a map of strings) stay text.
func (e *enc) ts(k string, t int64, s tstyle, local bool) {
	if e.millis && strings.HasSuffix(k, "At") {
		ns := t
		switch s {
		case tsSec:
			ns = t / 1e9 * 1e9
		case tsMilli:
			ns = t / 1e6 * 1e6
		}
		e.int(k, ns/1e6)
		return
	}
	e.key(k)
	e.b = appendTime(e.b, t, s, local)
	e.more = true
}

func appendTime(b []byte, t int64, s tstyle, local bool) []byte {
	tm := time.Unix(0, t).UTC()
	if local {
		tm = tm.In(jst)
	}
	b = append(b, '"')
	switch s {
	case tsSec:
		b = tm.AppendFormat(b, "2006-01-02T15:04:05Z07:00")
	case tsNano:
		b = tm.AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
	default:
		b = tm.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	return append(b, '"')
}

// appendQuoted appends v as a JSON string.
func appendQuoted(b []byte, v string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, v)
	return append(b, '"')
}

// appendEscaped appends the JSON string escape of v without quotes. UTF-8
// passes through; quotes, backslashes and control characters are escaped.
func appendEscaped(b []byte, v string) []byte {
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, v[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	return append(b, v[start:]...)
}

const hexDigits = "0123456789abcdef"

// appendHex appends the n low hex digits of x (n <= 16), most significant
// first.
func appendHex(b []byte, x uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, hexDigits[(x>>(uint(i)*4))&15])
	}
	return b
}

// appendUUID appends a version 4 UUID made of the bits of hi and lo.
func appendUUID(b []byte, hi, lo uint64) []byte {
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(3<<62) | 2<<62
	b = appendHex(b, hi>>32, 8)
	b = append(b, '-')
	b = appendHex(b, hi>>16, 4)
	b = append(b, '-')
	b = appendHex(b, hi, 4)
	b = append(b, '-')
	b = appendHex(b, lo>>48, 4)
	b = append(b, '-')
	return appendHex(b, lo, 12)
}

// mix is the SplitMix64 finaliser: a cheap, well-spread hash of x.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// hs is a tiny deterministic stream keyed by a hash: the stable attributes
// of a resource (instance type, CIDR, creation date) come from it, so one
// resource looks the same in every finding that names it.
type hs struct{ s uint64 }

func (h *hs) next() uint64 { h.s += 0x9e3779b97f4a7c15; return mix(h.s) }

// n returns a number in [0, n).
func (h *hs) n(n int) int { return int(h.next() % uint64(n)) }

// base64ish returns n characters of the base64 alphabet drawn from h.
func base64ish(h *hs, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[h.n(64)]
	}
	return string(b)
}

// pick returns one of vs.
func pick[T any](h *hs, vs []T) T { return vs[h.n(len(vs))] }

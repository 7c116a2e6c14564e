// Package units cuts raw input into units, the pieces the pipeline decodes
// one at a time: files into JSON values or lines (Splitter), and Kinesis
// records the KCL would take for KPL aggregates into the ones it can and
// cannot de-aggregate (KPLProblem). It depends on nothing of AWS, so that
// these two parsers of untrusted bytes are fuzzed in a small binary.
package units

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// A splitter cuts a byte stream into units without holding more than one unit
// in memory. It understands every shape a Security Hub export takes:
//
//   - newline-delimited JSON (one event or finding per line);
//   - concatenated JSON values with no separator (how Firehose writes
//     EventBridge events to S3), or pretty-printed values one after another;
//   - a JSON array (each element is a unit at its own offset);
//   - a {"Findings": [...]} document (get-findings output, BatchImportFindings
//     input): each element of Findings is a unit;
//   - a single event or finding.
//
// The stream is scanned structurally (strings, escapes, nesting), so lines and
// values of any size work. Once the first top-level value turns out to be a
// single line followed by a newline, the rest is read line by line: a broken
// line then costs one dead letter instead of swallowing its neighbours.
//
// A unit larger than the size limit is not buffered: it is handed out as a
// reader that streams its bytes (to a dead letter) while the scan goes on.
type Splitter struct {
	r         io.Reader
	buf       []byte
	end       int   // valid bytes in buf
	base      int64 // stream offset of buf[0]
	start     int   // first byte of the current unit (or next unread byte)
	eof       bool
	readErr   error
	zeroReads int
	maxUnit   int

	mode       splitMode
	decided    bool // line mode decided (first top-level value seen)
	bomChecked bool
	hash       hash.Hash
	hashed     int // bytes of buf hashed so far (buf[0:hashed])
	oversize   *oversizeReader
}

type splitMode int

const (
	modeTop splitMode = iota
	modeArray
	modeFindings // inside the Findings array of a document
	modeLines
)

// Piece is one unit found by the splitter.
type Piece struct {
	Data   []byte // shares the splitter's buffer, which never overwrites it
	Offset int64
	Digest string // SHA-256 of the stream up to the end of this unit (hex)
	// Reject is why the unit is not a JSON value ("" when it may be one).
	Reject string
	// Oversize streams a unit over the size limit; the caller must read it to
	// the end before calling Next again. Data is nil then, and Digest is the
	// digest of the stream before the unit.
	Oversize io.Reader
}

// readChunk is how much is read at a time; chunkSize the size of the
// buffers units are cut from.
const (
	readChunk = 256 << 10
	chunkSize = 1 << 20
)

func NewSplitter(r io.Reader, maxUnit int) *Splitter {
	return &Splitter{r: r, buf: make([]byte, 0, chunkSize), maxUnit: maxUnit, hash: sha256.New()}
}

// offset returns the stream offset of buf index i.
func (s *Splitter) offset(i int) int64 { return s.base + int64(i) }

// fill reads more input, keeping buf[s.start:]. It returns false at EOF or
// on a read error (kept in readErr).
//
// Units are handed out as slices of buf, not copies, so bytes before
// s.start are never overwritten: when buf is full, the unread tail moves to
// a new chunk and the old one lives on as long as the units that point into
// it (until their batch is flushed).
func (s *Splitter) fill() bool {
	if s.eof {
		return false
	}
	if cap(s.buf)-s.end < readChunk {
		s.hashTo(s.start)
		keep := s.end - s.start
		nb := make([]byte, keep, max(chunkSize, keep+readChunk))
		copy(nb, s.buf[s.start:s.end])
		s.base += int64(s.start)
		s.hashed -= s.start
		s.end, s.start, s.buf = keep, 0, nb
	}
	// Read a whole chunk unless the input ends first. Only io.EOF itself
	// ends the input cleanly: io.ErrUnexpectedEOF from the reader (a
	// compressed stream cut short, a body shorter than its length) is a
	// read error like any other, and so is an error that merely wraps
	// io.EOF (a network client's "unexpected end": the io.Reader contract
	// ends a stream with io.EOF itself, never a wrapped one).
	n := 0
	for n < readChunk {
		m, err := s.r.Read(s.buf[s.end+n : s.end+readChunk])
		n += m
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.readErr = err
			}
			break
		}
		if m == 0 {
			// A reader that returns nothing without an error: try again
			// (io.Reader allows it, as long as it is not forever).
			if s.zeroReads++; s.zeroReads > 100 {
				s.eof, s.readErr = true, io.ErrNoProgress
				break
			}
			continue
		}
		s.zeroReads = 0
	}
	s.end += n
	s.buf = s.buf[:s.end]
	return n > 0
}

// ReadErr is the error that ended the input early (nil while the input is
// being read, and at a clean end): the units before it were handed out,
// the one it cut is not.
func (s *Splitter) ReadErr() error { return s.readErr }

// hashTo feeds buf[hashed:i] to the running digest.
func (s *Splitter) hashTo(i int) {
	if i > s.hashed {
		s.hash.Write(s.buf[s.hashed:i])
		s.hashed = i
	}
}

func (s *Splitter) digest() string {
	var sum [sha256.Size]byte
	return hex.EncodeToString(s.hash.Sum(sum[:0]))
}

// at returns buf[i], filling as needed; ok is false past the end of input.
func (s *Splitter) at(i *int) (byte, bool) {
	for *i >= s.end {
		before := s.start
		if !s.fill() {
			return 0, false
		}
		*i -= before - s.start
	}
	return s.buf[*i], true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// skip advances start over whitespace and the separators valid in mode.
func (s *Splitter) skip(commas bool) (byte, bool) {
	for {
		i := s.start
		c, ok := s.at(&i)
		s.start = i
		if !ok {
			return 0, false
		}
		if isSpace(c) || (commas && c == ',') {
			s.start++
			continue
		}
		return c, true
	}
}

// next returns the next unit, or io.EOF when the input is exhausted.
func (s *Splitter) Next() (Piece, error) {
	if s.oversize != nil {
		return Piece{}, errors.New("splitter: oversize unit not consumed")
	}
	if !s.bomChecked {
		// A UTF-8 byte order mark (Windows tools write one) is not JSON.
		s.bomChecked = true
		i := 2
		if _, ok := s.at(&i); ok && bytes.HasPrefix(s.buf[s.start:], []byte("\xef\xbb\xbf")) {
			s.start += 3
		}
	}
	for {
		if s.mode == modeLines {
			return s.nextLine()
		}
		c, ok := s.skip(true)
		if !ok {
			return Piece{}, s.finish()
		}
		switch s.mode {
		case modeTop:
			switch c {
			case '{':
				p, doc, err := s.object()
				if doc {
					s.mode = modeFindings
					continue
				}
				if err == nil && !s.decided {
					s.decided = true
					s.decideLines(p)
				}
				return p, err
			case '[':
				s.start++
				s.hashTo(s.start)
				s.mode = modeArray
				s.decided = true
				continue
			default:
				s.decided = true
				return s.garbage("not JSON: a top-level value must be an object or an array")
			}
		case modeArray, modeFindings:
			switch c {
			case ']':
				s.start++
				if s.mode == modeFindings {
					// The rest of the document ("NextToken" and the like).
					if p, broken := s.skipRestOfObject(); broken {
						s.mode = modeTop
						if s.readErr != nil {
							return Piece{}, s.finish()
						}
						return p, nil
					}
				}
				s.hashTo(s.start)
				s.mode = modeTop
				continue
			case '}':
				// Stray closer at array level: take the rest of the line.
				return s.line("unexpected '}' inside an array")
			default:
				return s.value()
			}
		}
	}
}

// finish reports the end of input: a read error, or io.EOF.
func (s *Splitter) finish() error {
	s.hashTo(s.end)
	if s.readErr != nil {
		return fmt.Errorf("read input at byte %d: %w", s.offset(s.end), s.readErr)
	}
	return io.EOF
}

// object scans the top-level object at start member by member. When one of
// its members is "Findings" (or "findings") with an array value, and no member before it
// named the object an event ("detail-type" or "detail": the decoder takes an
// event's findings from its detail), the object is a Findings document
// (get-findings and get-findings-v2 output, BatchImportFindings input, an
// SDK response saved whole: ResponseMetadata, NextToken and the like may
// come first or last): doc is true, everything up to the array's '[' is
// consumed and the caller splits its elements. Otherwise the object is one
// unit, scanned in the same pass.
//
// The members before "Findings" are held until it is found, like any unit:
// when they pass the unit limit, the object is handed out as an oversize
// unit (docs/operating.md, "backfill": a document whose members before Findings exceed
// --max-unit-bytes is one dead letter).
func (s *Splitter) object() (p Piece, doc bool, err error) {
	i := s.start + 1 // past '{'
	event := false
	for {
		// A member: blanks, a key, blanks, ':', blanks, a value, blanks,
		// then ',' or '}'. Anything else is left to the generic scan.
		c, ok := s.skipAt(&i)
		if !ok {
			p, err := s.valueFrom(i, scanState{depth: 1}, scanEOF)
			return p, false, err
		}
		if c != '"' {
			break
		}
		keyRel := i - s.start
		i++
		st := scanState{inStr: true}
		if status := s.scan(&st, &i, s.maxUnit); status != scanDone {
			p, err := s.valueFrom(i, scanState{depth: 1, inStr: st.inStr}, status)
			return p, false, err
		}
		key := s.buf[s.start+keyRel : i]
		// "findings" too: an EventBridge detail saved on its own, and
		// DefectDojo's import format.
		isFindings := string(key) == `"Findings"` || string(key) == `"findings"`
		if string(key) == `"detail-type"` || string(key) == `"detail"` {
			event = true
		}
		if c, ok = s.skipAt(&i); !ok || c != ':' {
			break
		}
		i++
		if c, ok = s.skipAt(&i); !ok {
			break
		}
		if isFindings && c == '[' && !event {
			s.start = i + 1
			s.hashTo(s.start)
			return Piece{}, true, nil
		}
		if event {
			// An event: no need to look at its keys any further.
			break
		}
		st = scanState{scalar: c != '{' && c != '[' && c != '"'}
		if c == '"' {
			st.inStr = true
			i++
		}
		if status := s.scan(&st, &i, s.maxUnit); status != scanDone {
			if st.scalar {
				st = scanState{}
			}
			st.depth++
			p, err := s.valueFrom(i, st, status)
			return p, false, err
		}
		if c, ok = s.skipAt(&i); !ok {
			break
		}
		switch c {
		case ',':
			i++
			continue
		case '}':
			p, err := s.valueFrom(i+1, scanState{}, scanDone)
			return p, false, err
		}
		break
	}
	// Not a member where one belongs (invalid JSON), an event, or the input
	// ended: find the object's end as any value's.
	p, err = s.valueFrom(i, scanState{depth: 1}, scanLimit+1)
	return p, false, err
}

// skipAt advances *i over blanks and returns the byte there.
func (s *Splitter) skipAt(i *int) (byte, bool) {
	for {
		c, ok := s.at(i)
		if !ok || !isSpace(c) {
			return c, ok
		}
		*i++
	}
}

// decideLines switches to line mode when the first value was one line ended
// by a newline.
func (s *Splitter) decideLines(p Piece) {
	if p.Data == nil || bytes.IndexByte(p.Data, '\n') >= 0 {
		return
	}
	i := s.start
	for {
		c, ok := s.at(&i)
		if !ok {
			return
		}
		switch c {
		case ' ', '\t', '\r':
			i++
			continue
		case '\n':
			s.mode = modeLines
		}
		return
	}
}

// scanState is where a scan of one unit stands.
type scanState struct {
	depth  int
	inStr  bool
	scalar bool // a number, true/false/null or bare garbage inside an array
	line   bool // the unit ends at the next newline
}

type scanStatus int

const (
	scanDone  scanStatus = iota // *i is one past the unit's last byte
	scanLimit                   // the unit has grown past limit bytes
	scanEOF                     // the input ended first
)

// scan advances *i through the unit that starts at s.start.
func (s *Splitter) scan(st *scanState, i *int, limit int) scanStatus {
	for {
		// *i can be one past the buffered bytes (after a backslash that
		// ended them); the limit is checked once they are read, or the
		// oversize reader would wait for bytes it never reads.
		if *i-s.start > limit && *i <= s.end {
			return scanLimit
		}
		c, ok := s.at(i)
		if !ok {
			return scanEOF
		}
		switch {
		case st.line:
			j := bytes.IndexByte(s.buf[*i:s.end], '\n')
			if j < 0 {
				*i = s.end
				continue
			}
			*i += j
			if *i-s.start > limit {
				return scanLimit
			}
			return scanDone
		case st.inStr:
			// Jump to the next quote or backslash.
			j := bytes.IndexAny(s.buf[*i:s.end], "\"\\")
			if j < 0 {
				*i = s.end
				continue
			}
			*i += j
			if s.buf[*i] == '\\' {
				*i += 2
				continue
			}
			st.inStr = false
			*i++
			if st.depth == 0 {
				// The unit is a string and ends here, even past the
				// limit: the caller checks its size.
				return scanDone
			}
		case st.scalar:
			if isSpace(c) || c == ',' || c == ']' || c == '}' {
				return scanDone
			}
			*i++
		default:
			switch c {
			case '"':
				st.inStr = true
			case '{', '[':
				st.depth++
			case '}', ']':
				st.depth--
				if st.depth <= 0 {
					*i++
					return scanDone
				}
			}
			*i++
		}
	}
}

// value scans one JSON value starting at start and returns it as a unit.
func (s *Splitter) value() (Piece, error) {
	i := s.start
	c0, _ := s.at(&i)
	st := scanState{scalar: c0 != '{' && c0 != '[' && c0 != '"'}
	if c0 == '"' {
		st.inStr = true
		i++
	}
	return s.valueFrom(i, st, scanLimit+1)
}

// valueFrom finishes the unit that starts at start, scanned up to i in
// state st. status is how that scan ended, or scanLimit+1 when it has not
// run yet.
func (s *Splitter) valueFrom(i int, st scanState, status scanStatus) (Piece, error) {
	if status > scanLimit {
		status = s.scan(&st, &i, s.maxUnit)
	}
	if status == scanLimit {
		return s.streamOversize(i, st)
	}
	if i = min(i, s.end); i-s.start > s.maxUnit {
		// Scanned to its end, but its last bytes took it over the limit.
		p, err := s.streamOversize(i, st)
		s.oversize.done = true
		return p, err
	}
	if status == scanEOF && s.readErr != nil {
		// The input broke inside this unit: it is not a unit, the input
		// failed.
		return Piece{}, s.finish()
	}
	if status == scanEOF && !st.scalar {
		return s.emit(i, "truncated JSON: the input ends inside this value")
	}
	return s.emit(i, "")
}

// line returns the rest of the current line as a unit, rejected with reason
// (or decoded, in line mode, when reason is "").
func (s *Splitter) line(reason string) (Piece, error) {
	i := s.start
	st := scanState{line: true}
	switch s.scan(&st, &i, s.maxUnit) {
	case scanLimit:
		return s.streamOversize(i, st)
	case scanEOF:
		if s.readErr != nil {
			return Piece{}, s.finish()
		}
	}
	return s.emit(i, reason)
}

// streamOversize hands out the unit at start, already scanned up to i, as a
// reader; the scan continues as the reader is read.
func (s *Splitter) streamOversize(i int, st scanState) (Piece, error) {
	s.hashTo(s.start)
	p := Piece{Offset: s.offset(s.start), Digest: s.digest()}
	s.oversize = &oversizeReader{s: s, i: i, st: st}
	p.Oversize = s.oversize
	return p, nil
}

// oversizeReader streams one unit that is too large to buffer.
type oversizeReader struct {
	s    *Splitter
	i    int // bytes buf[s.start:i] are scanned and not yet read out
	st   scanState
	done bool
}

func (o *oversizeReader) Read(p []byte) (int, error) {
	s := o.s
	for {
		if s.start < o.i {
			n := copy(p, s.buf[s.start:min(o.i, s.end)])
			s.start += n
			s.hashTo(s.start)
			return n, nil
		}
		if o.done {
			s.oversize = nil
			if s.readErr != nil {
				return 0, s.readErr
			}
			return 0, io.EOF
		}
		if s.scan(&o.st, &o.i, readChunk) != scanLimit {
			o.i = min(o.i, s.end)
			o.done = true
		}
	}
}

// emit returns buf[start:end] as a unit and moves past it.
func (s *Splitter) emit(end int, reject string) (Piece, error) {
	end = min(end, s.end)
	p := Piece{Data: s.buf[s.start:end:end], Offset: s.offset(s.start), Reject: reject}
	s.start = end
	s.hashTo(end)
	p.Digest = s.digest()
	return p, nil
}

// garbage returns a run of lines that are not JSON values, up to the next
// line that starts (after blanks) with '{' or '[', as one rejected unit.
func (s *Splitter) garbage(reason string) (Piece, error) {
	i := s.start
	for {
		st := scanState{line: true}
		switch s.scan(&st, &i, s.maxUnit) {
		case scanLimit:
			return s.streamOversize(i, st)
		case scanEOF:
			if s.readErr != nil {
				return Piece{}, s.finish()
			}
			return s.emit(i, reason)
		}
		// i is at a newline; look at the next line's first byte.
		rel := i - s.start
		k := i + 1
		for {
			c, ok := s.at(&k)
			if !ok || c == '{' || c == '[' {
				return s.emit(s.start+rel, reason)
			}
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				k++
				continue
			}
			break
		}
		i = k
	}
}

func (s *Splitter) nextLine() (Piece, error) {
	for {
		c, ok := s.skip(false)
		if !ok {
			return Piece{}, s.finish()
		}
		_ = c
		p, err := s.line("")
		if err != nil || p.Oversize != nil {
			return p, err
		}
		p.Data = bytes.TrimRight(p.Data, " \t\r")
		if len(p.Data) == 0 {
			continue
		}
		return p, nil
	}
}

// skipRestOfObject consumes the members that follow the Findings array up to
// the document's closing brace. When the input ends first, what it skipped
// (at most its last read chunk) is returned as a rejected unit, so that a
// broken document is never dropped silently.
func (s *Splitter) skipRestOfObject() (Piece, bool) {
	i := s.start
	depth := 1
	inStr := false
	for depth > 0 {
		c, ok := s.at(&i)
		if !ok {
			if i-s.start > s.maxUnit {
				p, _ := s.streamOversize(i, scanState{})
				s.oversize.done = true
				return p, true
			}
			p, _ := s.emit(i, "truncated JSON: the Findings document does not close")
			// A missing final brace loses nothing; a cut-off member might.
			return p, len(bytes.TrimSpace(p.Data)) > 0
		}
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
		i++
		if !inStr && i-s.start > readChunk {
			// Keep memory flat over a long tail.
			s.start = i
			s.hashTo(i)
		}
	}
	s.start = min(i, s.end)
	return Piece{}, false
}

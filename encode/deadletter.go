package encode

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"

	"github.com/hublake/hublake/schema"
)

// DeadLetterLine is one line of a dead letter object (docs/tables.md): the unit's
// source, why it could not become a row, and its original bytes: as a string
// when they are valid UTF-8, else base64 under data_base64.
type DeadLetterLine struct {
	Source     string `json:"source"`
	Error      string `json:"error"`
	Data       string `json:"data,omitempty"`
	DataBase64 string `json:"data_base64,omitempty"`
}

// WriteDeadLetters writes letters as one gzipped JSON-lines object.
func (e *Encoder) WriteDeadLetters(ctx context.Context, dt, name string, letters []schema.DeadLetter) (int64, error) {
	return e.writeObject(ctx, schema.TableDeadLetters, dt, name, func(w io.Writer, key string) error {
		zw := gzip.NewWriter(w)
		bw := bufio.NewWriterSize(zw, 64<<10)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		for _, l := range letters {
			line := DeadLetterLine{Source: l.Source, Error: l.Reason}
			if utf8.Valid(l.Data) {
				line.Data = string(l.Data)
			} else {
				line.DataBase64 = base64.StdEncoding.EncodeToString(l.Data)
			}
			if err := enc.Encode(&line); err != nil {
				return fmt.Errorf("encode dead letter: %w", err)
			}
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("write %s: %w", key, err)
		}
		return nil
	})
}

// StreamDeadLetter writes one dead letter whose data is read from r without
// holding it in memory: a unit too large to decode. The data goes out as
// base64 (its validity as UTF-8 cannot be known before the end).
func (e *Encoder) StreamDeadLetter(ctx context.Context, dt, name, source, reason string, r io.Reader) (int64, error) {
	return e.writeObject(ctx, schema.TableDeadLetters, dt, name, func(w io.Writer, key string) error {
		zw := gzip.NewWriter(w)
		head, _ := json.Marshal(struct {
			Source string `json:"source"`
			Error  string `json:"error"`
		}{source, reason})
		fail := func(err error) error { return fmt.Errorf("write %s: %w", key, err) }
		// {"source":..,"error":..,"data_base64":"<streamed>"}\n
		if _, err := zw.Write(head[:len(head)-1]); err != nil {
			return fail(err)
		}
		if _, err := io.WriteString(zw, `,"data_base64":"`); err != nil {
			return fail(err)
		}
		b64 := base64.NewEncoder(base64.StdEncoding, zw)
		if _, err := io.Copy(b64, r); err != nil {
			return fail(err)
		}
		if err := b64.Close(); err != nil {
			return fail(err)
		}
		if _, err := io.WriteString(zw, "\"}\n"); err != nil {
			return fail(err)
		}
		if err := zw.Close(); err != nil {
			return fail(err)
		}
		return nil
	})
}

package encode

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/schema"
)

// TestSnappyCodecBlocks: what the writer's Snappy codec writes, a reader's
// Snappy codec (parquet-go's, klauspost/compress/snappy) reads back, for the
// shapes a page can have.
func TestSnappyCodecBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name string
		page []byte
	}{
		{"empty", nil},
		{"one byte", []byte{'x'}},
		{"short", []byte(`{"Id":"a"}`)},
		{"repetitive", bytes.Repeat([]byte(`{"SchemaVersion":"2018-10-08","Id":"arn:aws:securityhub:eu-west-1:123456789012:finding/1"}`), 4000)},
		{"incompressible", random},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := snappyCodec{}.Encode(make([]byte, 0, 16), tc.page)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := (&parquet.Snappy).Decode(nil, enc)
			if err != nil {
				t.Fatalf("a reader cannot decode the page: %v", err)
			}
			if !bytes.Equal(dec, tc.page) {
				t.Fatalf("decoded %d bytes, want the %d written", len(dec), len(tc.page))
			}
			if tc.name == "repetitive" && len(enc) > len(tc.page)/10 {
				t.Errorf("repetitive page: %d bytes compressed to %d", len(tc.page), len(enc))
			}
		})
	}
}

// TestEncoderCodecs writes the same findings with each codec: every column
// chunk carries the codec asked for, the rows read back are the rows
// written, and ZSTD's object is smaller than Snappy's.
func TestEncoderCodecs(t *testing.T) {
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events, cfg.DupRatio, cfg.InsightRatio, cfg.OCSFRatio = 0, 600, 0, 0, 0
	g, err := gen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out schema.Output
	for !g.Done() {
		schema.Decode(append([]byte(nil), g.Next()...), schema.Origin{Source: "codec", NotAfter: time.Now().Add(24 * time.Hour)}, &out)
	}
	if len(out.Findings) < 600 || len(out.Dead) != 0 {
		t.Fatalf("%d findings and %d dead letters from the corpus", len(out.Findings), len(out.Dead))
	}
	sizes := map[string]int64{}
	for _, tc := range []struct {
		codec string
		want  format.CompressionCodec
	}{{"", format.Zstd}, {CodecZSTD, format.Zstd}, {CodecSnappy, format.Snappy}} {
		root := t.TempDir()
		store, err := dirlake.New(root)
		if err != nil {
			t.Fatal(err)
		}
		// Small row groups, so the object has several.
		e := New(store, Options{Codec: tc.codec, RowGroupBytes: 256 << 10})
		n, err := WriteTable(context.Background(), e, schema.Findings, "2026-01-01", "codec", out.Findings)
		if err != nil {
			t.Fatal(err)
		}
		sizes[tc.codec] = n
		key, _ := layout.ObjectKey(schema.TableFindings, "2026-01-01", "codec")
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		pf, err := parquet.OpenFile(f, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(pf.Metadata().RowGroups) < 2 {
			t.Errorf("codec %q: %d row groups, want several", tc.codec, len(pf.Metadata().RowGroups))
		}
		for _, rg := range pf.Metadata().RowGroups {
			for _, c := range rg.Columns {
				if c.MetaData.Codec != tc.want {
					t.Fatalf("codec %q: column %v is %v, want %v", tc.codec, c.MetaData.PathInSchema, c.MetaData.Codec, tc.want)
				}
			}
		}
		r := parquet.NewGenericReader[schema.Finding](f)
		rows := make([]schema.Finding, len(out.Findings)+1)
		got, err := r.Read(rows)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if got != len(out.Findings) {
			t.Fatalf("codec %q: read %d rows, want %d", tc.codec, got, len(out.Findings))
		}
		for i := range got {
			w := &out.Findings[i]
			if rows[i].RawFinding != w.RawFinding || rows[i].ID != w.ID || rows[i].Title != w.Title || len(rows[i].ProductFields) != len(w.ProductFields) {
				t.Fatalf("codec %q: row %d differs from the row written", tc.codec, i)
			}
		}
	}
	if sizes[CodecZSTD] >= sizes[CodecSnappy] {
		t.Errorf("ZSTD object %d bytes, Snappy %d: want ZSTD smaller", sizes[CodecZSTD], sizes[CodecSnappy])
	}
	t.Logf("object bytes: zstd %d, snappy %d (%.2f×)", sizes[CodecZSTD], sizes[CodecSnappy], float64(sizes[CodecSnappy])/float64(sizes[CodecZSTD]))
}

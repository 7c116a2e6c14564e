package extsort

import (
	"context"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/schema"
)

// OutputWriter is step 3: it writes rows into objects (ObjectKey(0),
// ObjectKey(1), ...), each closed once its size plus one more row group
// would pass Target, with row groups bounded as the writer bounds them
// (rows, and bytes of values). Fill the exported fields, call Write for
// every row, then Close (or Abort after an error).
type OutputWriter struct {
	Ctx   context.Context
	Store objstore.Store
	Table schema.AnyTable
	// ObjectKey is the key of the k-th object (from 0).
	ObjectKey func(k int) (string, error)
	// Options are the Parquet writer's options (encode.WriterOptions, with
	// parquet.MaxRowsPerRowGroup(math.MaxInt64): the row groups are cut
	// here, so that an object ends on a row group's end).
	Options    []parquet.WriterOption
	GroupRows  int64
	GroupBytes int64
	Target     int64
	// Written is called after each object's commit.
	Written func(key string, size int64) error
	// AtLeastOne: Close writes an object without rows if no row was
	// written (a current table's snapshot of an empty live set: readers
	// that take the manifest's list, DuckDB's read_parquet among them,
	// refuse an empty list, while a file without rows reads as no rows).
	AtLeastOne bool

	k       int
	obj     objstore.ObjectWriter
	cw      *encode.CountingWriter
	w       *schema.ParquetWriter[any]
	key     string
	pending []parquet.Row
	gRows   int64
	gBytes  int64
	groups  int64 // row groups in the current object
	lastRG  int64 // the largest row group so far (compressed)
	footer  int64 // footer bytes per row group (column chunk metadata, page indexes)
	rows    int64
}

// footerPerGroup is the footer's size per row group assumed until an object
// has been closed: a row group of 127 columns adds about 20 KiB of column
// metadata and page indexes.
const footerPerGroup = 32 << 10

// Rows is how many rows were written.
func (o *OutputWriter) Rows() int64 { return o.rows }

// Write writes one row.
func (o *OutputWriter) Write(row parquet.Row) error {
	if o.w == nil {
		if err := o.open(); err != nil {
			return err
		}
	}
	o.pending = append(o.pending, row)
	o.gRows++
	o.gBytes += RowBytes(row)
	o.rows++
	if len(o.pending) >= 64 {
		if err := o.writePending(); err != nil {
			return err
		}
	}
	if o.gRows >= o.GroupRows || o.gBytes >= o.GroupBytes {
		return o.endGroup(false)
	}
	return nil
}

func (o *OutputWriter) writePending() error {
	if _, err := o.w.WriteRows(o.pending); err != nil {
		return o.fail(fmt.Errorf("encode %s: %w", o.key, err))
	}
	clear(o.pending)
	o.pending = o.pending[:0]
	return nil
}

// endGroup writes the row group out, and the object too when it is full or
// last.
func (o *OutputWriter) endGroup(last bool) error {
	if err := o.writePending(); err != nil {
		return err
	}
	before := o.cw.N
	if err := o.w.Flush(); err != nil {
		return o.fail(fmt.Errorf("encode %s: %w", o.key, err))
	}
	o.lastRG = max(o.lastRG, o.cw.N-before)
	o.gRows, o.gBytes = 0, 0
	o.groups++
	if o.footer == 0 {
		o.footer = footerPerGroup
	}
	if !last && o.cw.N+o.lastRG+(o.groups+1)*o.footer <= o.Target {
		return nil
	}
	return o.commit()
}

// commit closes the object being written (its footer) and commits it.
func (o *OutputWriter) commit() error {
	body := o.cw.N
	if err := o.w.Close(); err != nil {
		return o.fail(fmt.Errorf("encode %s: %w", o.key, err))
	}
	if o.groups > 0 {
		o.footer = max(o.footer, (o.cw.N-body)/o.groups+1)
	}
	o.groups = 0
	if err := o.obj.Commit(); err != nil {
		o.w, o.obj = nil, nil
		return err
	}
	key, size := o.key, o.cw.N
	o.w, o.obj = nil, nil
	o.k++
	return o.Written(key, size)
}

// open starts the next object.
func (o *OutputWriter) open() error {
	key, err := o.ObjectKey(o.k)
	if err != nil {
		return err
	}
	obj, err := o.Store.Create(o.Ctx, key)
	if err != nil {
		return err
	}
	o.obj, o.key, o.cw = obj, key, &encode.CountingWriter{W: obj}
	o.w = encode.NewParquetWriter[any](o.cw, o.Table, o.Options)
	return nil
}

// RowSource is what WriteAll copies: sorted rows, io.EOF at the end.
type RowSource interface {
	Next() (parquet.Row, error)
}

// WriteAll writes every row of src, then closes; on an error the object
// being written is abandoned.
func (o *OutputWriter) WriteAll(src RowSource) error {
	for {
		row, err := src.Next()
		if err == io.EOF {
			return o.Close()
		}
		if err == nil {
			err = o.Write(row)
		}
		if err != nil {
			o.Abort()
			return err
		}
	}
}

// Close writes what is left. With AtLeastOne, a writer that was given no
// row writes one object without rows (the schema and a footer).
func (o *OutputWriter) Close() error {
	if o.w == nil && o.AtLeastOne && o.k == 0 {
		if err := o.open(); err != nil {
			return err
		}
		return o.commit()
	}
	if o.w == nil {
		return nil
	}
	return o.endGroup(true)
}

func (o *OutputWriter) fail(err error) error {
	if o.obj != nil {
		_ = o.obj.Abort()
	}
	o.w, o.obj = nil, nil
	return err
}

// Abort abandons the object being written, if any.
func (o *OutputWriter) Abort() {
	if o.obj != nil {
		_ = o.obj.Abort()
		o.w, o.obj = nil, nil
	}
}

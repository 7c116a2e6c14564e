package encode

import (
	"runtime"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec is the Parquet writer's ZSTD codec. It differs from
// parquet-go's own in two ways that cost nothing in compression and a lot
// less in time (measured: BenchmarkConsumerPath, BENCHMARKS.md):
//
//   - Its encoders live in a pool the garbage collector does not empty.
//     parquet-go keeps them in a sync.Pool, which every collection drains,
//     and a new encoder zeroes a history buffer of twice its window (16 MiB
//     at the default window) before its first page.
//   - Their window is zstdWindow. Every page is compressed on its own
//     (EncodeAll), so matches never reach past the page: a window larger
//     than a page buys nothing. Pages are about parquet-go's page buffer
//     size (256 KiB) unless one value is larger.
//
// The level is SpeedFastest; the output is a plain ZSTD frame per page, as
// any Parquet reader expects.
type zstdCodec struct {
	encoders chan *zstd.Encoder
}

// zstdWindow is the encoders' window: a power of two at least the page
// size.
const zstdWindow = 1 << 20

func newZstdCodec() *zstdCodec {
	return &zstdCodec{encoders: make(chan *zstd.Encoder, 2*runtime.GOMAXPROCS(0))}
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	var e *zstd.Encoder
	select {
	case e = <-c.encoders:
	default:
		var err error
		e, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindow),
			zstd.WithLowerEncoderMem(true),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false),
		)
		if err != nil {
			return dst, err
		}
	}
	out := e.EncodeAll(src, dst[:0])
	select {
	case c.encoders <- e:
	default: // the pool is full: let this one go
	}
	return out, nil
}

// Decode is never used by the writer (readers use parquet-go's codec); the
// interface asks for it.
func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return dst, err
	}
	defer d.Close()
	return d.DecodeAll(src, dst[:0])
}

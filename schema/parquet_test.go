package schema

import "testing"

// TestBadBitmap: badBitmap describes the failure of parquet-go's null-bitmap
// scan that ParquetWriter.Write works around (encode's
// TestOptionalNullsSurviveBatching writes the pattern through the writer):
// a run of y non-nulls from bit y, nulls to the word's end, and a value past
// bit 2y in the batch.
func TestBadBitmap(t *testing.T) {
	if !badBitmap([]uint64{0b111000}, 7) || badBitmap([]uint64{0b111000}, 6) || badBitmap([]uint64{0b1111000}, 64) {
		t.Error("badBitmap does not describe the scan's failure")
	}
}

package stream

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/files"
	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/pqconform"
	"github.com/hublake/hublake/lease"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// conformanceCorpus writes a generated day (findings, insights, OCSF) and
// pqconform's edge events into one directory, and returns it and the end of
// its day.
func conformanceCorpus(t *testing.T) (string, time.Time) {
	t.Helper()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dir := filepath.Join(t.TempDir(), "in")
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events, cfg.Days, cfg.End, cfg.DupRatio, cfg.BadRatio = 0, 2500, 1, end, 0, 0
	if _, err := gen.WriteDir(context.Background(), dir, cfg, gen.WriteOptions{FileBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	pqconform.WriteEdgeCorpus(t, dir, end)
	return dir, end
}

// streamLake puts every unit of the inputs under dir through the consumer's
// record processors (4 shards, the stream's default codec, cuts every 60 s
// of arrival time) into a fresh directory lake, arrivals spread over the
// day before end, and returns its root.
func streamLake(t *testing.T, dir string, end time.Time) string {
	t.Helper()
	base := end.Add(-24 * time.Hour)
	records, _ := recordsOf(t, dir, func(n int) time.Time { return base.Add(time.Duration(n) * 700 * time.Millisecond) })
	root := filepath.Join(t.TempDir(), "stream")
	store, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	enc := encode.New(store, encode.Options{Codec: encode.StreamCodec})
	c := memShards("conformance", pipeline.Policy{Window: pipeline.DefaultStreamWindow}, enc, &pipeline.Stats{}, lease.NewMemory(nil))
	const shards = 4
	for s := range shards {
		p := c.CreateProcessor()
		p.Initialize(&kcl.InitializationInput{ShardId: fmt.Sprintf("shardId-%012d", s)})
		var page []types.Record
		for j := s; j < len(records); j += shards {
			page = append(page, records[j])
			if len(page) == 100 {
				p.ProcessRecords(&kcl.ProcessRecordsInput{Records: page, MillisBehindLatest: 1000})
				page = page[:0]
			}
		}
		p.ProcessRecords(&kcl.ProcessRecordsInput{Records: page})
		p.Shutdown(&kcl.ShutdownInput{ShutdownReason: kcl.TERMINATE})
	}
	return root
}

// TestParquetConformance writes the same input as backfill (ZSTD, small
// row groups: several per object; Snappy) and as the stream's 60 s cuts
// (Snappy), and holds every object to what it says of itself, with two
// independent readers (pqconform.CheckLake: pages against page headers,
// OffsetIndex, ColumnIndex and statistics; hyparquet and arrow-rs read the
// same rows; equality lookups pruned by the page index find every row;
// every finding's row is what its raw_finding decodes to, NULL for NULL).
// Then the backfilled lake and the stream's hold the same rows, column by
// column (source aside: it names the unit's position).
func TestParquetConformance(t *testing.T) {
	in, end := conformanceCorpus(t)
	notAfter := end.Add(24 * time.Hour)
	lakes := map[string]string{}
	for name, enc := range map[string]encode.Options{
		"backfill-zstd":   {Codec: encode.CodecZSTD, RowGroupRows: 300},
		"backfill-snappy": {Codec: encode.CodecSnappy},
	} {
		root := filepath.Join(t.TempDir(), name)
		backfillLake(t, root, files.BackfillOptions{Encode: enc, NotAfter: notAfter}, in)
		lakes[name] = root
	}
	lakes["stream"] = streamLake(t, in, end)
	for _, name := range []string{"backfill-zstd", "backfill-snappy", "stream"} {
		t.Run(name, func(t *testing.T) {
			probes := 8
			if name == "stream" {
				probes = 3 // 10 times the objects: fewer lookups each
			}
			rep := pqconform.CheckLake(t, lakes[name], pqconform.LakeOptions{Probes: probes})
			t.Logf("%s: %d objects, %d rows, %d lookups, %d with several row groups, %d multi-page chunks", name, rep.Files, rep.Rows, rep.Probes, rep.MultiGroup, rep.MultiPage)
			if rep.MultiPage == 0 || name == "backfill-zstd" && rep.MultiGroup == 0 {
				t.Errorf("the lake has no multi-page chunk or no multi-row-group object: the checks saw too little")
			}
		})
	}
	if codecs := lakecheck.Codecs(t, lakes["stream"]); codecs["SNAPPY"] == 0 {
		t.Errorf("the stream's objects are not Snappy: %v", codecs)
	}

	// The same lake from a backfill and from 60 s cuts.
	db := lakecheck.Open(t)
	objects := func(root string) int {
		m, _ := filepath.Glob(filepath.Join(root, schema.TableFindings, "*", "*.parquet"))
		return len(m)
	}
	if a, b := objects(lakes["backfill-zstd"]), objects(lakes["stream"]); b <= a {
		t.Errorf("the stream wrote %d findings objects, backfill %d: no 60 s cuts", b, a)
	}
	for _, table := range schema.TableNames() {
		a, b := lakecheck.TableGlob(lakes["backfill-zstd"], table), lakecheck.TableGlob(lakes["stream"], table)
		na := lakecheck.Int(t, db, "SELECT count(*) FROM "+a)
		nb := lakecheck.Int(t, db, "SELECT count(*) FROM "+b)
		if na == 0 || na != nb {
			t.Errorf("%s: backfill has %d rows, the stream %d", table, na, nb)
		}
		for _, q := range []string{
			"SELECT count(*) FROM (SELECT * EXCLUDE (source) FROM " + a + " EXCEPT ALL SELECT * EXCLUDE (source) FROM " + b + ")",
			"SELECT count(*) FROM (SELECT * EXCLUDE (source) FROM " + b + " EXCEPT ALL SELECT * EXCLUDE (source) FROM " + a + ")",
		} {
			if n := lakecheck.Int(t, db, q); n != 0 {
				t.Errorf("%s: %d rows of one lake are not in the other", table, n)
			}
		}
	}
}

// TestParquetConformanceSamples backfills the shared real-world samples
// and holds their objects to pqconform.CheckLake.
func TestParquetConformanceSamples(t *testing.T) {
	dir := lakecheck.SamplesDir(t)
	root := filepath.Join(t.TempDir(), "samples")
	backfillLake(t, root, files.BackfillOptions{}, dir)
	if _, err := os.Stat(filepath.Join(root, schema.TableFindings)); err != nil {
		t.Fatalf("the samples wrote no findings: %v", err)
	}
	rep := pqconform.CheckLake(t, root, pqconform.LakeOptions{})
	t.Logf("samples: %d objects, %d rows, %d lookups", rep.Files, rep.Rows, rep.Probes)
}

// recordsOf returns every unit of the inputs under dir, split as backfill
// splits them, as Kinesis records in input order (sequence numbers
// 4968…n), the n-th arriving at arrival(n), and the bytes of their data.
func recordsOf(tb testing.TB, dir string, arrival func(n int) time.Time) (records []types.Record, size int64) {
	tb.Helper()
	ctx := context.Background()
	for in, err := range files.Inputs(ctx, []string{dir}, nil, nil) {
		if err != nil {
			tb.Fatal(err)
		}
		_, err := files.EachUnit(ctx, in, pipeline.DefaultMaxUnitBytes, func(_ int64, data []byte) error {
			n := len(records)
			records = append(records, types.Record{
				Data:                        data,
				SequenceNumber:              aws.String(fmt.Sprintf("4968%052d", n)),
				ApproximateArrivalTimestamp: aws.Time(arrival(n)),
				PartitionKey:                aws.String("k"),
			})
			size += int64(len(data))
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return records, size
}

// backfillLake runs a backfill of sources into a fresh directory lake at
// root.
func backfillLake(t testing.TB, root string, opts files.BackfillOptions, sources ...string) {
	t.Helper()
	store, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts.Store = store
	if err := files.Backfill(ctx, files.Inputs(ctx, sources, nil, nil), opts); err != nil {
		t.Fatalf("backfill: %v", err)
	}
}

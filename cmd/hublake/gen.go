package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/layout"
)

// genCmd writes a deterministic corpus of realistic Security Hub events: the
// demo data and the benchmark input.
type genCmd struct {
	Out               string   `help:"Output directory, or - for one stream on stdout." default:"corpus"`
	Bytes             byteSize `help:"Corpus size before compression, e.g. 200MB or 1GiB (default 200MB unless --events is given)."`
	Events            int64    `help:"Number of units to write (events, duplicates and bad units) instead of a size."`
	FileBytes         byteSize `name:"file-bytes" help:"Start a new file once one holds this much (before compression)." default:"16MiB"`
	Format            string   `help:"ndjson: one event per line; concat: JSON objects back to back, as Firehose writes them." default:"ndjson" enum:"ndjson,concat"`
	Gzip              bool     `help:"Gzip each file (.json.gz), or the stream with --out -."`
	Seed              uint64   `help:"Random seed: the same flags give byte-identical output." default:"1"`
	Accounts          int      `help:"AWS accounts the findings come from." default:"60"`
	Regions           int      `help:"Regions the findings come from (at most 20)." default:"16"`
	Days              int      `help:"Days the event times spread over (one dt partition each)." default:"130"`
	End               string   `help:"Date the event times end before (YYYY-MM-DD, UTC)." default:"2026-11-01"`
	DupRatio          float64  `help:"Share of units that repeat a recent event byte for byte (producer retries)." default:"0.10"`
	UpdateRatio       float64  `help:"Share of units that re-send an earlier finding with a new UpdatedAt, workflow status or note." default:"0.10"`
	BadRatio          float64  `help:"Share of units that are broken or not Security Hub events (each must become a dead letter)." default:"0"`
	CustomActionRatio float64  `help:"Share of units that are Custom Action events (1 to 20 findings)." default:"0.03"`
	InsightRatio      float64  `help:"Share of units that are Insight Results events." default:"0.02"`
	OCSFRatio         float64  `name:"ocsf-ratio" help:"Share of new findings from Security Hub's OCSF feed (Findings Imported V2 events; their updates and retries follow them). 0 gives the ASFF-only corpus." default:"0.3"`
	ShapesRatio       float64  `name:"shapes-ratio" help:"Share of new findings written in the shapes other real producers write (2019 GuardDuty and control findings, BatchImportFindings input, ASFF tables exported by pandas, Trivy's secrets, Prowler's and Security Lake's OCSF). 0 gives the corpus of earlier versions." default:"0"`
}

// Validate refuses an --out that is not a directory path (gen does not
// write to S3).
func (c *genCmd) Validate() error {
	if layout.LooksLikeURL(c.Out) {
		return fmt.Errorf("--out %q: gen writes a local directory (or - for stdout), not a URL", c.Out)
	}
	if c.Accounts < 1 || c.Regions < 1 || c.Days < 1 {
		return errors.New("--accounts, --regions and --days must be at least 1")
	}
	return nil
}

func (c *genCmd) Run(ctx context.Context, g *globals) error {
	end, err := time.Parse(time.DateOnly, c.End)
	if err != nil {
		return usagef("--end: want YYYY-MM-DD: %w", err)
	}
	cfg := gen.Config{
		Seed: c.Seed, Events: c.Events, Bytes: int64(c.Bytes),
		Accounts: c.Accounts, Regions: c.Regions, Days: c.Days, End: end,
		DupRatio: c.DupRatio, UpdateRatio: c.UpdateRatio, BadRatio: c.BadRatio,
		CustomActionRatio: c.CustomActionRatio, InsightRatio: c.InsightRatio, OCSFRatio: c.OCSFRatio,
		ShapesRatio: c.ShapesRatio,
	}
	if cfg.Events == 0 && cfg.Bytes == 0 {
		cfg.Bytes = gen.DefaultConfig().Bytes
	}
	if c.Format == "concat" {
		cfg.Format = gen.Concat
	}
	start := time.Now()
	var st gen.Stats
	if c.Out == "-" {
		st, err = writeStdout(ctx, cfg, c.Gzip)
	} else {
		st, err = gen.WriteDir(ctx, c.Out, cfg, gen.WriteOptions{FileBytes: int64(c.FileBytes), Gzip: c.Gzip})
	}
	if err != nil {
		return fmt.Errorf("generate corpus: %w", err)
	}
	took := time.Since(start)
	// The summary goes to stdout, as the other commands' do, unless stdout
	// is the corpus: then only the log line says it.
	if c.Out != "-" {
		printGenStats(os.Stdout, c.Out, st, took)
	}
	g.logger.Info("gen finished", "out", c.Out, "files", st.Files, "units", st.Units, "bytes", st.Bytes,
		"events", st.Events, "findings", st.Findings, "ocsf_findings", st.OCSFFindings, "insight_results", st.InsightResults,
		"duplicates", st.Duplicates, "updates", st.Updates, "bad_units", st.Bad, "seconds", took.Seconds())
	return nil
}

// writeStdout writes the corpus as one stream to stdout.
func writeStdout(ctx context.Context, cfg gen.Config, compress bool) (gen.Stats, error) {
	if !compress {
		return gen.WriteStream(ctx, os.Stdout, cfg)
	}
	zw, err := gzip.NewWriterLevel(os.Stdout, gzip.BestSpeed)
	if err != nil {
		return gen.Stats{}, err
	}
	st, err := gen.WriteStream(ctx, zw, cfg)
	if cerr := zw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write stdout: %w", cerr)
	}
	return st, err
}

// printGenStats writes the summary of a run.
func printGenStats(w io.Writer, out string, st gen.Stats, took time.Duration) {
	pct := func(n int64) float64 { return 100 * float64(n) / float64(max(st.Units, 1)) }
	where := "stdout"
	if out != "-" {
		where = fmt.Sprintf("%d files in %s", st.Files, out)
	}
	fmt.Fprintf(w, "hublake gen: %d units, %.1f MB (%s) in %.1fs, %.0f MB/s\n",
		st.Units, float64(st.Bytes)/1e6, where, took.Seconds(), float64(st.Bytes)/1e6/max(took.Seconds(), 1e-9))
	fmt.Fprintf(w, "  events %d: imported %d, custom action %d, insight %d, imported V2 (OCSF) %d; %d ASFF findings, %d OCSF findings (%d sent in both feeds), %d insight results\n",
		st.Events, st.Imported, st.CustomAction, st.Insight, st.ImportedV2, st.Findings, st.OCSFFindings, st.BothFeeds, st.InsightResults)
	fmt.Fprintf(w, "  exact duplicates %d (%.1f%%), updates %d (%.1f%%), bad units %d (%.1f%%); average unit %d bytes, largest %d\n",
		st.Duplicates, pct(st.Duplicates), st.Updates, pct(st.Updates), st.Bad, pct(st.Bad), st.Bytes/max(st.Units, 1), st.MaxUnit)
}

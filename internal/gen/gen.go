// Package gen generates a deterministic corpus of realistic AWS Security Hub
// EventBridge events: the demo data and benchmark input of hublake.
//
// The corpus is a stream of units (one JSON document each). Most are
// "Security Hub Findings - Imported" events carrying one finding, from a
// realistic mix of products (Security Hub CSPM controls, GuardDuty, Inspector,
// Macie, IAM Access Analyzer, Config, Prowler, Trivy); some are "Security Hub
// Findings - Custom Action" events carrying up to 20 findings an analyst
// selected, and "Security Hub Insight Results" events. Findings span many
// accounts and regions, and the event times spread over a number of days that
// end at a fixed date, so the corpus fills that many dt partitions.
//
// A share of new findings (OCSFRatio) come from the OCSF feed of the Security
// Hub launched in 2025: "Findings Imported V2" events carrying one OCSF
// finding each (ocsf.go), some of them CSPM control findings that an account
// running both feeds also sends as ASFF.
//
// A share of units are exact duplicates of an event sent shortly before (a
// producer retry), a share re-send an earlier finding with a new UpdatedAt or
// a changed workflow status or note (BatchUpdateFindings; for OCSF, a new
// modified_time or a status, severity or comment change under the same one),
// and optionally a share are broken or hostile units that a reader must
// dead-letter.
//
// Everything is a function of the Config: the same Config gives the same bytes
// on every machine. Nothing depends on the clock or on map order.
package gen

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Format is how units are laid out in a file.
type Format uint8

const (
	// NDJSON writes one unit per line.
	NDJSON Format = iota
	// Concat writes JSON objects back to back with no separator, as Kinesis
	// Data Firehose writes EventBridge events to S3.
	Concat
)

// Config describes a corpus. Zero Accounts, Regions, Days and End take the
// defaults of DefaultConfig; zero ratios mean none.
type Config struct {
	Seed uint64
	// Events stops the corpus after this many units (duplicates and bad
	// units included); Bytes stops it once the units add up to this many
	// bytes. At least one must be set; with both, the first reached wins.
	Events int64
	Bytes  int64

	Accounts int       // AWS accounts the findings come from (default 60)
	Regions  int       // regions, at most 20 (default 16)
	Days     int       // days the event times spread over (default 130)
	End      time.Time // event times are before End (default 2026-11-01)

	DupRatio          float64 // share of units that repeat a recent event byte for byte
	UpdateRatio       float64 // share of units that re-send an earlier finding, changed
	BadRatio          float64 // share of units that are broken or not Security Hub events
	CustomActionRatio float64 // share of units that are Custom Action events
	InsightRatio      float64 // share of units that are Insight Results events
	// OCSFRatio is the share of new findings that come from the OCSF feed
	// (Findings Imported V2 events); their updates and retries follow them.
	// It is a share of findings, not of units: 0 gives the ASFF-only corpus
	// of earlier versions byte for byte.
	OCSFRatio float64
	// ShapesRatio is the share of new findings written in one of the shapes
	// real producers write besides today's Security Hub (shapes.go: old
	// GuardDuty and CSPM findings, BatchImportFindings input, ASFF tables
	// exported by pandas, Trivy's secrets, Prowler's and Security Lake's
	// OCSF). 0, the default, gives the corpus of earlier
	// versions byte for byte (the benchmark's reference reads only that).
	ShapesRatio float64

	// Format restricts bad units to those a concatenated stream can carry
	// without swallowing its neighbours (no truncated objects).
	Format Format
}

// DefaultOCSFRatio is the default OCSFRatio: three in ten new findings come
// from the OCSF feed, an organisation part way through the move to the
// Security Hub launched in 2025 (both feeds run side by side, and the OCSF
// one carries the services that send there first).
const DefaultOCSFRatio = 0.3

// DefaultConfig returns the configuration of the default corpus: 200 MB of
// events from 60 accounts in 16 regions over the 130 days before 2026-11-01,
// with 10% duplicates and 10% updates, and 30% of new findings from the
// OCSF feed.
func DefaultConfig() Config {
	return Config{
		Seed: 1, Bytes: 200e6,
		Accounts: 60, Regions: 16, Days: 130, End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		DupRatio: 0.10, UpdateRatio: 0.10, CustomActionRatio: 0.03, InsightRatio: 0.02, OCSFRatio: DefaultOCSFRatio,
	}
}

// Stats counts what a generator has produced.
type Stats struct {
	Units          int64 // every unit: events, duplicates and bad units
	Bytes          int64 // bytes of all units (separators not included)
	Events         int64 // well-formed Security Hub events, duplicates included
	Imported       int64 // events by detail-type
	CustomAction   int64
	Insight        int64
	ImportedV2     int64 // Findings Imported V2 events (OCSF)
	Findings       int64 // ASFF findings inside those events (rows before dedup)
	OCSFFindings   int64 // OCSF findings inside V2 events (rows before dedup)
	InsightResults int64 // insightResults elements inside those events
	Duplicates     int64 // units that repeat an earlier event byte for byte
	Updates        int64 // Imported and V2 events that re-send an earlier finding
	BothFeeds      int64 // V2 events that repeat an ASFF event's finding (both feeds)
	Bad            int64 // broken or foreign units (each one dead letter)
	MaxUnit        int64 // size of the largest unit
	Files          int64 // files written (WriteDir only)
}

// dupWindow is how many recent events a duplicate may repeat: a retry comes
// soon after the original.
const dupWindow = 50

// poolSize bounds the findings remembered for updates and custom actions.
const poolSize = 16384

type unitKind uint8

const (
	kindImported unitKind = iota
	kindCustom
	kindInsight
	kindV2
)

// recentEvent is an event that a duplicate may repeat.
type recentEvent struct {
	b                 []byte
	kind              unitKind
	findings, results int64
}

// Generator produces the units of one corpus. It is not safe for concurrent
// use.
type Generator struct {
	cfg      Config
	rng      *rand.Rand // the corpus stream
	fpcg     *rand.PCG  // reseeded per finding: its content is a function of its seed
	fr       *rand.Rand
	start    int64 // event time range, Unix nanoseconds
	end      int64
	accounts []account
	regions  []string
	vulns    []vuln

	out enc // the unit being built
	fb  enc // findings of the event being built

	// pending is the V2 twin of the ASFF event just returned (a finding of
	// an account that runs both feeds): the next unit.
	pending    enc
	hasPending bool
	scratch    finding // the finding of a bad OCSF unit

	recent           [dupWindow]recentEvent
	nRecent, recent0 int  // filled slots, next slot
	cut              bool // a file starts: no duplicate or bad unit yet
	pool             []finding
	poolNext         int
	stats            Stats
}

// New returns a generator for cfg.
func New(cfg Config) (*Generator, error) {
	def := DefaultConfig()
	if cfg.Accounts == 0 {
		cfg.Accounts = def.Accounts
	}
	if cfg.Regions == 0 {
		cfg.Regions = def.Regions
	}
	if cfg.Days == 0 {
		cfg.Days = def.Days
	}
	if cfg.End.IsZero() {
		cfg.End = def.End
	}
	switch {
	case cfg.Events <= 0 && cfg.Bytes <= 0:
		return nil, errors.New("gen: set the corpus size (Events or Bytes)")
	case cfg.Accounts < 1 || cfg.Accounts > 50000:
		return nil, fmt.Errorf("gen: accounts %d out of range 1..50000", cfg.Accounts)
	case cfg.Regions < 1 || cfg.Regions > len(regionTable):
		return nil, fmt.Errorf("gen: regions %d out of range 1..%d", cfg.Regions, len(regionTable))
	case cfg.Days < 1 || cfg.Days > 3650:
		return nil, fmt.Errorf("gen: days %d out of range 1..3650", cfg.Days)
	}
	ratios := []float64{cfg.DupRatio, cfg.UpdateRatio, cfg.BadRatio, cfg.CustomActionRatio, cfg.InsightRatio}
	sum := 0.0
	for _, r := range ratios {
		if r < 0 || r > 1 || math.IsNaN(r) {
			return nil, fmt.Errorf("gen: ratio %v out of range 0..1", r)
		}
		sum += r
	}
	if sum > 0.95 {
		return nil, fmt.Errorf("gen: the ratios add up to %.2f; they must leave room for new findings (at most 0.95)", sum)
	}
	if r := cfg.OCSFRatio; r < 0 || r > 1 || math.IsNaN(r) {
		return nil, fmt.Errorf("gen: OCSF ratio %v out of range 0..1", r)
	}
	if r := cfg.ShapesRatio; r < 0 || r > 1 || math.IsNaN(r) {
		return nil, fmt.Errorf("gen: shapes ratio %v out of range 0..1", r)
	}
	g := &Generator{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		fpcg:    rand.NewPCG(0, 0),
		end:     cfg.End.UnixNano() / 1e9 * 1e9,
		regions: regionTable[:cfg.Regions],
		pool:    make([]finding, 0, poolSize),
		cut:     true,
	}
	g.fr = rand.New(g.fpcg)
	g.start = g.end - int64(cfg.Days)*86400e9
	world := rand.New(rand.NewPCG(cfg.Seed, 0x6a09e667f3bcc909))
	g.accounts = newAccounts(world, cfg.Accounts)
	g.vulns = newVulnCatalog(world, g.start)
	return g, nil
}

// Stats returns the counts so far.
func (g *Generator) Stats() Stats { return g.stats }

// Done reports whether the corpus has reached its size.
func (g *Generator) Done() bool {
	return (g.cfg.Events > 0 && g.stats.Units >= g.cfg.Events) ||
		(g.cfg.Bytes > 0 && g.stats.Bytes >= g.cfg.Bytes)
}

// Cut marks a file boundary: duplicates written after it repeat only events
// written after it (a retry lands in the same file as its original), and the
// next unit is a well-formed event (so a reader that sniffs the first line
// of a file sees the file's real layout).
func (g *Generator) Cut() {
	g.cut = true
	g.nRecent, g.recent0 = 0, 0
}

// Next returns the next unit: one JSON document without a trailing newline
// (bad units may not be JSON at all). The slice is valid until the next call.
// Next keeps going after Done: the size only tells writers when to stop.
func (g *Generator) Next() []byte {
	if g.hasPending {
		g.hasPending = false
		return g.emit(g.pending.b, kindV2, 1, 0)
	}
	c := &g.cfg
	u := g.rng.Float64()
	var b []byte
	switch {
	case u < c.DupRatio:
		if !g.cut && g.nRecent > 0 {
			return g.duplicate()
		}
		b = g.newEvent(g.now())
	case u < c.DupRatio+c.BadRatio:
		if !g.cut {
			return g.bad()
		}
		b = g.newEvent(g.now())
	case u < c.DupRatio+c.BadRatio+c.UpdateRatio:
		b = g.update()
	case u < c.DupRatio+c.BadRatio+c.UpdateRatio+c.CustomActionRatio:
		b = g.customAction()
	case u < c.DupRatio+c.BadRatio+c.UpdateRatio+c.CustomActionRatio+c.InsightRatio:
		b = g.insight(false)
	default:
		b = g.newEvent(g.now())
	}
	g.cut = false
	return b
}

// count records a unit in the stats.
func (g *Generator) count(b []byte) {
	g.stats.Units++
	g.stats.Bytes += int64(len(b))
	g.stats.MaxUnit = max(g.stats.MaxUnit, int64(len(b)))
}

// emitted records the well-formed original event in g.out and keeps it for
// duplicates.
func (g *Generator) emitted(kind unitKind, findings, results int64) []byte {
	return g.emit(g.out.b, kind, findings, results)
}

// emit records the well-formed original event b and keeps it for
// duplicates.
func (g *Generator) emit(b []byte, kind unitKind, findings, results int64) []byte {
	g.count(b)
	g.tally(kind, findings, results)
	r := &g.recent[g.recent0]
	r.b = append(r.b[:0], b...)
	r.kind, r.findings, r.results = kind, findings, results
	g.recent0 = (g.recent0 + 1) % dupWindow
	g.nRecent = min(g.nRecent+1, dupWindow)
	return b
}

func (g *Generator) tally(kind unitKind, findings, results int64) {
	g.stats.Events++
	switch kind {
	case kindImported:
		g.stats.Imported++
	case kindCustom:
		g.stats.CustomAction++
	case kindInsight:
		g.stats.Insight++
	case kindV2:
		g.stats.ImportedV2++
		g.stats.OCSFFindings += findings
		return
	}
	g.stats.Findings += findings
	g.stats.InsightResults += results
}

// duplicate repeats one of the recent events, most often a very recent one.
func (g *Generator) duplicate() []byte {
	back := skewed(g.rng, g.nRecent)
	r := &g.recent[(g.recent0-1-back+2*dupWindow)%dupWindow]
	g.count(r.b)
	g.tally(r.kind, r.findings, r.results)
	g.stats.Duplicates++
	return r.b
}

// now returns the time of the next event: the corpus's progress towards its
// size mapped onto the time range, with a few minutes of jitter (events
// arrive roughly, not strictly, in order). Whole seconds, like EventBridge.
func (g *Generator) now() int64 {
	p := 0.0
	if g.cfg.Events > 0 {
		p = float64(g.stats.Units) / float64(g.cfg.Events)
	}
	if g.cfg.Bytes > 0 {
		p = max(p, float64(g.stats.Bytes)/float64(g.cfg.Bytes))
	}
	t := g.start + int64(min(p, 1)*float64(g.end-g.start)) + (g.rng.Int64N(600)-300)*1e9
	return max(g.start, min(t, g.end-1e9)) / 1e9 * 1e9
}

// envelope starts an event in g.out, up to the opening of its detail.
func (g *Generator) envelope(detailType string, t int64, acct, region string, resource string) *enc {
	e := &g.out
	e.b, e.more = e.b[:0], false
	e.open("")
	e.str("version", "0")
	e.key("id")
	e.b = append(e.b, '"')
	e.b = appendUUID(e.b, g.rng.Uint64(), g.rng.Uint64())
	e.b = append(e.b, '"')
	e.more = true
	e.str("detail-type", detailType)
	e.str("source", "aws.securityhub")
	e.str("account", acct)
	e.ts("time", t, tsSec, false)
	e.str("region", region)
	e.strs("resources", resource)
	e.open("detail")
	return e
}

// newEvent returns the first event of a new finding at time t.
func (g *Generator) newEvent(t int64) []byte {
	return g.findingEvent(g.newFinding(t, true), t)
}

// findingEvent returns the event that carries f at time t in its feed: an
// Imported event, a V2 event, or (both feeds) the Imported event now and
// its V2 twin, a few seconds later, as the next unit.
func (g *Generator) findingEvent(f *finding, t int64) []byte {
	switch f.feed {
	case feedOCSF:
		return g.v2(f, t)
	case feedBoth:
		twin := min(t+(1+g.rng.Int64N(5))*1e9, g.end-1e9)
		g.buildV2(f, twin, false)
		g.pending.b = append(g.pending.b[:0], g.out.b...)
		g.hasPending = true
		g.stats.BothFeeds++
	}
	return g.imported(f, t)
}

// imported returns an Imported event at time t for f.
func (g *Generator) imported(f *finding, t int64) []byte {
	g.buildImported(f, t, false)
	return g.emitted(kindImported, 1, 0)
}

// buildImported writes an Imported event into g.out without counting it;
// noID leaves out the finding's Id (a bad unit).
func (g *Generator) buildImported(f *finding, t int64, noID bool) {
	if f == nil {
		f = g.newFinding(t, false)
	}
	g.fb.b, g.fb.more = g.fb.b[:0], false
	pa, id := g.renderFinding(&g.fb, f, noID)
	e := g.envelope("Security Hub Findings - Imported", t, g.accounts[f.account].id, g.regions[f.region], pa+"/"+id)
	e.openArr("findings")
	e.b = append(e.b, g.fb.b...)
	e.closeArr()
	e.close()
	e.close()
}

// update re-sends a remembered finding, changed the way Security Hub would
// change it: a new import (new UpdatedAt, maybe a new compliance status or
// record state), or a BatchUpdateFindings call that changes the workflow
// status or the note and keeps UpdatedAt.
func (g *Generator) update() []byte {
	if len(g.pool) == 0 {
		return g.newEvent(g.now())
	}
	f := &g.pool[g.rng.IntN(len(g.pool))]
	t := min(max(g.now(), f.evt+60e9), g.end-1e9)
	g.changeFinding(f, t)
	g.stats.Updates++
	return g.findingEvent(f, t)
}

// customAction returns a Custom Action event: an analyst in the
// administrator account selected 1 to 20 findings and sent them.
func (g *Generator) customAction() []byte {
	t := g.now()
	n := 1
	switch x := g.rng.IntN(100); {
	case x >= 85:
		n = 6 + g.rng.IntN(15)
	case x >= 50:
		n = 2 + g.rng.IntN(4)
	}
	g.fb.b, g.fb.more = g.fb.b[:0], false
	for range n {
		var f *finding
		if len(g.pool) == 0 || g.rng.IntN(20) == 0 {
			f = g.newFinding(t, false)
		} else if f = &g.pool[g.rng.IntN(len(g.pool))]; f.feed == feedOCSF {
			f = g.newFinding(t, false) // the CSPM console shows only the ASFF feed
		}
		g.fb.key("")
		g.renderFinding(&g.fb, f, false)
		g.fb.more = true
	}
	ca := customActions[g.rng.IntN(len(customActions))]
	admin, home := g.accounts[0].id, g.regions[0]
	e := g.envelope("Security Hub Findings - Custom Action", t, admin, home, "arn:aws:securityhub:"+home+":"+admin+":action/custom/"+ca.id)
	e.str("actionName", ca.id)
	e.str("actionDescription", ca.desc)
	e.openArr("findings")
	e.b = append(e.b, g.fb.b...)
	e.closeArr()
	e.close()
	e.close()
	return g.emitted(kindCustom, int64(n), 0)
}

// insight returns an Insight Results event; noARN leaves out insightArn (a
// bad unit).
func (g *Generator) insight(noARN bool) []byte {
	t := g.now()
	ix := g.rng.IntN(len(insights))
	in := insights[ix]
	ca := customActions[g.rng.IntN(len(customActions))]
	admin, home := g.accounts[0].id, g.regions[0]
	e := g.envelope("Security Hub Insight Results", t, admin, home, "arn:aws:securityhub:"+home+":"+admin+":action/custom/"+ca.id)
	e.str("actionName", ca.id)
	e.str("actionDescription", ca.desc)
	if !noARN {
		if in.managed > 0 {
			e.str("insightArn", "arn:aws:securityhub:::insight/securityhub/default/"+strconv.Itoa(in.managed))
		} else {
			h := hs{mix(g.cfg.Seed ^ uint64(ix))}
			e.key("insightArn")
			e.b = append(e.b, `"arn:aws:securityhub:`...)
			e.b = append(e.b, home+":"+admin+":insight/"+admin+"/custom/"...)
			e.b = appendUUID(e.b, h.next(), h.next())
			e.b = append(e.b, '"')
			e.more = true
		}
	}
	e.str("insightName", in.name)
	e.str("resultType", in.resultType)
	n := 1 + skewed(g.rng, 100)
	e.str("number of results", strconv.Itoa(n))
	e.openArr("insightResults")
	count := 1 + g.rng.IntN(400)
	for i := range n {
		e.open("")
		e.b = appendQuoted(e.b, g.insightValue(in.resultType, i))
		e.b = append(e.b, ':')
		e.b = strconv.AppendInt(e.b, int64(count), 10)
		e.close()
		count = max(1, count-g.rng.IntN(count/4+2))
	}
	e.closeArr()
	e.close()
	e.close()
	if noARN {
		return g.out.b
	}
	return g.emitted(kindInsight, 0, int64(n))
}

// insightValue returns the i-th group value of an insight of resultType.
func (g *Generator) insightValue(resultType string, i int) string {
	r := g.rng
	a := &g.accounts[skewed(r, len(g.accounts))]
	region := g.regions[skewed(r, len(g.regions))]
	switch resultType {
	case "ResourceId":
		k := []rkind{kInstance, kBucket, kRole, kSecurityGroup, kLambda}[r.IntN(5)]
		return res{kind: k, k: r.IntN(kinds[k].pool), a: a, region: region}.arn()
	case "ResourceAwsEc2InstanceImageId":
		h := hs{mix(uint64(i) + a.seed)}
		return hexName("ami-0", &h)
	case "ResourceAwsIamAccessKeyPrincipalName":
		return users[(i+r.IntN(3))%len(users)]
	case "AwsAccountId":
		return g.accounts[i%len(g.accounts)].id
	case "ProductName":
		return []string{"Security Hub", "Inspector", "GuardDuty", "Config", "Prowler", "IAM Access Analyzer", "Macie", "Default"}[i%8]
	case "SeverityLabel":
		return []string{"MEDIUM", "HIGH", "LOW", "CRITICAL", "INFORMATIONAL"}[i%5]
	case "ResourceType":
		return kinds[1+i%(len(kinds)-1)].typ
	case "ComplianceSecurityControlId":
		return controls[i%len(controls)].id
	}
	return gdTypes[i%len(gdTypes)].typ
}

package gen

import (
	"strconv"
	"strings"
)

// A finding is remembered as its seed (which fixes everything the producer
// decided: product, resource, text, identifiers) plus the fields that change
// over its life. Rendering reseeds the finding generator, so the same finding
// renders to the same bytes until one of those fields changes.
type finding struct {
	seed       uint64
	product    uint8
	region     uint8
	account    uint16
	compliance uint8 // index into complianceStatus, noStatus when none
	prev       uint8 // previous compliance status, noStatus when none
	workflow   uint8 // index into workflowStatus
	archived   bool
	closed     bool // OCSF: closed (activity Close); only Daily closes findings
	note       int8 // index into notes, -1 when none
	noteBy     uint8
	udf        uint8 // 0: no UserDefinedFields, else how many
	feed       uint8 // feedASFF, feedOCSF or feedBoth
	shape      uint8 // a real producer's shape (shapes.go), shapeNone for most
	ocsfSev    int8  // an OCSF severity_id an analyst set, 0 when none
	updates    uint16
	count      int32
	ticket     int32
	created    int64 // Unix nanoseconds
	firstObs   int64
	updated    int64
	lastObs    int64
	processed  int64
	noteAt     int64
	evt        int64 // time of the last event that carried it
}

const noStatus = 255

var (
	complianceStatus = []string{"PASSED", "FAILED", "WARNING", "NOT_AVAILABLE", "INFOED"}
	workflowStatus   = []string{"NEW", "NOTIFIED", "SUPPRESSED", "RESOLVED"}
)

const (
	stPassed = iota
	stFailed
	stWarning
	stNotAvailable
	stInfoed
)

const (
	wfNew = iota
	wfNotified
	wfSuppressed
	wfResolved
)

// Products, and how often a new finding comes from each.
const (
	pCSPM = iota
	pInspector
	pGuardDuty
	pConfig
	pProwler
	pAccessAnalyzer
	pMacie
	pTrivy
	nProducts
)

var productWeights = [nProducts]int{44, 20, 10, 7, 7, 5, 4, 3}

// newFinding creates a finding first seen in an event at time t and
// remembers it for later updates and custom actions. With ocsfOK it comes
// from the OCSF feed for a share of Config.OCSFRatio (a quarter of its CSPM
// control findings from accounts that run both feeds).
func (g *Generator) newFinding(t int64, ocsfOK bool) *finding {
	var f *finding
	if len(g.pool) < cap(g.pool) {
		g.pool = append(g.pool, finding{})
		f = &g.pool[len(g.pool)-1]
	} else {
		f = &g.pool[g.poolNext]
		g.poolNext = (g.poolNext + 1) % len(g.pool)
	}
	r := g.rng
	feed := feedASFF
	if ocsfOK && g.cfg.OCSFRatio > 0 && r.Float64() < g.cfg.OCSFRatio {
		feed = feedOCSF
	}
	p, x := 0, r.IntN(100)
	if feed == feedOCSF {
		i := 0
		for ; x >= ocsfProducts[i].weight; i++ {
			x -= ocsfProducts[i].weight
		}
		if p = ocsfProducts[i].product; p == pCSPM && r.IntN(4) == 0 {
			feed = feedBoth
		}
	} else {
		for ; x >= productWeights[p]; p++ {
			x -= productWeights[p]
		}
	}
	*f = finding{
		seed: r.Uint64(), product: uint8(p), note: -1, count: 1, feed: feed,
		account: uint16(skewed(r, len(g.accounts))), region: uint8(skewed(r, len(g.regions))),
		compliance: noStatus, prev: noStatus, evt: t,
	}
	f.updated = t - (1+r.Int64N(30))*1e9 - r.Int64N(1e9)
	f.processed = f.updated + r.Int64N(900)*1e6
	const day = 86400e9
	var age int64
	switch p {
	case pGuardDuty:
		if r.IntN(10) < 4 {
			age = r.Int64N(30 * day)
			f.count = 2 + int32(skewed(r, 200))
		} else {
			age = r.Int64N(900e9)
		}
	case pTrivy:
	case pInspector:
		if r.IntN(10) < 7 {
			age = r.Int64N(90 * day)
		}
	default:
		if r.IntN(2) == 0 {
			age = r.Int64N(120 * day)
		}
	}
	f.created = f.updated - age
	f.firstObs = f.created
	if p == pGuardDuty {
		f.firstObs -= r.Int64N(1800e9)
	}
	f.lastObs = max(f.firstObs, f.updated-r.Int64N(60e9))
	switch x := r.IntN(100); p {
	case pCSPM:
		f.compliance = uint8(pickStatus(x, 40, 48, 6, 6, 0))
	case pConfig:
		f.compliance = uint8(pickStatus(x, 30, 70, 0, 0, 0))
	case pProwler:
		f.compliance = uint8(pickStatus(x, 45, 52, 0, 0, 3))
	}
	if f.compliance == stPassed {
		f.workflow = wfResolved
	} else if r.IntN(30) == 0 {
		f.workflow = wfNotified
	}
	if r.IntN(25) == 0 { // an automation rule annotated it on import
		f.note, f.noteBy, f.noteAt = int8(r.IntN(len(notes))), 3, f.updated
	}
	if r.IntN(20) == 0 {
		f.udf = uint8(1 + r.IntN(3))
	}
	f.ticket = int32(1000 + r.IntN(9000))
	g.drawShape(f)
	return f
}

// pickStatus maps x in [0, 100) onto statuses with the given weights.
func pickStatus(x int, weights ...int) int {
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return stFailed
}

// changeFinding applies what happens to a finding between two of its events
// (the later one at time t).
func (g *Generator) changeFinding(f *finding, t int64) {
	r := g.rng
	f.evt = t
	f.updates++
	if r.IntN(10) < 6 {
		// The product imported it again.
		f.updated = max(t-(1+r.Int64N(30))*1e9-r.Int64N(1e9), f.updated+1e6)
		f.processed = min(f.updated+r.Int64N(900)*1e6, t)
		f.lastObs = max(f.firstObs, f.updated-r.Int64N(60e9))
		f.count++
		switch {
		case f.compliance != noStatus && r.IntN(4) == 0:
			f.prev = f.compliance
			if f.compliance == stPassed {
				f.compliance, f.workflow = stFailed, wfNew // reopened
			} else {
				f.compliance, f.workflow = stPassed, wfResolved
			}
		case r.IntN(12) == 0:
			f.archived, f.workflow = true, wfResolved
		}
		return
	}
	// BatchUpdateFindings (BatchUpdateFindingsV2 for OCSF): UpdatedAt
	// (modified_time) stays, workflow status or note (status or comment)
	// changes; in the OCSF feed an analyst sets the severity now and then.
	op := r.IntN(3)
	if op != 1 {
		f.workflow = uint8((int(f.workflow) + 1 + r.IntN(3)) % len(workflowStatus))
	}
	if op != 0 {
		f.note, f.noteBy, f.noteAt = int8(r.IntN(len(notes))), uint8(r.IntN(3)), t-r.Int64N(5e9)
	}
	if r.IntN(4) == 0 {
		f.udf = uint8(1 + r.IntN(3))
	}
	if f.feed != feedASFF && r.IntN(4) == 0 {
		f.ocsfSev = int8(1 + r.IntN(5))
	}
}

// fctx is what a product renderer needs besides the finding generator.
type fctx struct {
	f      *finding
	a      *account
	region string
	noID   bool // leave out Id (a bad unit)
}

// renderContext reseeds the finding generator from f's seed (everything a
// renderer draws is a function of it) and returns what a renderer needs.
func (g *Generator) renderContext(f *finding, noID bool) *fctx {
	g.fpcg.Seed(f.seed, 0x5851f42d4c957f2d)
	return &fctx{f: f, a: &g.accounts[f.account], region: g.regions[f.region], noID: noID}
}

// renderFinding writes f as an ASFF object and returns its ProductArn and
// Id.
func (g *Generator) renderFinding(e *enc, f *finding, noID bool) (productArn, id string) {
	c := g.renderContext(f, noID)
	if f.shape == shapeTableExport {
		e.millis = true
		defer func() { e.millis = false }()
	} else if f.shape != shapeNone {
		return g.renderShape(e, c)
	}
	switch f.product {
	case pInspector:
		return g.inspector(e, c)
	case pGuardDuty:
		return g.guardDuty(e, c)
	case pConfig:
		return g.config(e, c)
	case pProwler:
		return g.prowler(e, c)
	case pAccessAnalyzer:
		return g.accessAnalyzer(e, c)
	case pMacie:
		return g.macie(e, c)
	case pTrivy:
		return g.trivy(e, c)
	}
	return g.cspm(e, c)
}

// head writes the identifying members every finding starts with.
func (g *Generator) head(e *enc, c *fctx, id, pa, productName, company, generator string) {
	e.str("SchemaVersion", "2018-10-08")
	if !c.noID {
		e.str("Id", id)
	}
	e.str("ProductArn", pa)
	if productName != "" {
		e.str("ProductName", productName)
		e.str("CompanyName", company)
	}
	e.str("Region", c.region)
	e.str("GeneratorId", generator)
	e.str("AwsAccountId", c.a.id)
}

func (g *Generator) times(e *enc, f *finding, s tstyle, local bool) {
	e.ts("FirstObservedAt", f.firstObs, s, local)
	e.ts("LastObservedAt", f.lastObs, s, local)
	e.ts("CreatedAt", f.created, s, local)
	e.ts("UpdatedAt", f.updated, s, local)
}

// normFor is the Normalized value Security Hub pairs with a label.
func normFor(label string) int64 {
	switch label {
	case "CRITICAL":
		return 90
	case "HIGH":
		return 70
	case "MEDIUM":
		return 40
	case "LOW":
		return 1
	}
	return 0
}

// labelFor is the label of a Normalized value.
func labelFor(n int64) string {
	switch {
	case n >= 90:
		return "CRITICAL"
	case n >= 70:
		return "HIGH"
	case n >= 40:
		return "MEDIUM"
	case n >= 1:
		return "LOW"
	}
	return "INFORMATIONAL"
}

func (e *enc) severity(label string, normalized int64, original string) {
	e.open("Severity")
	e.str("Label", label)
	e.int("Normalized", normalized)
	if original != "" {
		e.str("Original", original)
	}
	e.close()
}

// remediation writes Remediation; url may be empty.
func (e *enc) remediation(text, url string) {
	e.open("Remediation")
	e.open("Recommendation")
	e.str("Text", text)
	if url != "" {
		e.str("Url", url)
	}
	e.close()
	e.close()
}

// shFields writes the ProductFields that Security Hub adds to every finding.
func (e *enc) shFields(pa, id, productName, company string) {
	e.cat("aws/securityhub/FindingId", pa, "/", id)
	e.str("aws/securityhub/ProductName", productName)
	e.str("aws/securityhub/CompanyName", company)
}

// tail writes the members Security Hub manages: workflow, record state,
// note and user-defined fields.
func (g *Generator) tail(e *enc, f *finding) {
	if f.workflow == wfResolved {
		e.str("WorkflowState", "RESOLVED")
	} else {
		e.str("WorkflowState", "NEW")
	}
	e.open("Workflow")
	e.str("Status", workflowStatus[f.workflow])
	e.close()
	e.str("RecordState", recordState(f))
	g.annotations(e, f)
}

func recordState(f *finding) string {
	if f.archived {
		return "ARCHIVED"
	}
	return "ACTIVE"
}

// annotations writes the Note and UserDefinedFields analysts and automation
// rules add.
func (g *Generator) annotations(e *enc, f *finding) {
	if f.note >= 0 {
		e.open("Note")
		e.str("Text", noteText(f))
		e.str("UpdatedBy", strings.Replace(noteAuthors[f.noteBy], "%A", g.accounts[0].id, 1))
		e.ts("UpdatedAt", f.noteAt, tsMilli, false)
		e.close()
	}
	if f.udf > 0 {
		e.open("UserDefinedFields")
		e.str("ticket", "SEC-"+strconv.Itoa(int(f.ticket)))
		if f.udf > 1 {
			e.str("owner", tagOwners[int(f.ticket)%len(tagOwners)])
		}
		if f.udf > 2 {
			e.str("remediation-due", "2026-12-"+strconv.Itoa(10+int(f.ticket)%19))
		}
		e.close()
	}
}

// noteText is the text of the finding's note (ASFF) or comment (OCSF).
func noteText(f *finding) string {
	if f.note == 3 {
		return "Ticket SEC-" + strconv.Itoa(int(f.ticket)) + " opened, owner notified."
	}
	return notes[f.note]
}

// providerFields writes FindingProviderFields.
func (e *enc) providerFields(label, original string, types ...string) {
	e.open("FindingProviderFields")
	e.open("Severity")
	e.str("Label", label)
	if original != "" {
		e.str("Original", original)
	}
	e.close()
	e.strs("Types", types...)
	e.close()
}

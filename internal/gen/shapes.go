package gen

import (
	"strconv"
	"strings"
	"time"
)

// Shapes real producers write besides today's Security Hub (docs/tables.md's
// "as real producers send it" sections have the rule hublake reads each by). A share of new
// findings (Config.ShapesRatio, 0 by default: the default corpus and the
// benchmark's reference stay as they were) is written in one of them; the
// finding keeps its shape through its updates and custom actions. Each is
// our own finding in the shape of a real producer's, named after it:
//
//   - shapeRuntime: a GuardDuty Runtime Monitoring / Malware Protection
//     finding with every nested ASFF object hublake types: Process (with
//     its launch and termination times), Malware, Threats,
//     ThreatIntelIndicators (with a last-observed time), Network with IPv6
//     and domains, RelatedFindings, Confidence, Criticality,
//     VerificationState;
//   - shapeBatchImport: a third-party integration's BatchImportFindings
//     input (JFrog Xray): Severity, Types, Confidence, Criticality and
//     RelatedFindings only under FindingProviderFields, an Id with a space,
//     nine fraction digits, no Workflow or RecordState (Security Hub adds
//     them on import);
//   - shapeLegacy2019: a 2019 per-standard FSBP control finding (Cloud
//     Custodian's captures): ControlId in ProductFields and no
//     Compliance.SecurityControlId, Severity without Label, the deprecated
//     WorkflowState only;
//   - shapeProwler5: Prowler ≥ 5's json-ocsf (OCSF 1.4 Detection Finding):
//     time and created_time in epoch seconds, *_dt naive, no metadata.uid;
//   - shapeLake11: Security Lake's OCSF 1.1 mapping of a Security Hub control
//     finding (class 2003): one resource object, feature with a uid only,
//     finding times only as *_dt with the mapper's offset;
//   - shapeLake10: Security Lake's OCSF 1.0-rc.2 mapping (class 2001 Security
//     Finding): finding instead of finding_info, state instead of status,
//     a vulnerability's packages, fix_available and cve.cvss as one object,
//     remediation with kb_articles inside finding;
//   - shapeTableExport: any product's finding as a table of ASFF exported to
//     JSON writes it (pandas' to_json: its default date_unit): every *At
//     member, nested ones too, an epoch-milliseconds number;
//   - shapeTrivySecret: Trivy's secret finding before 0.49 (its issue
//     #6010): a ProductArn with no region, no ProductName, CompanyName or
//     Region, an Id that is the file's path;
//   - shapeProwler4: Prowler 4.0–4.4's json-ocsf (OCSF 1.2.0): no time, the
//     finding's time in event_time and finding_info.created_time as naive
//     ISO strings, class_name "DetectionFinding", no product uid.
const (
	shapeNone uint8 = iota
	shapeRuntime
	shapeBatchImport
	shapeLegacy2019
	shapeProwler5
	shapeLake11
	shapeLake10
	shapeTableExport
	shapeTrivySecret
	shapeProwler4
)

// The shapes of each feed's findings, drawn with equal odds.
var (
	asffShapes = []uint8{shapeRuntime, shapeBatchImport, shapeLegacy2019, shapeTableExport, shapeTrivySecret}
	ocsfShapes = []uint8{shapeProwler5, shapeLake11, shapeLake10, shapeProwler4}
)

// drawShape picks the shape of a new finding of feed (none for a finding
// sent in both feeds) and the product it is rendered as.
func (g *Generator) drawShape(f *finding) {
	r := g.rng
	if g.cfg.ShapesRatio <= 0 || f.feed == feedBoth || r.Float64() >= g.cfg.ShapesRatio {
		return
	}
	if f.feed == feedOCSF {
		f.shape = ocsfShapes[r.IntN(len(ocsfShapes))]
		return
	}
	f.shape = asffShapes[r.IntN(len(asffShapes))]
	switch f.shape {
	case shapeRuntime:
		f.product = pGuardDuty
	case shapeLegacy2019:
		f.product = pCSPM
		f.compliance = stFailed
	case shapeTrivySecret:
		f.product = pTrivy
	}
}

// renderShape writes f, an ASFF finding of a shape, and returns its
// ProductArn and Id.
func (g *Generator) renderShape(e *enc, c *fctx) (string, string) {
	switch c.f.shape {
	case shapeRuntime:
		return g.runtimeFinding(e, c)
	case shapeBatchImport:
		return g.batchImportFinding(e, c)
	case shapeTrivySecret:
		return g.trivySecretFinding(e, c)
	}
	return g.legacy2019Finding(e, c)
}

// renderOCSFShape writes f, an OCSF finding of a shape, and returns the key
// its event names as resource.
func (g *Generator) renderOCSFShape(e *enc, c *fctx) string {
	switch c.f.shape {
	case shapeProwler5, shapeProwler4:
		return g.prowlerFinding(e, c, c.f.shape == shapeProwler4)
	case shapeLake11:
		return g.lake11Finding(e, c)
	}
	return g.lake10Finding(e, c)
}

var runtimeThreats = []struct{ typ, malware, mtype, path, process string }{
	{"Execution:Runtime/MaliciousFileExecuted", "Linux.Trojan.Mirai", "TROJAN", "/tmp/.x/kworker", "kworker"},
	{"CryptoCurrency:Runtime/BitcoinTool.B!DNS", "Linux.Miner.XMRig", "POTENTIALLY_UNWANTED", "/var/tmp/xmrig", "xmrig"},
	{"Execution:Runtime/ReverseShell", "Linux.Backdoor.Tsunami", "BACKDOOR", "/dev/shm/.s", "sh"},
}

// runtimeFinding renders a GuardDuty runtime (malware) finding.
func (g *Generator) runtimeFinding(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	acct, rg := c.a.id, c.region
	th := &runtimeThreats[r.IntN(len(runtimeThreats))]
	fid := hex32(g)
	detector := hex32(g)
	id := "arn:aws:guardduty:" + rg + ":" + acct + ":detector/" + detector + "/finding/" + fid
	pa := productArn(rg, "aws/guardduty")
	ih := hs{r.Uint64()}
	domain := badDomains[r.IntN(len(badDomains))]
	rs := res{kind: kInstance, k: r.IntN(kinds[kInstance].pool), a: c.a, region: rg}
	pid := int64(1000 + r.IntN(60000))
	launched := f.firstObs - r.Int64N(3600e9)
	terminated := r.IntN(2) == 0
	typ := "TTPs/Execution/" + th.typ

	e.open("")
	g.head(e, c, id, pa, "GuardDuty", "Amazon", "arn:aws:guardduty:"+rg+":"+acct+":detector/"+detector)
	e.strs("Types", typ)
	g.times(e, f, tsMilli, false)
	e.open("Severity")
	e.num("Product", 8)
	e.str("Label", "HIGH")
	e.int("Normalized", 80)
	e.close()
	e.int("Confidence", int64(60+r.IntN(40)))
	e.int("Criticality", int64(50+r.IntN(50)))
	e.cat("Title", "Malicious file ", th.malware, " executed on EC2 instance ", rs.name(), ".")
	e.cat("Description", "A process started from ", th.path, " matched the signature of ", th.malware, ".")
	e.cat("SourceUrl", "https://", rg, ".console.aws.amazon.com/guardduty/home?region=", rg, "#/findings?fId=", fid)
	e.open("ProductFields")
	e.pf("aws/guardduty/service/", "featureName", "RuntimeMonitoring")
	e.pf("aws/guardduty/service/", "detectorId", detector)
	e.shFields(pa, id, "GuardDuty", "Amazon")
	e.close()
	e.openArr("Resources")
	g.resource(e, rs, true)
	e.closeArr()
	e.open("Network")
	e.str("Direction", "OUT")
	e.str("Protocol", "TCP")
	e.str("SourceIpV4", privateIP(&ih))
	e.cat("SourceIpV6", "2600:1f18:", strconv.Itoa(1000+ih.n(8999)), "::", strconv.Itoa(1+ih.n(999)))
	e.int("SourcePort", int64(32768+ih.n(28000)))
	e.cat("SourceDomain", rs.name(), ".ec2.internal")
	e.str("DestinationIpV4", publicIP(&ih))
	e.cat("DestinationIpV6", "2a02:", strconv.Itoa(1000+ih.n(8999)), "::", strconv.Itoa(1+ih.n(999)))
	e.int("DestinationPort", int64(pick(&ih, []int{443, 3333, 4444, 14444})))
	e.str("DestinationDomain", domain)
	e.close()
	e.open("Process")
	e.str("Name", th.process)
	e.str("Path", th.path)
	e.int("Pid", pid)
	e.int("ParentPid", 1)
	e.ts("LaunchedAt", launched, tsMilli, false)
	if terminated {
		e.ts("TerminatedAt", launched+r.Int64N(600e9), tsMilli, false)
	}
	e.close()
	e.openArr("Malware")
	e.open("")
	e.str("Name", th.malware)
	e.str("Type", th.mtype)
	e.str("Path", th.path)
	e.str("State", "OBSERVED")
	e.close()
	e.closeArr()
	e.openArr("Threats")
	e.open("")
	e.str("Name", th.malware)
	e.str("Severity", "HIGH")
	e.int("ItemCount", int64(1+r.IntN(4)))
	e.strs("FilePaths")
	e.close()
	e.closeArr()
	e.openArr("ThreatIntelIndicators")
	e.open("")
	e.str("Type", "DOMAIN")
	e.str("Value", domain)
	e.str("Category", "BACKDOOR")
	e.str("Source", "ProofPoint")
	e.cat("SourceUrl", "https://threatintel.example/domain/", domain)
	e.ts("LastObservedAt", f.lastObs, tsSec, false)
	e.close()
	e.closeArr()
	e.openArr("RelatedFindings")
	e.open("")
	e.str("ProductArn", pa)
	e.cat("Id", "arn:aws:guardduty:", rg, ":", acct, ":detector/", detector, "/finding/", hex32(g))
	e.close()
	e.closeArr()
	e.str("VerificationState", pick(&ih, []string{"UNKNOWN", "TRUE_POSITIVE"}))
	g.tail(e, f)
	e.providerFields("HIGH", "", typ)
	e.boolean("Sample", false)
	e.ts("ProcessedAt", f.processed, tsMilli, false)
	e.close()
	return pa, id
}

var xrayPolicies = []string{"block-critical", "license-compliance", "op-risk"}

// batchImportFinding renders a JFrog Xray finding as the integration sends
// it to BatchImportFindings.
func (g *Generator) batchImportFinding(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	v := &g.vulns[skewed(r, len(g.vulns))]
	p := &pkgs[v.pkg]
	digest := string(appendHex(appendHex(appendHex(appendHex(nil, r.Uint64(), 16), r.Uint64(), 16), r.Uint64(), 16), r.Uint64(), 16))
	name := strings.ToLower(strings.ReplaceAll(p.name, ":", "/"))
	id := "docker://" + name + ":" + v.version + " " + digest[:40]
	pa := "arn:aws:securityhub:" + c.region + ":" + c.a.id + ":product/jfrog/jfrog-xray"
	policy := xrayPolicies[r.IntN(len(xrayPolicies))]
	label := v.sev
	typ := "Software and Configuration Checks/Vulnerabilities/CVE"

	e.open("")
	e.str("AwsAccountId", c.a.id)
	e.str("Region", c.region)
	e.ts("CreatedAt", f.created, tsNano, false)
	e.cat("Description", v.desc)
	e.cat("GeneratorId", "JFrog - Xray Policy ", policy)
	e.str("ProductArn", pa)
	e.str("SchemaVersion", "2018-10-08")
	e.cat("SourceUrl", "https://10.1.", strconv.Itoa(r.IntN(255)), ".", strconv.Itoa(r.IntN(255)), "/ui/watchesNew/edit/", policy)
	e.cat("Title", v.id, " in ", p.name)
	e.ts("UpdatedAt", f.updated, tsNano, false)
	e.str("CompanyName", "jfrog")
	e.open("ProductFields")
	e.str("jfrog/xray/ViolationType", "security")
	e.str("jfrog/xray/Watch", "watch-"+policy)
	e.str("jfrog/xray/Policy", policy)
	e.close()
	e.str("ProductName", "xray")
	e.open("FindingProviderFields")
	e.open("Severity")
	e.str("Label", label)
	e.str("Original", strings.ToUpper(label[:1])+strings.ToLower(label[1:]))
	e.close()
	e.strs("Types", typ)
	e.int("Confidence", 100)
	e.int("Criticality", int64(normFor(label)))
	e.openArr("RelatedFindings")
	e.open("")
	e.str("ProductArn", pa)
	e.cat("Id", "docker://", name, ":", v.fixed, " ", digest[24:])
	e.close()
	e.closeArr()
	e.close()
	e.str("Id", id)
	e.openArr("Resources")
	e.open("")
	e.str("Type", "Other")
	e.str("Id", digest)
	e.open("Details")
	e.open("Other")
	e.str("Name", name)
	e.str("Path", "default/"+name+"/"+v.version)
	e.str("PackageType", "Docker")
	e.close()
	e.close()
	e.close()
	e.closeArr()
	e.openArr("Vulnerabilities")
	e.open("")
	e.str("Id", v.id)
	e.openArr("VulnerablePackages")
	e.open("")
	e.cat("Name", "debian:bookworm:", p.name, ":", v.version)
	e.str("PackageManager", "Debian")
	e.close()
	e.closeArr()
	e.openArr("Cvss")
	e.open("")
	e.str("Version", "3.1")
	e.num("BaseScore", v.score)
	e.cat("BaseVector", "CVSS:3.1/", v.vector)
	e.close()
	e.closeArr()
	e.open("Vendor")
	e.str("Name", "JFrog")
	e.str("Url", v.refs[0])
	e.str("VendorSeverity", label)
	e.ts("VendorCreatedAt", v.vendorCreated, tsNano, false)
	e.ts("VendorUpdatedAt", v.vendorUpdated, tsNano, false)
	e.close()
	e.strs("ReferenceUrls", v.refs[:min(3, len(v.refs))]...)
	e.strs("RelatedVulnerabilities", v.id)
	e.str("FixAvailable", v.fix)
	e.str("ExploitAvailable", v.exploit)
	e.num("EpssScore", v.epss)
	e.close()
	e.closeArr()
	e.close()
	return pa, id
}

// legacy2019Finding renders a 2019 per-standard FSBP control finding.
func (g *Generator) legacy2019Finding(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	ctl := &controls[r.IntN(len(controls))]
	rs := res{kind: ctl.kind, k: r.IntN(kinds[ctl.kind].pool), a: c.a, region: c.region}
	acct, rg := c.a.id, c.region
	uuid := string(appendUUID(nil, r.Uint64(), r.Uint64()))
	id := "arn:aws:securityhub:" + rg + ":" + acct + ":subscription/aws-foundational-security-best-practices/v/1.0.0/" + ctl.id + "/finding/" + uuid
	pa := productArn(rg, "aws/securityhub")
	norm := normFor(ctl.sev)
	if f.compliance == stPassed {
		norm = 0
	}

	e.open("")
	g.head(e, c, id, pa, "", "", "aws-foundational-security-best-practices/v/1.0.0/"+ctl.id)
	e.strs("Types", "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices")
	g.times(e, f, tsMilli, false)
	e.open("Severity")
	e.int("Product", norm)
	e.int("Normalized", norm)
	e.close()
	e.cat("Title", ctl.id, " ", ctl.title)
	e.cat("Description", "This AWS control checks whether ", ctl.check, ".")
	e.remediation("For directions on how to fix this issue, please consult the AWS Security Hub Foundational Security Best Practices documentation.", "https://docs.aws.amazon.com/console/securityhub/"+ctl.id+"/remediation")
	e.open("ProductFields")
	e.str("StandardsArn", "arn:aws:securityhub:::standards/aws-foundational-security-best-practices/v/1.0.0")
	e.cat("StandardsSubscriptionArn", "arn:aws:securityhub:", rg, ":", acct, ":subscription/aws-foundational-security-best-practices/v/1.0.0")
	e.str("ControlId", ctl.id)
	e.cat("StandardsControlArn", "arn:aws:securityhub:", rg, ":", acct, ":control/aws-foundational-security-best-practices/v/1.0.0/", ctl.id)
	e.str("aws/securityhub/ProductName", "Security Hub")
	e.str("aws/securityhub/CompanyName", "AWS")
	e.cat("aws/securityhub/FindingId", pa, "/", id)
	e.close()
	e.openArr("Resources")
	g.resource(e, rs, false)
	e.closeArr()
	e.open("Compliance")
	e.str("Status", complianceStatus[f.compliance])
	e.close()
	if f.workflow == wfResolved {
		e.str("WorkflowState", "RESOLVED")
	} else {
		e.str("WorkflowState", []string{"NEW", "ASSIGNED", "IN_PROGRESS", "DEFERRED"}[int(f.workflow)])
	}
	e.str("RecordState", recordState(f))
	g.annotations(e, f)
	e.close()
	return pa, id
}

// naive writes t (Unix nanoseconds) as Prowler writes *_dt: the runner's
// local time without a zone, six fraction digits (here UTC).
func naive(t int64) string {
	return time.Unix(0, t).UTC().Format("2006-01-02T15:04:05.000000")
}

// prowlerFinding renders a Prowler json-ocsf finding of a check on the
// finding's resource: Prowler ≥ 5's (OCSF 1.4 Detection Finding; time and
// created_time in epoch seconds, naive *_dt twins) or, with gen4, Prowler
// 4.0–4.4's (OCSF 1.2.0: no time, event_time and created_time naive ISO
// strings, class_name "DetectionFinding", no product uid).
func (g *Generator) prowlerFinding(e *enc, c *fctx, gen4 bool) string {
	r, f := g.fr, c.f
	ctl := &controls[r.IntN(len(controls))]
	rs := res{kind: ctl.kind, k: r.IntN(kinds[ctl.kind].pool), a: c.a, region: c.region}
	check := strings.ToLower(strings.ReplaceAll(ctl.rule, "-", "_"))
	uid := "prowler-aws-" + check + "-" + c.a.id + "-" + c.region + "-" + rs.name()
	sec := f.updated / 1e9 // Prowler writes whole seconds
	service := strings.ToLower(strings.Split(ctl.id, ".")[0])

	e.open("")
	if !gen4 {
		e.cat("message", ctl.title, ".")
	}
	e.open("metadata")
	e.str("event_code", check)
	e.open("product")
	e.str("name", "Prowler")
	if !gen4 {
		e.str("uid", "prowler")
	}
	e.str("vendor_name", "Prowler")
	if gen4 {
		e.str("version", "4.2.4")
		e.close()
		e.str("version", "1.2.0")
	} else {
		e.str("version", "5.7.3")
		e.close()
		e.strs("profiles", "cloud", "datetime")
		e.str("tenant_uid", "")
		e.str("version", "1.4.0")
	}
	e.close()
	sevID := ocsfSeverity(ctl.sev)
	e.int("severity_id", sevID)
	e.str("severity", ocsfSeverityNames[sevID])
	e.str("status", ocsfStatus[f.workflow].name)
	e.str("status_code", "FAIL")
	e.cat("status_detail", ctl.fail, ".")
	e.int("status_id", ocsfStatus[f.workflow].id)
	e.open("unmapped")
	if gen4 {
		e.str("check_type", "")
		e.str("categories", "trustboundaries")
		e.open("compliance")
	} else {
		e.str("related_url", "")
		e.strs("categories")
		e.open("compliance")
		e.strs("AWS-Foundational-Security-Best-Practices", ctl.id)
	}
	e.close()
	e.close()
	e.str("activity_name", "Create")
	e.int("activity_id", 1)
	e.open("finding_info")
	if gen4 {
		e.str("created_time", naive(f.created))
	} else {
		e.int("created_time", f.created/1e9)
		e.str("created_time_dt", naive(f.created))
	}
	e.cat("desc", "Check whether ", ctl.check, ".")
	e.str("product_uid", "prowler")
	e.str("title", ctl.title)
	if !gen4 {
		e.strs("types", "Infrastructure Security")
	}
	e.str("uid", uid)
	e.close()
	e.openArr("resources")
	e.open("")
	e.str("cloud_partition", "aws")
	e.str("region", c.region)
	e.open("data")
	if gen4 {
		e.str("details", "")
		e.close()
		e.open("group")
		e.str("name", service)
		e.close()
		e.strs("labels")
	} else {
		e.open("details")
		e.str("name", rs.name())
		e.close()
		e.close()
	}
	e.str("name", rs.name())
	e.str("type", kinds[rs.kind].typ)
	e.str("uid", rs.arn())
	e.close()
	e.closeArr()
	e.str("category_name", "Findings")
	e.int("category_uid", 2)
	if gen4 {
		e.str("class_name", "DetectionFinding")
	} else {
		e.str("class_name", "Detection Finding")
	}
	e.int("class_uid", 2004)
	e.open("cloud")
	e.open("account")
	e.str("name", "")
	if gen4 {
		e.str("type", "AWS_Account")
	} else {
		e.str("type", "AWS Account")
	}
	e.int("type_id", 10)
	e.str("uid", c.a.id)
	if gen4 {
		e.strs("labels")
	}
	e.close()
	e.open("org")
	e.str("name", "")
	e.str("uid", "")
	e.close()
	e.str("provider", "aws")
	e.str("region", c.region)
	e.close()
	if gen4 {
		e.str("event_time", naive(f.updated))
	}
	e.open("remediation")
	e.cat("desc", "Make sure that ", ctl.check, ".")
	e.strs("references", "https://docs.aws.amazon.com/securityhub/latest/userguide/"+service+"-controls.html")
	e.close()
	if gen4 {
		e.int("type_uid", 200401)
		e.str("type_name", "Create")
	} else {
		e.int("time", sec)
		e.str("time_dt", naive(f.updated))
		e.int("type_uid", 200401)
		e.str("type_name", "Detection Finding: Create")
	}
	e.close()
	return uid
}

// lake11Finding renders Security Lake's OCSF 1.1 mapping of a Security Hub
// consolidated control finding (class 2003, one resource object).
func (g *Generator) lake11Finding(e *enc, c *fctx) string {
	r, f := g.fr, c.f
	ctl := &controls[r.IntN(len(controls))]
	rs := res{kind: ctl.kind, k: r.IntN(kinds[ctl.kind].pool), a: c.a, region: c.region}
	uuid := string(appendUUID(nil, r.Uint64(), r.Uint64()))
	uid := "arn:aws:securityhub:" + c.region + ":" + c.a.id + ":security-control/" + ctl.id + "/finding/" + uuid
	sevID := ocsfSeverity(ctl.sev)
	// The mapper's local offset: -04:00 in summer, -05:00 in winter, so one
	// finding's times can carry both.
	local := func(t int64) string {
		tm := time.Unix(0, t).UTC()
		off := -5 * 3600
		if m := tm.Month(); m > time.March && m < time.November {
			off = -4 * 3600
		}
		return tm.In(time.FixedZone("", off)).Format("2006-01-02T15:04:05.000-07:00")
	}

	e.open("")
	e.int("activity_id", 1)
	e.str("activity_name", "Create")
	e.str("category_name", "Findings")
	e.int("category_uid", 2)
	e.str("class_name", "Compliance Finding")
	e.int("class_uid", 2003)
	e.open("cloud")
	e.open("account")
	e.str("uid", c.a.id)
	e.close()
	e.str("provider", "AWS")
	e.str("region", c.region)
	e.close()
	e.open("compliance")
	e.str("control", ctl.id)
	e.strs("requirements", "NIST.800-53.r5 CM-2")
	e.strs("standards", "standards/aws-foundational-security-best-practices/v/1.0.0")
	status := "FAILED"
	if f.compliance == stPassed {
		status = "PASSED"
	}
	e.str("status", status)
	e.close()
	e.open("finding_info")
	e.str("created_time_dt", local(f.created))
	e.cat("desc", "This control checks whether ", ctl.check, ".")
	e.str("first_seen_time_dt", local(f.firstObs))
	e.str("last_seen_time_dt", local(f.lastObs))
	e.str("modified_time_dt", local(f.updated))
	e.str("title", ctl.title)
	e.strs("types", "Software and Configuration Checks/Industry and Regulatory Standards")
	e.str("uid", uid)
	e.close()
	e.open("metadata")
	e.str("log_version", "2018-10-08")
	e.str("processed_time_dt", local(f.processed))
	e.open("product")
	e.open("feature")
	e.cat("uid", "security-control/", ctl.id)
	e.close()
	e.str("name", "Security Hub")
	e.cat("uid", "arn:aws:securityhub:", c.region, "::product/aws/securityhub")
	e.str("vendor_name", "AWS")
	e.close()
	e.strs("profiles", "cloud")
	e.str("version", "1.1.0")
	e.close()
	e.open("resource")
	e.str("cloud_partition", "aws")
	e.open("owner")
	e.open("account")
	e.str("uid", c.a.id)
	e.close()
	e.close()
	e.str("region", c.region)
	e.str("type", kinds[rs.kind].typ)
	e.str("uid", rs.arn())
	e.close()
	e.str("severity", ocsfSeverityNames[sevID])
	e.int("severity_id", sevID)
	e.str("status", ocsfStatus[f.workflow].name)
	e.ocsfTime("time", f.updated, false)
	e.str("type_name", "Compliance Finding: Create")
	e.int("type_uid", 200301)
	e.open("unmapped")
	e.str("Severity.Normalized", strconv.FormatInt(normFor(ctl.sev), 10))
	e.close()
	e.close()
	return uid
}

// lake10Finding renders Security Lake's OCSF 1.0-rc.2 mapping of a Security
// Hub finding (class 2001 Security Finding), here of an Inspector one.
func (g *Generator) lake10Finding(e *enc, c *fctx) string {
	r, f := g.fr, c.f
	v := &g.vulns[skewed(r, len(g.vulns))]
	p := &pkgs[v.pkg]
	rs := res{kind: kInstance, k: r.IntN(kinds[kInstance].pool), a: c.a, region: c.region}
	uid := "arn:aws:inspector2:" + c.region + ":" + c.a.id + ":finding/" + hex32(g)
	sevID := ocsfSeverity(v.sev)
	// OCSF 1.0's state_id: 1 New, 2 In Progress, 3 Suppressed, 4 Resolved.
	state := []struct {
		name string
		id   int64
	}{{"New", 1}, {"In Progress", 2}, {"Suppressed", 3}, {"Resolved", 4}}[f.workflow]

	e.open("")
	e.int("activity_id", 1)
	e.str("activity_name", "Generate")
	e.str("category_name", "Findings")
	e.int("category_uid", 2)
	e.str("class_name", "Security Finding")
	e.int("class_uid", 2001)
	e.int("confidence_score", int64(50+r.IntN(51)))
	e.open("cloud")
	e.str("account_uid", c.a.id)
	e.str("provider", "AWS")
	e.str("region", c.region)
	e.close()
	e.open("finding")
	e.int("created_time", f.created/1e6)
	e.str("desc", v.desc)
	e.int("first_seen_time", f.firstObs/1e6)
	e.int("last_seen_time", f.lastObs/1e6)
	e.int("modified_time", f.updated/1e6)
	e.open("remediation")
	e.cat("desc", "Update ", p.name, " to ", v.fixed, ".")
	e.strs("kb_articles", v.refs[:min(2, len(v.refs))]...)
	e.close()
	e.cat("title", v.id, " - ", p.name)
	e.strs("types", "Software and Configuration Checks/Vulnerabilities/CVE")
	e.str("uid", uid)
	e.close()
	e.open("metadata")
	e.open("product")
	e.open("feature")
	e.str("name", "Inspector")
	e.str("uid", "AWSInspector")
	e.close()
	e.str("name", "Inspector")
	e.cat("uid", "arn:aws:securityhub:", c.region, "::product/aws/inspector")
	e.str("vendor_name", "AWS")
	e.str("version", "2018-10-08")
	e.close()
	e.strs("profiles", "cloud")
	e.str("version", "1.0.0-rc.2")
	e.close()
	e.openArr("resources")
	e.open("")
	e.str("cloud_partition", "aws")
	e.str("details", `{"Type":"`+kinds[rs.kind].typ+`"}`)
	e.strs("labels", "billingCode="+tagOwners[rs.k%len(tagOwners)])
	e.str("region", c.region)
	e.str("type", kinds[rs.kind].typ)
	e.str("uid", rs.arn())
	e.close()
	e.closeArr()
	e.str("severity", ocsfSeverityNames[sevID])
	e.int("severity_id", sevID)
	e.str("state", state.name)
	e.int("state_id", state.id)
	e.int("time", f.updated/1e6)
	e.int("type_uid", 200101)
	e.openArr("vulnerabilities")
	e.open("")
	e.open("cve")
	e.int("created_time", v.vendorCreated/1e6)
	e.open("cvss")
	e.num("base_score", v.score)
	e.cat("vector_string", "CVSS:3.1/", v.vector)
	e.str("version", "3.1")
	e.close()
	e.int("modified_time", v.vendorUpdated/1e6)
	e.str("uid", v.id)
	e.close()
	e.boolean("fix_available", v.fix != "NO")
	e.strs("kb_articles", v.refs[0])
	e.openArr("packages")
	e.open("")
	e.int("epoch", 1)
	e.str("name", p.name)
	e.str("version", v.version)
	e.close()
	e.closeArr()
	e.strs("references", v.refs[:min(2, len(v.refs))]...)
	e.strs("related_vulnerabilities", v.related...)
	e.cat("title", v.id, " in ", p.name)
	e.str("vendor_name", v.vendor)
	e.close()
	e.closeArr()
	e.close()
	return uid
}

// secretRules are Trivy's secret rules: its rule id, category and title.
var secretRules = []struct{ id, category, title string }{
	{"aws-access-key-id", "AWS", "AWS Access Key ID"},
	{"github-pat", "GitHub", "GitHub Personal Access Token"},
	{"private-key", "AsymmetricPrivateKey", "Asymmetric Private Key"},
	{"slack-web-hook", "Slack", "Slack Webhook"},
}

var secretFiles = []string{"deploy.sh", "config/settings.py", ".env.production", "k8s/secret.yaml", "scripts/release.sh", "terraform/providers.tf"}

// trivySecretFinding renders a Trivy (< 0.49) secret finding: its ProductArn
// took AWS_DEFAULT_REGION, unset in CI, so it names no region, and the
// finding has no Region of its own.
func (g *Generator) trivySecretFinding(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	rule := &secretRules[r.IntN(len(secretRules))]
	path := secretFiles[r.IntN(len(secretFiles))]
	pa := "arn:aws:securityhub:::product/aquasecurity/aquasecurity"
	sev := pick(&hs{r.Uint64()}, []string{"CRITICAL", "HIGH", "MEDIUM"})
	title := "Trivy found a secret in " + path + ": " + rule.title

	trivyHead(e, c, path, pa, "Trivy", "Sensitive Data Identifications", sev)
	e.str("Title", title)
	e.str("Description", title)
	e.open("ProductFields")
	e.str("Product Name", "Trivy")
	e.close()
	e.openArr("Resources")
	e.open("")
	e.str("Type", "Other")
	e.str("Id", path)
	e.str("Partition", "aws")
	e.str("Region", "")
	e.open("Details")
	e.open("Other")
	e.str("Filename", path)
	e.str("RuleID", rule.id)
	e.str("Category", rule.category)
	e.close()
	e.close()
	e.close()
	e.closeArr()
	e.str("RecordState", recordState(f))
	e.close()
	return pa, path
}

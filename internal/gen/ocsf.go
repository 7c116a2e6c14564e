package gen

import (
	"strconv"
	"strings"
)

// The OCSF feed: the Security Hub launched in 2025 sends every new or
// updated finding as a "Findings Imported V2" event carrying one OCSF
// finding (see ../shared/samples/ocsf). A share of new findings
// (Config.OCSFRatio) come from that feed: CSPM controls as Compliance
// Findings (class 2003), Inspector as Vulnerability Findings (2002),
// GuardDuty as Detection Findings (2004) and Macie as Data Security
// Findings (2006). Their updates are V2 events too: a re-import moves
// modified_time (and time); a BatchUpdateFindingsV2 call or an automation
// rule changes status, severity or comment and keeps both. A quarter of the
// OCSF control findings come from accounts that run both feeds: each of
// their events is sent as ASFF and as OCSF, with the ASFF Id as
// finding_info.uid.
//
// The layout is the one AWS writes: keys in alphabetical order at every
// level, every *_time in epoch milliseconds beside its *_dt twin (a few
// producers send only the twin), epss.score as a string, AWS's own fields
// (cvss[].adjusted_score, vendor_attributes) beside OCSF's.

// Feeds a finding is sent in.
const (
	feedASFF uint8 = iota
	feedOCSF
	feedBoth // an account that runs both: every event goes both ways
)

// ocsfProducts are the products of the OCSF feed and how often a new OCSF
// finding comes from each.
var ocsfProducts = []struct {
	product, weight int
}{{pCSPM, 52}, {pInspector, 26}, {pGuardDuty, 14}, {pMacie, 8}}

// cfnTypes are the CloudFormation resource types OCSF findings name.
var cfnTypes = [...]string{
	kAccount: "AWS::::Account", kInstance: "AWS::EC2::Instance", kSecurityGroup: "AWS::EC2::SecurityGroup",
	kSubnet: "AWS::EC2::Subnet", kVpc: "AWS::EC2::VPC", kVolume: "AWS::EC2::Volume", kBucket: "AWS::S3::Bucket",
	kRole: "AWS::IAM::Role", kUser: "AWS::IAM::User", kPolicy: "AWS::IAM::Policy", kAccessKey: "AWS::IAM::AccessKey",
	kLambda: "AWS::Lambda::Function", kRDS: "AWS::RDS::DBInstance", kKMS: "AWS::KMS::Key", kTrail: "AWS::CloudTrail::Trail",
	kECRRepo: "AWS::ECR::Repository", kECRImage: "AWS::ECR::ContainerImage", kEKS: "AWS::EKS::Cluster",
	kS3Object: "AWS::S3::Object", kContainer: "Container", kOther: "Other",
}

// ocsfStatus is the OCSF status of a workflow status (workflowStatus).
var ocsfStatus = []struct {
	name string
	id   int64
}{{"New", 1}, {"In Progress", 2}, {"Suppressed", 3}, {"Resolved", 4}}

// ocsfSeverity is the OCSF severity_id of an ASFF label.
func ocsfSeverity(label string) int64 {
	switch label {
	case "CRITICAL":
		return 5
	case "HIGH":
		return 4
	case "MEDIUM":
		return 3
	case "LOW":
		return 2
	}
	return 1
}

var ocsfSeverityNames = []string{"Unknown", "Informational", "Low", "Medium", "High", "Critical"}

// v2 returns a Findings Imported V2 event at time t for f (an OCSF-feed
// finding), counted and kept for duplicates.
func (g *Generator) v2(f *finding, t int64) []byte {
	g.buildV2(f, t, false)
	return g.emitted(kindV2, 1, 0)
}

// buildV2 writes a Findings Imported V2 event into g.out without counting
// it; noID leaves out the finding's keys (a bad unit).
func (g *Generator) buildV2(f *finding, t int64, noID bool) {
	g.fb.b, g.fb.more = g.fb.b[:0], false
	uid := g.renderOCSF(&g.fb, f, noID)
	e := g.envelope("Findings Imported V2", t, g.accounts[f.account].id, g.regions[f.region], uid)
	e.openArr("findings")
	e.b = append(e.b, g.fb.b...)
	e.closeArr()
	e.close()
	e.close()
}

// ocsfTime writes an OCSF timestamp (k) and its _dt twin, or the twin only.
func (e *enc) ocsfTime(k string, t int64, twinOnly bool) {
	ms := t / 1e6
	if !twinOnly {
		e.int(k, ms)
	}
	e.key(k + "_dt")
	e.b = appendTime(e.b, ms*1e6, tsMilli, false)
	e.more = true
}

// ocsfUID is the finding's metadata.uid: 64 hex digits, fixed for its life.
func ocsfUID(f *finding) string {
	h := hs{mix(f.seed ^ 0x0c5f)}
	b := make([]byte, 0, 64)
	for range 4 {
		b = appendHex(b, h.next(), 16)
	}
	return string(b)
}

// ocsfFacts is what every OCSF class renders the same way.
type ocsfFacts struct {
	classUID             int64
	className            string
	label                string // the product's ASFF-style severity label
	uid, uidAlt          string // finding_info.uid and uid_alt
	title, desc          string
	types                []string
	product, feature     string // metadata.product.name and feature.name
	productPath          string // aws/<product> of the productv2 ARN
	remedy               string
	refs                 []string
	twinOnly, typedCloud bool
	noID                 bool // leave out finding_info.uid (a bad unit)
}

// renderOCSF writes f as an OCSF finding and returns its metadata.uid. The
// draws come from g.fr, reseeded from the finding's seed, so a finding
// renders the same until its changing fields change. noID leaves out both
// keys (metadata.uid and finding_info.uid: a bad unit).
func (g *Generator) renderOCSF(e *enc, f *finding, noID bool) string {
	c := g.renderContext(f, noID)
	if f.shape != shapeNone {
		return g.renderOCSFShape(e, c)
	}
	switch f.product {
	case pInspector:
		return g.ocsfVulnerability(e, c)
	case pGuardDuty:
		return g.ocsfDetection(e, c)
	case pMacie:
		return g.ocsfDataSecurity(e, c)
	}
	return g.ocsfCompliance(e, c)
}

// ocsfOpen starts the finding object and writes its members up to cloud and
// comment; it returns the finding's metadata.uid.
func (g *Generator) ocsfOpen(e *enc, c *fctx, x *ocsfFacts) string {
	x.noID = c.noID
	e.open("")
	e.ocsfHead(c.f, x)
	g.ocsfCloud(e, c, x)
	return ocsfUID(c.f)
}

// ocsfHead writes the members before cloud, in key order: activity, category
// and class.
func (e *enc) ocsfHead(f *finding, x *ocsfFacts) {
	act, actName := int64(1), "Create"
	switch {
	case f.closed:
		act, actName = 3, "Close"
	case f.updates > 0:
		act, actName = 2, "Update"
	}
	e.int("activity_id", act)
	e.str("activity_name", actName)
	e.str("category_name", "Findings")
	e.int("category_uid", 2)
	e.str("class_name", x.className)
	e.int("class_uid", x.classUID)
}

// ocsfCloud writes cloud and, when the finding has one, the comment that
// follows it.
func (g *Generator) ocsfCloud(e *enc, c *fctx, x *ocsfFacts) {
	e.open("cloud")
	e.open("account")
	if x.typedCloud {
		e.str("type", "AWS Account")
		e.int("type_id", 10)
	}
	e.str("uid", c.a.id)
	e.close()
	if x.typedCloud {
		e.str("cloud_partition", "aws")
	}
	e.str("provider", "AWS")
	e.str("region", c.region)
	e.close()
	if f := c.f; f.note >= 0 {
		e.str("comment", noteText(f))
	}
}

// ocsfFindingInfo writes finding_info; analytic is written by the caller's
// function before the times (keys in order), product uid after them.
func (g *Generator) ocsfFindingInfo(e *enc, f *finding, x *ocsfFacts, analytic func(), productUID string) {
	e.open("finding_info")
	if analytic != nil {
		analytic()
	}
	e.ocsfTime("created_time", f.created, x.twinOnly)
	e.str("desc", x.desc)
	e.ocsfTime("first_seen_time", f.firstObs, x.twinOnly)
	e.ocsfTime("last_seen_time", f.lastObs, x.twinOnly)
	e.ocsfTime("modified_time", f.updated, x.twinOnly)
	if productUID != "" {
		e.open("product")
		e.str("uid", productUID)
		e.close()
	}
	e.str("title", x.title)
	e.strs("types", x.types...)
	if !x.noID {
		e.str("uid", x.uid)
	}
	if x.uidAlt != "" {
		e.str("uid_alt", x.uidAlt)
	}
	e.close()
}

// ocsfMetadata writes metadata and remediation.
func (g *Generator) ocsfMetadata(e *enc, c *fctx, x *ocsfFacts, uid string) {
	e.open("metadata")
	e.open("product")
	if x.feature != "" {
		e.open("feature")
		e.str("name", x.feature)
		e.close()
	}
	e.str("name", x.product)
	e.cat("uid", "arn:aws:securityhub:", c.region, "::productv2/", x.productPath)
	e.str("vendor_name", "AWS")
	e.close()
	e.strs("profiles", "cloud", "datetime")
	if !c.noID {
		e.str("uid", uid)
	}
	version := "1.6.0"
	if c.f.seed%5 == 0 {
		version = "1.5.0"
	}
	e.str("version", version)
	e.close()
	e.open("remediation")
	e.str("desc", x.remedy)
	e.strs("references", x.refs...)
	e.close()
}

// ocsfResource writes one element of resources; data, when set, writes the
// resource's data object.
func (g *Generator) ocsfResource(e *enc, r res, typed bool, data func()) {
	e.open("")
	e.str("cloud_partition", "aws")
	if data != nil {
		e.open("data")
		data()
		e.close()
	}
	if r.kind == kInstance || r.kind == kLambda || r.kind == kRole || r.kind == kUser || r.kind == kAccessKey {
		e.str("name", r.name())
	}
	e.open("owner")
	e.open("account")
	if typed {
		e.str("type", "AWS Account")
		e.int("type_id", 10)
	}
	e.str("uid", r.a.id)
	e.close()
	e.close()
	e.str("region", r.region)
	if h := r.hash(); r.kind != kAccount && r.kind != kS3Object && (h.next()+h.next())%10 < 4 {
		e.openArr("tags")
		for i, t := range resourceTags(r) {
			e.open("")
			e.str("name", t.name)
			if i != 1 || r.k%8 != 0 { // now and then a tag without a value
				e.str("value", t.value)
			}
			e.close()
		}
		e.closeArr()
	}
	e.str("type", cfnTypes[r.kind])
	if r.kind == kAccount {
		e.str("uid", r.a.id)
	} else {
		e.str("uid", r.name())
		e.str("uid_alt", r.arn())
	}
	e.close()
}

// ocsfTail writes the members after resources, in key order, up to
// type_uid: severity, status, time and type.
func (g *Generator) ocsfTail(e *enc, f *finding, x *ocsfFacts) {
	sev := ocsfSeverity(x.label)
	if f.ocsfSev > 0 {
		sev = int64(f.ocsfSev)
	}
	e.str("severity", ocsfSeverityNames[sev])
	e.int("severity_id", sev)
	st := ocsfStatus[f.workflow]
	e.str("status", st.name)
	e.int("status_id", st.id)
	e.ocsfTime("time", f.updated, x.twinOnly)
	act, actID := "Create", int64(1)
	switch {
	case f.closed:
		act, actID = "Close", 3
	case f.updates > 0:
		act, actID = "Update", 2
	}
	e.cat("type_name", x.className, ": ", act)
	e.int("type_uid", x.classUID*100+actID)
}

// vendorAttributes writes what AWS adds after the OCSF attributes: the
// severity the product gave.
func (e *enc) vendorAttributes(label string) {
	sev := ocsfSeverity(label)
	e.open("vendor_attributes")
	e.str("severity", ocsfSeverityNames[sev])
	e.int("severity_id", sev)
	e.close()
}

// ocsfCompliance renders a CSPM control finding (class 2003) from the same
// facts as its ASFF rendering (cspmFacts).
func (g *Generator) ocsfCompliance(e *enc, c *fctx) string {
	f := c.f
	cf := g.cspmFacts(c)
	ctl := cf.ctl
	x := &ocsfFacts{
		classUID: 2003, className: "Compliance Finding", label: ctl.sev, uid: cf.id,
		title: cf.title, desc: "This control checks whether " + ctl.check + ". The control fails if " + ctl.fail + ".",
		types: []string{cf.typ, "Posture Management"}, product: "Security Hub", productPath: "aws/securityhub",
		remedy: "For information on how to correct this issue, consult the AWS Security Hub controls documentation.",
		refs:   []string{"https://docs.aws.amazon.com/console/securityhub/" + ctl.id + "/remediation"},
	}
	if f.compliance == stPassed {
		x.label = "INFORMATIONAL"
	}
	uid := g.ocsfOpen(e, c, x)
	e.open("compliance")
	if f.compliance == stFailed && cf.annot {
		e.openArr("assessments")
		e.open("")
		e.str("desc", annotations[int(f.seed%uint64(len(annotations)))])
		e.boolean("meets_criteria", false)
		e.str("name", strings.ToUpper(strings.ReplaceAll(ctl.rule, "-", "_")))
		e.close()
		e.closeArr()
	}
	e.str("control", ctl.id)
	if ctl.id == "EC2.44" {
		e.openArr("control_parameters")
		e.open("")
		e.str("name", "requiredTagKeys")
		e.strs("values")
		e.close()
		e.closeArr()
	}
	ch := hs{mix(uint64(cf.ci) + 0xc0ffee)}
	start, stride := ch.n(len(requirements)), []int{7, 11, 13, 17}[ch.n(4)]
	reqs := make([]string, 0, 10)
	for i := range 2 + ch.n(9) {
		reqs = append(reqs, requirements[(start+i*stride)%len(requirements)])
	}
	e.strs("requirements", reqs...)
	stds := []string{"standards/aws-foundational-security-best-practices/v/1.0.0"}
	if ctl.cis != "" {
		stds = append(stds, "ruleset/cis-aws-foundations-benchmark/v/1.2.0")
	}
	e.strs("standards", stds...)
	status, sid := "Fail", int64(3)
	switch f.compliance {
	case stPassed:
		status, sid = "Pass", 1
	case stWarning:
		status, sid = "Warning", 2
	case stNotAvailable:
		status, sid = "Unknown", 0
	}
	e.str("status", status)
	e.int("status_id", sid)
	e.close()
	rh := hs{mix(c.a.seed ^ uint64(cf.ci)<<32 ^ uint64(f.region))}
	g.ocsfFindingInfo(e, f, x, func() {
		e.open("analytic")
		e.str("category", "AWS::Config::ConfigRule")
		e.configRuleName("name", ctl, &rh)
		e.str("type", "Rule")
		e.int("type_id", 1)
		e.close()
	}, "")
	g.ocsfMetadata(e, c, x, uid)
	e.openArr("resources")
	g.ocsfResource(e, cf.rs, false, nil)
	e.closeArr()
	g.ocsfTail(e, f, x)
	e.vendorAttributes(x.label)
	e.close()
	return uid
}

// ocsfVulnerability renders an Inspector package vulnerability (class 2002).
func (g *Generator) ocsfVulnerability(e *enc, c *fctx) string {
	r, f := g.fr, c.f
	v, p, rs, fid := g.inspectorTarget(c)
	osPkg, kind := p.manager == "OS", rs.kind
	var names []string
	if osPkg {
		names = p.subs[:1+skewed(r, len(p.subs))]
	} else {
		names = []string{p.name}
	}
	arch := pick(&hs{r.Uint64()}, []string{"X86_64", "X86_64", "ARM64"})
	x := &ocsfFacts{
		classUID: 2002, className: "Vulnerability Finding", label: v.sev,
		uid: "arn:aws:inspector2:" + c.region + ":" + c.a.id + ":finding/" + fid, title: inspectorTitle(v, names), desc: v.desc,
		types: []string{"Software and Configuration Checks/Vulnerabilities/CVE"}, product: "Inspector", productPath: "aws/inspector",
		remedy: "Remediation is available. Please refer to the Fixed version in the vulnerability details section.", refs: v.refs[:1],
		twinOnly: r.IntN(40) == 0, typedCloud: true,
	}
	if v.fix == "NO" {
		x.remedy = "None Provided"
	}
	if len(names) > 1 {
		x.types = append(x.types, "Vulnerabilities")
	}
	uid := g.ocsfOpen(e, c, x)
	g.ocsfFindingInfo(e, f, x, nil, "")
	g.ocsfMetadata(e, c, x, uid)
	e.openArr("resources")
	g.ocsfResource(e, rs, false, func() {
		switch kind {
		case kInstance:
			e.open("awsEc2InstanceDetails")
			e.cat("iamInstanceProfileArn", "arn:aws:iam::", c.a.id, ":instance-profile/", rs.appName())
			h := rs.hash()
			e.str("imageId", hexName("ami-0", &h))
			e.strs("ipV4Addresses", privateIP(&h))
			e.str("platform", pick(&h, []string{"AMAZON_LINUX_2", "AMAZON_LINUX_2023", "UBUNTU_22_04"}))
			e.str("type", pick(&h, instTypes))
			e.close()
		case kLambda:
			e.open("awsLambdaFunctionDetails")
			e.strs("architectures", arch)
			e.str("functionName", rs.name())
			e.str("packageType", "ZIP")
			h := rs.hash()
			e.str("runtime", strings.ToUpper(strings.ReplaceAll(pick(&h, runtimes), ".", "_")))
			e.str("version", "$LATEST")
			e.close()
		default:
			e.open("awsEcrContainerImageDetails")
			e.str("architecture", strings.ToLower(arch))
			e.str("repositoryName", rs.name())
			e.close()
		}
	})
	e.closeArr()
	g.ocsfTail(e, f, x)
	e.vendorAttributes(x.label)
	e.openArr("vulnerabilities")
	e.open("")
	e.openArr("affected_packages")
	for _, n := range names {
		e.open("")
		if osPkg {
			e.str("architecture", arch)
		}
		e.int("epoch", 0)
		switch {
		case v.fix == "NO":
			e.str("fixed_in_version", "NotAvailable")
		case osPkg:
			e.cat("fixed_in_version", "0:", v.fixed, "-", v.release)
		default:
			e.str("fixed_in_version", v.fixed)
		}
		e.str("name", n)
		if osPkg {
			e.str("package_manager", "OS")
			e.str("release", v.release)
			e.open("remediation")
			e.cat("desc", p.fixes, n)
			e.close()
		} else {
			e.str("package_manager", "GENERIC")
		}
		e.str("version", v.version)
		e.close()
	}
	e.closeArr()
	e.open("cve")
	e.ocsfTime("created_time", v.vendorCreated, false)
	e.openArr("cvss")
	e.open("")
	if v.vendor != "NVD" {
		e.num("adjusted_score", v.score)
	}
	e.num("base_score", v.score)
	e.str("severity", v.sev)
	e.cat("vector_string", "CVSS:3.1/", v.vector)
	e.str("vendor_name", "NVD")
	e.str("version", "3.1")
	e.close()
	if v.v2vector != "" && f.seed%2 == 0 {
		e.open("")
		e.num("base_score", v.v2score)
		e.str("vector_string", v.v2vector)
		e.str("vendor_name", "NVD")
		e.str("version", "2.0")
		e.close()
	}
	e.closeArr()
	e.str("desc", v.desc)
	e.open("epss")
	e.str("score", strconv.FormatFloat(v.epss, 'f', -1, 64))
	e.close()
	e.ocsfTime("modified_time", v.vendorUpdated, false)
	e.str("uid", v.id)
	e.close()
	cover, coverID := "Complete", int64(1)
	switch v.fix {
	case "NO":
		cover, coverID = "None", 3
	case "PARTIAL":
		cover, coverID = "Partial", 2
	}
	e.str("fix_coverage", cover)
	e.int("fix_coverage_id", coverID)
	e.boolean("is_exploit_available", v.exploit == "YES")
	e.boolean("is_fix_available", v.fix != "NO")
	e.strs("references", v.refs...)
	if len(v.related) > 0 {
		e.strs("related_vulnerabilities", v.related...)
	}
	e.str("severity", v.sev)
	e.close()
	e.closeArr()
	e.close()
	return uid
}

// ocsfDetection renders a GuardDuty finding (class 2004).
func (g *Generator) ocsfDetection(e *enc, c *fctx) string {
	r, f := g.fr, c.f
	gd := g.guardDutyTarget(c)
	gt, detector, fid, label, rs := gd.gt, gd.detector, gd.fid, gd.label, gd.rs
	ih := hs{r.Uint64()}
	remote, local := publicIP(&ih), privateIP(&ih)
	domain := badDomains[r.IntN(len(badDomains))]
	api := apiCalls[r.IntN(len(apiCalls))]
	feature := "FlowLogs"
	switch gt.action {
	case "DNS_REQUEST":
		feature = "DnsLogs"
	case "AWS_API_CALL":
		feature = "CloudTrail"
	}
	if r.IntN(5) == 0 && gt.kind == kInstance {
		feature = "RuntimeMonitoring"
	}
	anchor := strings.ToLower(strings.NewReplacer(":", "-", "/", "-", "!", "", ".", "").Replace(gt.native))
	x := &ocsfFacts{
		classUID: 2004, className: "Detection Finding", label: label,
		uid:   "arn:aws:guardduty:" + c.region + ":" + c.a.id + ":detector/" + detector + "/finding/" + fid,
		title: subst(gt.title, rs.name(), remote, domain, api.api), desc: subst(gt.desc, rs.name(), remote, domain, api.api),
		uidAlt: fid, types: []string{gt.native}, product: "GuardDuty", productPath: "aws/guardduty", feature: feature,
		remedy:     "Please review the remediation guidance provided in the referenced documentation",
		refs:       []string{"https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-active.html#" + anchor},
		typedCloud: true,
	}
	uid := g.ocsfOpen(e, c, x)
	e.int("count", int64(f.count))
	e.openArr("evidences")
	e.open("")
	switch gt.action {
	case "AWS_API_CALL":
		e.open("api")
		e.str("operation", api.api)
		e.open("service")
		e.str("name", api.service)
		e.close()
		e.close()
		e.open("data")
		e.open("affected_resource")
		e.str(cfnTypes[rs.kind], rs.name())
		e.close()
		e.str("resource_role", "TARGET")
		e.close()
		e.open("src_endpoint")
		e.str("ip", remote)
		e.close()
	case "DNS_REQUEST":
		e.open("query")
		e.str("hostname", domain)
		e.close()
		e.open("src_endpoint")
		e.str("ip", local)
		e.close()
	default:
		e.open("connection_info")
		e.str("direction", "Inbound")
		e.str("protocol_name", "tcp")
		e.close()
		e.open("dst_endpoint")
		e.str("ip", local)
		e.int("port", int64(pick(&ih, []int{22, 3389, 445, 80})))
		e.close()
		e.open("src_endpoint")
		e.str("ip", remote)
		e.close()
	}
	e.close()
	e.closeArr()
	g.ocsfFindingInfo(e, f, x, func() {
		e.open("analytic")
		e.str("type", "Rule")
		e.int("type_id", 1)
		e.str("uid", detector)
		e.close()
	}, detector)
	g.ocsfMetadata(e, c, x, uid)
	e.openArr("resources")
	g.ocsfResource(e, rs, true, func() {
		h := rs.hash()
		switch rs.kind {
		case kInstance:
			e.str("availability_zone", c.region+pick(&h, []string{"a", "b", "c"}))
			e.str("image_id", hexName("ami-0", &h))
			e.str("instance_id", rs.name())
			e.str("instance_state", "running")
			e.str("instance_type", pick(&h, instTypes))
			e.int("launch_time", (f.created-int64(h.n(900))*86400e9)/1e6)
		case kAccessKey:
			e.str("access_key_id", accessKeyID(&h, "ASIA"))
			e.cat("principal_id", accessKeyID(&h, "AROA"), ":", rs.name())
			e.str("user_name", rs.name())
			e.str("user_type", "AssumedRole")
		default:
			e.str("bucket_name", rs.name())
			e.str("bucket_type", "Destination")
		}
	})
	e.closeArr()
	g.ocsfTail(e, f, x)
	e.vendorAttributes(label)
	e.close()
	return uid
}

// ocsfDataSecurity renders a Macie finding (class 2006).
func (g *Generator) ocsfDataSecurity(e *enc, c *fctx) string {
	r, f := g.fr, c.f
	mt := &macieTypes[r.IntN(len(macieTypes))]
	bucket := res{kind: kBucket, k: r.IntN(kinds[kBucket].pool), a: c.a, region: c.region}
	object := res{kind: kS3Object, k: bucket.k + kinds[kBucket].pool*r.IntN(10), a: c.a, region: c.region}
	sev := []string{"HIGH", "MEDIUM", "LOW"}[r.IntN(3)]
	det := macieDetections[r.IntN(len(macieDetections))]
	count := 1 + skewed(r, 5000)
	sensitive := strings.HasPrefix(mt.typ, "Sensitive")
	typ := mt.typ[strings.LastIndexByte(mt.typ, '/')+1:]
	x := &ocsfFacts{
		classUID: 2006, className: "Data Security Finding", label: sev,
		uid: "arn:aws:macie2:" + c.region + ":" + c.a.id + ":finding/" + hex32(g), title: mt.title, desc: mt.desc,
		types: []string{typ}, product: "Macie", productPath: "aws/macie",
		remedy: "Review the object and restrict access to it, or remove the sensitive data.",
		refs:   []string{"https://docs.aws.amazon.com/macie/latest/user/findings-types.html"},
	}
	uid := g.ocsfOpen(e, c, x)
	e.open("data_security")
	e.str("category", "Personal")
	e.str("data_lifecycle_state", "Data at-Rest")
	e.str("detection_pattern", det)
	e.str("detection_system", "Macie")
	e.int("detection_system_id", 99)
	e.close()
	g.ocsfFindingInfo(e, f, x, nil, "")
	g.ocsfMetadata(e, c, x, uid)
	e.openArr("resources")
	g.ocsfResource(e, bucket, false, nil)
	if sensitive {
		g.ocsfResource(e, object, false, func() {
			e.open("sensitive_data")
			e.int(strings.ToLower(det), int64(count))
			e.close()
		})
	}
	e.closeArr()
	g.ocsfTail(e, f, x)
	e.vendorAttributes(sev)
	e.close()
	return uid
}

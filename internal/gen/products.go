package gen

import (
	"strconv"
	"strings"
)

// Product renderers. Each writes one ASFF finding shaped like the product's
// real findings (field set, field order, identifier formats, timestamp
// precision, typical sizes) and returns its ProductArn and Id. Everything a
// renderer draws comes from g.fr, reseeded from the finding's seed, and the
// draws never depend on the finding's changing fields, so an update changes
// only what it should.

func hex32(g *Generator) string {
	return string(appendHex(appendHex(make([]byte, 0, 32), g.fr.Uint64(), 16), g.fr.Uint64(), 16))
}

func productArn(region, product string) string {
	return "arn:aws:securityhub:" + region + "::product/" + product
}

// cspmFinding is what the producer of a Security Hub CSPM control finding
// decided: the control, the resource, the finding format, its Id. Both
// feeds render a control finding from it, so the ASFF Id and the OCSF
// finding_info.uid of one finding are the same.
type cspmFinding struct {
	ci                    int
	ctl                   *control
	rs                    res
	legacy, cis           bool
	annot, details, extra bool
	id, gen, typ, title   string
}

// cspmFacts draws a control finding's facts from g.fr (reseeded from the
// finding's seed by the caller).
func (g *Generator) cspmFacts(c *fctx) cspmFinding {
	r := g.fr
	ci := r.IntN(len(controls))
	ctl := &controls[ci]
	x := cspmFinding{ci: ci, ctl: ctl, rs: res{kind: ctl.kind, k: r.IntN(kinds[ctl.kind].pool), a: c.a, region: c.region}}
	legacy, cisPick := r.IntN(5) < 2, r.IntN(2) == 0
	uuid := string(appendUUID(nil, r.Uint64(), r.Uint64()))
	x.annot, x.details, x.extra = r.IntN(2) == 0, r.IntN(5) > 0, r.IntN(8) == 0
	x.legacy, x.cis = legacy, legacy && cisPick && ctl.cis != ""
	acct, rg := c.a.id, c.region
	switch {
	case x.cis:
		x.id = "arn:aws:securityhub:" + rg + ":" + acct + ":subscription/cis-aws-foundations-benchmark/v/1.2.0/" + ctl.cis + "/finding/" + uuid
		x.gen = "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0/rule/" + ctl.cis
		x.typ = "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark"
		x.title = ctl.cis + " " + ctl.title
	case legacy:
		x.id = "arn:aws:securityhub:" + rg + ":" + acct + ":subscription/aws-foundational-security-best-practices/v/1.0.0/" + ctl.id + "/finding/" + uuid
		x.gen = "aws-foundational-security-best-practices/v/1.0.0/" + ctl.id
		x.typ = "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices"
		x.title = ctl.id + " " + ctl.title
	default:
		x.id = "arn:aws:securityhub:" + rg + ":" + acct + ":security-control/" + ctl.id + "/finding/" + uuid
		x.gen = "security-control/" + ctl.id
		x.typ = "Software and Configuration Checks/Industry and Regulatory Standards"
		x.title = ctl.title
	}
	return x
}

// cspm renders a Security Hub CSPM control finding: consolidated
// (security-control/...) or, for two in five, the legacy per-standard
// format of FSBP or CIS 1.2.0.
func (g *Generator) cspm(e *enc, c *fctx) (string, string) {
	f := c.f
	x := g.cspmFacts(c)
	ci, ctl, rs := x.ci, x.ctl, x.rs
	legacy, cis, annot, details, extra := x.legacy, x.cis, x.annot, x.details, x.extra
	id, gen, typ, title := x.id, x.gen, x.typ, x.title
	acct, rg := c.a.id, c.region
	pa := productArn(rg, "aws/securityhub")
	status := complianceStatus[f.compliance]
	label, norm := ctl.sev, normFor(ctl.sev)
	if f.compliance == stPassed {
		label, norm = "INFORMATIONAL", 0
	}
	arn := rs.arn()

	e.open("")
	g.head(e, c, id, pa, "Security Hub", "AWS", gen)
	e.strs("Types", typ)
	g.times(e, f, tsMilli, false)
	e.severity(label, norm, ctl.sev)
	e.str("Title", title)
	e.cat("Description", "This control checks whether ", ctl.check, ". The control fails if ", ctl.fail, ".")
	remURL := "https://docs.aws.amazon.com/console/securityhub/" + ctl.id + "/remediation"
	if cis {
		remURL = "https://docs.aws.amazon.com/console/securityhub/standards-cis-" + ctl.cis + "/remediation"
	}
	e.remediation("For information on how to correct this issue, consult the AWS Security Hub controls documentation.", remURL)
	e.open("ProductFields")
	switch {
	case cis:
		e.str("StandardsGuideArn", "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0")
		e.cat("StandardsGuideSubscriptionArn", "arn:aws:securityhub:", rg, ":", acct, ":subscription/cis-aws-foundations-benchmark/v/1.2.0")
		e.str("RuleId", ctl.cis)
		e.str("RecommendationUrl", remURL)
		e.cat("StandardsControlArn", "arn:aws:securityhub:", rg, ":", acct, ":control/cis-aws-foundations-benchmark/v/1.2.0/", ctl.cis)
		e.str("aws/securityhub/SeverityLabel", label)
	case legacy:
		e.str("StandardsArn", "arn:aws:securityhub:::standards/aws-foundational-security-best-practices/v/1.0.0")
		e.cat("StandardsSubscriptionArn", "arn:aws:securityhub:", rg, ":", acct, ":subscription/aws-foundational-security-best-practices/v/1.0.0")
		e.str("ControlId", ctl.id)
		e.str("RecommendationUrl", remURL)
		e.cat("StandardsControlArn", "arn:aws:securityhub:", rg, ":", acct, ":control/aws-foundational-security-best-practices/v/1.0.0/", ctl.id)
		e.str("aws/securityhub/SeverityLabel", label)
	}
	rh := hs{mix(c.a.seed ^ uint64(ci)<<32 ^ uint64(f.region))}
	e.configRuleName("RelatedAWSResources:0/name", ctl, &rh)
	e.str("RelatedAWSResources:0/type", "AWS::Config::ConfigRule")
	e.str("Resources:0/Id", arn)
	if f.prev != noStatus {
		e.str("PreviousComplianceStatus", complianceStatus[f.prev])
	}
	if annot && f.compliance != stPassed {
		e.str("aws/securityhub/annotation", annotations[int(f.seed%uint64(len(annotations)))])
	}
	e.shFields(pa, id, "Security Hub", "AWS")
	e.close()
	e.openArr("Resources")
	g.resource(e, rs, details)
	if extra {
		for _, k := range []rkind{kSecurityGroup, kVolume}[:1+int(f.seed%2)] {
			g.resource(e, res{kind: k, k: rs.k % kinds[k].pool, a: c.a, region: rg}, true)
		}
	}
	e.closeArr()
	e.open("Compliance")
	e.str("Status", status)
	if !cis {
		e.str("SecurityControlId", ctl.id)
		ch := hs{mix(uint64(ci) + 0xc0ffee)}
		e.openArr("RelatedRequirements")
		start, stride := ch.n(len(requirements)), []int{7, 11, 13, 17}[ch.n(4)]
		for i := range 2 + ch.n(9) {
			e.key("")
			e.b = appendQuoted(e.b, requirements[(start+i*stride)%len(requirements)])
			e.more = true
		}
		if ctl.cis != "" {
			e.key("")
			e.b = appendQuoted(e.b, "CIS AWS Foundations Benchmark v3.0.0/"+ctl.cis)
			e.more = true
		}
		e.closeArr()
		if ctl.id == "EC2.44" || ctl.id == "Lambda.2" {
			e.openArr("SecurityControlParameters")
			e.open("")
			if ctl.id == "EC2.44" {
				e.str("Name", "requiredTagKeys")
				e.strs("Value")
			} else {
				e.str("Name", "runtime")
				e.strs("Value", "nodejs20.x", "nodejs22.x", "python3.12", "python3.13", "java21", "provided.al2023")
			}
			e.close()
			e.closeArr()
		}
	}
	if f.compliance == stWarning || f.compliance == stNotAvailable {
		sr := statusReasons[int(f.seed>>8%uint64(len(statusReasons)))]
		e.openArr("StatusReasons")
		e.open("")
		e.str("ReasonCode", sr.code)
		e.str("Description", sr.text)
		e.close()
		e.closeArr()
	}
	if !legacy {
		ch := hs{mix(uint64(ci) + 0x5eed)}
		e.openArr("AssociatedStandards")
		for i, s := range standards {
			in := (i == 0 && ctl.id != "EC2.44") || (i == 1 && ch.n(3) > 0) || (i == 2 && ch.n(3) == 0) ||
				(i == 3 && ctl.cis != "") || (i == 4 && ctl.id == "EC2.44")
			if in {
				e.open("")
				e.str("StandardsId", s)
				e.close()
			}
		}
		e.closeArr()
	}
	e.close()
	g.tail(e, f)
	e.providerFields(label, ctl.sev, typ)
	e.ts("ProcessedAt", f.processed, tsMilli, false)
	e.close()
	return pa, id
}

// configRuleName writes the name of the AWS Config rule Security Hub made
// for a control in one account and region: securityhub-<rule>-<8 hex>.
func (e *enc) configRuleName(k string, ctl *control, h *hs) {
	e.key(k)
	e.b = append(e.b, `"securityhub-`...)
	e.b = append(e.b, ctl.rule...)
	e.b = append(e.b, '-')
	e.b = appendHex(e.b, h.next(), 8)
	e.b = append(e.b, '"')
	e.more = true
}

var annotations = []string{
	"No tags are present.",
	"The resource is not compliant with the parameters of the rule.",
	"Multiple statements in the policy grant access to all principals.",
	"Inbound rules allow 0.0.0.0/0 on a restricted port.",
	"AWS Config was unable to evaluate the resource because of a throttling error; evaluation will be retried.",
}

// remoteIP writes the RemoteIpDetails object GuardDuty attaches to actions.
func (e *enc) remoteIP(ip string, geo *geo) {
	e.open("RemoteIpDetails")
	e.str("IpAddressV4", ip)
	e.open("Organization")
	e.int("Asn", int64(geo.asn))
	e.str("AsnOrg", geo.org)
	e.str("Isp", geo.org)
	e.str("Org", geo.org)
	e.close()
	e.open("Country")
	e.str("CountryCode", geo.code)
	e.str("CountryName", geo.country)
	e.close()
	e.open("City")
	e.str("CityName", geo.city)
	e.close()
	e.open("GeoLocation")
	e.num("Lon", geo.lon)
	e.num("Lat", geo.lat)
	e.close()
	e.close()
}

// pf writes a ProductFields member whose key is prefix+k.
func (e *enc) pf(prefix, k, v string) {
	if e.more {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, prefix...)
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
	e.b = appendQuoted(e.b, v)
	e.more = true
}

// remoteIPFields writes the flattened remoteIpDetails ProductFields.
func (e *enc) remoteIPFields(p, ip string, geo *geo) {
	e.pf(p, "remoteIpDetails/ipAddressV4", ip)
	e.pf(p, "remoteIpDetails/organization/asn", strconv.Itoa(geo.asn))
	e.pf(p, "remoteIpDetails/organization/asnOrg", geo.org)
	e.pf(p, "remoteIpDetails/organization/isp", geo.org)
	e.pf(p, "remoteIpDetails/organization/org", geo.org)
	e.pf(p, "remoteIpDetails/country/countryName", geo.country)
	e.pf(p, "remoteIpDetails/city/cityName", geo.city)
	e.pf(p, "remoteIpDetails/geoLocation/lat", strconv.FormatFloat(geo.lat, 'f', -1, 64))
	e.pf(p, "remoteIpDetails/geoLocation/lon", strconv.FormatFloat(geo.lon, 'f', -1, 64))
}

// subst fills a title template: %R resource, %I remote IP, %D domain, %A API.
func subst(tmpl, rname, ip, domain, api string) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '%' || i+1 == len(tmpl) {
			b.WriteByte(tmpl[i])
			continue
		}
		i++
		switch tmpl[i] {
		case 'R':
			b.WriteString(rname)
		case 'I':
			b.WriteString(ip)
		case 'D':
			b.WriteString(domain)
		case 'A':
			b.WriteString(api)
		}
	}
	return b.String()
}

// apiList returns n API names joined the way GuardDuty's profiling fields
// join them.
func (g *Generator) apiList(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(" , ")
		}
		b.WriteString(apiCalls[g.fr.IntN(len(apiCalls))].api)
	}
	return b.String()
}

// guardDutyFinding is what a GuardDuty finding is about, for both feeds.
type guardDutyFinding struct {
	gt            *gdType
	detector, fid string
	sev10         int // GuardDuty's severity, tenths
	label         string
	rs            res
}

// guardDutyTarget draws a GuardDuty finding's type, detector, id, severity
// and resource.
func (g *Generator) guardDutyTarget(c *fctx) guardDutyFinding {
	r, f := g.fr, c.f
	gt := &gdTypes[r.IntN(len(gdTypes))]
	dh := hs{mix(c.a.seed ^ uint64(f.region)<<40 ^ 0x6775617264)}
	x := guardDutyFinding{gt: gt, detector: string(appendHex(appendHex(nil, dh.next(), 16), dh.next(), 16)), fid: hex32(g)}
	x.sev10 = gt.sevLo + r.IntN((gt.sevHi-gt.sevLo)/10+1)*10
	x.label = "LOW"
	if x.sev10 >= 70 {
		x.label = "HIGH"
	} else if x.sev10 >= 40 {
		x.label = "MEDIUM"
	}
	x.rs = res{kind: gt.kind, k: r.IntN(kinds[gt.kind].pool), a: c.a, region: c.region}
	return x
}

// guardDuty renders a GuardDuty finding: 30 to 50 flattened ProductFields,
// Network, Action and a resource with details.
func (g *Generator) guardDuty(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	acct, rg := c.a.id, c.region
	gd := g.guardDutyTarget(c)
	gt, detector, fid, sev10, label, rs := gd.gt, gd.detector, gd.fid, gd.sev10, gd.label, gd.rs
	id := "arn:aws:guardduty:" + rg + ":" + acct + ":detector/" + detector + "/finding/" + fid
	pa := productArn(rg, "aws/guardduty")
	geo := &geos[r.IntN(len(geos))]
	ih := hs{r.Uint64()}
	remote, local := publicIP(&ih), privateIP(&ih)
	domain := badDomains[r.IntN(len(badDomains))]
	api := apiCalls[r.IntN(len(apiCalls))]
	sample := r.IntN(100) == 0
	rname := rs.name()
	if gt.kind == kAccessKey {
		rname = "AssumedRole : " + rname
	}
	inbound := strings.Contains(gt.native, "BruteForce") && !strings.Contains(gt.native, "WinRM") || gt.action == "PORT_PROBE"
	remotePort, localPort := int64(pick(&ih, []int{22, 3389, 443, 80, 5985, 9001})), int64(32768+ih.n(28000))
	if inbound {
		localPort, remotePort = int64(pick(&ih, []int{22, 3389, 445, 23, 3306})), int64(32768+ih.n(28000))
	}
	probes := 1 + r.IntN(3)
	portscan := gt.native == "Recon:EC2/Portscan"
	anomalous := strings.Contains(gt.native, "AnomalousBehavior")

	e.open("")
	g.head(e, c, id, pa, "GuardDuty", "Amazon", "arn:aws:guardduty:"+rg+":"+acct+":detector/"+detector)
	e.strs("Types", gt.typ)
	g.times(e, f, tsMilli, false)
	e.open("Severity")
	e.num("Product", float64(sev10)/10)
	e.str("Label", label)
	e.int("Normalized", int64(sev10))
	e.close()
	title := subst(gt.title, rname, remote, domain, api.api)
	if sample {
		title = "[SAMPLE] " + title
	}
	e.str("Title", title)
	e.str("Description", subst(gt.desc, rname, remote, domain, api.api))
	e.cat("SourceUrl", "https://", rg, ".console.aws.amazon.com/guardduty/home?region=", rg, "#/findings?macros=current&fId=", fid)

	e.open("ProductFields")
	const s = "aws/guardduty/service/"
	switch gt.action {
	case "NETWORK_CONNECTION":
		p := s + "action/networkConnectionAction/"
		dir := "OUTBOUND"
		if inbound {
			dir = "INBOUND"
		}
		e.pf(p, "connectionDirection", dir)
		e.pf(p, "protocol", "TCP")
		e.pf(p, "blocked", "false")
		e.pf(p, "localIpDetails/ipAddressV4", local)
		e.pf(p, "localPortDetails/port", strconv.FormatInt(localPort, 10))
		e.pf(p, "localPortDetails/portName", portName(localPort))
		e.pf(p, "remotePortDetails/port", strconv.FormatInt(remotePort, 10))
		e.pf(p, "remotePortDetails/portName", portName(remotePort))
		e.remoteIPFields(p, remote, geo)
	case "PORT_PROBE":
		p := s + "action/portProbeAction/"
		e.pf(p, "blocked", "false")
		for i := range probes {
			q := p + "portProbeDetails/" + strconv.Itoa(i) + "/"
			port := int64(pick(&ih, []int{22, 80, 443, 3389, 445, 23, 8080}))
			e.pf(q, "localPortDetails/port", strconv.FormatInt(port, 10))
			e.pf(q, "localPortDetails/portName", portName(port))
			e.pf(q, "localIpDetails/ipAddressV4", local)
			e.remoteIPFields(q, publicIP(&ih), &geos[ih.n(len(geos))])
		}
	case "AWS_API_CALL":
		p := s + "action/awsApiCallAction/"
		e.pf(p, "api", api.api)
		e.pf(p, "serviceName", api.service)
		e.pf(p, "callerType", "Remote IP")
		e.pf(p, "affectedResources", "")
		e.remoteIPFields(p, remote, geo)
		if anomalous {
			q := s + "additionalInfo/profiledBehavior/"
			for _, k := range []string{"frequentProfiledAPIsAccountProfiling", "frequentProfiledAPIsUserIdentityProfiling", "infrequentProfiledAPIsAccountProfiling", "rareProfiledAPIsAccountProfiling", "rareProfiledAPIsUserIdentityProfiling"} {
				e.pf(q, k, g.apiList(r.IntN(14)))
			}
			for _, k := range []string{"frequentProfiledUserAgentsAccountProfiling", "infrequentProfiledUserAgentsAccountProfiling", "rareProfiledUserAgentsUserIdentityProfiling"} {
				e.pf(q, k, pick(&ih, []string{"AWS Internal , aws-cli , Botocore", "aws-sdk-go-v2 , Terraform", "", "console.amazonaws.com"}))
			}
			for _, k := range []string{"frequentProfiledASNsAccountProfiling", "rareProfiledASNsUserIdentityProfiling", "frequentProfiledUserNamesAccountProfiling", "rareProfiledUserTypesAccountProfiling"} {
				e.pf(q, k, pick(&ih, []string{"asnNumber: 16509 asnOrg: AMAZON-02", "", "ASSUMED_ROLE", strings.Join(users[:4], " , ")}))
			}
			e.pf(s, "additionalInfo/anomalies/anomalousAPIs", api.service+":["+g.apiList(1+r.IntN(5))+"]")
			e.pf(s, "additionalInfo/unusualBehavior/unusualAPIsUserIdentityProfiling", g.apiList(1+r.IntN(4)))
			e.pf(s, "additionalInfo/userAgent/fullUserAgent", "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.kali.2024 prompt/off command/"+strings.ToLower(api.api))
			e.pf(s, "additionalInfo/userAgent/userAgentCategory", "AWS CLI")
		}
	case "DNS_REQUEST":
		p := s + "action/dnsRequestAction/"
		e.pf(p, "domain", domain)
		e.pf(p, "protocol", "UDP")
		e.pf(p, "blocked", "false")
		e.pf(s, "additionalInfo/domain", domain)
		e.pf(s, "evidence/threatIntelligenceDetails/0/threatListName", pick(&ih, []string{"ProofPoint", "CrowdStrike", "Amazon"}))
		e.pf(s, "evidence/threatIntelligenceDetails/0/threatNames", pick(&ih, []string{"Coinminer", "Generic C2", "DGA"}))
	}
	e.pf(s, "serviceName", "guardduty")
	e.pf(s, "detectorId", detector)
	e.pf(s, "action/actionType", gt.action)
	role := "TARGET"
	if !inbound && gt.action == "NETWORK_CONNECTION" || gt.action == "DNS_REQUEST" {
		role = "ACTOR"
	}
	e.pf(s, "resourceRole", role)
	e.pf(s, "archived", strconv.FormatBool(f.archived))
	e.pf(s, "count", strconv.Itoa(int(f.count)))
	e.ts(s+"eventFirstSeen", f.firstObs/1e9*1e9, tsMilli, false)
	e.ts(s+"eventLastSeen", f.lastObs/1e9*1e9, tsMilli, false)
	e.pf(s, "additionalInfo/type", "default")
	if portscan {
		var v strings.Builder
		v.WriteString(`{"portsScannedSample":[`)
		for i := range 20 {
			port := strconv.Itoa(pick(&ih, []int{22, 23, 25, 53, 80, 110, 143, 389, 443, 445, 993, 995, 1433, 1900, 3306, 3389, 5060, 5432, 8080, 8443}))
			e.pf(s, "additionalInfo/portsScannedSample."+strconv.Itoa(i)+"_", port)
			if i > 0 {
				v.WriteByte(',')
			}
			v.WriteString(port)
		}
		v.WriteString("]}")
		e.pf(s, "additionalInfo/value", v.String())
	} else {
		e.pf(s, "additionalInfo/value", `{"sample":`+strconv.FormatBool(sample)+`}`)
	}
	e.shFields(pa, id, "GuardDuty", "Amazon")
	e.close()

	e.openArr("Resources")
	g.resource(e, rs, true)
	switch {
	case gt.kind == kBucket:
		g.resource(e, res{kind: kAccessKey, k: rs.k % kinds[kAccessKey].pool, a: c.a, region: rg}, true)
	case strings.Contains(gt.native, "InstanceCredentialExfiltration"):
		g.resource(e, res{kind: kInstance, k: rs.k % kinds[kInstance].pool, a: c.a, region: rg}, true)
	}
	e.closeArr()

	switch gt.action {
	case "NETWORK_CONNECTION", "PORT_PROBE":
		e.open("Network")
		src, dst, sp, dp := local, remote, localPort, remotePort
		if inbound {
			src, dst, sp, dp = remote, local, remotePort, localPort
			e.str("Direction", "IN")
		} else {
			e.str("Direction", "OUT")
		}
		e.str("Protocol", "TCP")
		e.str("SourceIpV4", src)
		e.int("SourcePort", sp)
		e.str("DestinationIpV4", dst)
		e.int("DestinationPort", dp)
		e.close()
	case "DNS_REQUEST":
		e.open("Network")
		e.str("Direction", "OUT")
		e.str("Protocol", "UDP")
		e.str("SourceIpV4", local)
		e.str("DestinationDomain", domain)
		e.close()
	}
	e.open("Action")
	e.str("ActionType", gt.action)
	switch gt.action {
	case "NETWORK_CONNECTION":
		e.open("NetworkConnectionAction")
		if inbound {
			e.str("ConnectionDirection", "INBOUND")
		} else {
			e.str("ConnectionDirection", "OUTBOUND")
		}
		e.remoteIP(remote, geo)
		e.open("RemotePortDetails")
		e.int("Port", remotePort)
		e.str("PortName", portName(remotePort))
		e.close()
		e.open("LocalPortDetails")
		e.int("Port", localPort)
		e.str("PortName", portName(localPort))
		e.close()
		e.str("Protocol", "TCP")
		e.boolean("Blocked", false)
		e.close()
	case "PORT_PROBE":
		e.open("PortProbeAction")
		e.openArr("PortProbeDetails")
		e.open("")
		e.open("LocalPortDetails")
		e.int("Port", localPort)
		e.str("PortName", portName(localPort))
		e.close()
		e.open("LocalIpDetails")
		e.str("IpAddressV4", local)
		e.close()
		e.remoteIP(remote, geo)
		e.close()
		e.closeArr()
		e.boolean("Blocked", false)
		e.close()
	case "AWS_API_CALL":
		e.open("AwsApiCallAction")
		e.str("Api", api.api)
		e.str("ServiceName", api.service)
		e.str("CallerType", "Remote IP")
		e.remoteIP(remote, geo)
		e.ts("FirstSeen", f.firstObs/1e9*1e9, tsMilli, false)
		e.ts("LastSeen", f.lastObs/1e9*1e9, tsMilli, false)
		e.open("AffectedResources")
		e.close()
		e.close()
	case "DNS_REQUEST":
		e.open("DnsRequestAction")
		e.str("Domain", domain)
		e.str("Protocol", "UDP")
		e.boolean("Blocked", false)
		e.close()
	}
	e.close()
	g.tail(e, f)
	e.providerFields(label, "", gt.typ)
	e.boolean("Sample", sample)
	e.ts("ProcessedAt", f.processed, tsMilli, false)
	e.close()
	return pa, id
}

// inspectorTarget draws what an Inspector finding is about, for both feeds:
// the vulnerability and its package, the EC2 instance, ECR image or Lambda
// function, and the finding's id.
func (g *Generator) inspectorTarget(c *fctx) (*vuln, *pkg, res, string) {
	r := g.fr
	v := &g.vulns[skewed(r, len(g.vulns))]
	p := &pkgs[v.pkg]
	osPkg := p.manager == "OS"
	kind := kECRImage
	switch x := r.IntN(100); {
	case osPkg && x < 60, !osPkg && x < 25:
		kind = kInstance
	case !osPkg && x < 35:
		kind = kLambda
	}
	rs := res{kind: kind, k: r.IntN(kinds[kind].pool), a: c.a, region: c.region}
	return v, p, rs, hex32(g)
}

// inspectorTitle is Inspector's title: the CVE and the packages it names.
func inspectorTitle(v *vuln, names []string) string {
	title := v.id + " - " + names[0]
	if len(names) > 1 {
		title += ", " + names[1]
	}
	if len(names) > 2 {
		title += " and " + strconv.Itoa(len(names)-2) + " more"
	}
	return title
}

// inspector renders an Inspector (v2) package vulnerability finding for an
// EC2 instance, an ECR image or a Lambda function. With the CVE's reference
// URLs and several vulnerable packages these are the corpus's big findings.
func (g *Generator) inspector(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	v, p, rs, fid := g.inspectorTarget(c)
	osPkg, kind := p.manager == "OS", rs.kind
	id := "arn:aws:inspector2:" + c.region + ":" + c.a.id + ":finding/" + fid
	pa := productArn(c.region, "aws/inspector")
	var names []string
	if osPkg {
		names = p.subs[:1+skewed(r, len(p.subs))]
	} else {
		n := 1 + skewed(r, 4)
		if kind == kECRImage && r.IntN(6) == 0 {
			n = 3 + r.IntN(10)
		}
		names = make([]string, n)
		for i := range names {
			names[i] = p.name
		}
	}
	arch := pick(&hs{r.Uint64()}, []string{"X86_64", "X86_64", "AARCH64"})
	layers := make([]uint64, len(names))
	for i := range layers {
		layers[i] = r.Uint64()
	}
	cvss2 := r.IntN(2) == 0
	platform := pick(&hs{r.Uint64()}, []string{"AMAZON_LINUX_2", "AMAZON_LINUX_2023", "UBUNTU_22_04", "DEBIAN_12", "ALPINE_3_19", "RHEL_9"})

	e.open("")
	g.head(e, c, id, pa, "Inspector", "Amazon", "AWSInspector")
	e.strs("Types", "Software and Configuration Checks/Vulnerabilities/CVE")
	g.times(e, f, tsSec, false)
	e.severity(v.sev, normFor(v.sev), "")
	e.str("Title", inspectorTitle(v, names))
	e.str("Description", v.desc)
	if v.fix == "NO" {
		e.remediation("None Provided", "")
	} else {
		e.remediation("Remediation is available. Please refer to the Fixed version in the vulnerability details section above.For detailed remediation guidance for each of the affected packages, refer to the vulnerabilities section of the detailed finding JSON.", "")
	}
	e.open("ProductFields")
	e.str("aws/inspector/ProductVersion", "2")
	if f.archived {
		e.str("aws/inspector/FindingStatus", "CLOSED")
	} else {
		e.str("aws/inspector/FindingStatus", "ACTIVE")
	}
	e.str("aws/inspector/inspectorScore", strconv.FormatFloat(v.score, 'f', 1, 64))
	switch kind {
	case kInstance:
		e.str("aws/inspector/resources/1/resourceDetails/awsEc2InstanceDetails/platform", platform)
		e.str("aws/inspector/instanceId", rs.name())
	case kECRImage:
		e.str("aws/inspector/resources/1/resourceDetails/awsEcrContainerImageDetails/platform", platform)
		e.key("aws/inspector/packageVulnerabilityDetails/vulnerablePackages/sourceLayerHashes")
		e.b = append(e.b, '"')
		for i, l := range layers {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = appendLayer(e.b, l)
		}
		e.b = append(e.b, '"')
		e.more = true
	case kLambda:
		e.str("aws/inspector/resources/1/resourceDetails/awsLambdaFunctionDetails/functionName", rs.name())
	}
	e.shFields(pa, id, "Inspector", "Amazon")
	e.close()
	e.openArr("Resources")
	g.resource(e, rs, true)
	e.closeArr()
	g.tail(e, f)
	e.openArr("Vulnerabilities")
	e.open("")
	e.str("Id", v.id)
	e.openArr("VulnerablePackages")
	for i, n := range names {
		e.open("")
		e.str("Name", n)
		if osPkg {
			e.str("Version", v.version)
			e.str("Epoch", "0")
			e.str("Release", v.release)
			e.str("Architecture", arch)
			e.str("PackageManager", "OS")
			if v.fix == "NO" {
				e.str("FixedInVersion", "NotAvailable")
			} else {
				e.cat("FixedInVersion", "0:", v.fixed, "-", v.release)
			}
			e.cat("Remediation", p.fixes, n)
		} else {
			ver := v.version
			if i > 0 {
				ver = v.version[:strings.LastIndexByte(v.version, '.')+1] + strconv.Itoa(i)
			}
			e.str("Version", ver)
			e.str("Epoch", "0")
			e.str("PackageManager", p.manager)
			path := strings.Replace(p.path, "%v", ver, 1)
			if i > 0 && !strings.Contains(p.path, "%v") {
				path = "srv/app" + strconv.Itoa(i) + "/" + path
			}
			e.str("FilePath", path)
			e.str("FixedInVersion", v.fixed)
			short := n[strings.LastIndexByte(n, ':')+1:]
			e.cat("Remediation", "Update ", short, " to ", v.fixed)
		}
		if kind == kECRImage {
			e.key("SourceLayerHash")
			e.b = append(e.b, '"')
			e.b = appendLayer(e.b, layers[i])
			e.b = append(e.b, '"')
			e.more = true
		}
		e.close()
	}
	e.closeArr()
	e.openArr("Cvss")
	e.open("")
	e.str("Version", "3.1")
	e.num("BaseScore", v.score)
	e.cat("BaseVector", "CVSS:3.1/", v.vector)
	e.str("Source", "NVD")
	e.close()
	if v.vendor != "NVD" {
		e.open("")
		e.str("Version", "3.1")
		e.num("BaseScore", v.score)
		e.cat("BaseVector", "CVSS:3.1/", v.vector)
		e.str("Source", v.vendor)
		e.openArr("Adjustments")
		e.closeArr()
		e.close()
	}
	if cvss2 && v.v2vector != "" {
		e.open("")
		e.str("Version", "2.0")
		e.num("BaseScore", v.v2score)
		e.str("BaseVector", v.v2vector)
		e.str("Source", "NVD")
		e.close()
	}
	e.closeArr()
	e.open("Vendor")
	e.str("Name", v.vendor)
	e.str("Url", v.refs[0])
	e.str("VendorSeverity", v.sev)
	e.ts("VendorCreatedAt", v.vendorCreated, tsSec, false)
	e.ts("VendorUpdatedAt", v.vendorUpdated, tsSec, false)
	e.close()
	e.strs("ReferenceUrls", v.refs...)
	if len(v.related) > 0 {
		e.strs("RelatedVulnerabilities", v.related...)
	}
	e.str("FixAvailable", v.fix)
	e.str("ExploitAvailable", v.exploit)
	e.num("EpssScore", v.epss)
	e.close()
	e.closeArr()
	e.providerFields(v.sev, "", "Software and Configuration Checks/Vulnerabilities/CVE")
	e.ts("ProcessedAt", f.processed, tsMilli, false)
	e.close()
	return pa, id
}

func appendLayer(b []byte, x uint64) []byte {
	b = append(b, "sha256:"...)
	for i := range uint64(4) {
		b = appendHex(b, mix(x+i), 16)
	}
	return b
}

// config renders an AWS Config rule evaluation.
func (g *Generator) config(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	rule := &configRules[r.IntN(len(configRules))]
	rh := hs{mix(c.a.seed ^ uint64(len(rule.name))<<20 ^ uint64(f.region))}
	ruleID := "config-rule-" + strings.ToLower(accessKeyID(&rh, "")[:6])
	ruleArn := "arn:aws:config:" + c.region + ":" + c.a.id + ":config-rule/" + ruleID
	id := ruleArn + "/finding/" + string(appendHex(appendHex(appendHex(nil, r.Uint64(), 16), r.Uint64(), 16), r.Uint64(), 8))
	pa := productArn(c.region, "aws/config")
	rs := res{kind: rule.kind, k: r.IntN(kinds[rule.kind].pool), a: c.a, region: c.region}
	two := r.IntN(6) == 0
	label, norm := rule.sev, normFor(rule.sev)
	if f.compliance == stPassed {
		label, norm = "INFORMATIONAL", 0
	}
	e.open("")
	g.head(e, c, id, pa, "Config", "AWS", ruleArn)
	e.strs("Types", "Software and Configuration Checks")
	e.ts("CreatedAt", f.created, tsMilli, false)
	e.ts("UpdatedAt", f.updated, tsMilli, false)
	e.severity(label, norm, "")
	e.str("Title", rule.name)
	e.cat("Description", "This finding is created for a resource compliance change for config rule: ", rule.name)
	e.open("ProductFields")
	e.shFields(pa, id, "Config", "AWS")
	e.str("aws/config/ConfigRuleArn", ruleArn)
	e.str("aws/config/ConfigRuleName", rule.name)
	if f.compliance == stPassed {
		e.str("aws/config/ConfigComplianceType", "COMPLIANT")
	} else {
		e.str("aws/config/ConfigComplianceType", "NON_COMPLIANT")
	}
	e.close()
	e.openArr("Resources")
	g.resource(e, rs, true)
	if two {
		g.resource(e, res{kind: rule.kind, k: (rs.k + 1) % kinds[rule.kind].pool, a: c.a, region: c.region}, true)
	}
	e.closeArr()
	e.open("Compliance")
	e.str("Status", complianceStatus[f.compliance])
	e.close()
	g.tail(e, f)
	e.providerFields(label, "", "Software and Configuration Checks")
	e.ts("ProcessedAt", f.processed, tsMilli, false)
	e.close()
	return pa, id
}

// prowler renders a Prowler finding: Types sometimes empty or outside the
// ASFF namespaces, compliance INFOED now and then, second-precision times
// that carry the scanning machine's offset.
func (g *Generator) prowler(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	ck := &prowlerChecks[r.IntN(len(prowlerChecks))]
	rs := res{kind: ck.kind, k: r.IntN(kinds[ck.kind].pool), a: c.a, region: c.region}
	version := pick(&hs{r.Uint64()}, []string{"3.3.0", "3.11.3", "4.2.4", "4.5.0"})
	nreq := skewed(r, 16)
	reqStart := r.IntN(len(prowlerRequirements))
	local := c.a.local
	id := "prowler-" + ck.id + "-" + c.a.id + "-" + c.region + "-" + string(appendHex(nil, r.Uint64(), 9))
	pa := productArn(c.region, "prowler/prowler")
	label := strings.ToUpper(ck.sev)
	e.open("")
	e.str("SchemaVersion", "2018-10-08")
	if !c.noID {
		e.str("Id", id)
	}
	e.str("ProductArn", pa)
	e.str("RecordState", recordState(f))
	e.open("ProductFields")
	e.str("ProviderName", "Prowler")
	e.str("ProviderVersion", version)
	e.str("ProwlerResourceName", rs.arn())
	e.shFields(pa, id, "Prowler", "Prowler")
	e.close()
	e.str("GeneratorId", "prowler-"+ck.id)
	e.str("AwsAccountId", c.a.id)
	if ck.types == "" {
		e.strs("Types")
	} else {
		e.strs("Types", ck.types)
	}
	e.ts("FirstObservedAt", f.firstObs, tsSec, local)
	e.ts("UpdatedAt", f.updated, tsSec, local)
	e.ts("CreatedAt", f.created, tsSec, local)
	e.open("Severity")
	e.str("Label", label)
	e.close()
	e.str("Title", ck.title)
	e.cat("Description", ck.title, " Resource: ", rs.name(), ".")
	e.openArr("Resources")
	g.resource(e, rs, false)
	e.closeArr()
	e.open("Compliance")
	e.str("Status", complianceStatus[f.compliance])
	e.openArr("RelatedRequirements")
	for i := range nreq {
		e.key("")
		e.b = appendQuoted(e.b, prowlerRequirements[(reqStart+i)%len(prowlerRequirements)])
		e.more = true
	}
	e.closeArr()
	e.openArr("AssociatedStandards")
	for i := range nreq {
		req := prowlerRequirements[(reqStart+i)%len(prowlerRequirements)]
		e.open("")
		e.str("StandardsId", req[:strings.IndexByte(req, ' ')])
		e.close()
	}
	e.closeArr()
	e.close()
	e.remediation(ck.remedy, "https://hub.prowler.com/check/"+ck.id)
	e.open("Workflow")
	e.str("Status", workflowStatus[f.workflow])
	e.close()
	g.annotations(e, f)
	e.ts("ProcessedAt", f.processed, tsMilli, false)
	e.close()
	return pa, id
}

// accessAnalyzer renders an IAM Access Analyzer finding: external access to
// a bucket, role or key, or an unused role.
func (g *Generator) accessAnalyzer(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	kind := []rkind{kBucket, kBucket, kRole, kKMS}[r.IntN(4)]
	unused := r.IntN(5) == 0
	if unused {
		kind = kRole
	}
	rs := res{kind: kind, k: r.IntN(kinds[kind].pool), a: c.a, region: c.region}
	external := g.accounts[r.IntN(len(g.accounts))].id
	if r.IntN(3) == 0 {
		external = strconv.FormatUint(100000000000+r.Uint64N(900000000000), 10)
	}
	analyzer := pick(&hs{r.Uint64()}, []string{"ConsoleAnalyzer-" + string(appendHex(nil, c.a.seed, 8)), "org-analyzer", "unused-access-analyzer"})
	detailID := string(appendUUID(nil, r.Uint64(), r.Uint64()))
	arn := rs.arn()
	id := "arn:aws:access-analyzer:" + c.region + ":" + c.a.id + ":analyzer/" + analyzer + "/" + arn
	pa := productArn(c.region, "aws/access-analyzer")
	typ := "Software and Configuration Checks/AWS Security Best Practices/External Access Granted"
	sev := []string{"LOW", "MEDIUM", "HIGH"}[r.IntN(3)]
	actions := pick(&hs{r.Uint64()}, []string{"s3:GetObject,s3:GetObjectVersion", "sts:AssumeRole", "kms:Decrypt,kms:DescribeKey", "s3:ListBucket,s3:GetObject,s3:PutObject"})
	if unused {
		typ = "Software and Configuration Checks/AWS Security Best Practices/Unused IAM Role"
	}
	e.open("")
	g.head(e, c, id, pa, "IAM Access Analyzer", "AWS", "aws/access-analyzer")
	e.strs("Types", typ)
	e.ts("CreatedAt", f.created/1e9*1e9, tsSec, false)
	e.ts("UpdatedAt", f.updated/1e9*1e9, tsSec, false)
	e.open("Severity")
	e.int("Product", normFor(sev))
	e.str("Label", sev)
	e.int("Normalized", normFor(sev))
	e.close()
	t := kinds[kind].typ
	if unused {
		e.cat("Title", t, "/", arn, " has unused access")
		e.cat("Description", "The role ", rs.name(), " has not been used in the last 90 days.")
		e.remediation("Review the role and delete it if it is no longer needed, or archive the finding.", "")
	} else {
		e.cat("Title", t, "/", arn, "/ allows cross-account access")
		e.cat("Description", t, "/", arn, "/ allows cross-account access from AWS ", external)
		e.remediation("If the access isn't intended, it indicates a potential security risk. Use the console for the resource to modify or remove the policy that grants the unintended access. You can use the Rescan button on the Finding details page in the Access Analyzer console to confirm whether the change removed the access. If the access is removed, the status changes to Resolved.", "")
	}
	e.cat("SourceUrl", "https://console.aws.amazon.com/access-analyzer/home?region=", c.region, "#/findings/details/", detailID)
	e.open("ProductFields")
	e.shFields(pa, id, "IAM Access Analyzer", "AWS")
	e.close()
	e.openArr("Resources")
	e.open("")
	e.str("Type", t)
	e.str("Id", arn)
	e.str("Partition", "aws")
	e.str("Region", c.region)
	e.open("Details")
	e.open("Other")
	if unused {
		e.str("Last Accessed", "never")
	} else {
		e.str("External Principal Type", "AWS")
		e.str("Condition", "none")
		e.str("Action Granted", actions)
		e.str("External Principal", external)
	}
	e.close()
	e.close()
	e.close()
	e.closeArr()
	g.tail(e, f)
	e.ts("ProcessedAt", f.processed, tsMilli, false)
	e.close()
	return pa, id
}

// macie renders a Macie finding: sensitive data in an S3 object, or a bucket
// policy finding.
func (g *Generator) macie(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	mt := &macieTypes[r.IntN(len(macieTypes))]
	sensitive := strings.HasPrefix(mt.typ, "Sensitive")
	bucket := res{kind: kBucket, k: r.IntN(kinds[kBucket].pool), a: c.a, region: c.region}
	object := res{kind: kS3Object, k: bucket.k + kinds[kBucket].pool*r.IntN(10), a: c.a, region: c.region}
	id := "arn:aws:macie2:" + c.region + ":" + c.a.id + ":finding/" + hex32(g)
	pa := productArn(c.region, "aws/macie")
	job := hex32(g)
	sev := []string{"HIGH", "MEDIUM", "LOW"}[r.IntN(3)]
	ndet := 1 + r.IntN(3)
	dets := make([]string, ndet)
	counts := make([]int, ndet)
	for i := range dets {
		dets[i] = macieDetections[r.IntN(len(macieDetections))]
		counts[i] = 1 + skewed(r, 5000)
	}
	e.open("")
	g.head(e, c, id, pa, "Macie", "Amazon", "aws/macie")
	e.strs("Types", mt.typ)
	g.times(e, f, tsMilli, false)
	e.severity(sev, normFor(sev), "")
	e.str("Title", mt.title)
	e.str("Description", mt.desc)
	e.open("ProductFields")
	if sensitive {
		e.cat("JobArn", "arn:aws:macie2:", c.region, ":", c.a.id, ":classification-job/", job)
		e.str("JobId", job)
		e.str("OriginType", "SENSITIVE_DATA_DISCOVERY_JOB")
		e.str("S3Object.Path", object.arn()[len("arn:aws:s3:::"):])
		name := object.name()
		e.str("S3Object.Extension", name[strings.LastIndexByte(name, '.')+1:])
		e.str("S3Object.PublicAccess", "false")
		e.str("S3Object.StorageClass", "STANDARD")
		e.str("RevealCapable", "true")
		total := 0
		for i, d := range dets {
			p := "sensitiveData/0/detections/" + strconv.Itoa(i) + "/"
			e.pf(p, "type", d)
			e.pf(p, "count", strconv.Itoa(counts[i]))
			total += counts[i]
		}
		e.str("sensitiveData/0/category", "PERSONAL_INFORMATION")
		e.str("sensitiveData/0/totalCount", strconv.Itoa(total))
	} else {
		e.str("S3Bucket.effectivePermission", "PUBLIC")
		e.str("S3Bucket.allowsUnencryptedObjectUploads", "TRUE")
	}
	e.shFields(pa, id, "Macie", "Amazon")
	e.close()
	e.openArr("Resources")
	g.resource(e, bucket, true)
	if sensitive {
		g.resource(e, object, true)
	}
	e.closeArr()
	g.tail(e, f)
	e.providerFields(sev, "", mt.typ)
	e.boolean("Sample", false)
	e.ts("ProcessedAt", f.processed, tsMilli, false)
	e.close()
	return pa, id
}

// trivy renders a Trivy container image vulnerability imported with Trivy's
// ASFF template: nanosecond timestamps, a Container resource, the CVE
// details in Details.Other.
// trivyHead opens a finding of Trivy's ASFF template and writes its members
// up to Severity.
func trivyHead(e *enc, c *fctx, id, pa, generator, typ, label string) {
	e.open("")
	e.str("SchemaVersion", "2018-10-08")
	if !c.noID {
		e.str("Id", id)
	}
	e.str("ProductArn", pa)
	e.str("GeneratorId", generator)
	e.str("AwsAccountId", c.a.id)
	e.strs("Types", typ)
	e.ts("CreatedAt", c.f.created, tsNano, c.a.local)
	e.ts("UpdatedAt", c.f.updated, tsNano, c.a.local)
	e.open("Severity")
	e.str("Label", label)
	e.close()
}

func (g *Generator) trivy(e *enc, c *fctx) (string, string) {
	r, f := g.fr, c.f
	v := &g.vulns[skewed(r, len(g.vulns))]
	p := &pkgs[v.pkg]
	img := res{kind: kContainer, k: r.IntN(kinds[kContainer].pool), a: c.a, region: c.region}
	osName := pick(&hs{r.Uint64()}, []string{"debian 12.5", "alpine 3.19.1", "ubuntu 22.04", "amazon 2023"})
	target := img.arn() + " (" + osName + ")"
	id := target + "/" + v.id
	pa := productArn(c.region, "aquasecurity/aquasecurity")
	desc := v.desc
	if len(desc) > 1021 {
		desc = desc[:1021] + ".."
	}
	trivyHead(e, c, id, pa, "Trivy/"+v.id, "Software and Configuration Checks/Vulnerabilities/CVE", v.sev)
	e.cat("Title", "Trivy found a vulnerability to ", v.id, " in container ", target)
	e.str("Description", desc)
	e.remediation("More information on this vulnerability is provided in the hyperlink", v.refs[0])
	e.open("ProductFields")
	e.str("Product Name", "Trivy")
	e.close()
	e.openArr("Resources")
	e.open("")
	e.str("Type", "Container")
	e.str("Id", target)
	e.str("Partition", "aws")
	e.str("Region", c.region)
	e.open("Details")
	e.open("Container")
	e.str("ImageName", target)
	e.close()
	e.open("Other")
	e.str("CVE ID", v.id)
	e.str("CVE Title", v.desc[:min(len(v.desc), 80)])
	e.str("PkgName", p.name)
	e.str("Installed Package", v.version)
	e.str("Patched Package", v.fixed)
	e.str("NvdCvssScoreV3", strconv.FormatFloat(v.score, 'f', -1, 64))
	e.cat("NvdCvssVectorV3", "CVSS:3.1/", v.vector)
	if v.v2vector != "" {
		e.str("NvdCvssScoreV2", strconv.FormatFloat(v.v2score, 'f', -1, 64))
		e.str("NvdCvssVectorV2", v.v2vector)
	} else {
		e.str("NvdCvssScoreV2", "0")
		e.str("NvdCvssVectorV2", "")
	}
	e.close()
	e.close()
	e.close()
	e.closeArr()
	e.str("RecordState", recordState(f))
	e.open("Workflow")
	e.str("Status", workflowStatus[f.workflow])
	e.close()
	g.annotations(e, f)
	e.ts("ProcessedAt", f.processed, tsMilli, false)
	e.close()
	return pa, id
}

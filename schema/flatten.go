package schema

import (
	"cmp"
	"strings"
	"time"
)

// flatten maps a decoded ASFF finding onto a findings row. raw is the
// finding's exact input bytes; updated is its parsed UpdatedAt. The envelope
// columns are filled by the caller.
func flatten(f *asffFinding, raw []byte, updated time.Time) Finding {
	row := Finding{
		ID:                            f.ID,
		ProductARN:                    f.ProductArn,
		ProductName:                   f.ProductName,
		CompanyName:                   f.CompanyName,
		GeneratorID:                   f.GeneratorID,
		AwsAccountID:                  string(f.AwsAccountID),
		Region:                        f.Region,
		SchemaVersion:                 f.SchemaVersion,
		Types:                         f.Types,
		CreatedAt:                     f.CreatedAt.T,
		UpdatedAt:                     updated,
		FirstObservedAt:               f.FirstObservedAt.T,
		LastObservedAt:                f.LastObservedAt.T,
		ProcessedAt:                   f.ProcessedAt.T,
		SeverityLabel:                 f.Severity.Label,
		SeverityNormalized:            f.Severity.Normalized.Ptr32(),
		SeverityOriginal:              string(f.Severity.Original),
		Title:                         f.Title,
		Description:                   f.Description,
		RecordState:                   f.RecordState,
		WorkflowStatus:                f.Workflow.Status,
		ComplianceStatus:              f.Compliance.Status,
		ComplianceSecurityControlID:   f.Compliance.SecurityControlID,
		ComplianceRelatedRequirements: f.Compliance.RelatedRequirements,
		RemediationText:               f.Remediation.Recommendation.Text,
		RemediationURL:                f.Remediation.Recommendation.URL,
		ProductFields:                 f.ProductFields,
		UserDefinedFields:             f.UserDefinedFields,
		Confidence:                    f.Confidence.Ptr32(),
		Criticality:                   f.Criticality.Ptr32(),
		VerificationState:             f.VerificationState,
		SourceURL:                     f.SourceURL,
		Sample:                        f.Sample.Ptr(),
		RawFinding:                    bytesToString(raw),
	}
	if row.ProductName == "" {
		row.ProductName = f.ProductFields["aws/securityhub/ProductName"]
	}
	if row.CompanyName == "" {
		row.CompanyName = f.ProductFields["aws/securityhub/CompanyName"]
	}
	if row.ProductName == "" || row.CompanyName == "" || row.Region == "" {
		// A BatchImportFindings input (Trivy's, Cloud Custodian's) before
		// Security Hub enriched it, or a finding from before Region
		// existed: the product ARN names the region the finding was
		// imported in and the product's company and product ids.
		if a, ok := parseSecurityHubARN(f.ProductArn); ok {
			company, product, _ := productOf(a.resource)
			row.ProductName = cmp.Or(row.ProductName, product)
			row.CompanyName = cmp.Or(row.CompanyName, company)
			row.Region = cmp.Or(row.Region, a.region)
		}
	}
	if row.SeverityLabel == "" && f.Severity.Normalized.Valid {
		row.SeverityLabel = SeverityLabel(f.Severity.Normalized.V)
	}
	if p := f.ProviderFields; p != nil {
		// What Security Hub does on import: a top-level field the provider
		// left out takes its FindingProviderFields value (BatchImportFindings
		// input often has Severity and Types there only).
		if row.SeverityLabel == "" && !f.Severity.Normalized.Valid {
			row.SeverityLabel = p.Severity.Label
			if row.SeverityLabel == "" && p.Severity.Normalized.Valid {
				row.SeverityLabel = SeverityLabel(p.Severity.Normalized.V)
			}
		}
		if row.SeverityNormalized == nil {
			row.SeverityNormalized = p.Severity.Normalized.Ptr32()
		}
		if row.SeverityOriginal == "" {
			row.SeverityOriginal = string(p.Severity.Original)
		}
		if len(row.Types) == 0 {
			row.Types = p.Types
		}
		if row.Confidence == nil {
			row.Confidence = p.Confidence.Ptr32()
		}
		if row.Criticality == nil {
			row.Criticality = p.Criticality.Ptr32()
		}
	}
	if row.WorkflowStatus == "" {
		// Findings from before Workflow existed (2018–2020) carry only the
		// deprecated WorkflowState, kept as sent (its values differ).
		row.WorkflowStatus = f.WorkflowState
	}
	if row.ComplianceSecurityControlID == "" {
		// A legacy per-standard control finding (before consolidated
		// control findings, February 2023) names its control in
		// ProductFields: ControlId (FSBP, PCI DSS), RuleId (CIS 1.2, whose
		// rule numbers are the standard's own).
		row.ComplianceSecurityControlID = cmp.Or(f.ProductFields["ControlId"], f.ProductFields["RuleId"])
	}

	if n := len(f.Resources); n > 0 {
		first := &f.Resources[0]
		row.ResourceType, row.ResourceID, row.ResourceRegion = first.Type, first.ID, first.Region
		row.ResourceTypes = make([]string, n)
		row.ResourceIDs = make([]string, n)
		row.Resources = make([]Resource, n)
		for i := range f.Resources {
			r := &f.Resources[i]
			row.ResourceTypes[i] = r.Type
			row.ResourceIDs[i] = r.ID
			row.Resources[i] = Resource{
				Type:        r.Type,
				ID:          r.ID,
				Partition:   r.Partition,
				Region:      r.Region,
				Tags:        r.Tags,
				DetailsJSON: detailsText(r.Details),
			}
		}
	}

	if f.Note != nil {
		row.NoteText, row.NoteUpdatedBy = f.Note.Text, f.Note.UpdatedBy
		row.NoteUpdatedAt = f.Note.UpdatedAt.T
	}
	if n := len(f.Compliance.StatusReasons); n > 0 {
		row.ComplianceStatusReasons = make([]StatusReason, n)
		for i, r := range f.Compliance.StatusReasons {
			row.ComplianceStatusReasons[i] = StatusReason(r)
		}
	}
	if n := len(f.Compliance.AssociatedStandards); n > 0 {
		row.ComplianceStandards = make([]string, n)
		for i, s := range f.Compliance.AssociatedStandards {
			row.ComplianceStandards[i] = s.StandardsID
		}
	} else if id := legacyStandard(f.ProductFields); id != "" {
		row.ComplianceStandards = []string{id}
	}
	if n := f.Network; n != nil {
		row.Network = &Network{
			Direction:         n.Direction,
			Protocol:          n.Protocol,
			SourceIPV4:        n.SourceIPV4,
			SourceIPV6:        n.SourceIPV6,
			SourcePort:        n.SourcePort.Ptr32(),
			SourceDomain:      n.SourceDomain,
			DestinationIPV4:   n.DestinationIPV4,
			DestinationIPV6:   n.DestinationIPV6,
			DestinationPort:   n.DestinationPort.Ptr32(),
			DestinationDomain: n.DestinationDomain,
		}
	}
	if p := f.Process; p != nil {
		row.Process = &Process{
			Name:         p.Name,
			Path:         p.Path,
			Pid:          p.Pid.Ptr32(),
			ParentPid:    p.ParentPid.Ptr32(),
			LaunchedAt:   p.LaunchedAt.ptr(),
			TerminatedAt: p.TerminatedAt.ptr(),
		}
	}
	if n := len(f.Malware); n > 0 {
		row.Malware = make([]Malware, n)
		for i, m := range f.Malware {
			row.Malware[i] = Malware(m)
		}
	}
	if n := len(f.Vulnerabilities); n > 0 {
		row.Vulnerabilities = make([]Vulnerability, n)
		for i := range f.Vulnerabilities {
			row.Vulnerabilities[i] = flattenVuln(&f.Vulnerabilities[i])
		}
	}
	if n := len(f.Threats); n > 0 {
		row.Threats = make([]Threat, n)
		for i, t := range f.Threats {
			row.Threats[i] = Threat{Name: t.Name, Severity: t.Severity, ItemCount: t.ItemCount.Ptr32()}
		}
	}
	if n := len(f.ThreatIntel); n > 0 {
		row.ThreatIntelIndicators = make([]Indicator, n)
		for i, t := range f.ThreatIntel {
			row.ThreatIntelIndicators[i] = Indicator{
				Type: t.Type, Value: t.Value, Category: t.Category, Source: t.Source,
				SourceURL: t.SourceURL, LastObservedAt: t.LastObservedAt.ptr(),
			}
		}
	}
	row.RelatedFindings = related(f.RelatedFindings)
	if len(row.RelatedFindings) == 0 && f.ProviderFields != nil {
		row.RelatedFindings = related(f.ProviderFields.RelatedFindings)
	}
	if p := f.ProviderFields; p != nil {
		row.FindingProviderFields = &ProviderFields{
			Confidence:       p.Confidence.Ptr32(),
			Criticality:      p.Criticality.Ptr32(),
			SeverityLabel:    p.Severity.Label,
			SeverityOriginal: string(p.Severity.Original),
			Types:            p.Types,
			RelatedFindings:  related(p.RelatedFindings),
		}
	}
	return row
}

func flattenVuln(v *asffVuln) Vulnerability {
	out := Vulnerability{
		ID:                     v.ID,
		VendorName:             v.Vendor.Name,
		VendorURL:              v.Vendor.URL,
		VendorSeverity:         v.Vendor.VendorSeverity,
		VendorCreatedAt:        v.Vendor.VendorCreatedAt.ptr(),
		VendorUpdatedAt:        v.Vendor.VendorUpdatedAt.ptr(),
		FixAvailable:           v.FixAvailable,
		ExploitAvailable:       v.ExploitAvailable,
		EpssScore:              v.EpssScore.Ptr(),
		ReferenceURLs:          v.ReferenceUrls,
		RelatedVulnerabilities: v.RelatedVulnerabilities,
	}
	if n := len(v.Cvss); n > 0 {
		out.Cvss = make([]Cvss, n)
		for i, c := range v.Cvss {
			out.Cvss[i] = Cvss{Version: c.Version, BaseScore: c.BaseScore.Ptr(), BaseVector: c.BaseVector, Source: c.Source}
		}
	}
	if n := len(v.VulnerablePackages); n > 0 {
		out.VulnerablePackages = make([]Package, n)
		for i, p := range v.VulnerablePackages {
			out.VulnerablePackages[i] = Package(p)
		}
	}
	return out
}

func related(in []asffRelated) []Related {
	if len(in) == 0 {
		return nil
	}
	out := make([]Related, len(in))
	for i, r := range in {
		out[i] = Related{ProductARN: r.ProductArn, ID: r.ID}
	}
	return out
}

// detailsText returns a resource's Details as JSON text, "" when absent.
func detailsText(b RawJSON) string {
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	return bytesToString(b)
}

// SeverityLabel maps Severity.Normalized to its label by the bands the ASFF
// documentation gives: 0 INFORMATIONAL, 1–39 LOW, 40–69 MEDIUM, 70–89 HIGH,
// 90–100 CRITICAL. Values outside 0–100 have no label.
func SeverityLabel(n int64) string {
	switch {
	case n < 0 || n > 100:
		return ""
	case n == 0:
		return "INFORMATIONAL"
	case n < 40:
		return "LOW"
	case n < 70:
		return "MEDIUM"
	case n < 90:
		return "HIGH"
	default:
		return "CRITICAL"
	}
}

// legacyStandard is the standard of a legacy per-standard control finding,
// as Compliance.AssociatedStandards names standards: the resource part of
// ProductFields' StandardsArn (FSBP, PCI DSS) or StandardsGuideArn (CIS
// 1.2), e.g. "standards/aws-foundational-security-best-practices/v/1.0.0"
// or "ruleset/cis-aws-foundations-benchmark/v/1.2.0"; "" when neither is an
// ARN of Security Hub.
func legacyStandard(pf map[string]string) string {
	a, _ := parseSecurityHubARN(cmp.Or(pf["StandardsArn"], pf["StandardsGuideArn"]))
	return a.resource
}

// securityHubARN is the parts of a Security Hub ARN hublake reads.
type securityHubARN struct {
	partition, region, account, resource string
}

// parseSecurityHubARN splits arn:<partition>:securityhub:<region>:<account>:
// <resource> (any partition: aws, aws-cn, aws-us-gov, ...; region and
// account may be empty). It also reads the spelling with an empty service
// and the service where the region belongs, arn:aws::securityhub:<region>::
// <resource>, which AWS's documentation printed for a while and copied
// samples carry. false when s is neither, or names no resource.
func parseSecurityHubARN(s string) (securityHubARN, bool) {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return securityHubARN{}, false
	}
	partition, rest, ok := strings.Cut(rest, ":")
	if !ok || partition == "" {
		return securityHubARN{}, false
	}
	if r, ok := strings.CutPrefix(rest, "securityhub:"); ok {
		rest = r
	} else if r, ok := strings.CutPrefix(rest, ":securityhub:"); ok {
		rest = r
	} else {
		return securityHubARN{}, false
	}
	region, rest, ok1 := strings.Cut(rest, ":")
	account, resource, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || resource == "" {
		return securityHubARN{}, false
	}
	return securityHubARN{partition: partition, region: region, account: account, resource: resource}, true
}

// productOf reads a product ARN's resource, product/<company id>/<product
// id> (product/aquasecurity/aquasecurity, product/aws/guardduty,
// product/<account>/default for a custom integration); false for any other
// resource.
func productOf(resource string) (company, product string, ok bool) {
	rest, ok := strings.CutPrefix(resource, "product/")
	if !ok {
		return "", "", false
	}
	company, product, ok = strings.Cut(rest, "/")
	if !ok || company == "" || product == "" || strings.Contains(product, "/") {
		return "", "", false
	}
	return company, product, true
}

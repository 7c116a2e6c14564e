package schema

import (
	"cmp"
	"time"
)

// flattenOCSF maps a decoded OCSF finding onto an ocsf_findings row. raw is
// the finding's exact input bytes; at and modified are its time and
// finding_info.modified_time, already read. The envelope columns are filled
// by the caller.
func flattenOCSF(f *ocsfFinding, raw []byte, at, modified time.Time) OCSFFinding {
	fi, md := f.info(), &f.Metadata
	row := OCSFFinding{
		MetadataUID:            string(md.UID),
		FindingUID:             string(fi.UID),
		ProductUID:             string(md.Product.UID),
		ProductName:            md.Product.Name,
		VendorName:             md.Product.VendorName,
		ProductFeature:         cmp.Or(md.Product.Feature.Name, string(md.Product.Feature.UID)),
		OCSFVersion:            md.Version,
		Profiles:               md.Profiles,
		ClassUID:               f.ClassUID.Ptr32(),
		CategoryUID:            f.CategoryUID.Ptr32(),
		ActivityID:             f.ActivityID.Ptr32(),
		ClassName:              f.ClassName,
		CategoryName:           f.CategoryName,
		ActivityName:           f.ActivityName,
		TypeName:               f.TypeName,
		TypeUID:                f.TypeUID.Ptr64(),
		Severity:               f.Severity,
		SeverityID:             f.SeverityID.Ptr32(),
		Status:                 f.Status,
		StatusID:               f.StatusID.Ptr32(),
		ConfidenceScore:        f.ConfidenceScore.Ptr32(),
		Title:                  fi.Title,
		Description:            fi.Desc,
		Types:                  fi.Types,
		Time:                   at,
		CreatedTime:            fi.CreatedTime.at(fi.CreatedTimeDt),
		ModifiedTime:           modified,
		FirstSeenTime:          fi.FirstSeenTime.at(fi.FirstSeenTimeDt),
		LastSeenTime:           fi.LastSeenTime.at(fi.LastSeenTimeDt),
		CloudProvider:          f.Cloud.Provider,
		AccountUID:             cmp.Or(string(f.Cloud.Account.UID), string(f.Cloud.AccountUID)),
		Region:                 f.Cloud.Region,
		ComplianceControl:      f.Compliance.Control,
		ComplianceStatus:       f.Compliance.Status,
		ComplianceStatusID:     f.Compliance.StatusID.Ptr32(),
		ComplianceStandards:    f.Compliance.Standards,
		ComplianceRequirements: f.Compliance.Requirements,
		RemediationDesc:        cmp.Or(f.Remediation.Desc, fi.Remediation.Desc),
		RemediationReferences:  firstList(f.Remediation.References, f.Remediation.KBArticles, fi.Remediation.References, fi.Remediation.KBArticles),
		Comment:                f.Comment,
		EvidencesJSON:          detailsText(f.Evidences),
		UnmappedJSON:           detailsText(f.Unmapped),
		RawFinding:             bytesToString(raw),
	}
	if row.Severity == "" && f.SeverityID.Valid {
		row.Severity = OCSFSeverity(f.SeverityID.V)
	}
	if f.State != "" || f.StateID.Valid {
		// OCSF 1.0's Security Finding: state is the finding's workflow
		// status, status the event's outcome (Success, Failure).
		row.Status, row.StatusID = f.State, f.StateID.Ptr32()
	}
	resources := f.resources()
	if n := len(resources); n > 0 {
		first := &resources[0]
		row.ResourceType, row.ResourceUID, row.ResourceRegion = first.Type, string(first.UID), first.Region
		row.ResourceTypes = make([]string, n)
		row.ResourceUIDs = make([]string, n)
		row.Resources = make([]OCSFResource, n)
		for i := range resources {
			r := &resources[i]
			row.ResourceTypes[i] = r.Type
			row.ResourceUIDs[i] = string(r.UID)
			row.Resources[i] = OCSFResource{
				Type:            r.Type,
				UID:             string(r.UID),
				UIDAlt:          string(r.UIDAlt),
				Name:            r.Name,
				Region:          r.Region,
				CloudPartition:  r.CloudPartition,
				OwnerAccountUID: string(r.Owner.Account.UID),
				Tags:            tagMap(r.Tags),
				DataJSON:        cmp.Or(detailsText(r.Data), detailsText(r.Details)),
			}
		}
	}
	if n := len(f.Vulnerabilities); n > 0 {
		row.Vulnerabilities = make([]OCSFVulnerability, n)
		for i := range f.Vulnerabilities {
			row.Vulnerabilities[i] = flattenOCSFVuln(&f.Vulnerabilities[i])
		}
	}
	return row
}

func flattenOCSFVuln(v *ocsfVuln) OCSFVulnerability {
	score, vector := highestCVSS(&v.CVE)
	out := OCSFVulnerability{
		CVEUID:             v.CVE.UID,
		Title:              v.Title,
		Severity:           v.Severity,
		CVSSBaseScore:      score,
		CVSSVector:         vector,
		EPSSScore:          v.CVE.EPSS.Score.Ptr(),
		IsFixAvailable:     cmp.Or(v.IsFixAvailable, v.FixAvailable).Ptr(),
		IsExploitAvailable: v.IsExploitAvailable.Ptr(),
		FixCoverage:        v.FixCoverage,
		References:         v.References,
	}
	if out.Title == "" {
		out.Title = v.CVE.Title
	}
	packages := v.AffectedPackages
	if len(packages) == 0 {
		packages = v.Packages
	}
	if n := len(packages); n > 0 {
		out.AffectedPackages = make([]OCSFPackage, n)
		for i, p := range packages {
			out.AffectedPackages[i] = OCSFPackage{
				Name: p.Name, Version: p.Version, FixedInVersion: p.FixedInVersion,
				PackageManager: p.PackageManager, Architecture: p.Architecture,
			}
		}
	}
	return out
}

// tagMap turns OCSF's [{name, value}] tags into a map: a tag without a name
// is left out (it survives in raw_finding), a missing value is "", and of
// two tags with one name the last wins.
func tagMap(tags []ocsfTag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if t.Name != "" {
			m[string(t.Name)] = string(t.Value)
		}
	}
	return m
}

// firstList returns the first of lists that is not empty.
func firstList(lists ...[]string) []string {
	for _, l := range lists {
		if len(l) > 0 {
			return l
		}
	}
	return nil
}

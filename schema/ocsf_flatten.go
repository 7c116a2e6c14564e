package schema

import "time"

// flattenOCSF maps a decoded OCSF finding onto an ocsf_findings row. raw is
// the finding's exact input bytes; at and modified are its time and
// finding_info.modified_time, already read. The envelope columns are filled
// by the caller.
func flattenOCSF(f *ocsfFinding, raw []byte, at, modified time.Time) OCSFFinding {
	fi, md := &f.FindingInfo, &f.Metadata
	row := OCSFFinding{
		MetadataUID:            string(md.UID),
		FindingUID:             string(fi.UID),
		ProductUID:             string(md.Product.UID),
		ProductName:            md.Product.Name,
		VendorName:             md.Product.VendorName,
		ProductFeature:         md.Product.Feature.Name,
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
		AccountUID:             string(f.Cloud.Account.UID),
		Region:                 f.Cloud.Region,
		ComplianceControl:      f.Compliance.Control,
		ComplianceStatus:       f.Compliance.Status,
		ComplianceStatusID:     f.Compliance.StatusID.Ptr32(),
		ComplianceStandards:    f.Compliance.Standards,
		ComplianceRequirements: f.Compliance.Requirements,
		RemediationDesc:        f.Remediation.Desc,
		RemediationReferences:  f.Remediation.References,
		Comment:                f.Comment,
		EvidencesJSON:          detailsText(f.Evidences),
		UnmappedJSON:           detailsText(f.Unmapped),
		RawFinding:             bytesToString(raw),
	}
	if row.Severity == "" && f.SeverityID.Valid {
		row.Severity = OCSFSeverity(f.SeverityID.V)
	}
	if n := len(f.Resources); n > 0 {
		first := &f.Resources[0]
		row.ResourceType, row.ResourceUID, row.ResourceRegion = first.Type, string(first.UID), first.Region
		row.ResourceTypes = make([]string, n)
		row.ResourceUIDs = make([]string, n)
		row.Resources = make([]OCSFResource, n)
		for i := range f.Resources {
			r := &f.Resources[i]
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
				DataJSON:        detailsText(r.Data),
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
		IsFixAvailable:     v.IsFixAvailable.Ptr(),
		IsExploitAvailable: v.IsExploitAvailable.Ptr(),
		FixCoverage:        v.FixCoverage,
		References:         v.References,
	}
	if out.Title == "" {
		out.Title = v.CVE.Title
	}
	if n := len(v.AffectedPackages); n > 0 {
		out.AffectedPackages = make([]OCSFPackage, n)
		for i, p := range v.AffectedPackages {
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

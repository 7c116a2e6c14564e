package schema

import "time"

// OCSFFinding is one row of the ocsf_findings table: one OCSF finding (the
// Security Hub launched in 2025, "Findings Imported V2") in one delivery.
// The columns are docs/tables.md's, in its order: an OCSF attribute's path with
// "." as "_"; every OCSF timestamp (*_time in epoch milliseconds, or its
// *_dt RFC 3339 twin) is one TIMESTAMP column. The conventions of rows.go
// hold.
type OCSFFinding struct {
	EventID         string    `parquet:"event_id,optional"`
	EventTime       time.Time `parquet:"event_time,optional,timestamp(millisecond:utc)"`
	EventDetailType string    `parquet:"event_detail_type,dict"`
	EventRegion     string    `parquet:"event_region,optional,dict"`
	EventAccount    string    `parquet:"event_account,optional,dict"`
	EventResources  []string  `parquet:"event_resources,list"`
	FindingIndex    int32     `parquet:"finding_index"`

	MetadataUID    string   `parquet:"metadata_uid,optional"`
	FindingUID     string   `parquet:"finding_uid,optional"`
	ProductUID     string   `parquet:"product_uid,optional,dict"`
	ProductName    string   `parquet:"product_name,optional,dict"`
	VendorName     string   `parquet:"vendor_name,optional,dict"`
	ProductFeature string   `parquet:"product_feature,optional,dict"`
	OCSFVersion    string   `parquet:"ocsf_version,optional,dict"`
	Profiles       []string `parquet:"profiles,list"`

	ClassUID        *int32 `parquet:"class_uid,optional"`
	CategoryUID     *int32 `parquet:"category_uid,optional"`
	ActivityID      *int32 `parquet:"activity_id,optional"`
	ClassName       string `parquet:"class_name,optional,dict"`
	CategoryName    string `parquet:"category_name,optional,dict"`
	ActivityName    string `parquet:"activity_name,optional,dict"`
	TypeName        string `parquet:"type_name,optional,dict"`
	TypeUID         *int64 `parquet:"type_uid,optional"`
	Severity        string `parquet:"severity,optional,dict"`
	SeverityID      *int32 `parquet:"severity_id,optional"`
	Status          string `parquet:"status,optional,dict"`
	StatusID        *int32 `parquet:"status_id,optional"`
	ConfidenceScore *int32 `parquet:"confidence_score,optional"`

	Title       string   `parquet:"title,optional,dict"`
	Description string   `parquet:"description,optional"`
	Types       []string `parquet:"types,list"`

	Time          time.Time `parquet:"time,optional,timestamp(millisecond:utc)"`
	CreatedTime   time.Time `parquet:"created_time,optional,timestamp(millisecond:utc)"`
	ModifiedTime  time.Time `parquet:"modified_time,optional,timestamp(millisecond:utc)"`
	FirstSeenTime time.Time `parquet:"first_seen_time,optional,timestamp(millisecond:utc)"`
	LastSeenTime  time.Time `parquet:"last_seen_time,optional,timestamp(millisecond:utc)"`

	CloudProvider string `parquet:"cloud_provider,optional,dict"`
	AccountUID    string `parquet:"account_uid,optional,dict"`
	Region        string `parquet:"region,optional,dict"`

	ComplianceControl      string   `parquet:"compliance_control,optional,dict"`
	ComplianceStatus       string   `parquet:"compliance_status,optional,dict"`
	ComplianceStatusID     *int32   `parquet:"compliance_status_id,optional"`
	ComplianceStandards    []string `parquet:"compliance_standards,list"`
	ComplianceRequirements []string `parquet:"compliance_requirements,list"`
	RemediationDesc        string   `parquet:"remediation_desc,optional,dict"`
	RemediationReferences  []string `parquet:"remediation_references,list"`

	ResourceType    string              `parquet:"resource_type,optional,dict"`
	ResourceUID     string              `parquet:"resource_uid,optional"`
	ResourceRegion  string              `parquet:"resource_region,optional,dict"`
	ResourceTypes   []string            `parquet:"resource_types,list"`
	ResourceUIDs    []string            `parquet:"resource_uids,list"`
	Resources       []OCSFResource      `parquet:"resources,list"`
	Vulnerabilities []OCSFVulnerability `parquet:"vulnerabilities,list"`

	Comment       string `parquet:"comment,optional"`
	EvidencesJSON string `parquet:"evidences_json,optional"`
	UnmappedJSON  string `parquet:"unmapped_json,optional"`

	RawFinding string `parquet:"raw_finding"`
	Source     string `parquet:"source"`

	// Date is the dt partition (YYYY-MM-DD); it lives in the object path.
	Date string `parquet:"-"`
}

// OCSFResource is one element of resources. Tags arrive as a list of
// {name, value} and become a map; data, free-form per resource type, stays
// JSON text.
type OCSFResource struct {
	Type            string            `parquet:"type,optional,dict"`
	UID             string            `parquet:"uid,optional"`
	UIDAlt          string            `parquet:"uid_alt,optional"`
	Name            string            `parquet:"name,optional"`
	Region          string            `parquet:"region,optional,dict"`
	CloudPartition  string            `parquet:"cloud_partition,optional,dict"`
	OwnerAccountUID string            `parquet:"owner_account_uid,optional,dict"`
	Tags            map[string]string `parquet:"tags" parquet-key:",dict" parquet-value:",dict"`
	DataJSON        string            `parquet:"data_json,optional"`
}

// OCSFVulnerability is one element of vulnerabilities, with the CVE's
// highest CVSS base score (and that score's vector) and its EPSS score.
type OCSFVulnerability struct {
	CVEUID             string        `parquet:"cve_uid,optional"`
	Title              string        `parquet:"title,optional"`
	Severity           string        `parquet:"severity,optional,dict"`
	CVSSBaseScore      *float64      `parquet:"cvss_base_score,optional"`
	CVSSVector         string        `parquet:"cvss_vector,optional"`
	EPSSScore          *float64      `parquet:"epss_score,optional"`
	IsFixAvailable     *bool         `parquet:"is_fix_available,optional"`
	IsExploitAvailable *bool         `parquet:"is_exploit_available,optional"`
	FixCoverage        string        `parquet:"fix_coverage,optional,dict"`
	AffectedPackages   []OCSFPackage `parquet:"affected_packages,list"`
	References         []string      `parquet:"references,list"`
}

// OCSFPackage is one affected package of a vulnerability.
type OCSFPackage struct {
	Name           string `parquet:"name,optional"`
	Version        string `parquet:"version,optional"`
	FixedInVersion string `parquet:"fixed_in_version,optional"`
	PackageManager string `parquet:"package_manager,optional,dict"`
	Architecture   string `parquet:"architecture,optional,dict"`
}

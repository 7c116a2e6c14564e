package schema

import "time"

// The row types below are the single truth for the lake's tables: the Parquet
// writer derives the file schema from their tags, and `hublake ddl` derives the
// Athena and Glue DDL from that same Parquet schema, so files and DDL cannot
// drift. docs/tables.md is the contract they implement.
//
// Conventions:
//   - Strings tagged "optional" are written as NULL when empty: an absent field
//     and an empty one read the same in Athena.
//   - Timestamps are INT64 TIMESTAMP(MILLIS, isAdjustedToUTC=true), NULL when the
//     source text is absent or is not an RFC 3339 time. A timestamp inside a
//     list element or an optional struct is a *time.Time (nil for NULL):
//     parquet-go (v0.32.1) writes a present time.Time there as NULL
//     (writeRowsFuncOfTime takes the definition level its parent raised for
//     its own); encode's TestNestedTimestampsSurvive guards it.
//   - Integers that may legitimately be zero are pointers (NULL when absent).
//   - Lists are 3-level LISTs and are never NULL: absent means empty.
//   - Partition columns (dt) are not in the files; they live in the object path.
//   - Strings decoded from the input share the input's memory (no copy), so a
//     row must not outlive the batch whose unit bytes it points into.

// Finding is one row of the findings table: one finding in one delivery.
type Finding struct {
	EventID           string    `parquet:"event_id,optional"`
	EventTime         time.Time `parquet:"event_time,optional,timestamp(millisecond:utc)"`
	EventDetailType   string    `parquet:"event_detail_type,dict"`
	EventRegion       string    `parquet:"event_region,optional,dict"`
	EventAccount      string    `parquet:"event_account,optional,dict"`
	EventResources    []string  `parquet:"event_resources,list"`
	ActionName        string    `parquet:"action_name,optional,dict"`
	ActionDescription string    `parquet:"action_description,optional,dict"`
	ActionARN         string    `parquet:"action_arn,optional,dict"`
	FindingIndex      int32     `parquet:"finding_index"`

	ID                 string    `parquet:"id"`
	ProductARN         string    `parquet:"product_arn,dict"`
	ProductName        string    `parquet:"product_name,optional,dict"`
	CompanyName        string    `parquet:"company_name,optional,dict"`
	GeneratorID        string    `parquet:"generator_id,optional,dict"`
	AwsAccountID       string    `parquet:"aws_account_id,optional,dict"`
	Region             string    `parquet:"region,optional,dict"`
	SchemaVersion      string    `parquet:"schema_version,optional,dict"`
	Types              []string  `parquet:"types,list"`
	CreatedAt          time.Time `parquet:"created_at,optional,timestamp(millisecond:utc)"`
	UpdatedAt          time.Time `parquet:"updated_at,optional,timestamp(millisecond:utc)"`
	FirstObservedAt    time.Time `parquet:"first_observed_at,optional,timestamp(millisecond:utc)"`
	LastObservedAt     time.Time `parquet:"last_observed_at,optional,timestamp(millisecond:utc)"`
	ProcessedAt        time.Time `parquet:"processed_at,optional,timestamp(millisecond:utc)"`
	SeverityLabel      string    `parquet:"severity_label,optional,dict"`
	SeverityNormalized *int32    `parquet:"severity_normalized,optional"`
	SeverityOriginal   string    `parquet:"severity_original,optional,dict"`
	Title              string    `parquet:"title,optional,dict"`
	Description        string    `parquet:"description,optional"`
	RecordState        string    `parquet:"record_state,optional,dict"`
	WorkflowStatus     string    `parquet:"workflow_status,optional,dict"`

	ComplianceStatus              string   `parquet:"compliance_status,optional,dict"`
	ComplianceSecurityControlID   string   `parquet:"compliance_security_control_id,optional,dict"`
	ComplianceRelatedRequirements []string `parquet:"compliance_related_requirements,list"`
	RemediationText               string   `parquet:"remediation_text,optional,dict"`
	RemediationURL                string   `parquet:"remediation_url,optional,dict"`

	ResourceType      string            `parquet:"resource_type,optional,dict"`
	ResourceID        string            `parquet:"resource_id,optional"`
	ResourceRegion    string            `parquet:"resource_region,optional,dict"`
	ResourceTypes     []string          `parquet:"resource_types,list"`
	ResourceIDs       []string          `parquet:"resource_ids,list"`
	Resources         []Resource        `parquet:"resources,list"`
	ProductFields     map[string]string `parquet:"product_fields" parquet-key:",dict" parquet-value:",dict"`
	UserDefinedFields map[string]string `parquet:"user_defined_fields" parquet-key:",dict" parquet-value:",dict"`

	// Recommended beyond the core: typed where cheap.
	Confidence              *int32          `parquet:"confidence,optional"`
	Criticality             *int32          `parquet:"criticality,optional"`
	VerificationState       string          `parquet:"verification_state,optional,dict"`
	SourceURL               string          `parquet:"source_url,optional"`
	Sample                  *bool           `parquet:"sample,optional"`
	NoteText                string          `parquet:"note_text,optional"`
	NoteUpdatedBy           string          `parquet:"note_updated_by,optional,dict"`
	NoteUpdatedAt           time.Time       `parquet:"note_updated_at,optional,timestamp(millisecond:utc)"`
	ComplianceStatusReasons []StatusReason  `parquet:"compliance_status_reasons,list"`
	ComplianceStandards     []string        `parquet:"compliance_associated_standards,list"`
	Network                 *Network        `parquet:"network,optional"`
	Process                 *Process        `parquet:"process,optional"`
	Malware                 []Malware       `parquet:"malware,list"`
	Vulnerabilities         []Vulnerability `parquet:"vulnerabilities,list"`
	Threats                 []Threat        `parquet:"threats,list"`
	ThreatIntelIndicators   []Indicator     `parquet:"threat_intel_indicators,list"`
	RelatedFindings         []Related       `parquet:"related_findings,list"`
	FindingProviderFields   *ProviderFields `parquet:"finding_provider_fields,optional"`

	RawFinding string `parquet:"raw_finding"`
	Source     string `parquet:"source"`

	// Date is the dt partition (YYYY-MM-DD); it lives in the object path.
	Date string `parquet:"-"`
}

// Resource is one element of Resources; Details stays JSON text because its
// 101 resource types have thousands of leaves.
type Resource struct {
	Type        string            `parquet:"type,optional,dict"`
	ID          string            `parquet:"id,optional"`
	Partition   string            `parquet:"partition,optional,dict"`
	Region      string            `parquet:"region,optional,dict"`
	Tags        map[string]string `parquet:"tags" parquet-key:",dict" parquet-value:",dict"`
	DetailsJSON string            `parquet:"details_json,optional"`
}

// StatusReason is one element of Compliance.StatusReasons.
type StatusReason struct {
	ReasonCode  string `parquet:"reason_code,optional,dict"`
	Description string `parquet:"description,optional"`
}

// Network is the Network object of a finding.
type Network struct {
	Direction         string `parquet:"direction,optional"`
	Protocol          string `parquet:"protocol,optional"`
	SourceIPV4        string `parquet:"source_ip_v4,optional"`
	SourceIPV6        string `parquet:"source_ip_v6,optional"`
	SourcePort        *int32 `parquet:"source_port,optional"`
	SourceDomain      string `parquet:"source_domain,optional"`
	DestinationIPV4   string `parquet:"destination_ip_v4,optional"`
	DestinationIPV6   string `parquet:"destination_ip_v6,optional"`
	DestinationPort   *int32 `parquet:"destination_port,optional"`
	DestinationDomain string `parquet:"destination_domain,optional"`
}

// Process is the Process object of a finding.
type Process struct {
	Name         string     `parquet:"name,optional"`
	Path         string     `parquet:"path,optional"`
	Pid          *int32     `parquet:"pid,optional"`
	ParentPid    *int32     `parquet:"parent_pid,optional"`
	LaunchedAt   *time.Time `parquet:"launched_at,optional,timestamp(millisecond:utc)"`
	TerminatedAt *time.Time `parquet:"terminated_at,optional,timestamp(millisecond:utc)"`
}

// Malware is one element of Malware.
type Malware struct {
	Name  string `parquet:"name,optional"`
	Type  string `parquet:"type,optional"`
	Path  string `parquet:"path,optional"`
	State string `parquet:"state,optional"`
}

// Vulnerability is one element of Vulnerabilities.
type Vulnerability struct {
	ID                     string     `parquet:"id,optional"`
	VendorName             string     `parquet:"vendor_name,optional,dict"`
	VendorURL              string     `parquet:"vendor_url,optional"`
	VendorSeverity         string     `parquet:"vendor_severity,optional,dict"`
	VendorCreatedAt        *time.Time `parquet:"vendor_created_at,optional,timestamp(millisecond:utc)"`
	VendorUpdatedAt        *time.Time `parquet:"vendor_updated_at,optional,timestamp(millisecond:utc)"`
	Cvss                   []Cvss     `parquet:"cvss,list"`
	VulnerablePackages     []Package  `parquet:"vulnerable_packages,list"`
	FixAvailable           string     `parquet:"fix_available,optional,dict"`
	ExploitAvailable       string     `parquet:"exploit_available,optional,dict"`
	EpssScore              *float64   `parquet:"epss_score,optional"`
	ReferenceURLs          []string   `parquet:"reference_urls,list"`
	RelatedVulnerabilities []string   `parquet:"related_vulnerabilities,list"`
}

// Cvss is one CVSS score of a vulnerability.
type Cvss struct {
	Version    string   `parquet:"version,optional,dict"`
	BaseScore  *float64 `parquet:"base_score,optional"`
	BaseVector string   `parquet:"base_vector,optional"`
	Source     string   `parquet:"source,optional,dict"`
}

// Package is one vulnerable package of a vulnerability.
type Package struct {
	Name           string `parquet:"name,optional"`
	Version        string `parquet:"version,optional"`
	Epoch          string `parquet:"epoch,optional"`
	Release        string `parquet:"release,optional"`
	Architecture   string `parquet:"architecture,optional,dict"`
	PackageManager string `parquet:"package_manager,optional,dict"`
	FilePath       string `parquet:"file_path,optional"`
	FixedInVersion string `parquet:"fixed_in_version,optional"`
	Remediation    string `parquet:"remediation,optional"`
}

// Threat is one element of Threats.
type Threat struct {
	Name      string `parquet:"name,optional"`
	Severity  string `parquet:"severity,optional"`
	ItemCount *int32 `parquet:"item_count,optional"`
}

// Indicator is one element of ThreatIntelIndicators.
type Indicator struct {
	Type           string     `parquet:"type,optional"`
	Value          string     `parquet:"value,optional"`
	Category       string     `parquet:"category,optional"`
	Source         string     `parquet:"source,optional"`
	SourceURL      string     `parquet:"source_url,optional"`
	LastObservedAt *time.Time `parquet:"last_observed_at,optional,timestamp(millisecond:utc)"`
}

// Related is one element of RelatedFindings.
type Related struct {
	ProductARN string `parquet:"product_arn,optional"`
	ID         string `parquet:"id,optional"`
}

// ProviderFields is FindingProviderFields: the values the finding provider
// set, before any BatchUpdateFindings changes.
type ProviderFields struct {
	Confidence       *int32    `parquet:"confidence,optional"`
	Criticality      *int32    `parquet:"criticality,optional"`
	SeverityLabel    string    `parquet:"severity_label,optional"`
	SeverityOriginal string    `parquet:"severity_original,optional"`
	Types            []string  `parquet:"types,list"`
	RelatedFindings  []Related `parquet:"related_findings,list"`
}

// InsightResult is one row of the insight_results table: one element of an
// insight event's insightResults.
type InsightResult struct {
	EventID           string    `parquet:"event_id,optional"`
	EventTime         time.Time `parquet:"event_time,optional,timestamp(millisecond:utc)"`
	EventRegion       string    `parquet:"event_region,optional,dict"`
	EventAccount      string    `parquet:"event_account,optional,dict"`
	ActionName        string    `parquet:"action_name,optional,dict"`
	ActionDescription string    `parquet:"action_description,optional,dict"`
	ActionARN         string    `parquet:"action_arn,optional,dict"`
	InsightARN        string    `parquet:"insight_arn,dict"`
	InsightName       string    `parquet:"insight_name,optional,dict"`
	ResultType        string    `parquet:"result_type,optional,dict"`
	ResultIndex       int32     `parquet:"result_index"`
	ResultValue       string    `parquet:"result_value,optional"`
	ResultCount       *int64    `parquet:"result_count,optional"`
	NumberOfResults   string    `parquet:"number_of_results,optional"`
	RawDetail         string    `parquet:"raw_detail,dict"`
	Source            string    `parquet:"source"`

	// Date is the dt partition (YYYY-MM-DD); it lives in the object path.
	Date string `parquet:"-"`
}

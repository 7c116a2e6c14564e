package schema

import "github.com/bytedance/sonic"

// This file is the part of the AWS Security Finding Format that hublake reads
// into typed columns. It is deliberately a subset: every field a column needs,
// nothing else. Unknown fields are skipped by the decoder and survive in
// raw_finding, so a future ASFF version loses nothing.
//
// Strings decode as plain Go strings (a producer that sends a number where
// ASFF says string makes the decoder report a type mismatch, which Decode
// tolerates: the field is left empty). Fields that producers are known to send
// in either form use the tolerant types of flex.go; every *At field is a
// Timestamp (RFC 3339, or epoch seconds or milliseconds as tables of ASFF
// exported to JSON write them).

// RawJSON is a JSON value kept as the exact bytes it had in the input. It
// shares memory with the unit it was decoded from.
type RawJSON = sonic.NoCopyRawMessage

type asffFinding struct {
	SchemaVersion     string            `json:"SchemaVersion"`
	ID                string            `json:"Id"`
	ProductArn        string            `json:"ProductArn"`
	ProductName       string            `json:"ProductName"`
	CompanyName       string            `json:"CompanyName"`
	GeneratorID       string            `json:"GeneratorId"`
	AwsAccountID      Text              `json:"AwsAccountId"`
	Region            string            `json:"Region"`
	Types             []string          `json:"Types"`
	CreatedAt         Timestamp         `json:"CreatedAt"`
	UpdatedAt         Timestamp         `json:"UpdatedAt"`
	FirstObservedAt   Timestamp         `json:"FirstObservedAt"`
	LastObservedAt    Timestamp         `json:"LastObservedAt"`
	ProcessedAt       Timestamp         `json:"ProcessedAt"`
	Severity          asffSeverity      `json:"Severity"`
	Confidence        Int               `json:"Confidence"`
	Criticality       Int               `json:"Criticality"`
	Title             string            `json:"Title"`
	Description       string            `json:"Description"`
	SourceURL         string            `json:"SourceUrl"`
	RecordState       string            `json:"RecordState"`
	VerificationState string            `json:"VerificationState"`
	Workflow          asffWorkflow      `json:"Workflow"`
	WorkflowState     string            `json:"WorkflowState"` // deprecated: Workflow.Status replaces it
	Compliance        asffCompliance    `json:"Compliance"`
	Remediation       asffRemediation   `json:"Remediation"`
	Resources         []asffResource    `json:"Resources"`
	ProductFields     map[string]string `json:"ProductFields"`
	UserDefinedFields map[string]string `json:"UserDefinedFields"`
	Note              *asffNote         `json:"Note"`
	Network           *asffNetwork      `json:"Network"`
	Process           *asffProcess      `json:"Process"`
	Malware           []asffMalware     `json:"Malware"`
	Vulnerabilities   []asffVuln        `json:"Vulnerabilities"`
	Threats           []asffThreat      `json:"Threats"`
	ThreatIntel       []asffIndicator   `json:"ThreatIntelIndicators"`
	RelatedFindings   []asffRelated     `json:"RelatedFindings"`
	ProviderFields    *asffProvider     `json:"FindingProviderFields"`
	Sample            Bool              `json:"Sample"`
}

type asffSeverity struct {
	Label      string `json:"Label"`
	Normalized Int    `json:"Normalized"`
	Original   Text   `json:"Original"`
	Product    Float  `json:"Product"`
}

type asffWorkflow struct {
	Status string `json:"Status"`
}

type asffCompliance struct {
	Status              string         `json:"Status"`
	SecurityControlID   string         `json:"SecurityControlId"`
	RelatedRequirements []string       `json:"RelatedRequirements"`
	StatusReasons       []asffReason   `json:"StatusReasons"`
	AssociatedStandards []asffStandard `json:"AssociatedStandards"`
}

type asffReason struct {
	ReasonCode  string `json:"ReasonCode"`
	Description string `json:"Description"`
}

type asffStandard struct {
	StandardsID string `json:"StandardsId"`
}

type asffRemediation struct {
	Recommendation struct {
		Text string `json:"Text"`
		URL  string `json:"Url"`
	} `json:"Recommendation"`
}

type asffResource struct {
	Type      string            `json:"Type"`
	ID        string            `json:"Id"`
	Partition string            `json:"Partition"`
	Region    string            `json:"Region"`
	Tags      map[string]string `json:"Tags"`
	Details   RawJSON           `json:"Details"`
}

type asffNote struct {
	Text      string    `json:"Text"`
	UpdatedBy string    `json:"UpdatedBy"`
	UpdatedAt Timestamp `json:"UpdatedAt"`
}

type asffNetwork struct {
	Direction         string `json:"Direction"`
	Protocol          string `json:"Protocol"`
	SourceIPV4        string `json:"SourceIpV4"`
	SourceIPV6        string `json:"SourceIpV6"`
	SourcePort        Int    `json:"SourcePort"`
	SourceDomain      string `json:"SourceDomain"`
	DestinationIPV4   string `json:"DestinationIpV4"`
	DestinationIPV6   string `json:"DestinationIpV6"`
	DestinationPort   Int    `json:"DestinationPort"`
	DestinationDomain string `json:"DestinationDomain"`
}

type asffProcess struct {
	Name         string    `json:"Name"`
	Path         string    `json:"Path"`
	Pid          Int       `json:"Pid"`
	ParentPid    Int       `json:"ParentPid"`
	LaunchedAt   Timestamp `json:"LaunchedAt"`
	TerminatedAt Timestamp `json:"TerminatedAt"`
}

type asffMalware struct {
	Name  string `json:"Name"`
	Type  string `json:"Type"`
	Path  string `json:"Path"`
	State string `json:"State"`
}

type asffVuln struct {
	ID                     string        `json:"Id"`
	Vendor                 asffVendor    `json:"Vendor"`
	Cvss                   []asffCvss    `json:"Cvss"`
	VulnerablePackages     []asffPackage `json:"VulnerablePackages"`
	FixAvailable           string        `json:"FixAvailable"`
	ExploitAvailable       string        `json:"ExploitAvailable"`
	EpssScore              Float         `json:"EpssScore"`
	ReferenceUrls          []string      `json:"ReferenceUrls"`
	RelatedVulnerabilities []string      `json:"RelatedVulnerabilities"`
}

type asffVendor struct {
	Name            string    `json:"Name"`
	URL             string    `json:"Url"`
	VendorSeverity  string    `json:"VendorSeverity"`
	VendorCreatedAt Timestamp `json:"VendorCreatedAt"`
	VendorUpdatedAt Timestamp `json:"VendorUpdatedAt"`
}

type asffCvss struct {
	Version    string `json:"Version"`
	BaseScore  Float  `json:"BaseScore"`
	BaseVector string `json:"BaseVector"`
	Source     string `json:"Source"`
}

type asffPackage struct {
	Name           string `json:"Name"`
	Version        string `json:"Version"`
	Epoch          string `json:"Epoch"`
	Release        string `json:"Release"`
	Architecture   string `json:"Architecture"`
	PackageManager string `json:"PackageManager"`
	FilePath       string `json:"FilePath"`
	FixedInVersion string `json:"FixedInVersion"`
	Remediation    string `json:"Remediation"`
}

type asffThreat struct {
	Name      string `json:"Name"`
	Severity  string `json:"Severity"`
	ItemCount Int    `json:"ItemCount"`
}

type asffIndicator struct {
	Type           string    `json:"Type"`
	Value          string    `json:"Value"`
	Category       string    `json:"Category"`
	Source         string    `json:"Source"`
	SourceURL      string    `json:"SourceUrl"`
	LastObservedAt Timestamp `json:"LastObservedAt"`
}

type asffRelated struct {
	ProductArn string `json:"ProductArn"`
	ID         string `json:"Id"`
}

type asffProvider struct {
	Confidence      Int           `json:"Confidence"`
	Criticality     Int           `json:"Criticality"`
	Types           []string      `json:"Types"`
	RelatedFindings []asffRelated `json:"RelatedFindings"`
	Severity        struct {
		Label      string `json:"Label"`
		Normalized Int    `json:"Normalized"`
		Original   Text   `json:"Original"`
	} `json:"Severity"`
}

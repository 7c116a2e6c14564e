package gen

// Tables of realistic values. They are written for this generator (control
// titles follow the public Security Hub control catalogue; descriptions and
// everything else are our own text).

// control is a Security Hub CSPM control.
type control struct {
	id, title string
	kind      rkind
	sev       string
	check     string // "This control checks whether <check>."
	fail      string // "The control fails if <fail>."
	rule      string // the AWS Config rule behind it
	cis       string // CIS AWS Foundations requirement, "" when none
}

var controls = []control{
	{"IAM.1", `IAM policies should not allow full "*" administrative privileges`, kPolicy, "HIGH", `the default version of your IAM policies (customer managed policies) has administrator access that includes a statement with "Effect": "Allow" with "Action": "*" over "Resource": "*"`, "you have IAM policies with such a statement", "iam-policy-no-statements-with-admin-access", "1.16"},
	{"IAM.3", "IAM users' access keys should be rotated every 90 days or less", kUser, "MEDIUM", "the active access keys are rotated within 90 days", "an active access key has not been rotated in that period", "access-keys-rotated", "1.14"},
	{"IAM.4", "IAM root user access key should not exist", kAccount, "CRITICAL", "the root user access key is present", "the root user access key exists", "iam-root-access-key-check", "1.4"},
	{"IAM.6", "Hardware MFA should be enabled for the root user", kAccount, "CRITICAL", "your AWS account is enabled to use a hardware multi-factor authentication (MFA) device to sign in with root user credentials", "hardware MFA is not enabled or any virtual MFA devices are permitted for signing in with root user credentials", "root-account-hardware-mfa-enabled", "1.6"},
	{"IAM.8", "Unused IAM user credentials should be removed", kUser, "MEDIUM", "your IAM users have passwords or active access keys that have not been used for 90 days", "there are unused credentials older than that", "iam-user-unused-credentials-check", "1.3"},
	{"IAM.22", "IAM user credentials unused for 45 days should be removed", kUser, "MEDIUM", "your IAM users have passwords or active access keys that have not been used for 45 days or more", "an IAM user has a password or access key unused for 45 days", "iam-user-unused-credentials-check", "1.12"},
	{"S3.1", "S3 general purpose buckets should have block public access settings enabled", kAccount, "MEDIUM", "the preceding Amazon S3 block public access settings are configured at the account level", "one or more of the block public access settings are set to false", "s3-account-level-public-access-blocks-periodic", "2.1.4"},
	{"S3.2", "S3 general purpose buckets should block public read access", kBucket, "CRITICAL", "an Amazon S3 general purpose bucket permits public read access", "the bucket permits public read access through its policy or its access control list", "s3-bucket-public-read-prohibited", ""},
	{"S3.5", "S3 general purpose buckets should require requests to use SSL", kBucket, "MEDIUM", "an Amazon S3 general purpose bucket has a policy that requires requests to use SSL", "the bucket policy doesn't require requests to use SSL", "s3-bucket-ssl-requests-only", "2.1.1"},
	{"S3.8", "S3 general purpose buckets should block public access", kBucket, "HIGH", "an Amazon S3 general purpose bucket blocks public access at the bucket level", "any of the bucket level block public access settings are set to false", "s3-bucket-level-public-access-prohibited", ""},
	{"S3.9", "S3 general purpose buckets should have server access logging enabled", kBucket, "MEDIUM", "server access logging is enabled for an Amazon S3 general purpose bucket", "server access logging is not enabled", "s3-bucket-logging-enabled", ""},
	{"EC2.2", "VPC default security groups should not allow inbound or outbound traffic", kSecurityGroup, "HIGH", "the default security group of a VPC allows inbound or outbound traffic", "the security group allows inbound or outbound traffic", "vpc-default-security-group-closed", "5.4"},
	{"EC2.6", "VPC flow logging should be enabled in all VPCs", kVpc, "MEDIUM", "Amazon VPC Flow Logs are found and enabled for VPCs", "flow logs aren't enabled for the VPC", "vpc-flow-logs-enabled", "3.7"},
	{"EC2.8", "EC2 instances should use Instance Metadata Service Version 2 (IMDSv2)", kInstance, "HIGH", "your EC2 instance metadata version is configured with Instance Metadata Service Version 2 (IMDSv2)", "HttpTokens is set to optional", "ec2-imdsv2-check", "5.6"},
	{"EC2.9", "EC2 instances should not have a public IPv4 address", kInstance, "HIGH", "EC2 instances have a public IP address", "the publicIp field is present in the EC2 instance configuration item", "ec2-instance-no-public-ip", ""},
	{"EC2.7", "EBS default encryption should be enabled", kAccount, "MEDIUM", "account-level encryption is enabled by default for Amazon Elastic Block Store (Amazon EBS)", "account-level encryption isn't enabled for the specified Region", "ec2-ebs-encryption-by-default", "2.2.1"},
	{"EC2.15", "EC2 subnets should not automatically assign public IP addresses", kSubnet, "MEDIUM", "the assignment of public IPs in Amazon Virtual Private Cloud (Amazon VPC) subnets have MapPublicIpOnLaunch set to FALSE", "the flag is set to TRUE", "subnet-auto-assign-public-ip-disabled", ""},
	{"EC2.18", "Security groups should only allow unrestricted incoming traffic for authorized ports", kSecurityGroup, "HIGH", "an Amazon EC2 security group permits unrestricted incoming traffic from unauthorized ports", "the security group allows unrestricted traffic on ports other than the authorized ones (80 and 443 by default)", "vpc-sg-open-only-to-authorized-ports", ""},
	{"EC2.19", "Security groups should not allow unrestricted access to ports with high risk", kSecurityGroup, "CRITICAL", "unrestricted incoming traffic for an Amazon EC2 security group is accessible to the specified ports that are considered to be high risk", "any of the rules in a security group allow ingress traffic from 0.0.0.0/0 or ::/0 to those ports", "vpc-sg-restricted-common-ports", "5.2"},
	{"EC2.44", "EC2 subnets should be tagged", kSubnet, "LOW", "an Amazon EC2 subnet has tags with the specific keys defined in the parameter requiredTagKeys", "the subnet doesn't have any tag keys or doesn't have all the keys specified in requiredTagKeys", "tagged-ec2-subnet", ""},
	{"CloudTrail.1", "CloudTrail should be enabled and configured with at least one multi-Region trail that includes read and write management events", kAccount, "HIGH", "there is at least one multi-Region AWS CloudTrail trail that captures read and write management events", "CloudTrail is disabled or there isn't such a trail", "multi-region-cloudtrail-enabled", "3.1"},
	{"CloudTrail.2", "CloudTrail should have encryption at-rest enabled", kTrail, "MEDIUM", "CloudTrail is configured to use server-side encryption (SSE) with an AWS KMS key", "the KmsKeyId isn't defined", "cloud-trail-encryption-enabled", "3.5"},
	{"CloudTrail.4", "CloudTrail log file validation should be enabled", kTrail, "LOW", "log file integrity validation is enabled on a CloudTrail trail", "log file validation is not enabled", "cloud-trail-log-file-validation-enabled", "3.2"},
	{"KMS.4", "AWS KMS key rotation should be enabled", kKMS, "MEDIUM", "automatic key rotation is enabled for each customer managed AWS KMS key", "key rotation is not enabled for the key", "cmk-backing-key-rotation-enabled", "3.6"},
	{"Lambda.1", "Lambda function policies should prohibit public access", kLambda, "CRITICAL", "the AWS Lambda function resource-based policy prohibits public access outside of your account", "public access is allowed", "lambda-function-public-access-prohibited", ""},
	{"Lambda.2", "Lambda functions should use supported runtimes", kLambda, "MEDIUM", "the AWS Lambda function settings for runtimes match the expected values set for the supported runtimes", "the function uses a deprecated runtime", "lambda-function-settings-check", ""},
	{"RDS.2", "RDS DB Instances should prohibit public access, as determined by the PubliclyAccessible configuration", kRDS, "CRITICAL", "Amazon RDS instances are publicly accessible by evaluating the PubliclyAccessible field in the instance configuration item", "PubliclyAccessible is true", "rds-instance-public-access-check", "2.3.3"},
	{"RDS.3", "RDS DB instances should have encryption at-rest enabled", kRDS, "MEDIUM", "storage encryption is enabled for your Amazon RDS DB instances", "storage encryption is not enabled", "rds-storage-encrypted", "2.3.1"},
	{"GuardDuty.1", "GuardDuty should be enabled", kAccount, "HIGH", "Amazon GuardDuty is enabled in your account and Region", "GuardDuty is not enabled", "guardduty-enabled-centralized", ""},
	{"Config.1", "AWS Config should be enabled and use the service-linked role for resource recording", kAccount, "MEDIUM", "AWS Config is enabled in your account in the current Region and records all resources that correspond to controls enabled in the current Region", "AWS Config is disabled or doesn't record those resources", "securityhub-config-enabled", "3.3"},
	{"ECR.1", "ECR private repositories should have image scanning configured", kECRRepo, "HIGH", "a private Amazon ECR repository has image scanning configured", "the repository isn't configured for scan on push or continuous scanning", "ecr-private-image-scanning-enabled", ""},
	{"SSM.1", "EC2 instances should be managed by AWS Systems Manager", kInstance, "MEDIUM", "the stopped and running EC2 instances in your account are managed by AWS Systems Manager", "the instance isn't managed by Systems Manager", "ec2-instance-managed-by-systems-manager", ""},
	{"EKS.2", "EKS clusters should run on a supported Kubernetes version", kEKS, "HIGH", "an Amazon EKS cluster runs on a supported Kubernetes version", "the cluster runs on an unsupported version", "eks-cluster-supported-version", ""},
}

// requirements is the pool RelatedRequirements are drawn from.
var requirements = []string{
	"NIST.800-53.r5 AC-3", "NIST.800-53.r5 AC-4", "NIST.800-53.r5 AC-6", "NIST.800-53.r5 AC-6(10)", "NIST.800-53.r5 AC-21",
	"NIST.800-53.r5 AU-2", "NIST.800-53.r5 AU-3", "NIST.800-53.r5 AU-12", "NIST.800-53.r5 CA-9(1)", "NIST.800-53.r5 CM-2",
	"NIST.800-53.r5 CM-7", "NIST.800-53.r5 IA-2(1)", "NIST.800-53.r5 IA-5(1)", "NIST.800-53.r5 SC-7", "NIST.800-53.r5 SC-7(3)",
	"NIST.800-53.r5 SC-7(4)", "NIST.800-53.r5 SC-8", "NIST.800-53.r5 SC-12(2)", "NIST.800-53.r5 SC-13", "NIST.800-53.r5 SC-28",
	"NIST.800-53.r5 SI-4(20)", "NIST.800-53.r5 SI-7(6)", "NIST.800-171.r2 3.1.3", "NIST.800-171.r2 3.13.1", "NIST.800-171.r2 3.3.8",
	"PCI DSS v3.2.1/1.2.1", "PCI DSS v3.2.1/1.3.4", "PCI DSS v4.0.1/1.3.1", "PCI DSS v4.0.1/7.2.1", "PCI DSS v4.0.1/10.2.1",
}

var standards = []string{
	"standards/aws-foundational-security-best-practices/v/1.0.0",
	"standards/nist-800-53/v/5.0.0",
	"standards/pci-dss/v/4.0.1",
	"standards/cis-aws-foundations-benchmark/v/3.0.0",
	"standards/aws-resource-tagging-standard/v/1.0.0",
}

var statusReasons = []struct{ code, text string }{
	{"CONFIG_ACCESS_DENIED", "Unable to describe the supporting AWS Config Rule, Please verify that you have enabled AWS Config."},
	{"CONFIG_EVALUATIONS_EMPTY", "AWS Config evaluated your resources based on the rule. The rule did not apply to the AWS resources in its scope, the specified resources were deleted, or the evaluation results were deleted."},
	{"CONFIG_RECORDER_DISABLED", "AWS Config is not enabled or its configuration recorder is stopped in this Region."},
	{"LAMBDA_CUSTOM_RULE_FAILED", "The AWS Lambda function that backs the custom AWS Config rule returned an error."},
}

// gdType is a GuardDuty finding type.
type gdType struct {
	typ    string // ASFF Types entry
	native string // GuardDuty's own name
	action string // NETWORK_CONNECTION, PORT_PROBE, AWS_API_CALL or DNS_REQUEST
	kind   rkind  // the resource it is about
	sevLo  int    // GuardDuty severity range, tenths
	sevHi  int
	title  string // %R = resource name, %I = remote IP, %D = domain, %A = API
	desc   string
}

var gdTypes = []gdType{
	{"TTPs/Discovery/Recon:EC2-PortProbeUnprotectedPort", "Recon:EC2/PortProbeUnprotectedPort", "PORT_PROBE", kInstance, 20, 50, "Unprotected port on EC2 instance %R is being probed.", "EC2 instance has an unprotected port which is being probed by a known malicious host."},
	{"TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce", "UnauthorizedAccess:EC2/SSHBruteForce", "NETWORK_CONNECTION", kInstance, 20, 50, "%I is performing SSH brute force attacks against %R.", "%I is performing SSH brute force attacks against %R. Brute force attacks are used to gain unauthorized access to your instance by guessing the SSH password."},
	{"TTPs/Initial Access/UnauthorizedAccess:EC2-RDPBruteForce", "UnauthorizedAccess:EC2/RDPBruteForce", "NETWORK_CONNECTION", kInstance, 20, 80, "%I is performing RDP brute force attacks against %R.", "%I is performing RDP brute force attacks against %R. Brute force attacks are used to gain unauthorized access to your instance by guessing the RDP password."},
	{"TTPs/Discovery/Recon:EC2-Portscan", "Recon:EC2/Portscan", "NETWORK_CONNECTION", kInstance, 50, 50, "Outbound portscan from EC2 instance %R.", "EC2 instance %R is performing outbound port scans against remote host %I."},
	{"Effects/Resource Consumption/CryptoCurrency:EC2-BitcoinTool.B!DNS", "CryptoCurrency:EC2/BitcoinTool.B!DNS", "DNS_REQUEST", kInstance, 80, 80, "Bitcoin-related domain name queried by EC2 instance %R.", "EC2 instance %R is querying a domain name %D that is associated with Bitcoin-related activity."},
	{"TTPs/Command and Control/Backdoor:EC2-C&CActivity.B!DNS", "Backdoor:EC2/C&CActivity.B!DNS", "DNS_REQUEST", kInstance, 80, 80, "Command and Control server domain name queried by EC2 instance %R.", "EC2 instance %R is querying a domain name %D associated with a known Command & Control server."},
	{"Effects/Data Exfiltration/Trojan:EC2-DNSDataExfiltration", "Trojan:EC2/DNSDataExfiltration", "DNS_REQUEST", kInstance, 80, 80, "Data exfiltration through DNS queries from EC2 instance %R.", "EC2 instance %R is attempting to query domain names that resemble exfiltrated data. This could be an indication of a compromised instance."},
	{"TTPs/Command and Control/UnauthorizedAccess:EC2-TorClient", "UnauthorizedAccess:EC2/TorClient", "NETWORK_CONNECTION", kInstance, 80, 80, "EC2 instance %R is communicating with Tor Entry/Guard Node.", "EC2 instance %R is communicating with IP address %I on the Tor Anonymizing Proxy network marked as an Entry/Guard Node."},
	{"TTPs/Discovery/Discovery:IAMUser-AnomalousBehavior", "Discovery:IAMUser/AnomalousBehavior", "AWS_API_CALL", kAccessKey, 20, 50, "User %R is anomalously invoking APIs commonly used in Discovery tactics.", "APIs commonly used in Discovery tactics were invoked by user %R, under anomalous circumstances. Such activity is not typically seen from this user."},
	{"TTPs/Initial Access/UnauthorizedAccess:IAMUser-InstanceCredentialExfiltration.OutsideAWS", "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", "AWS_API_CALL", kAccessKey, 80, 80, "Credentials for instance role %R used from external IP address.", "Credentials created exclusively for an EC2 instance using instance role %R have been used from external IP address %I."},
	{"Software and Configuration Checks/Policy:IAMUser-RootCredentialUsage", "Policy:IAMUser/RootCredentialUsage", "AWS_API_CALL", kAccessKey, 20, 20, "API %A was invoked using root credentials.", "API %A was invoked using root credentials from IP address %I."},
	{"TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled", "Stealth:IAMUser/CloudTrailLoggingDisabled", "AWS_API_CALL", kAccessKey, 20, 20, "AWS CloudTrail trail %R was disabled.", "AWS CloudTrail trail %R was disabled by %R calling %A under unusual circumstances. This can be attackers attempt to cover their tracks by eliminating any trace of activity performed while they accessed your account."},
	{"TTPs/PenTest:IAMUser-KaliLinux", "PenTest:IAMUser/KaliLinux", "AWS_API_CALL", kAccessKey, 50, 50, "API %A was invoked from a Kali Linux computer.", "API %A was invoked by %R from a computer running Kali Linux with IP address %I."},
	{"Software and Configuration Checks/Policy:S3-BucketBlockPublicAccessDisabled", "Policy:S3/BucketBlockPublicAccessDisabled", "AWS_API_CALL", kBucket, 20, 20, "Amazon S3 Block Public Access was disabled for S3 bucket %R.", "Amazon S3 Block Public Access was disabled for S3 bucket %R by %A. If this behavior is not expected, it may indicate a configuration mistake or that your credentials are compromised."},
	{"TTPs/Exfiltration/Exfiltration:S3-AnomalousBehavior", "Exfiltration:S3/AnomalousBehavior", "AWS_API_CALL", kBucket, 50, 80, "Anomalous S3 API %A was invoked against bucket %R.", "An IAM entity invoked an S3 API in a suspicious way. API %A was invoked on bucket %R from %I under unusual circumstances."},
	{"TTPs/Impact/Impact:EC2-WinRMBruteForce", "Impact:EC2/WinRMBruteForce", "NETWORK_CONNECTION", kInstance, 20, 80, "Outbound WinRM brute force from EC2 instance %R.", "EC2 instance %R is performing an outbound Windows Remote Management brute force attack against %I."},
}

var apiCalls = []struct{ api, service string }{
	{"DescribeInstances", "ec2.amazonaws.com"}, {"ListBuckets", "s3.amazonaws.com"}, {"GetObject", "s3.amazonaws.com"},
	{"ListRoles", "iam.amazonaws.com"}, {"GetCallerIdentity", "sts.amazonaws.com"}, {"StopLogging", "cloudtrail.amazonaws.com"},
	{"DeleteBucketPublicAccessBlock", "s3.amazonaws.com"}, {"DescribeInstanceInformation", "ssm.amazonaws.com"},
	{"ListSecrets", "secretsmanager.amazonaws.com"}, {"GetSecretValue", "secretsmanager.amazonaws.com"}, {"ListKeys", "kms.amazonaws.com"},
	{"DescribeSecurityGroups", "ec2.amazonaws.com"}, {"ListUsers", "iam.amazonaws.com"}, {"CreateAccessKey", "iam.amazonaws.com"},
}

// geo is a remote endpoint's whereabouts.
type geo struct {
	country, code, city string
	lat, lon            float64
	asn                 int
	org                 string
}

var geos = []geo{
	{"Russia", "RU", "Moscow", 55.7522, 37.6156, 49505, "Selectel"},
	{"China", "CN", "Shanghai", 31.2222, 121.4581, 4134, "Chinanet"},
	{"Netherlands", "NL", "Amsterdam", 52.3740, 4.8897, 60781, "LeaseWeb Netherlands B.V."},
	{"United States", "US", "Ashburn", 39.0437, -77.4875, 14618, "Amazon.com, Inc."},
	{"Brazil", "BR", "São Paulo", -23.5475, -46.6361, 28573, "Claro NXT Telecomunicacoes Ltda"},
	{"Germany", "DE", "Frankfurt am Main", 50.1155, 8.6842, 24940, "Hetzner Online GmbH"},
	{"Viet Nam", "VN", "Hanoi", 21.0245, 105.8412, 7552, "Viettel Group"},
	{"India", "IN", "Mumbai", 19.0728, 72.8826, 9829, "National Internet Backbone"},
	{"Romania", "RO", "Bucharest", 44.4323, 26.1063, 9009, "M247 Europe SRL"},
	{"Korea, Republic of", "KR", "Seoul", 37.5660, 126.9784, 4766, "Korea Telecom"},
	{"Japan", "JP", "Tokyo", 35.6895, 139.6917, 2516, "KDDI CORPORATION"},
	{"France", "FR", "Roubaix", 50.6942, 3.1746, 16276, "OVH SAS"},
}

// portName is GuardDuty's name for a well-known port.
func portName(p int64) string {
	switch p {
	case 22:
		return "SSH"
	case 80:
		return "HTTP"
	case 443:
		return "HTTPS"
	case 3389:
		return "RDP"
	case 5985:
		return "WinRM"
	case 53:
		return "DNS"
	case 445:
		return "SMB"
	case 3306:
		return "MYSQL"
	}
	return "Unknown"
}

var badDomains = []string{"pool.minexmr.com", "xmr.pool.gntl.co.uk", "c2.bad-update.example", "rtb.x0.sorted-lookup.net", "stratum.btc-mine.example", "fxgmvuhcpwdmz.example"}

// pkg is a vulnerable software package family.
type pkg struct {
	name    string
	ver     string // major.minor of the affected releases
	manager string // Inspector PackageManager
	path    string // FilePath for application packages ("" for OS packages)
	subs    []string
	fixes   string // remediation command template prefix
}

var pkgs = []pkg{
	{"openssl", "1.0", "OS", "", []string{"openssl", "openssl-libs", "openssl-devel"}, "yum update "},
	{"kernel", "5.10", "OS", "", []string{"kernel", "kernel-headers", "kernel-tools", "kernel-devel", "bpftool", "perf"}, "yum update "},
	{"glibc", "2.26", "OS", "", []string{"glibc", "glibc-common", "glibc-minimal-langpack", "glibc-langpack-en"}, "yum update "},
	{"curl", "8.3", "OS", "", []string{"curl", "libcurl", "libcurl-minimal"}, "yum update "},
	{"libssl3", "3.0", "OS", "", []string{"libssl3", "openssl"}, "apt-get install --only-upgrade "},
	{"libc6", "2.36", "OS", "", []string{"libc6", "libc-bin"}, "apt-get install --only-upgrade "},
	{"expat", "2.5", "OS", "", []string{"expat", "libexpat1"}, "yum update "},
	{"python3", "3.9", "OS", "", []string{"python3", "python3-libs"}, "yum update "},
	{"org.apache.logging.log4j:log4j-core", "2.14", "JAR", "/opt/app/lib/log4j-core-%v.jar", nil, ""},
	{"com.fasterxml.jackson.core:jackson-databind", "2.13", "JAR", "/opt/app/lib/jackson-databind-%v.jar", nil, ""},
	{"io.netty:netty-codec-http2", "4.1", "JAR", "/usr/share/java/netty-codec-http2-%v.jar", nil, ""},
	{"org.yaml:snakeyaml", "1.33", "JAR", "/app/BOOT-INF/lib/snakeyaml-%v.jar", nil, ""},
	{"lodash", "4.17", "NPM", "app/node_modules/lodash/package.json", nil, ""},
	{"axios", "1.5", "NPM", "app/node_modules/axios/package.json", nil, ""},
	{"semver", "7.5", "NODEPKG", "usr/local/lib/node_modules/npm/node_modules/semver/package.json", nil, ""},
	{"follow-redirects", "1.15", "NPM", "app/node_modules/follow-redirects/package.json", nil, ""},
	{"requests", "2.31", "PYTHONPKG", "usr/local/lib/python3.11/site-packages/requests-%v.dist-info/METADATA", nil, ""},
	{"urllib3", "1.26", "POETRY", "app/poetry.lock", nil, ""},
	{"cryptography", "41.0", "PYTHONPKG", "usr/local/lib/python3.11/site-packages/cryptography-%v.dist-info/METADATA", nil, ""},
	{"Werkzeug", "2.3", "PIP", "app/requirements.txt", nil, ""},
	{"golang.org/x/net", "0.17", "GOBINARY", "usr/local/bin/server", nil, ""},
	{"google.golang.org/grpc", "1.58", "GOMOD", "app/go.mod", nil, ""},
	{"stdlib", "1.21", "GOBINARY", "usr/local/bin/server", nil, ""},
}

var weaknesses = []string{
	"A heap-based buffer overflow was found in %P. An attacker able to supply a specially crafted input could cause a denial of service or possibly execute arbitrary code with the privileges of the calling process.",
	"%P before %F allows remote attackers to cause a denial of service (uncontrolled resource consumption) via a crafted request that triggers excessive memory allocation.",
	"An issue was discovered in %P through %V. Improper input validation when parsing untrusted data allows an attacker to inject arbitrary content into the processed output.",
	"A use-after-free flaw was found in %P. A local user could use this flaw to crash the system or potentially escalate their privileges on the system.",
	"%P is vulnerable to Regular Expression Denial of Service (ReDoS): a crafted string can make matching take time exponential in its length.",
	"Prototype pollution in %P allows attackers to modify the prototype of Object through crafted property names, which may lead to denial of service or remote code execution depending on the application.",
	"A NULL pointer dereference in %P can be triggered when processing a malformed message, leading to a crash of the process.",
	"Improper certificate validation in %P may allow a man-in-the-middle attacker to intercept and modify traffic that the application believes to be protected by TLS.",
	"%P does not properly restrict the paths of files extracted from archives, which allows attackers to write files outside the destination directory (path traversal).",
	"An integer overflow in %P when handling very large length fields could lead to an out-of-bounds write and memory corruption.",
	"Deserialization of untrusted data in %P allows a remote attacker to execute arbitrary code by sending a crafted serialized object to an exposed endpoint.",
	"%P improperly handles HTTP/2 stream resets: a client that rapidly opens and cancels streams can exhaust server resources (the \"Rapid Reset\" pattern).",
}

var extraSentences = []string{
	" This issue affects %P versions up to and including %V.",
	" The issue was fixed in version %F.",
	" Exploitation requires that the affected component processes data supplied by an untrusted party.",
	" Note: this vulnerability only affects deployments where the vulnerable feature is enabled, which is not the default configuration.",
	" Users are advised to upgrade; there are no known workarounds.",
	" A public proof of concept exists for this issue.",
}

var refTemplates = []string{
	"https://nvd.nist.gov/vuln/detail/%C",
	"https://access.redhat.com/security/cve/%C",
	"https://ubuntu.com/security/notices/USN-%N-1",
	"https://lists.debian.org/debian-lts-announce/%Y/%M/msg%N.html",
	"https://security.netapp.com/advisory/ntap-%Y%M%N-0001/",
	"https://github.com/advisories/GHSA-%G",
	"https://bugzilla.redhat.com/show_bug.cgi?id=%N%N",
	"https://alas.aws.amazon.com/AL2/ALAS-%Y-%N.html",
	"https://www.openwall.com/lists/oss-security/%Y/%M/%N/1",
	"https://lists.fedoraproject.org/archives/list/package-announce@lists.fedoraproject.org/message/%K/",
	"https://security.gentoo.org/glsa/%Y%M-%N",
	"https://github.com/%P/commit/%H",
}

// macieType is a Macie finding type.
type macieType struct{ typ, title, desc string }

var macieTypes = []macieType{
	{"Sensitive Data Identifications/PII/SensitiveData:S3Object-Personal", "The S3 object contains personal information.", "The object contains personal information such as full names, mailing addresses, or identification numbers."},
	{"Sensitive Data Identifications/Financial/SensitiveData:S3Object-Financial", "The S3 object contains financial information.", "The object contains financial information such as bank account numbers or credit card numbers."},
	{"Sensitive Data Identifications/Passwords/SensitiveData:S3Object-Credentials", "The S3 object contains credentials data.", "The object contains sensitive credentials data such as AWS secret access keys or private keys."},
	{"Sensitive Data Identifications/PII/SensitiveData:S3Object-Multiple", "The S3 object contains multiple categories of sensitive data.", "The object contains more than one category of sensitive data."},
	{"Software and Configuration Checks/AWS Security Best Practices/Policy:IAMUser-S3BucketPublic", "The S3 bucket is publicly accessible.", "An Amazon S3 bucket policy or ACL grants read or write access to all users on the internet."},
	{"Software and Configuration Checks/AWS Security Best Practices/Policy:IAMUser-S3BucketSharedExternally", "The S3 bucket is shared with an external AWS account.", "The bucket policy or ACL grants access to an AWS account that is not part of your organization."},
}

var macieDetections = []string{"AWS_CREDENTIALS", "CREDIT_CARD_NUMBER", "EMAIL_ADDRESS", "NAME", "ADDRESS", "PHONE_NUMBER", "USA_SOCIAL_SECURITY_NUMBER", "JAPAN_MY_NUMBER", "BANK_ACCOUNT_NUMBER", "OPENSSH_PRIVATE_KEY"}

// configRule is an AWS Config managed rule and what it evaluates.
type configRule struct {
	name string
	kind rkind
	sev  string
}

var configRules = []configRule{
	{"s3-bucket-versioning-enabled", kBucket, "MEDIUM"}, {"s3-bucket-logging-enabled", kBucket, "LOW"},
	{"encrypted-volumes", kVolume, "MEDIUM"}, {"restricted-ssh", kSecurityGroup, "HIGH"},
	{"required-tags", kInstance, "LOW"}, {"ec2-instance-no-public-ip", kInstance, "HIGH"},
	{"rds-storage-encrypted", kRDS, "MEDIUM"}, {"approved-amis-by-id", kInstance, "MEDIUM"},
	{"desired-instance-type", kInstance, "LOW"}, {"lambda-function-public-access-prohibited", kLambda, "CRITICAL"},
	{"iam-user-mfa-enabled", kUser, "MEDIUM"}, {"kms-cmk-not-scheduled-for-deletion", kKMS, "MEDIUM"},
}

// prowlerCheck is a Prowler check.
type prowlerCheck struct {
	id, title string
	kind      rkind
	sev       string
	types     string // "" means Types []
	remedy    string
}

var prowlerChecks = []prowlerCheck{
	{"s3_bucket_default_encryption", "Check if S3 buckets have default encryption (SSE) enabled or use a bucket policy to enforce it.", kBucket, "medium", "Data Protection", "Ensure that S3 buckets have encryption at rest enabled."},
	{"s3_bucket_public_access", "Ensure there are no S3 buckets open to Everyone or Any AWS user.", kBucket, "critical", "Effects/Data Exposure", "You can enable block public access settings only for access points, buckets and AWS accounts."},
	{"iam_root_mfa_enabled", "Ensure MFA is enabled for the root account", kAccount, "critical", "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark", "Using IAM console navigate to Dashboard and expand Activate MFA on your root account."},
	{"iam_user_accesskey_unused", "Ensure Access Keys unused are disabled", kUser, "medium", "IAM", "Find the credentials that they were using and ensure that they are no longer operational."},
	{"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22", "Ensure no security groups allow ingress from 0.0.0.0/0 or ::/0 to SSH port 22.", kSecurityGroup, "high", "Infrastructure Security", "Apply Zero Trust approach. Implement a process to scan and remediate unrestricted or overly permissive network access."},
	{"ec2_instance_imdsv2_enabled", "Check if EC2 Instance Metadata Service Version 2 (IMDSv2) is Enabled and Required.", kInstance, "medium", "", "If you don't need IMDS you can turn it off. Using aws-cli you can force the instance to use only IMDSv2."},
	{"cloudtrail_multi_region_enabled", "Ensure CloudTrail is enabled in all regions", kTrail, "high", "Logging and Monitoring", "Ensure Logging is set to ON on all regions (even if they are not being used at the moment."},
	{"awslambda_function_no_secrets_in_variables", "Find secrets in Lambda functions variables.", kLambda, "critical", "", "Use Secrets Manager to securely provide database credentials to Lambda functions."},
	{"rds_instance_minor_version_upgrade_enabled", "Ensure RDS instances have minor version upgrade enabled.", kRDS, "low", "", "Enable auto minor version upgrade for all databases and environments."},
	{"kms_cmk_rotation_enabled", "Ensure rotation for customer created KMS CMKs is enabled.", kKMS, "medium", "Data Protection", "For every KMS Customer Master Keys (CMKs), ensure that Rotate this key every year is enabled."},
	{"vpc_flow_logs_enabled", "Ensure VPC Flow Logging is Enabled in all VPCs.", kVpc, "medium", "Logging and Monitoring", "It is recommended that VPC Flow Logs be enabled for packet Rejects for VPCs."},
	{"ecr_repositories_scan_images_on_push_enabled", "Check if ECR image scan on push is enabled", kECRRepo, "medium", "", "Enable ECR image scanning and review the scan findings for information about the security of the container images."},
	{"guardduty_is_enabled", "Check if GuardDuty is enabled", kAccount, "medium", "Threat Detection", "Enable GuardDuty and analyze its findings."},
}

var prowlerRequirements = []string{
	"CIS-1.5 2.1.1", "CIS-2.0 2.1.2", "CIS-3.0 3.1", "AWS-Foundational-Security-Best-Practices s3", "AWS-Foundational-Security-Best-Practices iam",
	"ISO27001 A.10.1", "SOC2 cc_6_1", "ENS-RD2022 op.exp.10.aws.cmk.1", "GDPR article_32", "HIPAA 164_312_a_2_iv",
	"NIST-800-53-Revision-5 sc_28_1", "PCI-3.2.1 3.4", "FedRamp-Moderate-Revision-4 sc-13", "RBI-Cyber-Security-Framework annex_i_1_3", "FFIEC d3-pc-am-b-12",
	"AWS-Well-Architected-Framework-Security-Pillar SEC08-BP02", "MITRE-ATTACK T1530", "CISA your-data-2",
}

// customActions are the custom actions analysts have created in the
// administrator account.
var customActions = []struct{ id, desc string }{
	{"SendToJira", "Create a Jira ticket for the selected findings"},
	{"NotifySlack", "Post the selected findings to #sec-alerts"},
	{"Remediate", "Run the automated remediation playbook"},
	{"EscalateToSOC", "Page the SOC on-call engineer"},
	{"IsolateInstance", "Move the EC2 instance to the quarantine security group"},
	{"ExportToS3", "Archive the selected findings to the evidence bucket"},
	{"Suppress30Days", "Suppress for 30 days pending risk acceptance"},
}

// insight is a Security Hub insight and the kind of value it groups by.
type insight struct {
	name, resultType string
	managed          int // managed insight number, 0 for a custom insight
}

var insights = []insight{
	{"AWS resources with the most findings", "ResourceId", 1},
	{"S3 buckets with public write or read permissions", "ResourceId", 2},
	{"AMIs that are generating the most findings", "ResourceAwsEc2InstanceImageId", 3},
	{"EC2 instances involved in known Tactics, Techniques, and Procedures (TTPs)", "ResourceId", 4},
	{"AWS principals with suspicious access key activity", "ResourceAwsIamAccessKeyPrincipalName", 5},
	{"AWS resources instances that don't meet security standards / best practices", "ResourceId", 6},
	{"AWS resources associated with potential data exfiltration", "ResourceId", 7},
	{"AWS resources associated with unauthorized resource consumption", "ResourceId", 8},
	{"Top accounts by counts of findings", "AwsAccountId", 24},
	{"Top products by counts of findings", "ProductName", 25},
	{"Severity by counts of findings", "SeverityLabel", 26},
	{"Top resource types with the most findings", "ResourceType", 29},
	{"Failed controls by account", "ComplianceSecurityControlId", 0},
	{"Critical CVEs on internet-facing instances", "ResourceId", 0},
	{"Findings by type (prod accounts)", "Type", 0},
}

var notes = []string{
	"Investigating with the platform team.",
	"Accepted risk: legacy workload scheduled for decommission next quarter.",
	"False positive: the bucket hosts public website assets.",
	"Ticket opened, owner notified.",
	"Suppressed per security exception, expires 2026-12-31.",
	"Remediated by auto-remediation runbook; waiting for the next evaluation.",
	"誤検知のため抑制（担当: セキュリティチーム）",
	"Duplicate of an earlier finding on the same resource.",
}

var noteAuthors = []string{
	"arn:aws:sts::%A:assumed-role/AWSReservedSSO_SecurityAnalyst_3f2a1b9c8d7e6f5a/alice@example.com",
	"arn:aws:sts::%A:assumed-role/AWSReservedSSO_SecurityAnalyst_3f2a1b9c8d7e6f5a/carol.tanaka@example.com",
	"arn:aws:sts::%A:assumed-role/securityhub-auto-remediation/lambda",
	"automation-rule",
}

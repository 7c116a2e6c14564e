package gen

import (
	"math/rand/v2"
	"strconv"
)

// The world the findings describe: accounts, regions and the resources in
// them. Resources are not stored: a resource is (kind, account, index), and
// its name and attributes are a hash of that, so the same instance or bucket
// recurs across findings and looks the same every time.

// regionTable is ordered by how busy a region usually is; picks favour the
// front.
var regionTable = []string{
	"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1", "eu-central-1", "us-east-2",
	"ap-southeast-1", "ap-southeast-2", "eu-west-2", "ap-northeast-2", "ca-central-1",
	"ap-south-1", "sa-east-1", "eu-north-1", "us-west-1", "eu-west-3", "ap-northeast-3",
	"eu-south-1", "me-central-1", "af-south-1",
}

type account struct {
	id   string
	seed uint64
	// local: the account's teams run third-party scanners on machines set
	// to Tokyo time, so those timestamps carry +09:00.
	local bool
}

// newAccounts makes n distinct 12-digit account ids, about one in eight with
// leading zeros (which a careless reader turns into an 11-digit number).
func newAccounts(r *rand.Rand, n int) []account {
	seen := make(map[uint64]bool, n)
	out := make([]account, 0, n)
	for len(out) < n {
		v := 100_000_000_000 + r.Uint64N(900_000_000_000)
		if r.IntN(8) == 0 {
			v = r.Uint64N(10_000_000_000) // 00xxxxxxxxxx
		}
		if seen[v] {
			continue
		}
		seen[v] = true
		s := strconv.FormatUint(v, 10)
		for len(s) < 12 {
			s = "0" + s
		}
		out = append(out, account{id: s, seed: r.Uint64(), local: r.IntN(5) == 0})
	}
	return out
}

// skewed returns an index in [0, n) favouring small values, as real fleets
// have a few busy accounts and regions and a long quiet tail.
func skewed(r *rand.Rand, n int) int {
	u := r.Float64()
	return min(int(float64(n)*u*u), n-1)
}

type rkind uint8

const (
	kAccount rkind = iota
	kInstance
	kSecurityGroup
	kSubnet
	kVpc
	kVolume
	kBucket
	kRole
	kUser
	kPolicy
	kAccessKey
	kLambda
	kRDS
	kKMS
	kTrail
	kECRRepo
	kECRImage
	kEKS
	kS3Object
	kContainer
	kOther
)

// kinds gives each resource kind its ASFF type and how many distinct
// resources of that kind an account has.
var kinds = [...]struct {
	typ  string
	pool int
}{
	kAccount: {"AwsAccount", 1}, kInstance: {"AwsEc2Instance", 80}, kSecurityGroup: {"AwsEc2SecurityGroup", 40},
	kSubnet: {"AwsEc2Subnet", 24}, kVpc: {"AwsEc2Vpc", 6}, kVolume: {"AwsEc2Volume", 90},
	kBucket: {"AwsS3Bucket", 40}, kRole: {"AwsIamRole", 50}, kUser: {"AwsIamUser", 25},
	kPolicy: {"AwsIamPolicy", 30}, kAccessKey: {"AwsIamAccessKey", 25}, kLambda: {"AwsLambdaFunction", 40},
	kRDS: {"AwsRdsDbInstance", 12}, kKMS: {"AwsKmsKey", 20}, kTrail: {"AwsCloudTrailTrail", 2},
	kECRRepo: {"AwsEcrRepository", 20}, kECRImage: {"AwsEcrContainerImage", 120}, kEKS: {"AwsEksCluster", 4},
	kS3Object: {"AwsS3Object", 400}, kContainer: {"Container", 60}, kOther: {"Other", 50},
}

var (
	apps       = []string{"orders", "payments", "web", "checkout", "search", "auth", "billing", "inventory", "analytics", "reporting", "ml", "ingest", "notifications", "catalog", "identity", "gateway"}
	envs       = []string{"prod", "staging", "dev", "sandbox", "qa", "shared"}
	users      = []string{"alice", "bob.smith", "ci-deployer", "legacy-batch", "terraform", "jenkins", "backup-operator", "svc-reporting", "carol.tanaka", "dave", "break-glass-admin", "sftp-partner"}
	roles      = []string{"OrganizationAccountAccessRole", "AWSReservedSSO_AdministratorAccess_5f3e2a1b9c8d7e6f", "AWSReservedSSO_ReadOnlyAccess_0a1b2c3d4e5f6a7b", "github-actions-deploy", "ecsTaskExecutionRole", "eks-node-group-role", "ReadOnlyAuditor", "datadog-integration", "cloudformation-exec", "backup-service-role"}
	bucketUses = []string{"logs", "data", "artifacts", "backups", "uploads", "static-assets", "exports", "tfstate", "athena-results", "raw"}
	runtimes   = []string{"python3.12", "python3.9", "nodejs20.x", "nodejs16.x", "java17", "provided.al2023", "python3.7", "go1.x", "ruby3.2"}
	instTypes  = []string{"t3.micro", "t3.medium", "m5.large", "m6i.xlarge", "c6i.large", "r6g.2xlarge", "t2.small", "m7g.large", "c5.4xlarge", "g5.xlarge"}
	dbEngines  = []struct {
		engine, version string
		port            int64
	}{{"postgres", "15.5", 5432}, {"mysql", "8.0.35", 3306}, {"aurora-postgresql", "14.9", 5432}, {"mariadb", "10.6.14", 3306}, {"sqlserver-se", "15.00.4345.5.v1", 1433}}
	tagOwners = []string{"platform", "data-eng", "payments-team", "sre", "security", "web-team", "ml-research"}
	imageTags = []string{"latest", "v1.4.2", "v1.4.3", "main", "2025.10.1", "release-42", "sha-9f8e7d6", "stable", "canary"}
)

// res is one resource of the world.
type res struct {
	kind   rkind
	k      int
	a      *account
	region string
}

func (r res) hash() hs {
	return hs{mix(r.a.seed ^ uint64(r.kind)<<56 ^ uint64(r.k)*0x2545f4914f6cdd1d)}
}

// appName returns "<app>-<env>" for the resource.
func (r res) appName() string {
	h := hs{mix(r.a.seed + uint64(r.k)*7919 + uint64(r.kind))}
	return pick(&h, apps) + "-" + pick(&h, envs)
}

func hexName(prefix string, h *hs) string {
	return string(appendHex([]byte(prefix), h.next(), 16))
}

// name returns the resource's own name (bucket name, role name, instance id).
func (r res) name() string {
	h := r.hash()
	switch r.kind {
	case kAccount:
		return r.a.id
	case kInstance:
		return hexName("i-0", &h)
	case kSecurityGroup:
		return hexName("sg-0", &h)
	case kSubnet:
		return hexName("subnet-0", &h)
	case kVpc:
		return hexName("vpc-0", &h)
	case kVolume:
		return hexName("vol-0", &h)
	case kBucket:
		if r.k == 0 {
			return "aws-cloudtrail-logs-" + r.a.id + "-" + string(appendHex(nil, h.next(), 8))
		}
		return r.appName() + "-" + pick(&h, bucketUses) + "-" + r.a.id
	case kRole:
		if r.k < len(roles) {
			return roles[r.k]
		}
		return r.appName() + pick(&h, []string{"-lambda-role", "-ecs-task", "-ec2-instance", "-deploy"})
	case kUser, kAccessKey:
		if r.k < len(users) {
			return users[r.k]
		}
		return "svc-" + r.appName()
	case kPolicy:
		return r.appName() + pick(&h, []string{"-s3-access", "-full-access", "-read-only", "-kms-use", "-admin"})
	case kLambda:
		return r.appName() + pick(&h, []string{"-handler", "-worker", "-authorizer", "-cron", "-resizer", "-notifier"})
	case kRDS:
		return r.appName() + pick(&h, []string{"-db", "-replica", "-aurora-cluster-instance-1", ""})
	case kKMS:
		return string(appendUUID(nil, h.next(), h.next()))
	case kTrail:
		return pick(&h, []string{"management-events", "org-trail"})
	case kECRRepo, kECRImage, kContainer:
		h2 := hs{mix(r.a.seed + uint64(r.k%20))}
		return pick(&h2, apps) + pick(&h2, []string{"-service", "-api", "-worker", "/base", "-frontend"})
	case kEKS:
		return pick(&h, envs) + "-cluster"
	case kS3Object:
		return pick(&h, []string{"exports/customers/", "uploads/", "reports/2025/", "tmp/", "finance/"}) +
			string(appendHex(nil, h.next(), 8)) + pick(&h, []string{".csv", ".json", ".xlsx", ".parquet", ".txt", ".pdf"})
	}
	return hexName("res-", &h)
}

// arn returns the resource's Id as findings name it.
func (r res) arn() string {
	a, rg := r.a.id, r.region
	switch r.kind {
	case kAccount:
		return "AWS::::Account:" + a
	case kInstance:
		return "arn:aws:ec2:" + rg + ":" + a + ":instance/" + r.name()
	case kSecurityGroup:
		return "arn:aws:ec2:" + rg + ":" + a + ":security-group/" + r.name()
	case kSubnet:
		return "arn:aws:ec2:" + rg + ":" + a + ":subnet/" + r.name()
	case kVpc:
		return "arn:aws:ec2:" + rg + ":" + a + ":vpc/" + r.name()
	case kVolume:
		return "arn:aws:ec2:" + rg + ":" + a + ":volume/" + r.name()
	case kBucket:
		return "arn:aws:s3:::" + r.name()
	case kRole:
		return "arn:aws:iam::" + a + ":role/" + r.name()
	case kUser:
		return "arn:aws:iam::" + a + ":user/" + r.name()
	case kPolicy:
		return "arn:aws:iam::" + a + ":policy/" + r.name()
	case kAccessKey:
		h := r.hash()
		return "AWS::IAM::AccessKey:" + accessKeyID(&h, "ASIA")
	case kLambda:
		return "arn:aws:lambda:" + rg + ":" + a + ":function:" + r.name()
	case kRDS:
		return "arn:aws:rds:" + rg + ":" + a + ":db:" + r.name()
	case kKMS:
		return "arn:aws:kms:" + rg + ":" + a + ":key/" + r.name()
	case kTrail:
		return "arn:aws:cloudtrail:" + rg + ":" + a + ":trail/" + r.name()
	case kECRRepo:
		return "arn:aws:ecr:" + rg + ":" + a + ":repository/" + r.name()
	case kECRImage:
		return "arn:aws:ecr:" + rg + ":" + a + ":repository/" + r.name() + "/sha256:" + r.digest()
	case kEKS:
		return "arn:aws:eks:" + rg + ":" + a + ":cluster/" + r.name()
	case kS3Object:
		b := res{kind: kBucket, k: r.k % kinds[kBucket].pool, a: r.a, region: rg}
		return "arn:aws:s3:::" + b.name() + "/" + r.name()
	case kContainer:
		h := r.hash()
		return a + ".dkr.ecr." + rg + ".amazonaws.com/" + r.name() + ":" + pick(&h, imageTags)
	}
	return r.name()
}

// digest is the image digest of an ECR image (64 hex digits).
func (r res) digest() string {
	h := hs{mix(r.a.seed ^ uint64(r.k)*31 ^ 0xd16e57)}
	b := make([]byte, 0, 64)
	for range 4 {
		b = appendHex(b, h.next(), 16)
	}
	return string(b)
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// accessKeyID returns an IAM-style identifier: prefix and 16 base32 digits.
func accessKeyID(h *hs, prefix string) string {
	b := []byte(prefix)
	x := h.next()
	for range 16 {
		b = append(b, idChars[x&31])
		x >>= 4
	}
	return string(b)
}

// privateIP returns an address in the account's VPCs.
func privateIP(h *hs) string {
	return "10." + strconv.Itoa(h.n(64)) + "." + strconv.Itoa(h.n(256)) + "." + strconv.Itoa(1+h.n(254))
}

// publicIP returns an address outside the private ranges.
func publicIP(h *hs) string {
	first := []int{3, 13, 18, 34, 35, 44, 52, 54, 45, 91, 103, 185, 193, 198, 203, 212}
	return strconv.Itoa(pick(h, first)) + "." + strconv.Itoa(h.n(256)) + "." + strconv.Itoa(h.n(256)) + "." + strconv.Itoa(1+h.n(254))
}

// dateNs returns a time between 1 and 1500 days before t (the start of the
// corpus), for creation dates of long-lived resources.
func dateNs(h *hs, t int64) int64 {
	return t - int64(1+h.n(1500))*86400e9 - int64(h.n(86400))*1e9 - int64(h.n(1000))*1e6
}

// resource writes one element of Resources.
func (g *Generator) resource(e *enc, r res, details bool) {
	e.open("")
	e.str("Type", kinds[r.kind].typ)
	e.str("Id", r.arn())
	e.str("Partition", "aws")
	e.str("Region", r.region)
	h := r.hash()
	h.next()
	if r.kind != kAccount && r.kind != kS3Object && h.n(10) < 4 {
		g.tags(e, r)
	}
	if details && r.kind != kAccount {
		e.open("Details")
		g.details(e, r)
		e.close()
	}
	e.close()
}

func (g *Generator) tags(e *enc, r res) {
	e.open("Tags")
	for _, t := range resourceTags(r) {
		e.str(t.name, t.value)
	}
	e.close()
}

// tag is one resource tag.
type tag struct{ name, value string }

// resourceTags returns a resource's tags (a function of the resource).
func resourceTags(r res) []tag {
	h := hs{mix(r.a.seed ^ uint64(r.k)<<20 ^ uint64(r.kind)<<8 ^ 0x7a65)}
	tags := []tag{{"Name", r.appName()}, {"Environment", pick(&h, envs)}}
	if h.n(2) == 0 {
		tags = append(tags, tag{"Owner", pick(&h, tagOwners)})
	}
	if h.n(2) == 0 {
		tags = append(tags, tag{"CostCenter", "CC-" + strconv.Itoa(1000+h.n(9000))})
	}
	if h.n(3) == 0 {
		tags = append(tags, tag{"ManagedBy", pick(&h, []string{"Terraform", "CloudFormation", "CDK", "Pulumi"})})
	}
	if h.n(4) == 0 {
		tags = append(tags, tag{"aws:cloudformation:stack-name", r.appName() + "-stack"})
	}
	if h.n(8) == 0 {
		tags = append(tags, tag{"Projet", "refonte-site-été"}) // a French team's tag, with accents
	}
	return tags
}

// details writes the Details sub-tree of a resource, keyed by its type.
func (g *Generator) details(e *enc, r res) {
	h := r.hash()
	a, rg := r.a.id, r.region
	sub := func(kind rkind, k int) res { return res{kind: kind, k: k % kinds[kind].pool, a: r.a, region: rg} }
	e.open(kinds[r.kind].typ)
	switch r.kind {
	case kInstance:
		e.str("Type", pick(&h, instTypes))
		e.str("ImageId", hexName("ami-0", &h))
		ips := []string{privateIP(&h)}
		if h.n(3) == 0 {
			ips = append(ips, publicIP(&h))
		}
		e.strs("IpV4Addresses", ips...)
		e.cat("IamInstanceProfileArn", "arn:aws:iam::", a, ":instance-profile/", sub(kRole, r.k).name())
		e.str("VpcId", sub(kVpc, r.k).name())
		e.str("SubnetId", sub(kSubnet, r.k).name())
		e.ts("LaunchedAt", dateNs(&h, g.start)/1e9*1e9, tsMilli, false)
		e.openArr("NetworkInterfaces")
		e.open("")
		e.str("NetworkInterfaceId", hexName("eni-0", &h))
		e.close()
		e.closeArr()
		e.open("MetadataOptions")
		e.str("HttpEndpoint", "enabled")
		e.int("HttpPutResponseHopLimit", int64(1+h.n(2)))
		e.str("HttpTokens", pick(&h, []string{"required", "optional", "optional"}))
		e.str("InstanceMetadataTags", "disabled")
		e.close()
		e.str("VirtualizationType", "hvm")
	case kSecurityGroup:
		name := "default"
		if r.k > 0 {
			name = r.appName() + "-sg"
		}
		e.str("GroupName", name)
		e.str("GroupId", r.name())
		e.str("OwnerId", a)
		e.str("VpcId", sub(kVpc, r.k).name())
		e.openArr("IpPermissions")
		for i := range 1 + h.n(4) {
			port := int64(pick(&h, []int{22, 443, 80, 3389, 5432, 3306, 8080, 6379, 9200}))
			e.open("")
			e.str("IpProtocol", "tcp")
			e.int("FromPort", port)
			e.int("ToPort", port)
			e.openArr("IpRanges")
			e.open("")
			if i == 0 || h.n(3) == 0 {
				e.str("CidrIp", "0.0.0.0/0")
			} else {
				e.str("CidrIp", "10."+strconv.Itoa(h.n(64))+".0.0/16")
			}
			e.close()
			e.closeArr()
			e.close()
		}
		e.closeArr()
		e.openArr("IpPermissionsEgress")
		e.open("")
		e.str("IpProtocol", "-1")
		e.openArr("IpRanges")
		e.open("")
		e.str("CidrIp", "0.0.0.0/0")
		e.close()
		e.closeArr()
		e.close()
		e.closeArr()
	case kSubnet:
		az := rg + string(rune('a'+h.n(3)))
		e.boolean("AssignIpv6AddressOnCreation", false)
		e.str("AvailabilityZone", az)
		e.int("AvailableIpAddressCount", int64(200+h.n(3800)))
		e.str("CidrBlock", "10."+strconv.Itoa(h.n(64))+"."+strconv.Itoa(16*h.n(16))+".0/20")
		e.boolean("DefaultForAz", h.n(4) == 0)
		e.boolean("MapPublicIpOnLaunch", h.n(3) == 0)
		e.str("OwnerId", a)
		e.str("State", "available")
		e.cat("SubnetArn", "arn:aws:ec2:", rg, ":", a, ":subnet/", r.name())
		e.str("SubnetId", r.name())
		e.str("VpcId", sub(kVpc, r.k).name())
	case kVpc:
		e.openArr("CidrBlockAssociationSet")
		e.open("")
		e.str("AssociationId", hexName("vpc-cidr-assoc-0", &h))
		e.str("CidrBlock", "10."+strconv.Itoa(h.n(64))+".0.0/16")
		e.str("CidrBlockState", "associated")
		e.close()
		e.closeArr()
		e.str("DhcpOptionsId", hexName("dopt-0", &h))
		e.str("State", "available")
	case kVolume:
		e.ts("CreateTime", dateNs(&h, g.start), tsMilli, false)
		e.boolean("Encrypted", h.n(3) > 0)
		e.int("Size", int64(pick(&h, []int{8, 20, 30, 50, 100, 500})))
		e.str("Status", "in-use")
		e.openArr("Attachments")
		e.open("")
		e.boolean("DeleteOnTermination", true)
		e.str("InstanceId", sub(kInstance, r.k).name())
		e.str("Status", "attached")
		e.close()
		e.closeArr()
	case kBucket:
		e.hexStr("OwnerId", "", &h, 64) // a canonical user id
		e.str("OwnerAccountId", a)
		e.ts("CreatedAt", dateNs(&h, g.start), tsMilli, false)
		e.open("ServerSideEncryptionConfiguration")
		e.openArr("Rules")
		e.open("")
		e.open("ApplyServerSideEncryptionByDefault")
		e.str("SSEAlgorithm", pick(&h, []string{"AES256", "AES256", "aws:kms"}))
		e.close()
		e.close()
		e.closeArr()
		e.close()
		e.open("PublicAccessBlockConfiguration")
		block := h.n(5) > 0
		e.boolean("BlockPublicAcls", block)
		e.boolean("BlockPublicPolicy", block)
		e.boolean("IgnorePublicAcls", block)
		e.boolean("RestrictPublicBuckets", block)
		e.close()
		e.open("BucketVersioningConfiguration")
		e.str("Status", pick(&h, []string{"Enabled", "Suspended", "Off"}))
		e.close()
	case kRole:
		e.str("RoleName", r.name())
		e.str("RoleId", accessKeyID(&h, "AROA"))
		e.ts("CreateDate", dateNs(&h, g.start)/1e9*1e9, tsMilli, false)
		e.str("Path", "/")
		e.int("MaxSessionDuration", int64(pick(&h, []int{3600, 3600, 43200})))
		svc := pick(&h, []string{"ec2", "lambda", "ecs-tasks", "eks"})
		e.cat("AssumeRolePolicyDocument", "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22",
			svc, ".amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D")
		e.openArr("AttachedManagedPolicies")
		for range 1 + h.n(3) {
			p := pick(&h, []string{"AmazonS3ReadOnlyAccess", "AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy", "AdministratorAccess", "AWSLambdaBasicExecutionRole"})
			e.open("")
			e.cat("PolicyArn", "arn:aws:iam::aws:policy/", p)
			e.str("PolicyName", p)
			e.close()
		}
		e.closeArr()
	case kUser:
		e.str("UserName", r.name())
		e.str("UserId", accessKeyID(&h, "AIDA"))
		e.ts("CreateDate", dateNs(&h, g.start)/1e9*1e9, tsMilli, false)
		e.str("Path", "/")
		e.openArr("AttachedManagedPolicies")
		e.open("")
		e.str("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess")
		e.str("PolicyName", "ReadOnlyAccess")
		e.close()
		e.closeArr()
	case kPolicy:
		e.str("PolicyName", r.name())
		e.str("PolicyId", accessKeyID(&h, "ANPA"))
		v := 1 + h.n(5)
		e.str("DefaultVersionId", "v"+strconv.Itoa(v))
		e.int("AttachmentCount", int64(h.n(6)))
		e.boolean("IsAttachable", true)
		created := dateNs(&h, g.start) / 1e9 * 1e9
		e.ts("CreateDate", created, tsMilli, false)
		e.openArr("PolicyVersionList")
		for i := v; i >= max(1, v-2); i-- {
			e.open("")
			e.str("VersionId", "v"+strconv.Itoa(i))
			e.boolean("IsDefaultVersion", i == v)
			e.ts("CreateDate", created+int64(i)*86400e9, tsMilli, false)
			e.close()
		}
		e.closeArr()
	case kAccessKey:
		h.next() // the key id took the first draw
		e.str("PrincipalId", accessKeyID(&h, "AROA")+":"+sub(kUser, r.k).name())
		e.str("PrincipalType", pick(&h, []string{"AssumedRole", "IAMUser", "IAMUser"}))
		e.str("PrincipalName", sub(kUser, r.k).name())
	case kLambda:
		e.str("FunctionName", r.name())
		e.str("Runtime", pick(&h, runtimes))
		e.str("Handler", pick(&h, []string{"index.handler", "app.lambda_handler", "bootstrap", "main"}))
		e.str("Role", sub(kRole, r.k+len(roles)).arn())
		e.int("MemorySize", int64(pick(&h, []int{128, 256, 512, 1024, 3008})))
		e.int("Timeout", int64(pick(&h, []int{3, 30, 60, 300, 900})))
		e.ts("LastModified", dateNs(&h, g.start), tsMilli, false)
		e.str("Version", "$LATEST")
		e.str("CodeSha256", base64ish(&h, 43)+"=")
		e.open("TracingConfig")
		e.str("Mode", "PassThrough")
		e.close()
		e.strs("Architectures", pick(&h, []string{"x86_64", "arm64"}))
	case kRDS:
		db := pick(&h, dbEngines)
		e.str("DBInstanceIdentifier", r.name())
		e.str("DBInstanceClass", pick(&h, []string{"db.t3.medium", "db.r6g.large", "db.m5.xlarge", "db.t4g.micro"}))
		e.str("Engine", db.engine)
		e.str("EngineVersion", db.version)
		e.int("DbInstancePort", 0)
		e.str("DbiResourceId", "db-"+accessKeyID(&h, "")+accessKeyID(&h, "")[:10])
		e.boolean("PubliclyAccessible", h.n(6) == 0)
		e.boolean("StorageEncrypted", h.n(4) > 0)
		e.boolean("MultiAz", h.n(2) == 0)
		e.int("AllocatedStorage", int64(pick(&h, []int{20, 100, 200, 500})))
		e.int("BackupRetentionPeriod", int64(pick(&h, []int{1, 7, 14, 35})))
		e.open("Endpoint")
		e.cat("Address", r.name(), ".c", string(appendHex(nil, h.next(), 12)), ".", rg, ".rds.amazonaws.com")
		e.int("Port", db.port)
		e.str("HostedZoneId", "Z"+accessKeyID(&h, "")[:12])
		e.close()
		e.ts("InstanceCreateTime", dateNs(&h, g.start), tsMilli, false)
	case kKMS:
		e.str("KeyId", r.name())
		e.str("KeyManager", "CUSTOMER")
		e.str("KeyState", "Enabled")
		e.num("CreationDate", float64(dateNs(&h, g.start)/1e6)/1000)
		e.str("Origin", "AWS_KMS")
		e.boolean("KeyRotationStatus", h.n(3) > 0)
		e.str("Description", "Default key for "+r.appName())
	case kTrail:
		e.str("Name", r.name())
		e.str("HomeRegion", "us-east-1")
		e.boolean("IsMultiRegionTrail", true)
		e.boolean("IncludeGlobalServiceEvents", true)
		e.boolean("LogFileValidationEnabled", h.n(3) > 0)
		e.str("S3BucketName", sub(kBucket, 0).name())
		e.cat("TrailArn", "arn:aws:cloudtrail:us-east-1:", a, ":trail/", r.name())
		e.boolean("IsOrganizationTrail", r.name() == "org-trail")
	case kECRRepo:
		e.str("RepositoryName", r.name())
		e.str("Arn", r.arn())
		e.open("ImageScanningConfiguration")
		e.boolean("ScanOnPush", h.n(2) == 0)
		e.close()
		e.str("ImageTagMutability", pick(&h, []string{"MUTABLE", "IMMUTABLE"}))
	case kECRImage:
		e.str("RegistryId", a)
		e.str("RepositoryName", r.name())
		e.str("Architecture", pick(&h, []string{"amd64", "amd64", "arm64"}))
		e.cat("ImageDigest", "sha256:", r.digest())
		tags := []string{pick(&h, imageTags)}
		if h.n(2) == 0 {
			tags = append(tags, pick(&h, imageTags))
		}
		e.strs("ImageTags", tags...)
		e.ts("ImagePublishedAt", g.start-int64(1+h.n(200))*86400e9-int64(h.n(86400))*1e9, tsSec, false)
	case kEKS:
		e.str("Name", r.name())
		e.str("Arn", r.arn())
		e.str("Version", pick(&h, []string{"1.27", "1.28", "1.29", "1.30"}))
		e.str("RoleArn", sub(kRole, 5).arn())
		e.open("ResourcesVpcConfig")
		e.strs("SecurityGroupIds", sub(kSecurityGroup, r.k+1).name())
		e.strs("SubnetIds", sub(kSubnet, r.k).name(), sub(kSubnet, r.k+1).name())
		e.boolean("EndpointPublicAccess", h.n(2) == 0)
		e.close()
		e.str("ClusterStatus", "ACTIVE")
	case kS3Object:
		e.ts("LastModified", g.start-int64(h.n(300))*86400e9-int64(h.n(86400))*1e9, tsSec, false)
		e.hexStr("ETag", "", &h, 32)
		e.str("ContentType", pick(&h, []string{"text/csv", "application/json", "application/octet-stream", "application/pdf"}))
		e.str("ServerSideEncryption", pick(&h, []string{"AES256", "aws:kms"}))
	case kContainer:
		e.str("ImageName", r.arn())
		e.hexStr("ImageId", "sha256:", &h, 64)
	default:
		e.str("Name", r.name())
	}
	e.close()
}

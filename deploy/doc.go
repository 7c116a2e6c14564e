// Package deploy holds what puts hublake into an AWS account: the container
// image (Dockerfile) and the CloudFormation stack (cloudformation/hublake.yaml).
// It has no Go code of its own; its tests check the template against the
// code: the EventBridge patterns against the Security Hub documentation, the
// IAM policies against the AWS operations the service is observed calling,
// the Glue columns against the row types, the container's environment
// against the flags of `hublake consume`, and every resource against the
// CloudFormation resource specification. See README.md.
package deploy

// The template's Glue columns and latest-state queries are generated from
// the schema package.
//go:generate go run ./internal/gencolumns -template cloudformation/hublake.yaml

// The dashboards (the CloudWatch dashboard's body in the template, and
// grafana/hublake.json) are generated from internal/dashboards.
//go:generate go run ./internal/gendashboards -template cloudformation/hublake.yaml -grafana grafana/hublake.json

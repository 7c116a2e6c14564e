// Package awsconf loads the one AWS configuration a hublake process uses:
// the credential chain, the retryer and its backoff, the HTTP client's
// timeouts, the SDK's logger routed to slog, and the counting of the
// retryer's attempts (metrics) and of the operations called (the task
// role's tests). Every AWS client (S3, Kinesis, DynamoDB) is built from it.
package awsconf

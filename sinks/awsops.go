package sinks

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// RecordOperations appends "<service>:<Operation>" for every AWS API call
// made with cfg to the file named by HUBLAKE_RECORD_AWS_OPS, when that is
// set. The integration tests use it to learn which operations the service
// really calls, and the deployment tests check the task role against that
// list: least privilege from observation, not from memory.
func RecordOperations(cfg *aws.Config) {
	path := os.Getenv("HUBLAKE_RECORD_AWS_OPS")
	if path == "" {
		return
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("hublakeRecordOperation",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				op := awsmiddleware.GetServiceID(ctx) + ":" + awsmiddleware.GetOperationName(ctx)
				mu.Lock()
				if !seen[op] {
					seen[op] = true
					if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
						fmt.Fprintln(f, op)
						f.Close()
					}
				}
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
}

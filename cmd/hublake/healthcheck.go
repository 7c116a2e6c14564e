package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

type healthcheckCmd struct {
	URL     string        `help:"Health endpoint of the running consumer." default:"http://127.0.0.1:9090/healthz"`
	Timeout time.Duration `help:"How long to wait for the answer." default:"3s"`
}

// Run calls the consumer's /healthz: the container health check of an image
// that has no shell or curl. Exit status 0 when it answers 200.
func (c *healthcheckCmd) Run(ctx context.Context, _ *globals) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s answered %s", c.URL, resp.Status)
	}
	return nil
}

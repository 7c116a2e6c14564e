package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

type healthcheckCmd struct {
	URL     string        `help:"Health endpoint of the running consumer (default: /healthz at the port of HUBLAKE_METRICS_ADDR, the consumer's --metrics-addr, on 127.0.0.1)."`
	Timeout time.Duration `help:"How long to wait for the answer." default:"3s"`
}

// Run calls the consumer's /healthz: the container health check of an image
// that has no shell or curl. Exit status 0 when it answers 200.
func (c *healthcheckCmd) Run(ctx context.Context, _ *globals) error {
	url := c.URL
	if url == "" {
		url = healthURL(os.Getenv("HUBLAKE_METRICS_ADDR"))
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s answered %s", url, resp.Status)
	}
	return nil
}

// healthURL is the /healthz URL of a consumer whose --metrics-addr is addr
// (the consumer's default when empty), on the loopback address when addr
// names no host: the health check runs in the consumer's container, with
// its environment, and follows its port.
func healthURL(addr string) string {
	if addr == "" {
		addr = defaultMetricsAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		_, port, _ = net.SplitHostPort(defaultMetricsAddr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz"
}

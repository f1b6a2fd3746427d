// Command healthcheck is the container image's HEALTHCHECK: it GETs one URL
// (by default compliance-connect's /ready on loopback) and exits 0 when the
// answer is 2xx, 1 otherwise, printing the status and the start of the body
// (the readiness reason) to stderr. The image has no shell, curl or wget, so
// this static binary is its only probe.
//
//	healthcheck [-timeout 5s] [URL]
//
// Credentials for `http.basic_auth` go in the URL
// (http://user:password@127.0.0.1:4195/ready); they are never printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const defaultURL = "http://127.0.0.1:4195/ready"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: healthcheck [-timeout 5s] [URL]   (default URL %s)\n", defaultURL)
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	target := defaultURL
	if fs.NArg() == 1 {
		target = fs.Arg(0)
	}
	if err := check(target, *timeout); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	return 0
}

// check GETs target and returns nil for a 2xx answer.
func check(target string, timeout time.Duration) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("the URL must be http(s)://host[:port]/path")
	}
	shown := u.Redacted()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", shown, err)
	}
	// The proxy variables of the collector's environment must not reroute
	// a loopback probe.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error repeats the URL with its password: report the cause only.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("GET %s: %w", shown, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s: %s", shown, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

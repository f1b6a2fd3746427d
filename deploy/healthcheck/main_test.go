package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheckExitCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			w.WriteHeader(http.StatusOK)
		case "/auth":
			if u, p, ok := r.BasicAuth(); !ok || u != "ops" || p != "s3cret-pw" {
				w.WriteHeader(http.StatusUnauthorized)
			}
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("endpoint activities: no job succeeded for 15m0s\n"))
		}
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/ready"
	ln.Close()
	withAuth := strings.Replace(srv.URL, "http://", "http://ops:s3cret-pw@", 1) + "/auth"

	tests := []struct {
		name       string
		args       []string
		want       int
		wantStderr string // contained in stderr
	}{
		{"a 200 is healthy", []string{srv.URL + "/ready"}, 0, ""},
		{"a 503 is unhealthy and its reason is printed", []string{srv.URL + "/not-ready"}, 1, "no job succeeded for 15m0s"},
		{"credentials in the URL are sent and never printed", []string{withAuth}, 0, ""},
		{"a wrong password fails without printing it", []string{strings.Replace(withAuth, "s3cret-pw", "wrong-pw", 1)}, 1, "401"},
		{"nothing listening is unhealthy", []string{"-timeout", "2s", closed}, 1, "connection refused"},
		{"a URL that is not http is a usage error", []string{"ftp://127.0.0.1/ready"}, 1, "must be http(s)"},
		{"two URLs are a usage error", []string{closed, closed}, 2, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			if got := run(tt.args, &stderr); got != tt.want {
				t.Fatalf("exit code %d, want %d (stderr %q)", got, tt.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantStderr)
			}
			for _, secret := range []string{"s3cret-pw", "wrong-pw"} {
				if strings.Contains(stderr.String(), secret) {
					t.Errorf("stderr shows the password: %q", stderr.String())
				}
			}
		})
	}
}

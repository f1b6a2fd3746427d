package preflight

import (
	"fmt"
	"net"
	"strings"
)

// Benthos's http section defaults.
const defaultHTTPAddress = "0.0.0.0:4195"

// httpServer reports how the Benthos HTTP server (/ready, /metrics, and the
// input's /compliance/<label>/jobs and /state, which can change the
// checkpoint) is exposed.
func (r *run) httpServer() {
	h, _ := r.root["http"].(map[string]any)
	if on, ok := h["enabled"].(bool); ok && !on {
		r.add(CheckHTTP, "http", OK, "", "the HTTP server is disabled: no /ready, /metrics or /compliance endpoints (nothing exposed)")
		return
	}
	addr, _ := h["address"].(string)
	if addr == "" {
		addr = defaultHTTPAddress
	}
	auth, _ := h["basic_auth"].(map[string]any)
	authOn, _ := auth["enabled"].(bool)
	cert, _ := h["cert_file"].(string)
	tlsOn := strings.TrimSpace(cert) != ""
	debug, _ := h["debug_endpoints"].(bool)

	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	desc := fmt.Sprintf("%s://%s, basic auth %s", scheme, addr, onOff(authOn))
	reach, loopback := exposure(addr)
	if loopback {
		r.add(CheckHTTP, "http", OK, "", "%s: listens on %s only", desc, reach)
		return
	}
	v := &verdict{status: OK}
	v.note(fmt.Sprintf("%s: listens on %s", desc, reach))
	writes := stateWritesOn(r.root)
	switch {
	case !authOn && writes:
		v.worse(Fail, "bind it to 127.0.0.1:4195 (http.address), or enable http.basic_auth (with TLS: http.cert_file and key_file), or turn admin.state_writes off",
			"admin.state_writes is on: the input refuses to start, since anyone who can reach this listener could replace, rewind or delete the checkpoint without credentials")
	case !authOn:
		v.worse(Warn, "bind it to 127.0.0.1:4195 (http.address) behind your reverse proxy or scraper, or enable http.basic_auth (with TLS: http.cert_file and key_file)",
			"anyone who can reach it reads /metrics, the job reports and the checkpoint (recent activity ids) without credentials; checkpoint writes are off (admin.state_writes)")
	case !tlsOn:
		v.worse(Warn, "set http.cert_file and http.key_file, or terminate TLS in front of it and bind it to 127.0.0.1",
			"basic auth credentials cross the network in clear text (no http.cert_file)")
	}
	if debug {
		v.worse(Warn, "set http.debug_endpoints: false, or bind the server to 127.0.0.1",
			"http.debug_endpoints exposes profiling endpoints")
	}
	r.add(CheckHTTP, "http", v.status, v.fix, "%s", strings.Join(v.notes, "; "))
}

// exposure says which interfaces addr listens on and whether they are all
// loopback.
func exposure(addr string) (string, bool) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		return "every interface", false
	case "localhost":
		return "loopback (localhost)", true
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
		if ip.IsLoopback() {
			return "loopback " + ip.String(), true
		}
		return "the interface of " + ip.String(), false
	}
	return "the interfaces of " + host, false
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// stateWritesOn reports whether any anthropic_compliance input of the config
// (at any depth: input, input_resources, brokers) turns admin.state_writes on.
func stateWritesOn(node any) bool {
	switch v := node.(type) {
	case map[string]any:
		if in, ok := v["anthropic_compliance"].(map[string]any); ok {
			if admin, ok := in["admin"].(map[string]any); ok {
				if on, _ := admin["state_writes"].(bool); on {
					return true
				}
			}
		}
		for _, child := range v {
			if stateWritesOn(child) {
				return true
			}
		}
	case []any:
		for _, child := range v {
			if stateWritesOn(child) {
				return true
			}
		}
	}
	return false
}

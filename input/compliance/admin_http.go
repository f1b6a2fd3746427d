package compliance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// Config fields of the HTTP endpoints and the seen cap.
const (
	fieldAdmin             = "admin"
	fieldAdminStateWrites  = "state_writes"
	fieldAdminAllowedHosts = "allowed_hosts"
	fieldStateMaxSeen      = "max_seen_ids"

	defaultMaxSeenIDs = 1_000_000
)

// maxStateBody caps the body of a state write. A checkpoint at the default
// seen cap is about 36 MiB: larger documents are written with
// `compliance-connect state set`, which runs no server.
const maxStateBody = 16 << 20

// bodyReadTimeout bounds how long a state write may take to send its body,
// so a slow client cannot hold the (serialised) write slot.
const bodyReadTimeout = 30 * time.Second

// adminConfig is the admin block of the input.
type adminConfig struct {
	StateWrites  bool
	AllowedHosts []string
}

func adminField() *service.ConfigField {
	return service.NewObjectField(fieldAdmin,
		service.NewBoolField(fieldAdminStateWrites).
			Description("Accept PUT, DELETE and POST (rewind) on `/compliance/<label>/state`. Off by default: anyone who can reach "+
				"the HTTP server could otherwise erase the checkpoint or force a re-send of the whole history. Even when on, a write "+
				"is refused unless Benthos' HTTP server listens on a loopback address (`http.address: 127.0.0.1:4195`) or "+
				"`http.basic_auth` is enabled, and it must be a JSON request (`Content-Type: application/json`) from the same "+
				"origin. `compliance-connect state` needs none of this. Reads (GET state and jobs) are always served.").
			Default(false),
		service.NewStringListField(fieldAdminAllowedHosts).
			Description("Host names (the `Host` header, without port) the endpoints answer to besides IP addresses and `localhost`, "+
				"e.g. the name of a reverse proxy in front of the HTTP server. Any other name is refused, which defeats DNS rebinding.").
			Default([]any{}),
	).Description("The HTTP endpoints of the input on Benthos' HTTP server: `/compliance/<label>/state` and `/compliance/<label>/jobs`.").
		Advanced()
}

func parseAdminConfig(conf *service.ParsedConfig) (adminConfig, error) {
	var a adminConfig
	var err error
	if a.StateWrites, err = conf.FieldBool(fieldAdmin, fieldAdminStateWrites); err != nil {
		return a, err
	}
	if conf.Contains(fieldAdmin, fieldAdminAllowedHosts) {
		if a.AllowedHosts, err = conf.FieldStringList(fieldAdmin, fieldAdminAllowedHosts); err != nil {
			return a, err
		}
	}
	return a, nil
}

// HTTPServer is how Benthos' HTTP server is configured (the `http` block).
// Benthos does not tell plugins; the compliance-connect binary reads it from
// the config and passes it with WithHTTPServer.
type HTTPServer struct {
	Enabled   bool
	Address   string
	BasicAuth bool
}

// WithHTTPServer tells the input how the HTTP server is configured, so that
// it can refuse state writes (admin.state_writes) on a server that listens
// beyond loopback without basic auth, at start-up. Without it, a state write
// is accepted only from a loopback client address.
func WithHTTPServer(fn func() (HTTPServer, bool)) Option {
	return func(o *options) { o.httpServer = fn }
}

// isLoopbackHost reports whether host (a name or address, no port) is the
// loopback interface.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// writesRefusal says why state writes cannot be served on server, or "".
func writesRefusal(server HTTPServer) string {
	if server.BasicAuth {
		return ""
	}
	host, _, err := net.SplitHostPort(server.Address)
	if err != nil {
		host = server.Address
	}
	if isLoopbackHost(host) {
		return ""
	}
	return fmt.Sprintf("the HTTP server listens on %q without http.basic_auth: anyone who reaches it could rewind or erase the checkpoint. "+
		"Bind http.address to 127.0.0.1 (or [::1]) or enable http.basic_auth", server.Address)
}

// checkStateWrites refuses, at start-up, state writes enabled on an HTTP
// server that is open to the network.
func (in *input) checkStateWrites() error {
	if !in.cfg.Admin.StateWrites || in.opts.httpServer == nil {
		return nil
	}
	server, known := in.opts.httpServer()
	if !known || !server.Enabled {
		return nil
	}
	if why := writesRefusal(server); why != "" {
		return fmt.Errorf("admin.state_writes: %s", why)
	}
	return nil
}

//------------------------------------------------------------------------------

// registerEndpoint mounts h on the Benthos HTTP server. Benthos v4.60 offers
// plugins no public way to do this; its resource manager has the method, and
// it is reached here through XUnwrapper. If that ever stops working the
// endpoint is simply not mounted (the caller logs a warning).
func registerEndpoint(mgr *service.Resources, path, desc string, h http.HandlerFunc) bool {
	unwrapper := reflect.ValueOf(mgr.XUnwrapper())
	unwrap := unwrapper.MethodByName("Unwrap")
	if !unwrap.IsValid() || unwrap.Type().NumIn() != 0 || unwrap.Type().NumOut() != 1 {
		return false
	}
	reg, ok := unwrap.Call(nil)[0].Interface().(interface {
		RegisterEndpoint(path, desc string, h http.HandlerFunc)
	})
	if !ok {
		return false
	}
	reg.RegisterEndpoint(path, desc, h)
	return true
}

// registerAdminEndpoints serves the job history and the state of each
// endpoint under /compliance/<label>/.
func (in *input) registerAdminEndpoints() {
	label := in.mgr.Label()
	if label == "" {
		label = "default"
	}
	base := "/compliance/" + label
	a := &adminHTTP{in: in}
	ok := registerEndpoint(in.mgr, base+"/jobs", "Reports of the anthropic_compliance input's recent jobs (newest first).", a.guard(a.serveJobs))
	ok = ok && registerEndpoint(in.mgr, base+"/state", "GET the checkpoint of an anthropic_compliance endpoint (?endpoint=activities); "+
		"with admin.state_writes, PUT or DELETE it, or POST ?rewind_to=<time> to rewind it (JSON requests only).", a.guard(a.serveState))
	if !ok {
		in.log.Warn("could not mount the /compliance HTTP endpoints on this Benthos build; use `compliance-connect state` instead")
	}
}

// adminHTTP serves the input's endpoints.
type adminHTTP struct {
	in      *input
	writing sync.Mutex // one state write at a time
}

// httpError is an answer with a status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// guard refuses requests addressed by a name other than an IP, localhost or
// admin.allowed_hosts: a page whose name was rebound to this host's address
// (DNS rebinding) reads and writes as "same origin" otherwise.
func (a *adminHTTP) guard(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := a.checkHost(r)
		if err == nil {
			err = h(w, r)
		}
		if err == nil {
			return
		}
		status := http.StatusBadRequest
		var he *httpError
		switch {
		case errors.As(err, &he):
			status = he.status
		case errors.Is(err, ErrNoCheckpoint):
			status = http.StatusNotFound
		case errors.Is(err, ErrRefused):
			status = http.StatusUnprocessableEntity
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
	}
}

func (a *adminHTTP) checkHost(r *http.Request) error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" || net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") {
		return nil
	}
	for _, allowed := range a.in.cfg.Admin.AllowedHosts {
		if strings.EqualFold(host, allowed) {
			return nil
		}
	}
	return refuse(http.StatusForbidden, "host %q is not an IP address, localhost or one of admin.allowed_hosts: refused (DNS rebinding)", host)
}

// checkWrite refuses a state write unless the operator enabled writes, the
// server is not open to the network without auth, and the request is one a
// browser cannot forge across origins.
func (a *adminHTTP) checkWrite(r *http.Request) error {
	in := a.in
	if !in.cfg.Admin.StateWrites {
		return refuse(http.StatusForbidden, "state writes over HTTP are off: set admin.state_writes: true on the input "+
			"(with a loopback http.address or http.basic_auth), or use `compliance-connect state`")
	}
	server, known := HTTPServer{}, false
	if in.opts.httpServer != nil {
		server, known = in.opts.httpServer()
	}
	if known {
		if why := writesRefusal(server); why != "" {
			return refuse(http.StatusForbidden, "state write refused: %s", why)
		}
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !isLoopbackHost(host) {
		return refuse(http.StatusForbidden, "state write refused: this build cannot tell whether the HTTP server listens on loopback "+
			"or uses basic auth (compliance.WithHTTPServer), so writes are accepted from loopback clients only, not from %q", r.RemoteAddr)
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return refuse(http.StatusForbidden, "state write refused: a %s request from a browser (Sec-Fetch-Site)", site)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || origin == "null" || !strings.EqualFold(u.Host, r.Host) {
			return refuse(http.StatusForbidden, "state write refused: Origin %q is not this server (%q)", origin, r.Host)
		}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return refuse(http.StatusUnsupportedMediaType, "state writes must be JSON requests: send Content-Type: application/json "+
			"(a browser cannot send that across origins without asking first)")
	}
	return nil
}

func (a *adminHTTP) serveJobs(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return refuse(http.StatusMethodNotAllowed, "use GET")
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": a.in.history.list()})
	return nil
}

func (a *adminHTTP) serveState(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	name := q.Get("endpoint")
	if name == "" {
		name = endpointActivities
	}
	var target *StateTarget
	for _, run := range a.in.runners {
		if run.name == name && run.target != nil {
			target = run.target
		}
	}
	if target == nil {
		return refuse(http.StatusNotFound, "no endpoint %q with state tracking in this input", name)
	}
	ctx := r.Context()
	if r.Method == http.MethodGet {
		rec, err := target.Show(ctx)
		if err != nil {
			return err
		}
		return writeRecord(w, rec)
	}
	switch r.Method {
	case http.MethodPut, http.MethodDelete, http.MethodPost:
	default:
		return refuse(http.StatusMethodNotAllowed, "use GET, PUT, DELETE or POST ?rewind_to=")
	}
	if err := a.checkWrite(r); err != nil {
		return err
	}
	if !a.writing.TryLock() {
		return refuse(http.StatusConflict, "another state write is in progress; try again")
	}
	defer a.writing.Unlock()
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStateBody))
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		return refuse(http.StatusRequestEntityTooLarge, "the body is larger than %d MiB; write large checkpoints with `compliance-connect state set`", maxStateBody>>20)
	}
	if err != nil {
		return refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	force := q.Get("force") == "true"
	switch r.Method {
	case http.MethodPut:
		rec, err := target.Set(ctx, body, force)
		if err != nil {
			return err
		}
		return writeRecord(w, rec)
	case http.MethodDelete:
		if err := target.Delete(ctx); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"deleted": target.Where()})
		return nil
	default:
		to, err := ParseRewind(q.Get("rewind_to"))
		if err != nil {
			return err
		}
		rec, err := target.Rewind(ctx, to, force)
		if err != nil {
			return err
		}
		return writeRecord(w, rec)
	}
}

func writeRecord(w http.ResponseWriter, rec interface{ Encode() ([]byte, error) }) error {
	b, err := rec.Encode()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

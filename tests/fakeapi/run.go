package fakeapi

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Running is a Server listening on a TCP address.
type Running struct {
	// Server is the fake being served, for scripting faults and inspection.
	Server *Server
	ln     net.Listener
	srv    *http.Server
	done   chan error
}

// Start builds a Server from opts and serves it on addr ("127.0.0.1:0" picks a
// free port) in a goroutine until Close.
func Start(opts Options, addr string) (*Running, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakeapi: listen on %s: %w", addr, err)
	}
	r := &Running{
		Server: s,
		ln:     ln,
		srv:    &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second},
		done:   make(chan error, 1),
	}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

// URL is the base URL to give a client, e.g. "http://127.0.0.1:41234".
func (r *Running) URL() string { return "http://" + r.ln.Addr().String() }

// Addr is the listening address.
func (r *Running) Addr() string { return r.ln.Addr().String() }

// Close stops listening, closes every connection (cancelling in-flight slow
// faults) and waits for the serving goroutine to end.
func (r *Running) Close() error {
	err := r.srv.Close()
	if serveErr := <-r.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("fakeapi: close: %w", err)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return fmt.Sprintf("%d value(s)", len(*l)) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// RunCLI runs the fake from command-line arguments (without the program or
// subcommand name): it builds a seeded dataset ending now, prints the
// listening URL to stdout and serves until ctx is cancelled. Run with -h for
// the flags.
func RunCLI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakeapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var keys stringList
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (port 0 picks a free port)")
	fs.Var(&keys, "api-key", "accepted x-api-key value; repeatable (default test-key)")
	seed := fs.Uint64("seed", 1, "seed of the dataset, the growth and the random faults")
	count := fs.Int("count", 10000, "number of activities in the seeded dataset")
	span := fs.Duration("span", 24*time.Hour, "time span of the seeded dataset, ending now")
	millis := fs.Bool("millis", false, "give about a quarter of the seeded activities millisecond timestamps")
	lag := fs.Duration("lag", 30*time.Second, "indexing lag: activities become visible this long after created_at")
	growth := fs.Float64("growth", 1, "new activities per second while running (0 = none)")
	lateFraction := fs.Float64("late-fraction", 0, "fraction (0..1) of new activities that arrive late (created_at in the past)")
	maxLateness := fs.Duration("max-lateness", 2*time.Minute, "how far in the past a late arrival's created_at may lie")
	rateLimit := fs.Int("rate-limit", 600, "requests per minute, fixed windows aligned to the minute (0 = unlimited)")
	selfEvents := fs.Bool("self-events", false, "add a compliance_api_accessed activity for every request")
	strictTypes := fs.Bool("strict-types", false, "answer 400 to unknown activity types in activity_types[]/exclude_activity_types[]")
	opaque := fs.Bool("opaque-cursors", false, "return opaque cursors instead of activity ids as first_id/last_id")
	faultRate := fs.Float64("fault-rate", 0, "fraction (0..1) of requests that get a random fault")
	faultKinds := fs.String("fault-kinds", "", "comma list of fault kinds for --fault-rate (default: the transient ones); known: "+kindList())
	faultDelay := fs.Duration("fault-delay", 2*time.Second, "wait of the 'slow' fault")
	users := fs.Int("users", 200, "users of the organization behind the directory and content endpoints")
	chats := fs.Int("chats", 300, "chats created over the span")
	worldGrowth := fs.Float64("world-growth", 60, "new chats, chat edits, directory and project changes per hour while running (0 = none)")
	authErrors := fs.String("auth-errors", "default", "forms of the answers to a missing or wrong key: default (older on the feed, newest elsewhere), newest, legacy")
	allowUnknown := fs.Bool("allow-unknown-params", false, "ignore undocumented query parameters instead of answering 400")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: fakeapi [flags]

Serves a fake Anthropic Compliance API: the Activity Feed (GET %s) and the
directory and content endpoints (organizations, users, roles, groups, settings,
chats and messages, files, projects) of one seeded organization that the feed names.
Feed order: (created_at, id) descending by default, ascending with order=asc;
activities created in the same instant are ordered by id in the same direction.
Cursors are activity ids (or opaque tokens with --opaque-cursors); a cursor excluded
by the request's filters is located in the unfiltered order.

Flags:
`, ActivitiesPath)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("fakeapi: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("fakeapi: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	kinds, err := ParseFaultKinds(*faultKinds)
	if err != nil {
		return fmt.Errorf("fakeapi: --fault-kinds: %w", err)
	}
	if *span <= 0 {
		return fmt.Errorf("fakeapi: --span must be positive, got %v", *span)
	}
	forms := map[string]AuthErrors{"default": AuthErrorsDefault, "newest": AuthErrorsNewest, "legacy": AuthErrorsLegacy}
	form, ok := forms[*authErrors]
	if !ok {
		return fmt.Errorf("fakeapi: --auth-errors must be default, newest or legacy, got %q", *authErrors)
	}
	now := time.Now().UTC()
	g := *worldGrowth
	world, err := NewWorld(WorldOptions{Seed: *seed, From: now.Add(-2 * *span), To: now, Users: *users, Chats: *chats,
		Growth: WorldGrowth{ChatsPerHour: g, EditsPerHour: g, DeletesPerHour: g / 20, UserChangesPerHour: g / 10,
			GroupChangesPerHour: g / 10, ProjectChangesPerHour: g / 10, SettingChangesPerHour: g / 60}})
	if err != nil {
		return err
	}
	opts := Options{
		APIKeys:            keys,
		World:              world,
		AuthErrors:         form,
		AllowUnknownParams: *allowUnknown,
		Lag:                *lag,
		Dataset:            Generate(GenOptions{Seed: *seed, Count: *count, From: now.Add(-*span), To: now, Millis: *millis, World: world}),
		RateLimit:          *rateLimit,
		StrictTypes:        *strictTypes,
		OpaqueCursors:      *opaque,
		Growth:             Growth{PerSecond: *growth, LateFraction: *lateFraction, MaxLateness: *maxLateness, Seed: *seed},
		SelfEvents:         *selfEvents,
		FaultRate:          *faultRate,
		FaultKinds:         kinds,
		FaultSeed:          *seed,
		FaultDelay:         *faultDelay,
		Seed:               *seed,
	}
	run, err := Start(opts, *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fakeapi listening on %s%s (%d activities, %d users, %d chats, %d key(s), lag %v, rate limit %d/min)\n",
		run.URL(), ActivitiesPath, *count, *users, *chats, max(1, len(keys)), *lag, *rateLimit)
	<-ctx.Done()
	return run.Close()
}

package preflight

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// volatileFS lose their content at reboot; overlay is a container's
// writable layer, lost when the container is recreated.
var volatileFS = map[string]string{
	"tmpfs":   "memory (tmpfs): it is lost at reboot",
	"ramfs":   "memory (ramfs): it is lost at reboot",
	"overlay": "a container's writable layer (overlay): it is lost when the container is recreated",
}

const fixVolatile = "put the checkpoint on persistent storage (a directory on disk, a container volume) or in a durable shared cache (redis with persistence)"

// state checks each input's checkpoint store (durable, writable) and each
// endpoint's checkpoint (readable, of this config's identity).
func (r *run) state(ctx context.Context) {
	r.hasCheckpoint = map[string]bool{}
	byInput := map[string][]*compliance.PipelineAPI{}
	for _, ep := range r.pipeline.Endpoints {
		byInput[ep.Label] = append(byInput[ep.Label], ep)
	}
	for _, label := range r.pipeline.Inputs {
		eps := byInput[label]
		var target prober
		tracking := false
		for _, ep := range eps {
			tracking = tracking || ep.Tracking
			switch {
			case target != nil:
			case ep.State != nil:
				target = ep.State
			case ep.Snapshot != nil:
				target = ep.Snapshot
			}
		}
		if len(eps) == 0 {
			continue
		}
		subject := inputSubject(label)
		if !tracking {
			r.add(CheckStore, subject, Skip, "", "state_tracking is off on every endpoint: nothing is stored")
			continue
		}
		r.storeResult(ctx, subject, eps[0].Store, target)
		for _, ep := range eps {
			switch {
			case !ep.Tracking:
			case ep.Kind == compliance.KindSnapshot:
				r.snapshotResult(ctx, ep)
			default:
				r.checkpointResult(ctx, ep)
			}
		}
	}
}

// prober writes and reads back the probe document next to a checkpoint.
type prober interface {
	Probe(ctx context.Context) (string, error)
}

// verdict gathers the findings of one check: the worst status wins and
// brings its fix; every finding is a note of the message.
type verdict struct {
	status Status
	fix    string
	notes  []string
}

func (v *verdict) worse(s Status, fix, note string) {
	if s == Fail && v.status != Fail || s == Warn && v.status == OK {
		v.status, v.fix = s, fix
	}
	v.notes = append(v.notes, note)
}

func (v *verdict) note(n string)  { v.notes = append(v.notes, n) }
func (v *verdict) first(n string) { v.notes = append([]string{n}, v.notes...) }

func (r *run) storeResult(ctx context.Context, subject string, st compliance.StateStore, target prober) {
	// A volatile cache without allow_volatile is refused by the opener too:
	// the checks below say so with their own fix.
	refusedVolatile := st.Cache != "" && compliance.VolatileCache(st.CacheType) && !st.AllowVolatile
	if st.Err != nil && !refusedVolatile {
		r.add(CheckStore, subject, Fail, "correct state.path or state.cache (and cache_resources)", "%s", st.Err)
		return
	}
	v := &verdict{status: OK}
	volatile := func(where, dir string) {
		name, err := r.o.FSType(dir)
		what, ok := volatileFS[name]
		if err != nil || !ok {
			return
		}
		if st.AllowVolatile {
			v.worse(Warn, fixVolatile, fmt.Sprintf("%s is in %s (allowed by state.allow_volatile): collection restarts from earliest", where, what))
		} else {
			v.worse(Fail, fixVolatile+", or set state.allow_volatile: true if re-collecting from earliest is acceptable",
				fmt.Sprintf("%s is in %s: collection restarts from earliest, re-delivering (or, if earliest has moved on, skipping) activities", where, what))
		}
	}
	var where string
	afterProbe := func() {} // checks that need the store to answer
	if st.Cache == "" {
		where = "state.path " + st.Path
		if st.Relative {
			v.note("state.path is relative: the service resolves it against its own working directory, which may not be the one check ran in")
		}
		if !st.Exists {
			parent := existingParent(st.Path)
			volatile(where, parent)
			if err := writable(parent); err != nil {
				v.worse(Fail, fmt.Sprintf("create %s for the user the service runs as (mode 0700)", st.Path),
					fmt.Sprintf("%s does not exist and cannot be created: %s", where, err))
			} else {
				v.first(fmt.Sprintf("%s does not exist yet; the input creates it (mode 0700) in %s, which is writable", where, parent))
			}
			r.rootNote(v)
			r.add(CheckStore, subject, v.status, v.fix, "%s", strings.Join(v.notes, "; "))
			return
		}
		volatile(where, st.Path)
		if info, err := os.Stat(st.Path); err == nil && info.Mode().Perm()&0o022 != 0 {
			v.worse(Warn, "chmod 700 "+st.Path+" (the input creates it with mode 0700)",
				fmt.Sprintf("%s is writable by group or others (%v): they can rewrite or delete the checkpoint", where, info.Mode().Perm()))
		}
	} else {
		where = fmt.Sprintf("state.cache %q", st.Cache)
		switch {
		case compliance.VolatileCache(st.CacheType):
			if st.AllowVolatile {
				v.worse(Warn, fixVolatile, fmt.Sprintf("%s is a %s cache (allowed by state.allow_volatile): the checkpoint is lost on restart and collection restarts from earliest", where, st.CacheType))
			} else {
				v.worse(Fail, fixVolatile+", or set state.allow_volatile: true if re-collecting from earliest is acceptable",
					fmt.Sprintf("%s is a %s cache, which forgets the checkpoint: the input refuses it", where, st.CacheType))
			}
		case st.CacheType == "atomic_file" && st.CachePath != "":
			volatile(fmt.Sprintf("%s (atomic_file %s)", where, st.CachePath), st.CachePath)
		case st.CacheType == "redis":
			afterProbe = func() { r.redisDurability(ctx, v, st.CacheConfig, st.AllowVolatile) }
		case st.CacheType != "atomic_file":
			v.note(fmt.Sprintf("check cannot tell whether a %s cache is durable", st.CacheType))
		}
		if st.Lease {
			v.note("state.lease is on")
		}
	}
	if target == nil && v.status == Fail {
		r.add(CheckStore, subject, v.status, v.fix, "%s", strings.Join(v.notes, "; "))
		return
	}
	if target == nil {
		r.add(CheckStore, subject, Skip, "", "%s: no endpoint keeps a checkpoint in it", where)
		return
	}
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	probe, err := target.Probe(ctx)
	if err != nil {
		fix := "make the store writable by the user the service runs as (owner and mode of state.path; the cache's server and credentials)"
		if compliance.VolatileCache(st.CacheType) {
			fix = fixVolatile
		}
		v.worse(Fail, fix, fmt.Sprintf("%s cannot be used: %s", where, describe(err)))
	} else {
		v.first(fmt.Sprintf("%s is writable (a probe document was written through the checkpoint's compare-and-swap and read back: %s)", where, probe))
		afterProbe()
	}
	if st.Cache == "" {
		r.rootNote(v)
	}
	r.add(CheckStore, subject, v.status, v.fix, "%s", strings.Join(v.notes, "; "))
}

// rootNote warns that a write that works for root proves little.
func (r *run) rootNote(v *verdict) {
	if runningAsRoot() {
		v.note("check ran as root, which may write where the service's user cannot: run it as that user")
	}
}

// existingParent is the nearest ancestor of path that exists.
func existingParent(path string) string {
	parent := filepath.Dir(path)
	for {
		if _, err := os.Stat(parent); err == nil || parent == filepath.Dir(parent) {
			return parent
		}
		parent = filepath.Dir(parent)
	}
}

// writable creates and removes a temporary file in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".compliance-connect-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

func (r *run) checkpointResult(ctx context.Context, ep *compliance.PipelineAPI) {
	subject := endpointSubject(ep)
	now := r.o.Now()
	fresh := fmt.Sprintf("the first job starts at earliest %q (%s if it ran now)", ep.Earliest.String(), ep.Earliest.Resolve(now, ep.Location).UTC().Format(time.RFC3339))
	if ep.State == nil {
		switch {
		case ep.Store.Err != nil:
			r.add(CheckCheckpoint, subject, Skip, "", "the store could not be opened (see %s)", CheckStore)
		default:
			r.add(CheckCheckpoint, subject, OK, "", "no checkpoint yet (the store does not exist): %s", fresh)
		}
		return
	}
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	rec, err := ep.State.Show(ctx)
	var corrupt *checkpoint.CorruptError
	switch {
	case errors.Is(err, compliance.ErrNoCheckpoint):
		r.add(CheckCheckpoint, subject, OK, "", "no checkpoint yet at %s: %s", ep.State.Where(), fresh)
		return
	case errors.As(err, &corrupt):
		r.hasCheckpoint[subject] = true
		r.add(CheckCheckpoint, subject, Fail,
			"look at it with `compliance-connect state show`, repair it with `state set`, or reset it with `state delete` (collection restarts from earliest)",
			"%s", describe(err))
		return
	case err != nil:
		r.add(CheckCheckpoint, subject, Fail, "see state.store above", "cannot read the checkpoint at %s: %s", ep.State.Where(), describe(err))
		return
	}
	r.hasCheckpoint[subject] = true
	want := ep.State.Identity()
	if rec.Identity != want {
		diff := identityDiff(rec.Identity, want)
		if ep.Store.Adopt {
			r.add(CheckCheckpoint, subject, Warn, "remove state.adopt after this run: left on, it adopts whatever checkpoint it finds",
				"the checkpoint at %s was written for another configuration (%s): state.adopt is set, so the input adopts it as this config's", ep.State.Where(), diff)
			return
		}
		r.add(CheckCheckpoint, subject, Fail,
			"if the change is deliberate, set state.adopt: true for one run to adopt it; else give this input its own state.key, or reset it with `compliance-connect state delete` (collection restarts from earliest)",
			"the checkpoint at %s was written for another configuration (%s): the input refuses to resume from it", ep.State.Where(), diff)
		return
	}
	scanned := rec.ScannedToTime()
	lag := now.Sub(scanned).Round(time.Second)
	if scanned.After(now) {
		r.add(CheckCheckpoint, subject, Warn, "rewind it with `compliance-connect state rewind --to <time>` if it was set by mistake, or fix this host's clock",
			"the checkpoint at %s (rev %d) has scanned_to %s, %v in the future: nothing is collected until then", ep.State.Where(), rec.Rev, rec.ScannedTo, -lag)
		return
	}
	r.add(CheckCheckpoint, subject, OK, "", "the checkpoint at %s matches this config (rev %d, scanned_to %s, %v ago)", ep.State.Where(), rec.Rev, rec.ScannedTo, lag)
}

// identityDiff names the fields of a checkpoint identity that differ.
func identityDiff(got, want checkpoint.Identity) string {
	var parts []string
	add := func(field, g, w string) {
		if g != w {
			parts = append(parts, fmt.Sprintf("%s %q, this config %q", field, g, w))
		}
	}
	add("endpoint", got.Endpoint, want.Endpoint)
	add("base_url", got.BaseURL, want.BaseURL)
	if got.Filters != want.Filters {
		parts = append(parts, "the filters differ")
	}
	add("mode", got.Mode, want.Mode)
	add("key", got.Key, want.Key)
	return strings.Join(parts, "; ")
}

// snapshotResult reads the checkpoint of a directory or projects endpoint:
// whether it exists, its last complete run, and whether it was written for
// this config.
func (r *run) snapshotResult(ctx context.Context, ep *compliance.PipelineAPI) {
	subject := endpointSubject(ep)
	t := ep.Snapshot
	first := "the first run emits a whole snapshot"
	if t != nil && t.Emit == "changes" {
		first = "the first run takes the baseline (every record emitted as added)"
		if t.SilentBaseline {
			first = "the first run takes the baseline, recorded without emitting (baseline: silent)"
		}
	}
	if t == nil {
		switch {
		case ep.Store.Err != nil:
			r.add(CheckCheckpoint, subject, Skip, "", "the store could not be opened (see %s)", CheckStore)
		default:
			r.add(CheckCheckpoint, subject, OK, "", "no checkpoint yet (the store does not exist): the first run starts from nothing")
		}
		return
	}
	ctx, cancel := r.withTimeout(ctx)
	defer cancel()
	cp, _, err := t.Show(ctx)
	var corrupt *checkpoint.CorruptError
	switch {
	case errors.Is(err, compliance.ErrNoCheckpoint):
		r.add(CheckCheckpoint, subject, OK, "", "no checkpoint yet at %s: %s", t.Where(), first)
		return
	case errors.As(err, &corrupt):
		r.add(CheckCheckpoint, subject, Fail,
			fmt.Sprintf("look at it with `compliance-connect state show --endpoint %s`, or reset it with `state delete --endpoint %s` (the next run starts over)", ep.Endpoint, ep.Endpoint),
			"%s", describe(err))
		return
	case err != nil:
		r.add(CheckCheckpoint, subject, Fail, "see state.store above", "cannot read the checkpoint at %s: %s", t.Where(), describe(err))
		return
	}
	if want := t.Identity(); cp.Identity != want {
		diff := fmt.Sprintf("it was written for %v, this config collects %v", cp.Identity, want)
		if ep.Store.Adopt {
			r.add(CheckCheckpoint, subject, Warn, "remove state.adopt after this run: left on, it adopts whatever checkpoint it finds",
				"the checkpoint at %s was written for another configuration (%s): state.adopt is set, so the input adopts it as this config's", t.Where(), diff)
			return
		}
		r.add(CheckCheckpoint, subject, Fail,
			fmt.Sprintf("if the change is deliberate, set state.adopt: true for one run to adopt it; else give this input its own state.key, or reset it with `compliance-connect state delete --endpoint %s` (the next run starts over)", ep.Endpoint),
			"the checkpoint at %s was written for another configuration (%s): the input refuses to resume from it", t.Where(), diff)
		return
	}
	if cp.SnapshotID == "" {
		r.add(CheckCheckpoint, subject, OK, "", "the checkpoint at %s matches this config (rev %d); no run has completed yet: %s", t.Where(), cp.Rev, first)
		return
	}
	r.add(CheckCheckpoint, subject, OK, "", "the checkpoint at %s matches this config (rev %d): last complete run %s at %s, %d records",
		t.Where(), cp.Rev, cp.SnapshotID, cp.CompletedAt.UTC().Format(time.RFC3339), cp.Records)
}

package audit

import "time"

// densityBuckets is the resolution of the created_at histogram of the API
// walk: fixed, so its memory (8 KiB) does not grow with the window.
const densityBuckets = 1024

// density counts the listed activities per 1/densityBuckets of the window.
type density struct {
	from  time.Time
	width time.Duration
	n     [densityBuckets]int64
}

func newDensity(w Window) *density {
	width := (w.To.Sub(w.From) + densityBuckets - 1) / densityBuckets
	return &density{from: w.From, width: max(width, 1)}
}

func (d *density) add(t time.Time) {
	if i := int(t.Sub(d.from) / d.width); i >= 0 && i < densityBuckets {
		d.n[i]++
	}
}

// between sums the buckets that meet [from, to): an upper estimate of the
// activities with created_at in it, exact to a bucket at each end.
func (d *density) between(from, to time.Time) int64 {
	var sum int64
	for i := range d.n {
		lo := d.from.Add(time.Duration(i) * d.width)
		if lo.Before(to) && lo.Add(d.width).After(from) {
			sum += d.n[i]
		}
	}
	return sum
}

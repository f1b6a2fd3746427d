package prometheus

import (
	"context"
	"time"
)

// pushLoop pushes every push_interval until Close. It owns e.pusher until it
// returns.
func (e *Exporter) pushLoop() {
	defer e.shutSig.TriggerHasStopped()
	ctx, cancel := e.shutSig.HardStopCtx(context.Background())
	defer cancel()

	ticker := time.NewTicker(e.conf.pushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			if err := e.push(ctx); err != nil {
				e.log.Warnf("Pushing metrics to the Pushgateway failed, will retry in %v: %v", e.conf.pushInterval, err)
			}
		case <-e.shutSig.SoftStopChan():
			return
		}
	}
}

func (e *Exporter) push(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	return e.pusher.PushContext(ctx)
}

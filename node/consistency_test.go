package node

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hayek-market/hayek/internal/samples"
	"github.com/hayek-market/hayek/node/api"
)

// TestStateAndResultChangeTogether polls jobs as fast as it can while
// several run: whenever a job reads completed, its result must be there,
// and a listing must never lose a job between memory and the store.
func TestStateAndResultChangeTogether(t *testing.T) {
	d := startDevnet(t, 3, nil)
	ctx := t.Context()
	c := api.NewClient(d.Sockets[0])
	const jobs, inFlight = 24, 8
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	submitted := make(chan string, jobs)
	for i := 0; i < jobs; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			j, err := c.Submit(ctx, api.SubmitRequest{Module: api.BlobRef{Base64: b64(samples.Hello)}, MaxPrice: 500})
			if err != nil {
				errs <- err
				return
			}
			submitted <- j.ID
			for {
				v, err := c.Job(ctx, j.ID)
				if err != nil {
					errs <- err
					return
				}
				if v.State.Terminal() {
					if v.State != api.StateCompleted {
						errs <- fmt.Errorf("job %s ended %s: %+v", j.ID, v.State, v.Error)
						return
					}
					if _, err := c.Result(ctx, j.ID); err != nil {
						errs <- fmt.Errorf("job %s reads completed but its result: %v", j.ID, err)
					}
					return
				}
			}
		}()
	}
	// Meanwhile, every submitted job must show in every listing.
	stop := make(chan struct{})
	listed := make(chan error, 1)
	go func() {
		var ids []string
		for {
			select {
			case <-stop:
				listed <- nil
				return
			case id := <-submitted:
				ids = append(ids, id)
				continue
			default:
			}
			all, err := c.Jobs(ctx, api.JobFilter{Limit: 1000})
			if err != nil {
				listed <- err
				return
			}
			have := map[string]bool{}
			for _, j := range all {
				have[j.ID] = true
			}
			for _, id := range ids {
				if !have[id] {
					listed <- fmt.Errorf("job %s missing from the listing", id)
					return
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	if err := <-listed; err != nil {
		t.Error(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
